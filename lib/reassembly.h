/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of SCTP messages that usrsctp hands over in pieces: larger
 * than the read buffer, or partly delivered (PD-API).  With fragment
 * interleaving (level 2, which I-DATA needs) pieces of messages of several
 * streams come mixed, so each message is held apart, by its key.
 *
 * Bounded: a message over message_max is dropped (the rest of its pieces
 * too), and so is one whose piece would take what all held messages keep
 * over held_max.  A piece that would start a message while the held ones'
 * bookkeeping alone is over held_max is refused (P2PSIG_PIECE_OVERFLOW):
 * only a remote that keeps tens of thousands of messages half sent gets
 * there, and the caller ends the association.
 */
#ifndef P2PSIG_REASSEMBLY_H
#define P2PSIG_REASSEMBLY_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct p2psig_reassembly;

enum p2psig_piece_result {
  P2PSIG_PIECE_HELD,     /* kept: more pieces follow */
  P2PSIG_PIECE_MESSAGE,  /* the last piece: *message is the whole message */
  P2PSIG_PIECE_DROPPED,  /* the message is over a cap: dropped */
  P2PSIG_PIECE_OVERFLOW, /* too many messages held: refused */
};

/* Which message a piece belongs to: its stream, whether it is unordered
 * and its sequence number (the low 16 bits of I-DATA's message id). */
static inline uint64_t
p2psig__piece_key(uint16_t sid, bool unordered, uint16_t ssn)
{
  return (uint64_t)sid | (uint64_t)unordered << 16 | (uint64_t)ssn << 17;
}

struct p2psig_reassembly *p2psig__reassembly_new(size_t message_max,
                                                 size_t held_max);
void p2psig__reassembly_free(struct p2psig_reassembly *r);
/* last: the piece ends its message (MSG_EOR).  On P2PSIG_PIECE_MESSAGE the
 * caller owns *message. */
enum p2psig_piece_result p2psig__reassembly_add(struct p2psig_reassembly *r,
                                                uint64_t key,
                                                const uint8_t *buf,
                                                size_t len, bool last,
                                                GBytes **message);
/* Forgets what is held of the stream's messages (a partial delivery
 * aborted, the stream reset). */
void p2psig__reassembly_drop_stream(struct p2psig_reassembly *r,
                                    uint16_t sid);
/* Bytes held now, bookkeeping included. */
size_t p2psig__reassembly_held(const struct p2psig_reassembly *r);

#endif
