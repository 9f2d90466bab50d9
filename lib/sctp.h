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
  /* The association ended: P2PSIG_ECLOSED_BY_REMOTE when the remote
   * ended it (ABORT, SHUTDOWN), else P2PSIG_ESCTP. */
  void (*on_closed)(void *data, int error);
  /* A whole message, lent: take a reference to keep it. */
  void (*on_message)(void *data, uint16_t sid, uint32_t ppid,
                     GBytes *message);
  /* The remote peer reset its outgoing stream sid (closed a channel). */
  void (*on_stream_reset)(void *data, uint16_t sid);
  /* Our request to reset our outgoing stream sid went through. */
  void (*on_outgoing_reset)(void *data, uint16_t sid);
  /* Room in the send buffer again after a send returned P2PSIG_EAGAIN. */
  void (*on_writable)(void *data);
};

/* Partial reliability policies (RFC 3758), as usrsctp numbers them. */
enum p2psig_sctp_pr {
  P2PSIG_SCTP_PR_NONE = 0,
  P2PSIG_SCTP_PR_TTL = 1,  /* value: lifetime in milliseconds */
  P2PSIG_SCTP_PR_RTX = 3,  /* value: retransmissions */
};

struct p2psig_sctp_send_options {
  bool unordered;
  enum p2psig_sctp_pr pr_policy;
  uint32_t pr_value;
};

/* streams: offered each way; 0: the default (sctp.c).  interleave: offer
 * message interleaving (I-DATA, RFC 8260).  Every call on the association
 * is made with loop's lock held, and so are its callbacks. */
struct p2psig_sctp *p2psig__sctp_new(struct p2psig_loop *loop,
                                     uint16_t local_port,
                                     uint16_t remote_port, uint16_t streams,
                                     bool interleave,
                                     const struct p2psig_sctp_callbacks *cbs,
                                     void *data, int *error);
void p2psig__sctp_free(struct p2psig_sctp *sctp);
int p2psig__sctp_connect(struct p2psig_sctp *sctp);
/* Feeds one decrypted SCTP packet. */
void p2psig__sctp_feed(struct p2psig_sctp *sctp, const uint8_t *buf,
                       size_t len);
/* Paused, the association's messages stay in usrsctp's receive buffer,
 * whose window then closes so that the remote stops sending; resumed,
 * they are read (and delivered) at once. */
void p2psig__sctp_set_paused(struct p2psig_sctp *sctp, bool paused);
/* Sends one whole message, or nothing: P2PSIG_EAGAIN when the send buffer
 * cannot take it now (on_writable follows).  options NULL: reliable,
 * ordered. */
int p2psig__sctp_send(struct p2psig_sctp *sctp, uint16_t sid, uint32_t ppid,
                      const struct p2psig_sctp_send_options *options,
                      const uint8_t *buf, size_t len);
/* DCEP priority of a stream for the priority scheduler: higher goes
 * first. */
void p2psig__sctp_set_priority(struct p2psig_sctp *sctp, uint16_t sid,
                               uint16_t priority);
/* Smoothed round-trip time of the association, or 0 when unknown. */
double p2psig__sctp_rtt_ms(const struct p2psig_sctp *sctp);
/* CRC32c of an SCTP packet (checksum field zeroed), in the byte order the
 * checksum field takes as is. */
uint32_t p2psig__crc32c(const uint8_t *buf, size_t len);
/* The largest message p2psig__sctp_send can ever take. */
#define P2PSIG_SCTP_MAX_SEND (4 * 1024 * 1024)
/* Resets our outgoing stream sid (RFC 6525). */
int p2psig__sctp_reset_stream(struct p2psig_sctp *sctp, uint16_t sid);
/* Sends a heartbeat now (once the association is up); its answer is a
 * sign of life from the remote. */
void p2psig__sctp_heartbeat(struct p2psig_sctp *sctp);
/* For tests: from how many bytes of a message usrsctp hands it over in
 * pieces (with interleaving; 8 KiB otherwise). */
void p2psig__sctp_set_partial_delivery_point(struct p2psig_sctp *sctp,
                                             uint32_t bytes);
/* Streams negotiated in each direction (0 before the association is up). */
uint16_t p2psig__sctp_max_streams(const struct p2psig_sctp *sctp);

#endif
