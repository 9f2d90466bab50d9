/* SPDX-License-Identifier: MIT */
/*
 * What the offer and answer tools share: Go-style flags, the callbacks that
 * print what pion's example prints, and the main loop that sends a random
 * message every interval.
 *
 * Threads: the library's callbacks only set atomics and wake the main thread
 * with SIGUSR1; the main thread sleeps in sigtimedwait() and does the
 * sending.  tool_init() blocks SIGINT, SIGTERM and SIGUSR1 before the first
 * peer exists, so that the library's threads inherit the mask and the
 * signals reach sigtimedwait() only.
 */
#ifndef P2PSIG_TOOLS_COMMON_H
#define P2PSIG_TOOLS_COMMON_H

#include <p2psig/p2psig.h>

#include <pthread.h>
#include <stdatomic.h>

struct tool_options {
  const char *offer_address;  /* -offer-address */
  const char *answer_address; /* -answer-address */
  long count;                 /* -count: stop after N sent and N received;
                                 0: run forever */
  double interval;            /* -interval: seconds between messages */
  const char *token;          /* -token, else $P2PSIG_TOKEN; NULL: none */
  const char *tls_cert;       /* -tls-cert: serve HTTPS (with -tls-key) */
  const char *tls_key;        /* -tls-key */
  const char *tls_ca;         /* -tls-ca: CA file trusted for the remote */
  bool tls_remote;            /* -tls-remote: the remote serves HTTPS */
#define TOOL_MAX_ICE_SERVERS 16
  const char *ice_servers[TOOL_MAX_ICE_SERVERS + 1]; /* -ice-server, as
                                 given; NULL-terminated when used */
  unsigned ice_server_count;
  const char *ice_username;   /* -ice-username */
  const char *ice_credential; /* -ice-credential */
  const char *ice_ca;         /* -ice-ca */
  const char *dtls_cert;      /* -dtls-cert: PEM file of the certificate
                                 (and key, without -dtls-key) */
  const char *dtls_key;       /* -dtls-key */
  bool relay_only;            /* -relay-only */
  bool no_ice_tcp;            /* -ice-tcp=false */
  bool mdns;                  /* -mdns */
  bool one_round_trip;        /* -one-round-trip (offer) */
  bool page;                  /* -page (answer) */
#define TOOL_MAX_CORS_ORIGINS 16
  const char *cors_origins[TOOL_MAX_CORS_ORIGINS + 1]; /* -cors-origin,
                                 NULL-terminated */
  unsigned cors_origin_count;
};

struct tool {
  const char *name;           /* "offer" or "answer", for messages */
  struct tool_options opt;
  p2psig_ice_server ice_server; /* the -ice-server flags, for the peer */
  p2psig_peer *peer;
  _Atomic(p2psig_peer *) live; /* the peer whose states count: with
                                  renew_peer, an old one's are ignored */
  p2psig_channel_cb on_channel; /* for every peer made, or NULL */
  bool renew_peer;            /* the answer with -page: a closed or failed
                                 peer is replaced and a new offer served */
  char *page;                 /* the page served, with the flags' settings */
  p2psig_signaling *signaling;
  bool restart_ice_on_disconnect; /* the offer: restart ICE on
                                     disconnected */
  pthread_mutex_t lock;       /* guards channel */
  p2psig_channel *channel;    /* the open channel, referenced, or NULL */
  atomic_int state;           /* last p2psig_state seen */
  atomic_bool was_connected;  /* the live peer was connected once: a
                                 signaling failure after is not fatal */
  atomic_bool failed;
  atomic_bool signaling_failed; /* the signaling failed for good before
                                  the connection was up: exit 1 */
  atomic_bool ended;          /* renew_peer: the live peer's channel was
                                 closed (a page went away) */
  atomic_bool closed_by_remote; /* without renew_peer: the remote closed
                                   the connection, the run ends (exit 0) */
  atomic_long received;
};

/* Parses the flags into t->opt (defaults set by the caller).  Prints the
 * usage and exits 0 on -h, exits 2 on a bad flag or an argument that is
 * not a flag, as Go's flag package's usage.  Without -token, the token
 * comes from $P2PSIG_TOKEN (kept out of ps) unless it is empty. */
void tool_parse_args(struct tool *t, int argc, char **argv);

/* Blocks the signals, makes stdout line-buffered, seeds the letters. */
void tool_init(struct tool *t);

/* A peer configuration with the -ice-server flags (else pion's STUN
 * server) and the callbacks below; user_data is t, which must outlive the
 * call to p2psig_peer_new. */
p2psig_peer_config tool_peer_config(struct tool *t);

/* Makes t->peer from tool_peer_config(); NULL and *error on failure.  The
 * first call reads the -dtls-cert and -dtls-key files, for every peer
 * made; one that cannot be read is said on stderr (P2PSIG_EINVAL). */
p2psig_peer *tool_peer_new(struct tool *t, int *error);

/* What the tools print of a remote label or message: at most
 * TOOL_SHOWN_MAX bytes, then "...", with every byte outside printable
 * ASCII (and the backslash) as \xNN, so that a remote peer cannot write
 * terminal escapes.  Writes into buf and returns it. */
#define TOOL_SHOWN_MAX 200
#define TOOL_SHOWN_SIZE (4 * TOOL_SHOWN_MAX + sizeof "...")
const char *tool_shown(const void *data, size_t len,
                       char buf[TOOL_SHOWN_SIZE]);

void tool_on_state(p2psig_peer *peer, p2psig_state state, int error,
                   void *user_data);
void tool_on_open(p2psig_channel *channel, void *user_data);
void tool_on_close(p2psig_channel *channel, void *user_data);
void tool_on_message(p2psig_channel *channel, const void *data, size_t len,
                     p2psig_kind kind, void *user_data);
/* Prints every report on stderr: a retry as "waiting for the answer at
 * URL: why; retrying in N s", a request of ours refused or failed for
 * good, which sets signaling_failed unless the connection is up. */
void tool_on_signaling_status(p2psig_signaling *signaling,
                              const p2psig_signaling_status *status,
                              void *user_data);

/* Starts the signaling of role for t->peer with the flags' addresses,
 * token and TLS files; prints why and returns NULL on failure. */
p2psig_signaling *tool_signaling_new(struct tool *t, p2psig_role role);

/* Runs until SIGINT or SIGTERM, the count reached, the peer failed or was
 * closed by the remote, or the signaling failed for good, then closes and
 * frees the peer and the signaling.  Returns the exit status: 1 for the signaling, else 0. */
int tool_run(struct tool *t);

/* The answer's -page: tools/page.html with the options' ICE servers,
 * transport policy and interval; free(). */
char *tool_page_build(const struct tool_options *opt);

/* Prints "<name>: <what>: <error>" to stderr and returns 1. */
int tool_fail(const struct tool *t, const char *what, int error);

#endif
