/* SPDX-License-Identifier: MIT */
/*
 * A hostile peer, for tests only (never installed): one peer of a connected
 * pair sends raw SCTP messages, DCEP included, and stream resets through
 * the library's internals, bypassing the channel layer's rules, so that a
 * test can see what the other peer makes of them.  The view functions read
 * what a peer holds.  Every function takes the library lock itself: call
 * them from the test thread, never from a callback.
 */
#ifndef P2PSIG_TESTS_HOSTILE_H
#define P2PSIG_TESTS_HOSTILE_H

#include <p2psig/p2psig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sends buf as one message on stream sid with ppid, whether or not a
 * channel uses sid.  While SCTP's send buffer is full it retries, polling,
 * for up to 10 s.  Returns 0 or a negative p2psig_error. */
int hostile_send(p2psig_peer *peer, uint16_t sid, uint32_t ppid,
                 const void *buf, size_t len);

/* A DATA_CHANNEL_OPEN (reliable, ordered) on sid with a label and a
 * protocol of these lengths (at most 65535 each), of printable letters. */
int hostile_send_open(p2psig_peer *peer, uint16_t sid, size_t label_len,
                      size_t protocol_len);

/* Resets our outgoing stream sid (RFC 6525), whatever uses it. */
int hostile_reset(p2psig_peer *peer, uint16_t sid);
/* How many bytes of a message arrive before usrsctp hands it to peer in
 * pieces (lib/sctp.c, SCTP_PARTIAL_DELIVERY_BYTES). */
void hostile_set_partial_delivery_point(p2psig_peer *peer, uint32_t bytes);

/* ---- what a peer holds ---- */

/* Whether a channel of the peer uses sid. */
bool hostile_has_channel(p2psig_peer *peer, uint16_t sid);
/* Live channels, and the label and protocol bytes of those the remote
 * opened. */
unsigned hostile_channel_count(p2psig_peer *peer);
size_t hostile_remote_label_bytes(p2psig_peer *peer);

enum hostile_reset {
  HOSTILE_RESET_NONE,    /* the peer never asked to reset its stream sid */
  HOSTILE_RESET_PENDING, /* asked, not through yet */
  HOSTILE_RESET_DONE,    /* asked, and the remote's SCTP has done it */
};
enum hostile_reset hostile_reset_state(p2psig_peer *peer, uint16_t sid);

#endif
