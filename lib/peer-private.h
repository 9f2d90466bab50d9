/* SPDX-License-Identifier: MIT */
/*
 * The peer and channel structures, shared by peer.c (connection, events)
 * and channel.c (data channels, DCEP).  Nothing else includes this.
 */
#ifndef P2PSIG_PEER_PRIVATE_H
#define P2PSIG_PEER_PRIVATE_H

#include <gio/gio.h>

#include "dispatch.h"
#include "dtls.h"
#include "ice.h"
#include "internal.h"
#include "peer.h"
#include "sctp.h"
#include "sdp.h"

#define PEER_MAGIC 0x50325045u    /* "P2PE" */
#define CHANNEL_MAGIC 0x50324348u /* "P2CH" */

/* Label and protocol bytes that the remote's DATA_CHANNEL_OPENs may make
 * an association hold, over its live channels.  RFC 8832 allows 65,535
 * bytes each, on as many streams as sctp_streams allows (2,048 would be
 * 256 MiB from one peer).
 * Labels in use are a few words; 256 KiB is two channels with the longest
 * label and protocol, or thousands of usual ones.  An OPEN beyond it is
 * refused by resetting its stream. */
#define P2PSIG_MAX_REMOTE_LABEL_BYTES (256 * 1024)

/* DTLS records that arrive before the remote description, held so that the
 * handshake need not wait for a retransmission (bounded). */
#define EARLY_DATAGRAMS_MAX 16

enum channel_state {
  CHANNEL_CONNECTING = 0, /* waiting for SCTP, or sent nothing yet */
  CHANNEL_OPEN,
  CHANNEL_CLOSING,        /* our outgoing stream reset sent */
  CHANNEL_CLOSED,         /* on_close queued */
};

/* A message SCTP could not take yet. */
struct pending_message {
  uint32_t ppid;
  size_t len;
  size_t counted;         /* in the buffered amount: 0 for DCEP and for
                             the byte that stands for an empty message */
  uint8_t data[];
};

struct p2psig_channel {
  uint32_t magic;
  gint refcount;          /* the peer's one, plus the application's */
  bool detached;          /* released by its peer: peer is NULL */
  p2psig_peer *peer;
  struct p2psig_loop *loop;  /* its peer's, whose lock guards it */
  char *label;
  char *protocol;
  int sid;                /* -1 until assigned */
  enum channel_state state;
  bool remote_opened;
  size_t remote_label_bytes; /* label + protocol of the remote's OPEN,
                                counted against
                                P2PSIG_MAX_REMOTE_LABEL_BYTES */
  bool negotiated;
  bool close_when_flushed; /* closed with messages still pending */
  gint64 closing_since;   /* when we asked to close it */
  uint8_t channel_type;   /* DCEP channel type */
  uint32_t reliability;
  uint16_t priority;
  struct p2psig_sctp_send_options send_options;
  void *user_data;

  GQueue pending;         /* struct pending_message, oldest first */
  size_t buffered_amount; /* bytes in pending */
  size_t low_threshold;
  bool blocked;           /* in peer->channels.blocked */

  uint64_t messages_sent, bytes_sent;
  uint64_t messages_received, bytes_received;
};

enum event_type {
  EVENT_CANDIDATE,
  EVENT_STATE,
  EVENT_CHANNEL,
  EVENT_OPEN,
  EVENT_CLOSE,
  EVENT_MESSAGE,
  EVENT_BUFFERED_AMOUNT_LOW,
  EVENT_ICE_GATHERING_STATE,
  EVENT_ICE_CONNECTION_STATE,
};

struct event {
  enum event_type type;
  p2psig_channel *channel; /* a reference, once queued */
  char *candidate;        /* EVENT_CANDIDATE; NULL: gathering done */
  p2psig_state state;
  int ice_state;          /* EVENT_ICE_*_STATE: the new state */
  int error;
  GBytes *message;        /* a reference, once queued */
  p2psig_kind kind;
  int held;               /* EVENT_MESSAGE: its part of peer->undelivered */
};

/* A peer's channels, and what they share: kept by channel.c alone (the
 * peer makes it with p2psig__channels_init() and ends it with
 * p2psig__channels_end()). */
struct p2psig_channels {
  GPtrArray *all;               /* every live channel */
  GHashTable *by_sid;           /* sid -> channel */
  unsigned closing;             /* channels in CHANNEL_CLOSING */
  GHashTable *resetting;        /* sid -> gint64 time of our reset
                                   request, until it went through: the
                                   sid is not reused meanwhile */
  GHashTable *last_reset;       /* sid -> gint64 time of our last reset
                                   request: ids rest before reuse */
  GQueue blocked;               /* channels with pending messages */
  size_t buffered_total;        /* over every channel */
  size_t buffer_limit;          /* on buffered_total */
};

struct p2psig_peer {
  uint32_t magic;
  gint refcount;               /* the application's (until the teardown),
                                  the dispatcher's while it has the
                                  peer's events, a resume source's */
  p2psig_peer_config config;   /* callbacks and user_data */
  struct p2psig_loop *loop;    /* pinned to it: its lock guards the rest */
  char **local_addresses;

  p2psig_state state;
  bool freed;                  /* no callback may run any more */
  bool closed;
  bool offerer;
  bool local_set;
  bool remote_set;
  bool dtls_client;
  enum p2psig_ice_state ice_state;
  bool ice_failed;             /* libnice failed, or consent expired */
  p2psig_ice_gathering_state ice_gathering_state;     /* as reported */
  p2psig_ice_connection_state ice_connection_state;   /* as reported */

  /* The local description last made, rebuilt by its getter with the
   * candidates gathered since; the remote one as given. */
  bool local_offer;
  enum p2psig_setup local_setup;
  uint64_t session_id;
  unsigned session_version;
  char *local_ufrag, *local_pwd;
  char *remote_sdp;
  p2psig_sdp_type remote_type;

  struct p2psig_dtls_cert *cert;
  struct p2psig_ice *ice;
  struct p2psig_ice_closing *ice_closing; /* libnice's close of ice */
  struct p2psig_dtls *dtls;
  struct p2psig_sctp *sctp;
  bool dtls_started;
  bool sctp_connected;
  struct p2psig_sdp_remote remote;
  uint64_t remote_max_message_size;
  GPtrArray *local_candidates;   /* every local one gathered, for our
                                    descriptions */
  bool restarting;               /* offerer: a restart offer awaits its
                                    answer */
  bool restart_answer_due;       /* answerer: a restart offer applied,
                                    create_answer makes its answer */
  bool local_gathering_done;
  GArray *pending_candidates;    /* struct p2psig_candidate: trickled
                                    before the remote description */
  GHashTable *remote_candidate_keys; /* candidate_key() of each remote
                                        candidate taken, from the
                                        description or trickled */
  unsigned trickled_candidates;  /* taken from p2psig_peer_add_candidate,
                                    held or applied; at most
                                    P2PSIG_MAX_REMOTE_CANDIDATES */
  GPtrArray *early_datagrams;    /* GBytes */

  struct p2psig_channels channels; /* channel.c's */
  uint64_t messages_sent, bytes_sent;
  uint64_t messages_received, bytes_received;

  struct p2psig_dispatch dispatch; /* runs the application's callbacks */
  GQueue events;                 /* struct event, gathered during the
                                    receive upcall, handed to dispatch at
                                    its end: one hand-off a datagram */
  bool receiving;                /* in the receive upcall */
  GQueue observed;               /* local candidates (char *, NULL for
                                    the end) for the observer */
  GSource *observer_source;      /* runs the observer from the loop */
  GSource *release_source;       /* after p2psig_peer_close */
  /* Bytes of message events not delivered yet (atomic); above
   * UNDELIVERED_MAX the peer stops reading SCTP, back at
   * UNDELIVERED_RESUME (see peer.c). */
  gint undelivered;
  gint receive_paused;           /* atomic: SCTP reads stopped */
  gint resume_scheduled;         /* atomic: a resume source is pending */

  /* Liveness: records DTLS authenticated, checked once a second once
   * connected (one timer for all peers, peer.c); the limits are fields so
   * that tests can shorten them. */
  uint64_t rx_packets;
  uint64_t rx_packets_seen;
  unsigned silent_seconds;
  unsigned disconnected_after_s;
  unsigned failed_after_s;
  bool live;                     /* in the array the timer checks */
  unsigned live_index;           /* where */

  const struct p2psig_peer_observer *observer;
  void *observer_data;
  struct p2psig_loop *observer_loop;   /* where the observer runs */
};

/* peer.c */
void p2psig__peer_emit(p2psig_peer *peer, struct event *event);
/* Peers whose memory is not freed yet: a peer freed from inside its own
 * callback is released in the background, and a test that ends the
 * process waits for this to reach zero first. */
unsigned p2psig__peers_alive(void);
void p2psig__peer_fail(p2psig_peer *peer, int error);

/* channel.c */
/* buffer_limit: on the bytes all channels hold (0: the default). */
void p2psig__channels_init(struct p2psig_channels *channels,
                           size_t buffer_limit);
/* Releases every channel (the peer's teardown). */
void p2psig__channels_release_all(p2psig_peer *peer);
/* After p2psig__channels_release_all(), as the peer is freed. */
void p2psig__channels_end(struct p2psig_channels *channels);
p2psig_channel *p2psig__channel_new(p2psig_peer *peer, const char *label,
                                    size_t label_len, const char *protocol,
                                    size_t protocol_len);
/* Detaches the channel from its peer and drops the peer's reference. */
void p2psig__channel_release(p2psig_channel *channel);
/* SCTP is up: give ids to channels that have none and announce ours. */
void p2psig__channels_connected(p2psig_peer *peer);
void p2psig__channel_receive(p2psig_peer *peer, uint16_t sid, uint32_t ppid,
                             GBytes *message);
void p2psig__channel_remote_reset(p2psig_peer *peer, uint16_t sid);
/* Requests again the stream resets that got no answer (once a second). */
void p2psig__channels_retry_resets(p2psig_peer *peer);
void p2psig__channel_outgoing_reset(p2psig_peer *peer, uint16_t sid);
/* SCTP has room again: send what channels hold. */
void p2psig__channels_flush(p2psig_peer *peer);
/* The largest message the remote accepts (0 before its description). */
size_t p2psig__peer_max_message_size(const p2psig_peer *peer);
/* Marks every channel closed and queues its on_close (which runs later:
 * the channels stay in peer->channels.all meanwhile). */
void p2psig__channels_close_all(p2psig_peer *peer);

#endif
