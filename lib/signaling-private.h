/* SPDX-License-Identifier: MIT */
/*
 * The signaling object, shared by the files of the HTTP signaling; nothing
 * else includes this.  signaling.c owns the object (its lifetime, its
 * reports, the public functions), signaling-server.c, -conn.c and
 * -head-filter.c the server, signaling-client.c the client and its queue,
 * signaling-auth.c the token and TLS, signaling-json.c, -address.c and
 * -text.c the pure functions.  The fields are grouped by the file that
 * owns them; what one file needs of another goes through the functions
 * declared below.
 *
 * Everything here runs on the library thread with p2psig__lock() held,
 * except the pure functions of signaling.h and of signaling-text.c, and
 * what p2psig_signaling_new() does on its caller's thread before the
 * object is shared (p2psig__signal_load_security(), _auth_init(),
 * _remote_base(), _new_fail(), _client_init()).
 */
#ifndef P2PSIG_SIGNALING_PRIVATE_H
#define P2PSIG_SIGNALING_PRIVATE_H

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>

#include "dispatch.h"
#include "internal.h"
#include "peer.h"
#include "signaling.h"

#define P2PSIG_SIGNAL_CONTENT_TYPE                                        \
  "application/json; charset=utf-8" /* what pion sends */
#define P2PSIG_SIGNAL_ORT_MODE "one-round-trip" /* POST /sdp?mode=... */
#define P2PSIG_SIGNAL_SESSION_HEADER "P2psig-Session"

/* What a report is about: a request of ours that failed for good or is
 * retried, or one of the remote's that we refused. */
enum report_kind { REPORT_FINAL, REPORT_RETRY, REPORT_SERVED };

/* A refusal or failure waiting to be reported through on_error (all but
 * retries) and on_status. */
struct report {
  enum report_kind kind;
  int error;
  unsigned http_status;       /* 0: no response */
  unsigned retry_in_ms;       /* REPORT_RETRY */
  char *url;                  /* ours: the URL; served: the path */
  char *message;
};

struct post;                   /* signaling-client.c */
struct request;                /* signaling-client.c */

struct p2psig_signaling {
  struct p2psig_loop *loop;    /* libsoup's context: its first peer's */
  unsigned refs;               /* the owner's, plus one per request */
  bool closed;                 /* p2psig_signaling_free() was called */

  p2psig_peer *peer;
  p2psig_role role;
  p2psig_signaling_error_cb on_error;
  p2psig_signaling_status_cb on_status;
  void *user_data;
  char *remote_base;           /* "http://host:port" or "https://..." */
  char *authorization;         /* "Bearer <token>" we send; NULL: none */
  bool token_required;         /* requests must carry token_digest's token */
  uint8_t token_digest[SHA256_DIGEST_LENGTH];

  struct p2psig__signal_limits limits;

  /* The server: signaling-server.c, its connections signaling-conn.c. */
  SoupServer *server;
  GSocketListener *listener;   /* we accept, not libsoup: signaling-conn.c */
  GCancellable *accept_cancellable;
  GSource *accept_retry;
  GTlsCertificate *certificate; /* serve HTTPS with it; NULL: HTTP */
  GQueue conns;                /* struct conn *, oldest first */
  GSource *prune_source;
  uint16_t port;

  /* The client: signaling-client.c. */
  SoupSession *session;
  struct request *request;     /* the one in flight */
  GQueue queue;                /* struct post *, not yet sent */
  struct post *current;        /* in flight, or waiting for retry */
  GSource *retry_source;
  unsigned backoff_ms;

  GPtrArray *held;             /* local candidates not yet sendable */
  bool started;                /* offer role: the offer was created */
  bool have_remote;            /* the remote description was applied */
  bool restarting;             /* offer role: an ICE restart's offer awaits
                                  its answer */
  bool answer_posted;          /* answer role: our answer got a 2xx (one
                                  round trip: was in the response) */
  unsigned remote_candidates;  /* taken from POST /candidate (or polls) */

  /* Browsers */
  char **cors_origins;         /* allowed besides our own; NULL: none */
  GBytes *page;                /* served at GET /; NULL: none */

  /* One round trip.  Offer role: one_round_trip set, no server; session is
   * the answer's id once its answer is in.  Answer role: ort once the
   * session's offer came that way, session its id, outbox every local
   * candidate for the polls. */
  bool one_round_trip;
  bool ort;
  char session_id[P2PSIG_SIGNAL_SESSION_LEN + 1]; /* "" before */
  GPtrArray *outbox;           /* char *, answer role */
  bool gathered;               /* answer role: on_local_candidate(NULL) */
  GQueue polls;                /* struct waiting_poll *, oldest first */
  struct request *poll;        /* offer role: the GET in flight */
  GSource *poll_retry;
  unsigned poll_backoff_ms;
  unsigned poll_next;          /* the index to ask from next */
  bool poll_stopped;           /* complete, refused or failed */

  /* The application's callbacks (struct report *), run by the
   * dispatcher as a peer's are. */
  struct p2psig_dispatch reports;
};

/* What p2psig_signaling_new() gathers for the library thread, where the
 * server is made. */
struct new_args {
  struct p2psig_signaling *sig;
  char *listen_host;          /* NULL: all interfaces */
  GInetAddress *listen_addr;  /* resolved, unless a literal or localhost */
  uint16_t listen_port;
  GTlsCertificate *certificate; /* serve HTTPS with it; NULL: HTTP */
  GTlsDatabase *ca;           /* trusted for the remote; NULL: system's */
  int error;
  char *reason;               /* why it failed, for on_status */
};

/* signaling.c: the object */
void p2psig__signal_unref(struct p2psig_signaling *sig);
/* A GClosureNotify dropping the reference a signal handler holds. */
void p2psig__signal_closure_unref(void *data, GClosure *closure);
/* Queues a report, for on_error and on_status through the dispatcher
 * (never inside a libsoup handler, so that the application may free the
 * object from them).  path is that of the request ("/sdp"): of ours, it is
 * reported as the remote's URL. */
void p2psig__signal_report(struct p2psig_signaling *sig,
                           enum report_kind kind, int error,
                           unsigned http_status, const char *path,
                           const char *fmt, ...) G_GNUC_PRINTF(6, 7);
/* The same for a retry after retry_in_ms. */
void p2psig__signal_report_retry(struct p2psig_signaling *sig,
                                 unsigned retry_in_ms, int error,
                                 unsigned http_status, const char *path,
                                 const char *why);
/* Says why p2psig_signaling_new() fails: a debug line, and the reason
 * on_status gets (the first one given). */
void p2psig__signal_new_fail(struct new_args *args, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/* signaling-text.c: untrusted text made fit for a one-line report */
/* A printable, bounded excerpt: bytes outside ASCII's printable range
 * become \xNN, and more than max bytes end in "...". */
char *p2psig__signal_excerpt(const char *text, size_t max);
/* A copy of text made one short line of UTF-8 (at most 240 bytes and
 * "..."). */
char *p2psig__signal_one_line(const char *text);

/* signaling-address.c */
/* "http://host:port" (or https), or NULL when libsoup cannot make a URI
 * of it. */
char *p2psig__signal_remote_base(const char *scheme, const char *host,
                                 uint16_t port);

/* signaling-auth.c: the token and TLS */
/* Checks the access-control fields and reads the TLS files into args, on
 * the caller's thread rather than on the library's. */
int p2psig__signal_load_security(const p2psig_signaling_config *cfg,
                                 struct new_args *args);
/* The token (NULL: none) that we send and require. */
void p2psig__signal_auth_init(struct p2psig_signaling *sig,
                              const char *token);
/* Wipes the token we send. */
void p2psig__signal_auth_clear(struct p2psig_signaling *sig);
/* Why a request does not carry our token, or NULL when it does;
 * *challenge is the WWW-Authenticate value to send with a refusal. */
const char *p2psig__signal_token_refusal(const struct p2psig_signaling *sig,
                                         SoupMessageHeaders *headers,
                                         GHashTable *query,
                                         const char **challenge);
/* Whether a TLS failure of a request of ours is one that waiting will
 * not fix. */
bool p2psig__signal_tls_refused(const GError *error);
/* What GIO found wrong with the remote's certificate, for the report:
 * " (...)", or "". */
const char *p2psig__signal_certificate_problem(GTlsCertificateFlags flags);

/* signaling-head-filter.c */
/* The stream libsoup gets for a connection: base, its input through a
 * filter that makes a negative or overlong Content-Length invalid.  Refs
 * base. */
GIOStream *p2psig__signal_filtered_stream_new(GIOStream *base);

/* signaling-conn.c: the server's connections */
/* Listens as args say: sig->listener gets the sockets, sig->port the
 * port. */
bool p2psig__signal_listen(struct p2psig_signaling *sig,
                           const struct new_args *args, GError **error);
/* Accepts connections on sig->listener from now on. */
void p2psig__signal_accept_start(struct p2psig_signaling *sig);
/* libsoup's request-started, and its request-finished and
 * request-aborted: a connection's state follows its messages. */
void p2psig__signal_request_started(SoupServer *server,
                                    SoupServerMessage *msg, void *data);
void p2psig__signal_request_ended(SoupServer *server, SoupServerMessage *msg,
                                  void *data);
/* msg, a GET /candidate, now waits for a candidate: its connection gets
 * the poll's timeout. */
void p2psig__signal_conn_poll(struct p2psig_signaling *sig,
                              SoupServerMessage *msg);
/* Stops listening and closes every connection, libsoup's first. */
void p2psig__signal_conns_stop(struct p2psig_signaling *sig);

/* signaling-server.c: the requests the server takes */
/* Makes the server and listens; 0, or P2PSIG_ENETWORK with the reason in
 * args. */
int p2psig__signal_server_start(struct p2psig_signaling *sig,
                                struct new_args *args);
void p2psig__signal_server_stop(struct p2psig_signaling *sig);
/* One round trip, answer role: a local candidate (NULL: gathering is
 * done) for the polls. */
void p2psig__signal_outbox_add(struct p2psig_signaling *sig,
                               const char *candidate);
/* The connection of msg went: a poll waiting on it is forgotten. */
void p2psig__signal_poll_forget(struct p2psig_signaling *sig,
                                SoupServerMessage *msg);
/* The session is over: every waiting poll is told so. */
void p2psig__signal_polls_end(struct p2psig_signaling *sig);

/* signaling-client.c: the requests we send */
void p2psig__signal_client_init(struct p2psig_signaling *sig);
/* Makes the HTTP session (ca: trusted for the remote; NULL: the
 * system's). */
void p2psig__signal_client_start(struct p2psig_signaling *sig,
                                 GTlsDatabase *ca);
/* A new session: what is queued or in flight is dropped. */
void p2psig__signal_client_reset(struct p2psig_signaling *sig);
void p2psig__signal_client_stop(struct p2psig_signaling *sig);
/* Queues the POST /sdp of our offer or answer. */
void p2psig__signal_post_sdp(struct p2psig_signaling *sig,
                             p2psig_sdp_type type, const char *sdp);
/* A local candidate of pion's protocol: posted, or held until the
 * remote may take it. */
void p2psig__signal_send_candidate(struct p2psig_signaling *sig,
                                   const char *candidate);
/* Offer role: the remote answer was applied, the first or an ICE
 * restart's. */
void p2psig__signal_answer_applied(struct p2psig_signaling *sig);

#endif
