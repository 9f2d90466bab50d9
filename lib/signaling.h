/* SPDX-License-Identifier: MIT */
/*
 * The pion-to-pion signaling messages and addresses: pure functions, no
 * I/O, so that they can be tested without a network.  signaling.c uses them
 * for its HTTP server and client.
 */
#ifndef P2PSIG_SIGNALING_H
#define P2PSIG_SIGNALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p2psig/p2psig.h>

/* Largest request body the server reads (413 above it).  An SDP with many
 * candidates is a few KiB. */
#define P2PSIG_SIGNAL_MAX_BODY (64 * 1024)

/* The caps and timeouts that keep a hostile client or server from holding
 * a signaling object's descriptors, memory or POST queue.  Each is
 * documented with p2psig_signaling_config in p2psig.h. */

/* Server: connections open at once.  Beyond it the oldest connection that
 * is not in the middle of a request is closed to make room, so a real peer
 * gets in while others hold sockets; 64 leaves most of a 1024-descriptor
 * limit to the rest of the process. */
#define P2PSIG_SIGNAL_MAX_CONNECTIONS 64
/* Server: TLS handshakes running at once; beyond it the oldest is closed.
 * GIO runs each in a thread of GTask's pool, which blocks while the client
 * waits, and the pool (10 threads at first) grows slowly: a few half-done
 * handshakes would queue an honest one behind them.  A connection that
 * has sent nothing has no handshake running yet. */
#define P2PSIG_SIGNAL_MAX_HANDSHAKES 4
/* Server: from the connection to the end of its TLS handshake. */
#define P2PSIG_SIGNAL_HANDSHAKE_TIMEOUT_MS 5000
/* Server: the request headers must be in within this of the connection (or
 * of its handshake); an honest client sends them at once. */
#define P2PSIG_SIGNAL_HEADER_TIMEOUT_MS 5000
/* Server: from the headers to the response written, body included (at
 * most P2PSIG_SIGNAL_MAX_BODY). */
#define P2PSIG_SIGNAL_REQUEST_TIMEOUT_MS 10000
/* Server: a kept-alive connection waiting for its next request. */
#define P2PSIG_SIGNAL_IDLE_TIMEOUT_MS 10000
/* Server: candidates taken by POST /candidate in a session; beyond it
 * 400.  The peer keeps every one (before the remote description in a
 * list, after it in libnice's checks); Chromium sends a few dozen. */
#define P2PSIG_SIGNAL_MAX_CANDIDATES 1000
/* Client: one POST, from sending to the last byte of the response; then it
 * is abandoned and retried like a connection error.  libsoup's own timeout
 * counts idle time only, which a server sending a byte a second resets. */
#define P2PSIG_SIGNAL_POST_DEADLINE_MS 15000
/* Client: bytes of a response body read, for the reason line of a
 * refusal; the rest is never read. */
#define P2PSIG_SIGNAL_MAX_RESPONSE 4096

/* One round trip, server: how long a GET /candidate waits for a candidate
 * before it is answered empty (browsers and proxies keep a request open
 * for 30 s or more), and how many may wait at once; one more answers the
 * oldest at once.  A poll's connection gets the wait and 5 s more. */
#define P2PSIG_SIGNAL_POLL_WAIT_MS 25000
#define P2PSIG_SIGNAL_MAX_POLLS 8
/* One round trip, server: the bytes of candidate strings in one poll's
 * response; the rest come with the next poll. */
#define P2PSIG_SIGNAL_POLL_BATCH (32 * 1024)
/* Browsers: origins in cors_origins, and the bytes of one. */
#define P2PSIG_SIGNAL_MAX_ORIGINS 16
#define P2PSIG_SIGNAL_MAX_ORIGIN_LEN 255
/* The page served at GET /. */
#define P2PSIG_SIGNAL_MAX_PAGE (1024 * 1024)
/* One round trip: the session id, hex. */
#define P2PSIG_SIGNAL_SESSION_LEN 32

struct p2psig__signal_limits {
  unsigned max_connections;
  unsigned handshake_timeout_ms;
  unsigned header_timeout_ms;
  unsigned request_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned max_candidates;
  unsigned post_deadline_ms;
  size_t max_response;
  unsigned poll_wait_ms;
  unsigned max_polls;
  const char *fixed_session;  /* tests: every session gets this id */
};

/* What p2psig_signaling_new() copies: the defaults above, unless a test
 * shortened them first (before any signaling object exists). */
extern struct p2psig__signal_limits p2psig__signal_limits;

/* Decodes the body of POST /sdp, pion's webrtc.SessionDescription:
 * {"type":"offer"|"answer","sdp":"..."}.  Other members are ignored; member
 * names match case-insensitively when no exact match exists, as Go's
 * encoding/json does.  Returns 0 and the SDP in *sdp (g_free), or
 * P2PSIG_EJSON and a one-line reason in *detail (g_free) when detail is not
 * NULL: not UTF-8 JSON, not an object, "type" or "sdp" missing or not a
 * string, an empty "sdp", a type other than offer and answer ("pranswer"
 * and "rollback" included). */
int p2psig__signal_decode_sdp(const char *body, size_t len,
                              p2psig_sdp_type *type, char **sdp,
                              char **detail);

/* Encodes {"type":"offer"|"answer","sdp":"..."}; g_free the result.
 * Returns NULL for an unknown type or a NULL sdp. */
char *p2psig__signal_encode_sdp(p2psig_sdp_type type, const char *sdp);

/* Encodes the response to a one-round-trip GET /candidate:
 * {"candidates":[...],"next":next,"complete":complete}; g_free. */
char *p2psig__signal_encode_candidates(const char *const *candidates,
                                       size_t count, unsigned next,
                                       bool complete);

/* Decodes it: *candidates (g_strfreev; each a string, possibly empty),
 * *next and *complete.  Returns 0, or P2PSIG_EJSON with a one-line reason
 * in *detail (g_free) when detail is not NULL: not UTF-8 JSON, not an
 * object, "candidates" missing or not an array of strings, "next" missing
 * or not an integer in 0..2^32-1, "complete" not a boolean (missing means
 * false). */
int p2psig__signal_decode_candidates(const char *body, size_t len,
                                     char ***candidates, unsigned *next,
                                     bool *complete, char **detail);

/* Whether id (may be NULL) is a one-round-trip session id:
 * P2PSIG_SIGNAL_SESSION_LEN hex digits. */
bool p2psig__signal_valid_session(const char *id);

/* Whether a browser's request from origin may be served: origin is in
 * allowed (NULL-terminated, may be NULL; "*" allows any), compared
 * without case, or it is the server's own: "http://" (or "https://" when
 * tls) followed by host, the request's Host header, whose host part is an
 * IP address (IPv6 in brackets) or "localhost". */
bool p2psig__signal_origin_allowed(const char *origin, const char *host,
                                   bool tls, const char *const *allowed);

/* Whether text is an origin cors_origins may list: "*", or
 * "http://HOST[:PORT]" or "https://..." with HOST a DNS name or an IP
 * address (IPv6 in brackets), without path, at most
 * P2PSIG_SIGNAL_MAX_ORIGIN_LEN bytes. */
bool p2psig__signal_valid_origin(const char *text);

/* Splits "host:port", "[host]:port" (brackets needed around an IPv6
 * address) or ":port" into *host (g_free; NULL for an empty host: all
 * interfaces when listening, this machine when connecting) and *port.  The
 * host is an IP address or a DNS name (letters, digits, '-', '_', '.').
 * Port 0 is accepted only when listen is true.  Returns 0 or
 * P2PSIG_EADDRESS. */
int p2psig__signal_parse_address(const char *address, bool listen,
                                 char **host, uint16_t *port);

#endif
