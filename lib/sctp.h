/* SPDX-License-Identifier: MIT */
/*
 * SCTP with usrsctp over DTLS (RFC 8261): one association a peer, on an
 * AF_CONN socket, port 5000 both ways.
 */
#ifndef P2PSIG_SCTP_H
#define P2PSIG_SCTP_H

#include "internal.h"

/* Upcalls on the library thread with the lock held, never from inside a
 * usrsctp call, so they may call back into this layer. */
struct p2psig_sctp_callbacks {
  void (*send)(void *data, const uint8_t *buf, size_t len); /* to DTLS */
  void (*on_connected)(void *data);
  void (*on_closed)(void *data, int error);
  void (*on_message)(void *data, uint16_t sid, uint32_t ppid,
                     const uint8_t *buf, size_t len);
  /* The remote peer reset its outgoing stream sid (closed a channel). */
  void (*on_stream_reset)(void *data, uint16_t sid);
};

struct p2psig_sctp *p2psig__sctp_new(uint16_t local_port,
                                     uint16_t remote_port,
                                     const struct p2psig_sctp_callbacks *cbs,
                                     void *data, int *error);
void p2psig__sctp_free(struct p2psig_sctp *sctp);
int p2psig__sctp_connect(struct p2psig_sctp *sctp);
/* Feeds one decrypted SCTP packet. */
void p2psig__sctp_feed(struct p2psig_sctp *sctp, const uint8_t *buf,
                       size_t len);
int p2psig__sctp_send(struct p2psig_sctp *sctp, uint16_t sid, uint32_t ppid,
                      bool unordered, const uint8_t *buf, size_t len);
/* Resets our outgoing stream sid (RFC 6525). */
int p2psig__sctp_reset_stream(struct p2psig_sctp *sctp, uint16_t sid);
/* Streams negotiated in each direction (0 before the association is up). */
uint16_t p2psig__sctp_max_streams(const struct p2psig_sctp *sctp);

#endif
