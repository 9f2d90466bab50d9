/* SPDX-License-Identifier: MIT */
/*
 * The HTTP signaling of pion's pion-to-pion example, for one peer: a libsoup
 * server taking POST /sdp ({"type","sdp"} JSON) and POST /candidate (the
 * bare candidate string), and a libsoup client posting ours to the other
 * side.  It drives the peer through its public functions and hears its
 * local candidates through the observer of peer.h.
 *
 * Everything libsoup does happens on the library thread: public functions
 * hop there with p2psig__loop_run_sync(), and the server, the session and
 * the timers are attached to the library's main context.  The static
 * functions below run there with p2psig__lock() held (libsoup's handlers
 * and completions take it first), except the pure helpers at the top.
 *
 * Ordering rules, from pion's example: a side sends its candidates only once
 * it has the remote description, and the answerer only after its answer has
 * been posted (pion's offerer panics on a candidate that precedes the
 * answer).  All outgoing POSTs go through one FIFO queue, one request in
 * flight at a time, which keeps them in order.  POSTs that meet a
 * connection error or a 5xx are retried with backoff: the offer may start
 * before the answer listens.
 *
 * Nothing remote is unbounded: the server accepts its connections itself,
 * at most P2PSIG_SIGNAL_MAX_CONNECTIONS, each closed when its state (TLS
 * handshake, headers, request, idle) outlasts its timeout, and hands them
 * to libsoup; a POST of ours has an overall deadline and reads a few KiB
 * of its response at most (signaling.h names the caps).
 *
 * Access control is opt-in: a shared token, sent as a Bearer credential
 * and checked on every request once its headers are in, and HTTPS for the
 * server (a certificate and key) and the client (a CA file, or the system's
 * trust store).  TLS itself is GIO's, through glib-networking.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include "signaling.h"

#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <libsoup/soup.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <string.h>

#include "internal.h"
#include "peer.h"
#include "sdp.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* libsoup's idle timeout of a POST; P2PSIG_SIGNAL_POST_DEADLINE_MS bounds
 * its whole time. */
#define REQUEST_TIMEOUT_S 15
/* After a failed accept (out of descriptors, say): the listening socket
 * stays readable, so accepting again at once would spin. */
#define ACCEPT_RETRY_MS 100
#define LISTEN_BACKLOG 128
#define MAX_JSON_DEPTH 32    /* json-glib's parser recurses */
#define CONTENT_TYPE "application/json; charset=utf-8" /* what pion sends */
#define ORT_MODE "one-round-trip"    /* POST /sdp?mode=one-round-trip */
#define SESSION_HEADER "P2psig-Session"
/* A conn waiting in a long-poll gets the wait and this much more. */
#define POLL_SLACK_MS 5000
/* What the page may do: run its own script and style, and talk to its own
 * origin (fetch); nothing is loaded from elsewhere, nor may it be framed.
 * WebRTC itself is not governed by CSP. */
#define PAGE_CSP                                                         \
  "default-src 'none'; script-src 'unsafe-inline'; "                     \
  "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "       \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

enum post_kind {
  POST_OFFER,
  POST_ANSWER,         /* candidates may follow once it is in */
  POST_CANDIDATE,
};

/* One queued outgoing POST. */
struct post {
  enum post_kind kind;
  GBytes *body;
};

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

/* An outgoing request in flight: a POST of the queue, or (one round trip)
 * the long-poll GET /candidate.  The signaling object may be freed, or its
 * session replaced, before libsoup completes it (cancelled): the
 * completions check that it is still sig->request (or sig->poll). */
struct request {
  struct p2psig_signaling *sig;
  bool poll;                   /* the GET /candidate, not a POST */
  size_t cap;                  /* bytes of the body read at most */
  SoupMessage *msg;
  GCancellable *cancellable;   /* this request's: the deadline cancels it */
  GSource *deadline;
  bool timed_out;              /* the deadline passed */
  unsigned status;             /* once the response headers are in */
  GInputStream *stream;        /* the response body, being read */
  char *body;                  /* its first cap bytes */
  size_t len;
};

/* Where a server connection is: what it must do before its timer fires. */
enum conn_state {
  CONN_HANDSHAKE,              /* our TLS handshake */
  CONN_HEADERS,                /* libsoup waits for the request headers */
  CONN_REQUEST,                /* headers in: body, handler, response */
  CONN_IDLE,                   /* a kept-alive connection between requests */
  CONN_POLL,                   /* a GET /candidate waiting for a candidate */
};

/* A GET /candidate of the answer role waiting for a local candidate. */
struct waiting_poll {
  struct p2psig_signaling *sig;
  SoupServerMessage *msg;      /* paused; referenced */
  unsigned from;               /* the index it asks from */
  GSource *timer;              /* the poll wait */
};

/* A connection the server accepted, from accept to close. */
struct conn {
  struct p2psig_signaling *sig;
  GSocketConnection *tcp;
  GIOStream *stream;           /* tcp, or TLS over it */
  GIOStream *soup_stream;      /* stream, through the head filter: libsoup's */
  GSocketAddress *local;
  /* Our own object, handed to libsoup with the stream: its messages give
   * it back (soup_server_message_get_remote_address()), which tells their
   * connection; libsoup 3.2 has no other public link. */
  GSocketAddress *remote;
  GSource *readable;           /* TLS: waiting for the client's hello */
  GCancellable *handshake;     /* while our TLS handshake runs */
  bool closing;                /* closed during the handshake: its
                                  completion frees it */
  enum conn_state state;
  unsigned requests;           /* started on it */
  GSource *timer;              /* the state's timeout */
};

struct p2psig_signaling {
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

  SoupServer *server;
  GSocketListener *listener;   /* we accept, not libsoup: see conn_add() */
  GCancellable *accept_cancellable;
  GSource *accept_retry;
  GTlsCertificate *certificate; /* serve HTTPS with it; NULL: HTTP */
  GQueue conns;                /* struct conn *, oldest first */
  GSource *prune_source;
  uint16_t port;
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

  GQueue reports;              /* struct report *, for on_error */
  GSource *report_source;
};

struct p2psig__signal_limits p2psig__signal_limits = {
  .max_connections = P2PSIG_SIGNAL_MAX_CONNECTIONS,
  .handshake_timeout_ms = P2PSIG_SIGNAL_HANDSHAKE_TIMEOUT_MS,
  .header_timeout_ms = P2PSIG_SIGNAL_HEADER_TIMEOUT_MS,
  .request_timeout_ms = P2PSIG_SIGNAL_REQUEST_TIMEOUT_MS,
  .idle_timeout_ms = P2PSIG_SIGNAL_IDLE_TIMEOUT_MS,
  .max_candidates = P2PSIG_SIGNAL_MAX_CANDIDATES,
  .post_deadline_ms = P2PSIG_SIGNAL_POST_DEADLINE_MS,
  .max_response = P2PSIG_SIGNAL_MAX_RESPONSE,
  .poll_wait_ms = P2PSIG_SIGNAL_POLL_WAIT_MS,
  .max_polls = P2PSIG_SIGNAL_MAX_POLLS,
};

/* -------------------------------------------------------------------- */
/* Pure helpers: JSON and addresses                                      */

/* A printable, bounded excerpt of untrusted text for a one-line message. */
static char *
excerpt(const char *text, size_t max)
{
  GString *out = g_string_new(NULL);

  for (size_t i = 0; text && text[i]; i++) {
    if (i == max) {
      g_string_append(out, "...");
      break;
    }
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c >= 0x7f)
      g_string_append_printf(out, "\\x%02x", c);
    else
      g_string_append_c(out, (char)c);
  }
  return g_string_free(out, FALSE);
}

#define MAX_LINE 240 /* bytes of a reason, before the "..." */

/* Whether a character would break or garble a log line: C0 and C1 controls
 * (line breaks among them), DEL, and Unicode's line and paragraph
 * separators. */
static bool
breaks_line(gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

/* A copy of text made one short line of UTF-8: what is not UTF-8 becomes
 * U+FFFD (json-glib's messages quote input that need not be UTF-8 once its
 * escapes are decoded), characters that break lines become spaces, and a
 * text longer than MAX_LINE bytes is cut at a character boundary, "..."
 * appended.  A new string, never an edit in place: the "..." may need room
 * that the text does not have. */
static char *
one_line(const char *text)
{
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  GString *out = g_string_sized_new(MIN(strlen(valid), MAX_LINE) + 4);

  for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
    const char *next = g_utf8_next_char(p);

    if ((size_t)(next - valid) > MAX_LINE) {
      g_string_append(out, "...");
      break;
    }
    if (breaks_line(g_utf8_get_char(p)))
      g_string_append_c(out, ' ');
    else
      g_string_append_len(out, p, next - p);
  }
  return g_string_free(out, FALSE);
}

static int G_GNUC_PRINTF(2, 3)
json_fail(char **detail, const char *fmt, ...)
{
  if (detail) {
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* json-glib's messages quote the offending input. */
    *detail = one_line(text);
    g_free(text);
  }
  return P2PSIG_EJSON;
}

/* Whether arrays and objects nest deeper than json-glib should recurse. */
static bool
json_too_deep(const char *body, size_t len)
{
  unsigned depth = 0;
  bool in_string = false;

  for (size_t i = 0; i < len; i++) {
    char c = body[i];

    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_JSON_DEPTH)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return false;
}

/* Go's encoding/json matches member names exactly first, then ignoring
 * case. */
static JsonNode *
find_member(JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member(obj, name);
  JsonObjectIter iter;
  const char *member;

  if (node)
    return node;
  json_object_iter_init(&iter, obj);
  while (json_object_iter_next(&iter, &member, &node))
    if (g_ascii_strcasecmp(member, name) == 0)
      return node;
  return NULL;
}

static const char *
string_member(JsonObject *obj, const char *name, bool *present)
{
  JsonNode *node = find_member(obj, name);

  *present = node != NULL;
  if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(node);
}

/* Parses a body that must be a JSON object: *parser holds it (unref),
 * *object is its root.  Returns 0 or json_fail()'s error. */
static int
json_object_load(const char *body, size_t len, JsonParser **parser,
                 JsonObject **object, char **detail)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (len > G_MAXSSIZE || !g_utf8_validate_len(body, len, NULL))
    return json_fail(detail, "body is not UTF-8 text");
  if (json_too_deep(body, len))
    return json_fail(detail, "JSON nested more than %d levels deep",
                     MAX_JSON_DEPTH);
  /* Only an object can be what we want: refuse anything else before
   * json-glib 1.6, whose error paths leak what they parsed so far. */
  for (size_t i = 0; i < len && body[i] != '{'; i++)
    if (!g_ascii_isspace(body[i]))
      return json_fail(detail, "body is not a JSON object");

  *parser = json_parser_new_immutable();
  if (!json_parser_load_from_data(*parser, body, (gssize)len, &error))
    return json_fail(detail, "body is not JSON: %s", error->message);
  root = json_parser_get_root(*parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return json_fail(detail, "body is not a JSON object");
  *object = json_node_get_object(root);
  return 0;
}

int
p2psig__signal_decode_sdp(const char *body, size_t len, p2psig_sdp_type *type,
                          char **sdp, char **detail)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *shown = NULL;
  JsonObject *obj;
  const char *type_str, *sdp_str;
  bool present;
  int rc;

  if (sdp)
    *sdp = NULL;
  if (detail)
    *detail = NULL;
  g_return_val_if_fail(type != NULL && sdp != NULL, P2PSIG_EINVAL);

  if (!body || len == 0)
    return json_fail(detail, "empty body: expected {\"type\":..,\"sdp\":..}");
  if ((rc = json_object_load(body, len, &parser, &obj, detail)) < 0)
    return rc;

  type_str = string_member(obj, "type", &present);
  if (!type_str)
    return json_fail(detail, present ? "\"type\" is not a string"
                                     : "missing \"type\"");
  sdp_str = string_member(obj, "sdp", &present);
  if (!sdp_str)
    return json_fail(detail, present ? "\"sdp\" is not a string"
                                     : "missing \"sdp\"");
  /* json-glib 1.6 decodes a lone surrogate ("\udc00") or an octal escape
   * into bytes that are not UTF-8, though the body itself is. */
  if (!g_utf8_validate(type_str, -1, NULL) ||
      !g_utf8_validate(sdp_str, -1, NULL))
    return json_fail(detail, "a string holds an invalid escape");

  if (strcmp(type_str, "offer") == 0) {
    *type = P2PSIG_SDP_OFFER;
  } else if (strcmp(type_str, "answer") == 0) {
    *type = P2PSIG_SDP_ANSWER;
  } else {
    shown = excerpt(type_str, 32);
    if (strcmp(type_str, "pranswer") == 0 || strcmp(type_str, "rollback") == 0)
      return json_fail(detail, "unsupported SDP type \"%s\"", shown);
    return json_fail(detail, "unknown SDP type \"%s\"", shown);
  }
  if (sdp_str[0] == '\0')
    return json_fail(detail, "\"sdp\" is empty");

  *sdp = g_strdup(sdp_str);
  return 0;
}

char *
p2psig__signal_encode_sdp(p2psig_sdp_type type, const char *sdp)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (!sdp || (type != P2PSIG_SDP_OFFER && type != P2PSIG_SDP_ANSWER))
    return NULL;

  builder = json_builder_new_immutable();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "type");
  json_builder_add_string_value(builder,
                                type == P2PSIG_SDP_OFFER ? "offer" : "answer");
  json_builder_set_member_name(builder, "sdp");
  json_builder_add_string_value(builder, sdp);
  json_builder_end_object(builder);
  root = json_builder_get_root(builder);

  generator = json_generator_new();
  json_generator_set_root(generator, root);
  return json_generator_to_data(generator, NULL);
}

char *
p2psig__signal_encode_candidates(const char *const *candidates, size_t count,
                                 unsigned next, bool complete)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "candidates");
  json_builder_begin_array(builder);
  for (size_t i = 0; i < count; i++)
    json_builder_add_string_value(builder, candidates[i]);
  json_builder_end_array(builder);
  json_builder_set_member_name(builder, "next");
  json_builder_add_int_value(builder, next);
  json_builder_set_member_name(builder, "complete");
  json_builder_add_boolean_value(builder, complete);
  json_builder_end_object(builder);
  root = json_builder_get_root(builder);
  json_generator_set_root(generator, root);
  return json_generator_to_data(generator, NULL);
}

int
p2psig__signal_decode_candidates(const char *body, size_t len,
                                 char ***candidates, unsigned *next,
                                 bool *complete, char **detail)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) list = NULL;
  JsonNode *node;
  JsonObject *obj;
  JsonArray *array;
  gint64 value;
  int rc;

  *candidates = NULL;
  *next = 0;
  *complete = false;
  if (detail)
    *detail = NULL;
  if (!body || len == 0)
    return json_fail(detail, "empty body: expected {\"candidates\":[..]}");
  if ((rc = json_object_load(body, len, &parser, &obj, detail)) < 0)
    return rc;

  node = json_object_get_member(obj, "candidates");
  if (!node || !JSON_NODE_HOLDS_ARRAY(node))
    return json_fail(detail, "\"candidates\" is missing or not an array");
  array = json_node_get_array(node);
  list = g_ptr_array_new_with_free_func(g_free);
  for (unsigned i = 0; i < json_array_get_length(array); i++) {
    JsonNode *item = json_array_get_element(array, i);
    const char *text;

    if (!JSON_NODE_HOLDS_VALUE(item) ||
        json_node_get_value_type(item) != G_TYPE_STRING)
      return json_fail(detail, "candidate %u is not a string", i);
    text = json_node_get_string(item);
    if (!g_utf8_validate(text, -1, NULL))
      return json_fail(detail, "a string holds an invalid escape");
    g_ptr_array_add(list, g_strdup(text));
  }

  node = json_object_get_member(obj, "next");
  if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_INT64 ||
      (value = json_node_get_int(node)) < 0 || value > G_MAXUINT32)
    return json_fail(detail, "\"next\" is missing or not an index");
  node = json_object_get_member(obj, "complete");
  if (node && (!JSON_NODE_HOLDS_VALUE(node) ||
               json_node_get_value_type(node) != G_TYPE_BOOLEAN))
    return json_fail(detail, "\"complete\" is not a boolean");

  *complete = node && json_node_get_boolean(node);
  *next = (unsigned)value;
  g_ptr_array_add(list, NULL);
  *candidates = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
  return 0;
}

/* The host of a Host header or an origin's authority ("h", "h:port",
 * "[v6]:port") names us by address: an IP literal, or localhost. */
static bool
host_is_address(const char *authority)
{
  g_autofree char *host = NULL;
  const char *end;

  if (authority[0] == '[') {
    end = strchr(authority, ']');
    if (!end || (end[1] != '\0' && end[1] != ':'))
      return false;
    host = g_strndup(authority + 1, (size_t)(end - authority - 1));
    return strchr(host, ':') && g_hostname_is_ip_address(host);
  }
  end = strchr(authority, ':');
  host = end ? g_strndup(authority, (size_t)(end - authority))
             : g_strdup(authority);
  return g_ascii_strcasecmp(host, "localhost") == 0 ||
         (!strchr(host, ':') && g_hostname_is_ip_address(host));
}

bool
p2psig__signal_origin_allowed(const char *origin, const char *host, bool tls,
                              const char *const *allowed)
{
  const char *scheme = tls ? "https://" : "http://";
  size_t n = strlen(scheme);

  if (!origin)
    return false;
  for (size_t i = 0; allowed && allowed[i]; i++)
    if (strcmp(allowed[i], "*") == 0 ||
        g_ascii_strcasecmp(allowed[i], origin) == 0)
      return true;
  /* Our own: what the browser connected to, by address.  The Host header
   * of a page fetched through a DNS name says that name, which another
   * site may have pointed at us (DNS rebinding): list such an origin. */
  return host && host[0] && g_ascii_strncasecmp(origin, scheme, n) == 0 &&
         g_ascii_strcasecmp(origin + n, host) == 0 && host_is_address(host);
}

static bool is_dns_name(const char *host);

bool
p2psig__signal_valid_origin(const char *text)
{
  g_autofree char *host = NULL;
  const char *authority, *p, *colon;

  if (!text || strlen(text) > P2PSIG_SIGNAL_MAX_ORIGIN_LEN)
    return false;
  if (strcmp(text, "*") == 0)
    return true;
  if (g_str_has_prefix(text, "http://"))
    authority = text + 7;
  else if (g_str_has_prefix(text, "https://"))
    authority = text + 8;
  else
    return false;
  if (authority[0] == '[') {
    const char *end = strchr(authority, ']');

    if (!end)
      return false;
    host = g_strndup(authority + 1, (size_t)(end - authority - 1));
    if (!strchr(host, ':') || !g_hostname_is_ip_address(host))
      return false;
    colon = end[1] == ':' ? end + 1 : NULL;
    if (!colon && end[1] != '\0')
      return false;
  } else {
    colon = strchr(authority, ':');
    host = colon ? g_strndup(authority, (size_t)(colon - authority))
                 : g_strdup(authority);
    if (!is_dns_name(host) && !g_hostname_is_ip_address(host))
      return false;
  }
  if (!colon)
    return true;
  for (p = colon + 1; *p; p++)
    if (!g_ascii_isdigit(*p))
      return false;
  return p - colon > 1 && p - colon <= 6 && atoi(colon + 1) <= 65535;
}

static bool
is_dns_name(const char *host)
{
  size_t len = strlen(host);

  if (len == 0 || len > 253)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isalnum(host[i]) && host[i] != '-' && host[i] != '_' &&
        host[i] != '.')
      return false;
  return true;
}

int
p2psig__signal_parse_address(const char *address, bool listen, char **host,
                             uint16_t *port)
{
  const char *colon, *p;
  g_autofree char *name = NULL;
  unsigned long value = 0;

  *host = NULL;
  *port = 0;
  if (!address)
    return P2PSIG_EADDRESS;

  if (address[0] == '[') {
    const char *close = strchr(address, ']');

    if (!close || close[1] != ':')
      return P2PSIG_EADDRESS;
    name = g_strndup(address + 1, (size_t)(close - address - 1));
    if (!g_hostname_is_ip_address(name))
      return P2PSIG_EADDRESS;
    colon = close + 1;
  } else {
    colon = strrchr(address, ':');
    if (!colon)
      return P2PSIG_EADDRESS;
    name = g_strndup(address, (size_t)(colon - address));
    /* An IPv6 address needs brackets: "::1:80" is ambiguous. */
    if (strchr(name, ':'))
      return P2PSIG_EADDRESS;
    if (name[0] != '\0' && !g_hostname_is_ip_address(name) &&
        !is_dns_name(name))
      return P2PSIG_EADDRESS;
  }

  p = colon + 1;
  if (*p == '\0' || strlen(p) > 5)
    return P2PSIG_EADDRESS;
  for (; *p; p++) {
    if (!g_ascii_isdigit(*p))
      return P2PSIG_EADDRESS;
    value = value * 10 + (unsigned long)(*p - '0');
  }
  if (value > 65535 || (value == 0 && !listen))
    return P2PSIG_EADDRESS;

  *port = (uint16_t)value;
  if (name[0] != '\0')
    *host = g_steal_pointer(&name);
  return 0;
}

/* -------------------------------------------------------------------- */
/* Lifetime                                                               */

static void
sig_unref(struct p2psig_signaling *sig)
{
  g_assert(sig->refs > 0);
  if (--sig->refs > 0)
    return;
  /* free_on_loop() has already released everything else. */
  g_free(sig->remote_base);
  g_strfreev(sig->cors_origins);
  g_clear_pointer(&sig->page, g_bytes_unref);
  if (sig->authorization) {
    OPENSSL_cleanse(sig->authorization, strlen(sig->authorization));
    g_free(sig->authorization);
  }
  OPENSSL_cleanse(sig, sizeof *sig);
  g_free(sig);
}

static void
post_free(struct post *post)
{
  if (!post)
    return;
  g_bytes_unref(post->body);
  g_free(post);
}

static void
report_free(struct report *report)
{
  g_free(report->url);
  g_free(report->message);
  g_free(report);
}

/* -------------------------------------------------------------------- */
/* Reporting refusals                                                     */

/* Runs from an idle source, so that on_error and on_status never run
 * inside a libsoup handler and the application may free the signaling
 * object from them. */
static gboolean
flush_reports(void *data)
{
  struct p2psig_signaling *sig = data;
  struct report *report;

  g_clear_pointer(&sig->report_source, g_source_unref);
  sig->refs++;
  while (!sig->closed && (report = g_queue_pop_head(&sig->reports))) {
    p2psig_signaling_status status = {
      .size = sizeof status,
      .final = report->kind == REPORT_FINAL,
      .served = report->kind == REPORT_SERVED,
      .http_status = report->http_status,
      .error = report->error,
      .retry_in_ms = report->retry_in_ms,
      .url = report->url,
      .reason = report->message,
    };

    /* on_error has had refusals and failures since 0.1, never retries. */
    if (sig->on_error && report->kind != REPORT_RETRY)
      sig->on_error(sig, report->error, report->message, sig->user_data);
    if (sig->on_status && !sig->closed)
      sig->on_status(sig, &status, sig->user_data);
    report_free(report);
  }
  sig_unref(sig);
  return G_SOURCE_REMOVE;
}

/* Queues a report and returns it (a retry sets its delay).  path is that
 * of the request ("/sdp"): of ours, it is reported as the remote's URL. */
static struct report * G_GNUC_PRINTF(6, 7)
report(struct p2psig_signaling *sig, enum report_kind kind, int error,
       unsigned http_status, const char *path, const char *fmt, ...)
{
  struct report *r = g_new0(struct report, 1);
  g_autofree char *text = NULL;
  va_list ap;

  va_start(ap, fmt);
  text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  r->kind = kind;
  r->message = one_line(text);
  r->error = error;
  r->http_status = http_status;
  r->url = kind == REPORT_SERVED ? g_strdup(path)
                                 : g_strconcat(sig->remote_base, path, NULL);
  if (kind != REPORT_RETRY)
    g_debug("%s: %s", p2psig_error_name(error), r->message);

  g_queue_push_tail(&sig->reports, r);
  if (!sig->report_source)
    sig->report_source = p2psig__loop_idle(flush_reports, sig, NULL);
  return r;
}

/* Answers a request with status and a one-line text/plain reason, and
 * reports it. */
static void G_GNUC_PRINTF(5, 6)
refuse(struct p2psig_signaling *sig, SoupServerMessage *msg, unsigned status,
       int error, const char *fmt, ...)
{
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  g_autofree char *method = NULL;
  g_autofree char *path = NULL;
  char *body;
  va_list ap;

  va_start(ap, fmt);
  text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  line = one_line(text);

  body = g_strconcat(line, "\n", NULL);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "text/plain; charset=utf-8",
                                   SOUP_MEMORY_TAKE, body, strlen(body));
  /* Both come from the request line, before any authentication. */
  method = excerpt(soup_server_message_get_method(msg), 16);
  path = excerpt(g_uri_get_path(soup_server_message_get_uri(msg)), 64);
  report(sig, REPORT_SERVED, error, status, path, "%s %s: %u %s", method,
         path, status, line);
}

/* -------------------------------------------------------------------- */
/* Outgoing POSTs                                                         */

static void send_current(struct p2psig_signaling *sig);

/* Starts the next queued POST unless one is in flight (or waiting for its
 * retry): one at a time keeps the order. */
static void
post_next(struct p2psig_signaling *sig)
{
  if (sig->closed || sig->current)
    return;
  sig->current = g_queue_pop_head(&sig->queue);
  if (sig->current)
    send_current(sig);
}

static const char *
post_path(const struct post *post)
{
  return post->kind == POST_CANDIDATE ? "/candidate" : "/sdp";
}

/* Its path and query: one round trip asks for the answer in the response
 * and names the session once there is one. */
static char *
post_target(const struct p2psig_signaling *sig, const struct post *post)
{
  if (!sig->one_round_trip)
    return g_strdup(post_path(post));
  if (post->kind == POST_CANDIDATE)
    return g_strconcat("/candidate?session=", sig->session_id, NULL);
  return g_strconcat("/sdp?mode=" ORT_MODE, sig->session_id[0] ? "&session=" : "",
                     sig->session_id, NULL);
}

/* Queues a POST; takes body. */
static void
enqueue(struct p2psig_signaling *sig, GBytes *body, enum post_kind kind)
{
  struct post *post = g_new0(struct post, 1);

  post->kind = kind;
  post->body = body;
  g_queue_push_tail(&sig->queue, post);
  post_next(sig);
}

static GBytes *
sdp_body(p2psig_sdp_type type, const char *sdp)
{
  char *json = p2psig__signal_encode_sdp(type, sdp);

  return g_bytes_new_take(json, strlen(json));
}

static bool
can_send_candidates(const struct p2psig_signaling *sig)
{
  /* A one-round-trip answer sends nothing: its offer polls. */
  if (sig->ort || !sig->have_remote ||
      !p2psig__peer_has_remote_description(sig->peer))
    return false;
  return sig->role == P2PSIG_ROLE_OFFER || sig->answer_posted;
}

static void
enqueue_candidate(struct p2psig_signaling *sig, const char *candidate)
{
  g_debug("sending candidate %s", candidate);
  enqueue(sig, g_bytes_new(candidate, strlen(candidate)), POST_CANDIDATE);
}

static void
release_held(struct p2psig_signaling *sig)
{
  if (!can_send_candidates(sig))
    return;
  for (unsigned i = 0; i < sig->held->len; i++)
    enqueue_candidate(sig, g_ptr_array_index(sig->held, i));
  g_ptr_array_set_size(sig->held, 0);
}

static gboolean
retry_cb(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->retry_source, g_source_unref);
  if (!sig->closed && sig->current)
    send_current(sig);
  return G_SOURCE_REMOVE;
}

/* A POST failed in a way that waiting may fix (no connection, a 5xx of
 * status, no response in time): send it again after the backoff. */
static void
schedule_retry(struct p2psig_signaling *sig, unsigned status, const char *why)
{
  g_debug("POST %s%s failed (%s): retrying in %u ms", sig->remote_base,
          post_path(sig->current), why, sig->backoff_ms);
  report(sig, REPORT_RETRY, status ? P2PSIG_EHTTP : P2PSIG_ENETWORK, status,
         post_path(sig->current), "%s", why)->retry_in_ms = sig->backoff_ms;
  sig->retry_source = p2psig__loop_timeout(sig->backoff_ms, retry_cb, sig,
                                           NULL);
  sig->backoff_ms = MIN(sig->backoff_ms * 2, BACKOFF_MAX_MS);
}

/* The first line of a refusal's body, for the report. */
static char *
response_reason(const char *data, size_t len)
{
  g_autofree char *text = NULL;
  char *nl;

  if (!data || len == 0)
    return g_strdup("");
  text = g_strndup(data, MIN(len, 200));
  if ((nl = strpbrk(text, "\r\n")))
    *nl = '\0';
  return excerpt(text, 200);
}

/* A TLS failure that waiting will not fix: a remote certificate we do not
 * trust, a remote that answers in plain HTTP (GnuTLS: "unexpected TLS
 * packet", G_TLS_ERROR_MISC), no TLS backend.  A connection cut in the
 * middle (G_TLS_ERROR_EOF) may be the remote restarting, one cut during
 * the handshake (G_TLS_ERROR_NOT_TLS) the remote busy; connection errors
 * are G_IO_ERROR and retried. */
static bool
tls_refused(const GError *error)
{
  /* GIO's G_TLS_ERROR_NOT_TLS is also a handshake that the remote cut
   * (premature termination, reset): a server shedding load does that,
   * ours when handshakes are over their cap or time. */
  return error->domain == G_TLS_ERROR && error->code != G_TLS_ERROR_EOF &&
         error->code != G_TLS_ERROR_NOT_TLS;
}

/* What GIO found wrong with the remote's certificate, the likeliest
 * first, for the report. */
static const char *
certificate_problem(GTlsCertificateFlags flags)
{
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return " (not signed by a trusted CA: see tls_ca)";
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return " (it does not name the remote address's host)";
  if (flags & (G_TLS_CERTIFICATE_EXPIRED | G_TLS_CERTIFICATE_NOT_ACTIVATED))
    return " (outside its validity period)";
  return flags ? " (certificate refused)" : "";
}

static void
request_free(struct request *req)
{
  if (req->deadline) {
    g_source_destroy(req->deadline);
    g_source_unref(req->deadline);
  }
  if (req->stream) {
    /* libsoup's close reads the rest of the body first, blocking when
     * synchronous, unless the request is cancelled: an endless body would
     * never end.  At the end of the body there is nothing to skip. */
    g_cancellable_cancel(req->cancellable);
    g_input_stream_close(req->stream, req->cancellable, NULL);
    g_object_unref(req->stream);
  }
  g_object_unref(req->msg);
  g_object_unref(req->cancellable);
  g_free(req->body);
  g_free(req);
}

/* A request of ours answered with a 4xx (or another status that is no
 * success and no server error). */
static void
report_refused(struct p2psig_signaling *sig, const struct request *req,
               const char *method, const char *path)
{
  g_autofree char *reason = response_reason(req->body, req->len);
  /* The remote's own words, as long as its status line. */
  g_autofree char *phrase = excerpt(
      soup_message_get_reason_phrase(req->msg), 64);

  report(sig, REPORT_FINAL,
         req->status == SOUP_STATUS_UNAUTHORIZED ? P2PSIG_EUNAUTHORIZED
                                                 : P2PSIG_EHTTP,
         req->status, path, "%s %s%s refused: %u %s%s%s", method,
         sig->remote_base, path,
         req->status, phrase, reason[0] ? ": " : "", reason);
}

static void poll_send(struct p2psig_signaling *sig);

/* Polls for the answer's candidates (again after an ICE restart) unless a
 * poll is under way or waiting for its retry. */
static void
poll_start(struct p2psig_signaling *sig)
{
  sig->poll_stopped = false;
  if (!sig->poll && !sig->poll_retry)
    poll_send(sig);
}

/* The remote answer was applied: the first, or an ICE restart's. */
static void
answer_applied(struct p2psig_signaling *sig)
{
  if (sig->have_remote) {
    g_debug("ICE restart: answer applied");
    sig->restarting = false;
  } else {
    g_debug("answer applied");
    sig->have_remote = true;
    release_held(sig);
  }
  if (sig->one_round_trip)
    poll_start(sig);
}

static bool
valid_session(const char *id)
{
  if (!id || strlen(id) != P2PSIG_SIGNAL_SESSION_LEN)
    return false;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit(*p))
      return false;
  return true;
}

/* One round trip: the answer is the response to our offer. */
static void
take_inline_answer(struct p2psig_signaling *sig, struct request *req)
{
  const char *id = soup_message_headers_get_one(
      soup_message_get_response_headers(req->msg), SESSION_HEADER);
  g_autofree char *sdp = NULL;
  g_autofree char *detail = NULL;
  p2psig_sdp_type type;
  int rc;

  if (req->len >= req->cap) {
    report(sig, REPORT_FINAL, P2PSIG_ETOOBIG, req->status, "/sdp",
           "POST %s/sdp: the answer is larger than %zu bytes",
           sig->remote_base, req->cap - 1);
  } else if (!valid_session(id)) {
    report(sig, REPORT_FINAL, P2PSIG_EHTTP, req->status, "/sdp",
           "POST %s/sdp: no session id in the response: the answer does "
           "not take one-round-trip offers", sig->remote_base);
  } else if ((rc = p2psig__signal_decode_sdp(req->body, req->len, &type, &sdp,
                                             &detail)) < 0) {
    report(sig, REPORT_FINAL, rc, req->status, "/sdp",
           "POST %s/sdp: bad answer in the response: %s", sig->remote_base,
           detail);
  } else if (type != P2PSIG_SDP_ANSWER) {
    report(sig, REPORT_FINAL, P2PSIG_EJSON, req->status, "/sdp",
           "POST %s/sdp: the response is an offer, not an answer",
           sig->remote_base);
  } else if (sig->have_remote && strcmp(id, sig->session_id) != 0) {
    report(sig, REPORT_FINAL, P2PSIG_ESTATE, req->status, "/sdp",
           "POST %s/sdp: the ICE restart was answered for another "
           "session", sig->remote_base);
  } else if ((rc = p2psig_peer_set_remote_description(
                  sig->peer, P2PSIG_SDP_ANSWER, sdp)) < 0) {
    report(sig, REPORT_FINAL, rc, req->status, "/sdp",
           "POST %s/sdp: answer refused: %s", sig->remote_base,
           p2psig_strerror(rc));
  } else {
    memcpy(sig->session_id, id, sizeof sig->session_id);
    answer_applied(sig);
  }
}

/* The POST ended: with error (no response, or its headers timed out), or
 * with the status and as much of the body as we read. */
static void
request_done(struct request *req, const GError *error)
{
  struct p2psig_signaling *sig = req->sig;
  struct post *post = sig->current;
  unsigned status = req->status;

  g_assert(post != NULL && sig->request == req);
  sig->request = NULL;

  if (error && tls_refused(error)) {
    report(sig, REPORT_FINAL, P2PSIG_ENETWORK, 0, post_path(post),
           "POST %s%s failed: %s%s", sig->remote_base, post_path(post),
           error->message, certificate_problem(
               soup_message_get_tls_peer_certificate_errors(req->msg)));
  } else if (error || SOUP_STATUS_IS_SERVER_ERROR(status)) {
    g_autofree char *why =
        req->timed_out && error
            ? g_strdup_printf("no response within %u ms",
                              sig->limits.post_deadline_ms)
        : error ? g_strdup(error->message)
                : g_strdup_printf("HTTP %u", status);

    /* An offer that was answered meanwhile needs no resend. */
    if (!(post->kind == POST_OFFER && sig->have_remote &&
          !sig->restarting)) {
      schedule_retry(sig, error ? 0 : status, why);
      request_free(req);
      return;
    }
  } else if (SOUP_STATUS_IS_SUCCESSFUL(status)) {
    g_debug("POST %s%s: %u", sig->remote_base, post_path(post), status);
    if (post->kind == POST_OFFER && sig->one_round_trip)
      take_inline_answer(sig, req);
    if (post->kind == POST_ANSWER) {
      sig->answer_posted = true;
      release_held(sig);
    }
  } else {
    report_refused(sig, req, "POST", post_path(post));
  }

  request_free(req);
  sig->backoff_ms = BACKOFF_MIN_MS;
  sig->current = NULL;
  post_free(post);
  post_next(sig);
}

static gboolean
poll_retry_cb(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->poll_retry, g_source_unref);
  if (!sig->closed)
    poll_send(sig);
  return G_SOURCE_REMOVE;
}

/* Polls again after the backoff: after an empty response, or (failed)
 * after a failure that waiting may fix, of status when it is a 5xx. */
static void
schedule_poll(struct p2psig_signaling *sig, bool failed, unsigned status,
              const char *why)
{
  g_debug("GET %s/candidate: %s: polling again in %u ms", sig->remote_base,
          why, sig->poll_backoff_ms);
  if (failed)
    report(sig, REPORT_RETRY, status ? P2PSIG_EHTTP : P2PSIG_ENETWORK, status,
           "/candidate", "%s", why)->retry_in_ms = sig->poll_backoff_ms;
  sig->poll_retry = p2psig__loop_timeout(sig->poll_backoff_ms, poll_retry_cb,
                                         sig, NULL);
  sig->poll_backoff_ms = MIN(sig->poll_backoff_ms * 2, BACKOFF_MAX_MS);
}

/* A poll's 2xx: the answer's candidates from poll_next on. */
static void
poll_take(struct p2psig_signaling *sig, const struct request *req)
{
  g_auto(GStrv) list = NULL;
  g_autofree char *detail = NULL;
  unsigned next, n;
  bool complete;
  int rc;

  if (req->len >= req->cap) {
    report(sig, REPORT_FINAL, P2PSIG_ETOOBIG, req->status, "/candidate",
           "GET %s/candidate: response larger than %zu bytes",
           sig->remote_base, req->cap - 1);
    sig->poll_stopped = true;
    return;
  }
  rc = p2psig__signal_decode_candidates(req->body, req->len, &list, &next,
                                        &complete, &detail);
  if (rc < 0) {
    report(sig, REPORT_FINAL, rc, req->status, "/candidate",
           "GET %s/candidate: %s", sig->remote_base, detail);
    sig->poll_stopped = true;
    return;
  }
  n = g_strv_length(list);
  if (next != sig->poll_next + n) {
    report(sig, REPORT_FINAL, P2PSIG_EJSON, req->status, "/candidate",
           "GET %s/candidate: \"next\" is %u after %u candidates from %u",
           sig->remote_base, next, n, sig->poll_next);
    sig->poll_stopped = true;
    return;
  }
  sig->poll_next = next;
  for (unsigned i = 0; i < n; i++) {
    g_autofree char *shown = NULL;

    if (!list[i][0])
      continue;
    if (sig->remote_candidates >= sig->limits.max_candidates) {
      report(sig, REPORT_FINAL, P2PSIG_ELIMIT, req->status, "/candidate",
             "GET %s/candidate: too many candidates: at most %u a session",
             sig->remote_base, sig->limits.max_candidates);
      sig->poll_stopped = true;
      return;
    }
    shown = excerpt(list[i], 200);
    if ((rc = p2psig_peer_add_candidate(sig->peer, list[i])) == 0) {
      sig->remote_candidates++;
      g_debug("remote candidate %s", shown);
    } else {
      g_debug("remote candidate %s not taken: %s", shown,
              p2psig_strerror(rc));
    }
  }
  if (complete) {
    g_debug("GET %s/candidate: the answer's candidates are complete",
            sig->remote_base);
    sig->poll_stopped = true;
  } else if (n > 0) {
    sig->poll_backoff_ms = BACKOFF_MIN_MS;
    poll_send(sig);
  } else {
    /* The wait passed (or a poll of ours was answered early to make room):
     * a server answering empty at once must not make us spin. */
    schedule_poll(sig, false, 0, "no candidate");
  }
}

/* The GET /candidate ended, as request_done() for a POST. */
static void
poll_done(struct request *req, const GError *error)
{
  struct p2psig_signaling *sig = req->sig;
  unsigned status = req->status;

  g_assert(sig->poll == req);
  sig->poll = NULL;
  if (error && tls_refused(error)) {
    report(sig, REPORT_FINAL, P2PSIG_ENETWORK, 0, "/candidate",
           "GET %s/candidate failed: %s%s",
           sig->remote_base, error->message,
           certificate_problem(
               soup_message_get_tls_peer_certificate_errors(req->msg)));
    sig->poll_stopped = true;
  } else if (error || SOUP_STATUS_IS_SERVER_ERROR(status)) {
    g_autofree char *why =
        req->timed_out && error ? g_strdup("no response in time")
        : error                 ? g_strdup(error->message)
                                : g_strdup_printf("HTTP %u", status);

    schedule_poll(sig, true, error ? 0 : status, why);
  } else if (SOUP_STATUS_IS_SUCCESSFUL(status)) {
    poll_take(sig, req);
  } else {
    report_refused(sig, req, "GET", "/candidate");
    sig->poll_stopped = true;
  }
  request_free(req);
}

/* A request whose signaling object was freed, or whose slot was given to
 * another (a new session), is dropped when it completes. */
static bool
request_stale(const struct request *req)
{
  const struct p2psig_signaling *sig = req->sig;

  return sig->closed || (req->poll ? sig->poll : sig->request) != req;
}

static void
request_finish(struct request *req, const GError *error)
{
  if (req->poll)
    poll_done(req, error);
  else
    request_done(req, error);
}

static void read_body(struct request *req);

static void
body_read(GObject *source, GAsyncResult *result, void *data)
{
  struct request *req = data;
  struct p2psig_signaling *sig = req->sig;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL);

  p2psig__lock();
  if (request_stale(req)) {
    request_free(req);
  } else if (n > 0 && (req->len += (size_t)n) < req->cap) {
    read_body(req);
  } else {
    /* The end, the cap, an error or the deadline: the status is in, and
     * the body is only for a reason line. */
    if (n == 0) {
      g_input_stream_close(req->stream, NULL, NULL);
      g_clear_object(&req->stream);
    }
    request_finish(req, NULL);
  }
  sig_unref(sig);
  p2psig__unlock();
}

static void
read_body(struct request *req)
{
  req->sig->refs++;
  g_input_stream_read_async(req->stream, req->body + req->len,
                            req->cap - req->len,
                            G_PRIORITY_DEFAULT, req->cancellable, body_read,
                            req);
}

static void
post_sent(GObject *source, GAsyncResult *result, void *data)
{
  struct request *req = data;
  struct p2psig_signaling *sig = req->sig;
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish(SOUP_SESSION(source),
                                                  result, &error);

  p2psig__lock();
  if (stream)
    req->stream = stream;
  if (request_stale(req)) {
    request_free(req);
  } else if (!stream) {
    request_finish(req, error);
  } else {
    /* Never the whole body: a hostile server's may not end. */
    req->status = soup_message_get_status(req->msg);
    req->body = g_malloc(req->cap);
    read_body(req);
  }
  sig_unref(sig);
  p2psig__unlock();
}

/* libsoup's timeout counts idle time only: this one counts it all. */
static gboolean
post_deadline(void *data)
{
  struct request *req = data;

  g_clear_pointer(&req->deadline, g_source_unref);
  req->timed_out = true;
  /* The completion runs later, from the main loop. */
  g_cancellable_cancel(req->cancellable);
  return G_SOURCE_REMOVE;
}

/* Sends a request to target (a path and query) on the remote, with body
 * when not NULL; its response is read up to cap bytes, all of it within
 * deadline_ms. */
static struct request *
request_start(struct p2psig_signaling *sig, const char *method,
              const char *target, GBytes *body, size_t cap,
              unsigned deadline_ms, bool poll)
{
  g_autofree char *uri = g_strconcat(sig->remote_base, target, NULL);
  struct request *req = g_new0(struct request, 1);

  req->sig = sig;
  req->poll = poll;
  req->cap = cap;
  req->msg = soup_message_new(method, uri);
  /* The address was checked in p2psig_signaling_new(), the session id
   * and the index are hex and digits. */
  g_assert(req->msg != NULL);
  req->cancellable = g_cancellable_new();
  if (body)
    soup_message_set_request_body_from_bytes(req->msg, CONTENT_TYPE, body);
  if (sig->authorization)
    soup_message_headers_replace(soup_message_get_request_headers(req->msg),
                                 "Authorization", sig->authorization);
  if (poll)
    sig->poll = req;
  else
    sig->request = req;
  sig->refs++;
  soup_session_send_async(sig->session, req->msg, G_PRIORITY_DEFAULT,
                          req->cancellable, post_sent, req);
  req->deadline = p2psig__loop_timeout(deadline_ms, post_deadline, req, NULL);
  return req;
}

static void
send_current(struct p2psig_signaling *sig)
{
  g_autofree char *target = post_target(sig, sig->current);
  /* A one-round-trip offer's response is the answer: as large as an SDP
   * we would take in a request. */
  size_t cap = sig->one_round_trip && sig->current->kind == POST_OFFER
                   ? P2PSIG_SIGNAL_MAX_BODY + 1
                   : sig->limits.max_response;

  request_start(sig, SOUP_METHOD_POST, target, sig->current->body, cap,
                sig->limits.post_deadline_ms, false);
}

/* One round trip: the long-poll for the answer's candidates.  Its
 * deadline is the server's wait and a POST's. */
static void
poll_send(struct p2psig_signaling *sig)
{
  g_autofree char *target = g_strdup_printf("/candidate?session=%s&from=%u",
                                            sig->session_id, sig->poll_next);

  request_start(sig, SOUP_METHOD_GET, target, NULL,
                P2PSIG_SIGNAL_MAX_BODY + 1,
                sig->limits.poll_wait_ms + sig->limits.post_deadline_ms, true);
}

/* -------------------------------------------------------------------- */
/* The peer's local candidates                                            */

static void polls_answer(struct p2psig_signaling *sig);

/* One round trip, answer role: the candidate waits for the polls.  A
 * session keeps at most max_candidates, as many as it takes. */
static void
outbox_add(struct p2psig_signaling *sig, const char *candidate)
{
  if (!candidate)
    sig->gathered = true;
  else if (sig->outbox->len < sig->limits.max_candidates)
    g_ptr_array_add(sig->outbox, g_strdup(candidate));
  else
    g_debug("candidate %s not kept: %u already", candidate,
            sig->outbox->len);
  polls_answer(sig);
}

static void
on_local_candidate(void *data, const char *candidate)
{
  struct p2psig_signaling *sig = data;

  if (sig->closed)
    return;
  if (sig->ort) {
    outbox_add(sig, candidate);
    return;
  }
  /* NULL: gathering is done; pion's protocol has nothing to send for it. */
  if (!candidate)
    return;
  if (can_send_candidates(sig))
    enqueue_candidate(sig, candidate);
  else
    g_ptr_array_add(sig->held, g_strdup(candidate));
}

static const struct p2psig_peer_observer observer = {
  .on_local_candidate = on_local_candidate,
};

/* -------------------------------------------------------------------- */
/* The server                                                             */

/* The methods a path takes ("GET, POST"), or NULL when it is not ours.
 * The answer role's GET /candidate is the one-round-trip long-poll; GET /
 * is the page. */
static const char *
path_methods(const struct p2psig_signaling *sig, const char *path)
{
  if (strcmp(path, "/sdp") == 0)
    return "POST";
  if (strcmp(path, "/candidate") == 0)
    return sig->role == P2PSIG_ROLE_ANSWER ? "GET, POST" : "POST";
  if (strcmp(path, "/") == 0 && sig->page)
    return "GET";
  return NULL;
}

static bool
method_listed(const char *methods, const char *method)
{
  g_auto(GStrv) list = g_strsplit(methods, ", ", -1);

  return g_strv_contains((const char *const *)list, method);
}

static void
refuse_too_big(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body(msg);

  /* libsoup 3 still reads the rest of the body: drop it as it comes. */
  soup_message_body_set_accumulate(body, FALSE);
  soup_message_body_truncate(body);
  refuse(sig, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, P2PSIG_ETOOBIG,
         "request body larger than %d bytes", P2PSIG_SIGNAL_MAX_BODY);
}

static void
got_chunk(SoupServerMessage *msg, GBytes *chunk, void *data)
{
  struct p2psig_signaling *sig = data;
  SoupMessageBody *body = soup_server_message_get_request_body(msg);

  (void)chunk;
  p2psig__lock();
  if (!sig->closed && soup_server_message_get_status(msg) == 0 &&
      body->length > P2PSIG_SIGNAL_MAX_BODY)
    refuse_too_big(sig, msg);
  p2psig__unlock();
}

static void
sig_closure_unref(void *data, GClosure *closure)
{
  (void)closure;
  p2psig__lock();
  sig_unref(data);
  p2psig__unlock();
}

/* -------------------------------------------------------------------- */
/* The server's connections                                               */

/* libsoup 3.2 has no limit on connections and no timeout on a server's
 * connection: a client that connects and sends nothing, or a header byte a
 * second, or starts a TLS handshake and stops, holds a descriptor for as
 * long as it likes, and enough of them lock everybody out.  So we accept
 * the connections ourselves, do the TLS handshake ourselves, and hand the
 * stream to libsoup (soup_server_accept_iostream()); each connection has a
 * timer for its state, which libsoup's signals advance, and there are at
 * most limits.max_connections of them.  A server without listeners of its
 * own also closes every connection after its response, which libsoup
 * before 3.3 fails to do for an idle keep-alive connection that the
 * client closes (GNOME/libsoup commit d20c6601). */

/* libsoup 3.2 reads Content-Length with strtoull(), which takes "-75" (and
 * wraps a number too long for 64 bits) as a negative length, then warns
 * ("value ... is invalid or out of range for property 'content-length'")
 * as it makes the body's stream, whatever our early handler decided.  So
 * what libsoup reads passes through this filter first: in the request
 * head, a '-' or a 19th digit in a Content-Length value becomes 'x', which
 * libsoup refuses itself with 400 (RFC 9112 section 6.3 wants a 400 and a
 * close for an invalid length).  Byte for byte, no buffering; the body
 * passes untouched.  libsoup reads one request a connection. */
#define MAX_LENGTH_DIGITS 18

enum head_state {
  HEAD_LINE_START,
  HEAD_NAME,          /* matching "content-length" */
  HEAD_OTHER,         /* the rest of a line that is not one */
  HEAD_VALUE,         /* a Content-Length value */
  HEAD_LINE_CR,       /* a CR ending a line */
  HEAD_BLANK_CR,      /* a CR at the start of a line */
  HEAD_DONE,          /* the body */
};

struct _P2psigHeadFilter {
  GObject parent;
  enum head_state state;
  unsigned matched;   /* bytes of "content-length" matched */
  unsigned digits;    /* of the value so far */
  bool in_length;     /* the last line was Content-Length: a continuation
                         line (SP or HT first) goes on with its value */
  bool request_line;  /* a line was seen: a blank one ends the head */
};

#define P2PSIG_TYPE_HEAD_FILTER (p2psig_head_filter_get_type())
G_DECLARE_FINAL_TYPE(P2psigHeadFilter, p2psig_head_filter, P2PSIG, HEAD_FILTER,
                     GObject)

static void head_filter_iface_init(GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE(P2psigHeadFilter, p2psig_head_filter, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_CONVERTER,
                                              head_filter_iface_init))

static void
p2psig_head_filter_class_init(P2psigHeadFilterClass *klass)
{
  (void)klass;
}

static void
p2psig_head_filter_init(P2psigHeadFilter *f)
{
  (void)f;
}

/* One byte of the head; returns it, or 'x' in its place. */
static unsigned char
head_byte(P2psigHeadFilter *f, unsigned char c)
{
  static const char name[] = "content-length";

  switch (f->state) {
  case HEAD_DONE:
    return c;
  case HEAD_BLANK_CR:
    if (c == '\n') {
      f->state = f->request_line ? HEAD_DONE : HEAD_LINE_START;
      return c;
    }
    f->state = HEAD_OTHER;
    return c;
  case HEAD_LINE_CR:
    f->state = HEAD_LINE_START;
    if (c == '\n')
      return c;
    /* A bare CR ended the line. */
    G_GNUC_FALLTHROUGH;
  case HEAD_LINE_START:
    if (c == '\r' || c == '\n') {
      f->in_length = false;
      if (c == '\r')
        f->state = HEAD_BLANK_CR;
      else if (f->request_line)
        f->state = HEAD_DONE;
      return c;
    }
    f->request_line = true;
    if ((c == ' ' || c == '\t') && f->in_length) {
      f->state = HEAD_VALUE;
      return c;
    }
    f->in_length = false;
    f->matched = 0;
    f->state = HEAD_NAME;
    G_GNUC_FALLTHROUGH;
  case HEAD_NAME:
    if (c == ':' && f->matched == sizeof name - 1) {
      f->state = HEAD_VALUE;
      f->digits = 0;
      return c;
    }
    if (f->matched < sizeof name - 1 &&
        g_ascii_tolower(c) == name[f->matched]) {
      f->matched++;
      return c;
    }
    f->state = HEAD_OTHER;
    G_GNUC_FALLTHROUGH;
  case HEAD_OTHER:
    if (c == '\r' || c == '\n')
      f->state = c == '\r' ? HEAD_LINE_CR : HEAD_LINE_START;
    return c;
  case HEAD_VALUE:
    if (c == '\r' || c == '\n') {
      f->in_length = true;
      f->state = c == '\r' ? HEAD_LINE_CR : HEAD_LINE_START;
      return c;
    }
    if (c == '-')
      return 'x';
    if (g_ascii_isdigit(c) && ++f->digits > MAX_LENGTH_DIGITS)
      return 'x';
    return c;
  }
  return c;
}

static GConverterResult
head_filter_convert(GConverter *converter, const void *inbuf, gsize inbuf_size,
                    void *outbuf, gsize outbuf_size, GConverterFlags flags,
                    gsize *bytes_read, gsize *bytes_written, GError **error)
{
  P2psigHeadFilter *f = P2PSIG_HEAD_FILTER(converter);
  const unsigned char *in = inbuf;
  unsigned char *out = outbuf;
  gsize n = MIN(inbuf_size, outbuf_size);

  if (n == 0 && inbuf_size > 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                        "no room in the output buffer");
    return G_CONVERTER_ERROR;
  }
  for (gsize i = 0; i < n; i++)
    out[i] = head_byte(f, in[i]);
  *bytes_read = *bytes_written = n;
  if (n == inbuf_size && (flags & G_CONVERTER_INPUT_AT_END))
    return G_CONVERTER_FINISHED;
  if (n == inbuf_size && (flags & G_CONVERTER_FLUSH))
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
head_filter_reset(GConverter *converter)
{
  P2psigHeadFilter *f = P2PSIG_HEAD_FILTER(converter);

  f->state = HEAD_LINE_START;
  f->matched = f->digits = 0;
  f->in_length = f->request_line = false;
}

static void
head_filter_iface_init(GConverterIface *iface)
{
  iface->convert = head_filter_convert;
  iface->reset = head_filter_reset;
}

/* The stream libsoup gets: the connection, its input through the head
 * filter.  Closing it closes the connection (GSimpleIOStream would close
 * only the two streams, leaving the socket open until we let it go). */
struct _P2psigFilteredStream {
  GIOStream parent;
  GIOStream *base;
  GInputStream *in;
};

#define P2PSIG_TYPE_FILTERED_STREAM (p2psig_filtered_stream_get_type())
G_DECLARE_FINAL_TYPE(P2psigFilteredStream, p2psig_filtered_stream, P2PSIG,
                     FILTERED_STREAM, GIOStream)
G_DEFINE_TYPE(P2psigFilteredStream, p2psig_filtered_stream, G_TYPE_IO_STREAM)

static GInputStream *
filtered_get_input(GIOStream *stream)
{
  return P2PSIG_FILTERED_STREAM(stream)->in;
}

static GOutputStream *
filtered_get_output(GIOStream *stream)
{
  return g_io_stream_get_output_stream(P2PSIG_FILTERED_STREAM(stream)->base);
}

static gboolean
filtered_close(GIOStream *stream, GCancellable *cancellable, GError **error)
{
  P2psigFilteredStream *self = P2PSIG_FILTERED_STREAM(stream);

  g_input_stream_close(self->in, cancellable, NULL);
  return g_io_stream_close(self->base, cancellable, error);
}

static void
filtered_finalize(GObject *object)
{
  P2psigFilteredStream *self = P2PSIG_FILTERED_STREAM(object);

  g_clear_object(&self->in);
  g_clear_object(&self->base);
  G_OBJECT_CLASS(p2psig_filtered_stream_parent_class)->finalize(object);
}

static void
p2psig_filtered_stream_class_init(P2psigFilteredStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = filtered_finalize;
  G_IO_STREAM_CLASS(klass)->get_input_stream = filtered_get_input;
  G_IO_STREAM_CLASS(klass)->get_output_stream = filtered_get_output;
  G_IO_STREAM_CLASS(klass)->close_fn = filtered_close;
}

static void
p2psig_filtered_stream_init(P2psigFilteredStream *self)
{
  (void)self;
}

/* Takes nothing: refs base. */
static GIOStream *
filtered_stream_new(GIOStream *base)
{
  P2psigFilteredStream *self = g_object_new(P2PSIG_TYPE_FILTERED_STREAM,
                                            NULL);
  g_autoptr(GConverter) filter = g_object_new(P2PSIG_TYPE_HEAD_FILTER, NULL);

  self->base = g_object_ref(base);
  /* Pollable when its base is, as libsoup needs. */
  self->in = g_converter_input_stream_new(g_io_stream_get_input_stream(base),
                                          filter);
  return G_IO_STREAM(self);
}

static const char *
state_name(enum conn_state state)
{
  switch (state) {
  case CONN_HANDSHAKE:
    return "TLS handshake";
  case CONN_HEADERS:
    return "request headers";
  case CONN_REQUEST:
    return "request";
  case CONN_IDLE:
    return "idle";
  case CONN_POLL:
    return "long-poll";
  }
  return "?";
}

static unsigned
state_timeout_ms(const struct p2psig_signaling *sig, enum conn_state state)
{
  switch (state) {
  case CONN_HANDSHAKE:
    return sig->limits.handshake_timeout_ms;
  case CONN_HEADERS:
    return sig->limits.header_timeout_ms;
  case CONN_REQUEST:
    return sig->limits.request_timeout_ms;
  case CONN_IDLE:
    return sig->limits.idle_timeout_ms;
  case CONN_POLL:
    return sig->limits.poll_wait_ms + POLL_SLACK_MS;
  }
  return 0;
}

static void
conn_free(struct conn *conn)
{
  if (conn->timer) {
    g_source_destroy(conn->timer);
    g_source_unref(conn->timer);
  }
  if (conn->readable) {
    g_source_destroy(conn->readable);
    g_source_unref(conn->readable);
  }
  g_clear_object(&conn->handshake);
  g_clear_object(&conn->soup_stream);
  g_clear_object(&conn->stream);
  g_clear_object(&conn->tcp);
  g_clear_object(&conn->local);
  g_clear_object(&conn->remote);
  g_free(conn);
}

/* Closed, by libsoup after its response or by the client.  Our handshake
 * closes nothing by itself. */
static bool
conn_gone(const struct conn *conn)
{
  return conn->soup_stream && g_io_stream_is_closed(conn->soup_stream);
}

/* Closes a connection and forgets it.  The socket is shut down, not
 * closed: whoever reads it (libsoup, or our handshake) sees its end at once
 * and lets the stream go, which closes the descriptor, and no source polls
 * a descriptor number that may be reused meanwhile. */
static void
conn_close(struct conn *conn, const char *why)
{
  struct p2psig_signaling *sig = conn->sig;

  g_debug("closing a connection in %s: %s", state_name(conn->state), why);
  g_queue_remove(&sig->conns, conn);
  g_socket_shutdown(g_socket_connection_get_socket(conn->tcp), TRUE, TRUE,
                    NULL);
  if (conn->handshake) {
    if (conn->timer) {
      g_source_destroy(conn->timer);
      g_clear_pointer(&conn->timer, g_source_unref);
    }
    conn->closing = true;
    g_cancellable_cancel(conn->handshake); /* handshake_done() frees it */
  } else {
    conn_free(conn);
  }
}

static void
prune(struct p2psig_signaling *sig)
{
  GList *next;

  for (GList *l = sig->conns.head; l; l = next) {
    struct conn *conn = l->data;

    next = l->next;
    if (conn_gone(conn)) {
      g_queue_delete_link(&sig->conns, l);
      conn_free(conn);
    }
  }
}

static gboolean
prune_cb(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->prune_source, g_source_unref);
  prune(sig);
  return G_SOURCE_REMOVE;
}

static gboolean
conn_timeout(void *data)
{
  struct conn *conn = data;
  g_autofree char *why = NULL;

  g_clear_pointer(&conn->timer, g_source_unref);
  if (conn_gone(conn)) {
    g_queue_remove(&conn->sig->conns, conn);
    conn_free(conn);
  } else {
    why = g_strdup_printf("not done within %u ms",
                          state_timeout_ms(conn->sig, conn->state));
    conn_close(conn, why);
  }
  return G_SOURCE_REMOVE;
}

static void
conn_set_state(struct conn *conn, enum conn_state state)
{
  conn->state = state;
  if (conn->timer) {
    g_source_destroy(conn->timer);
    g_source_unref(conn->timer);
  }
  conn->timer = p2psig__loop_timeout(state_timeout_ms(conn->sig, state),
                                     conn_timeout, conn, NULL);
}

/* The connection of a message of libsoup's; NULL once we closed it. */
static struct conn *
find_conn(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address(msg);

  for (GList *l = sig->conns.head; l; l = l->next)
    if (((struct conn *)l->data)->remote == remote)
      return l->data;
  return NULL;
}

/* Makes room for one more connection: the oldest that is not in the middle
 * of a request goes first (an attacker's idle, slow or half-open ones
 * are older than an honest request, which takes milliseconds), else the
 * oldest of all. */
static void
make_room(struct p2psig_signaling *sig)
{
  struct conn *victim = NULL;

  prune(sig);
  if (sig->conns.length < sig->limits.max_connections)
    return;
  for (GList *l = sig->conns.head; l && !victim; l = l->next) {
    enum conn_state state = ((struct conn *)l->data)->state;

    if (state != CONN_REQUEST && state != CONN_POLL)
      victim = l->data;
  }
  conn_close(victim ? victim : g_queue_peek_head(&sig->conns),
             "too many connections: the oldest makes room");
}

static void
hand_to_soup(struct conn *conn)
{
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;


  conn->soup_stream = filtered_stream_new(conn->stream);
  /* Before: libsoup announces the connection's first message at once. */
  conn_set_state(conn, CONN_HEADERS);
  if (!soup_server_accept_iostream(sig->server, conn->soup_stream,
                                   conn->local, conn->remote, &error))
    conn_close(conn, error->message);
}

static void
handshake_done(GObject *source, GAsyncResult *result, void *data)
{
  struct conn *conn = data;
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;
  bool ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source),
                                              result, &error);

  p2psig__lock();
  g_clear_object(&conn->handshake);
  if (conn->closing) {
    conn_free(conn);
  } else if (!ok) {
    conn_close(conn, error->message);
  } else {
    hand_to_soup(conn);
  }
  sig_unref(sig);
  p2psig__unlock();
}

/* Starts the handshake once the client has sent its first bytes, making
 * room among the running handshakes first.  Even the TLS connection waits
 * for them: GnuTLS takes milliseconds to set one up, which a flood of
 * connections that never send a byte would cost. */
static gboolean
client_hello(GSocket *socket, GIOCondition condition, void *data)
{
  static const char *const protocols[] = {"http/1.1", "http/1.0", NULL};
  struct conn *conn = data;
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;
  struct conn *oldest = NULL;
  unsigned running = 0;

  (void)socket;
  (void)condition;
  p2psig__lock();
  g_clear_pointer(&conn->readable, g_source_unref);
  conn->stream = g_tls_server_connection_new(G_IO_STREAM(conn->tcp),
                                             sig->certificate, &error);
  if (!conn->stream) {
    conn_close(conn, error->message);
    goto out;
  }
  /* As libsoup sets its own: clients rarely send close_notify, and no
   * HTTP/2. */
  g_tls_connection_set_require_close_notify(G_TLS_CONNECTION(conn->stream),
                                            FALSE);
  g_tls_connection_set_advertised_protocols(G_TLS_CONNECTION(conn->stream),
                                            protocols);

  for (GList *l = sig->conns.head; l; l = l->next) {
    struct conn *c = l->data;

    if (c->handshake) {
      running++;
      oldest = oldest ? oldest : c;
    }
  }
  if (running >= P2PSIG_SIGNAL_MAX_HANDSHAKES)
    conn_close(oldest, "too many TLS handshakes at once: the oldest "
                       "makes room");

  conn->handshake = g_cancellable_new();
  sig->refs++;
  g_tls_connection_handshake_async(G_TLS_CONNECTION(conn->stream),
                                   G_PRIORITY_DEFAULT, conn->handshake,
                                   handshake_done, conn);
out:
  p2psig__unlock();
  return G_SOURCE_REMOVE;
}

static void
start_tls(struct conn *conn)
{
  conn_set_state(conn, CONN_HANDSHAKE);
  conn->readable = g_socket_create_source(
      g_socket_connection_get_socket(conn->tcp), G_IO_IN, NULL);
  g_source_set_callback(conn->readable, G_SOURCE_FUNC(client_hello), conn,
                        NULL);
  g_source_attach(conn->readable, p2psig__loop_context());
}

/* Takes tcp. */
static void
conn_add(struct p2psig_signaling *sig, GSocketConnection *tcp)
{
  struct conn *conn = g_new0(struct conn, 1);

  make_room(sig);
  conn->sig = sig;
  conn->tcp = tcp;
  conn->state = CONN_HEADERS;
  conn->local = g_socket_connection_get_local_address(tcp, NULL);
  conn->remote = g_socket_connection_get_remote_address(tcp, NULL);
  g_queue_push_tail(&sig->conns, conn);
  if (!conn->local || !conn->remote) {
    conn_close(conn, "the client is gone already");
    return;
  }
  /* As libsoup does: a response goes out in one piece, now. */
  g_socket_set_option(g_socket_connection_get_socket(tcp), IPPROTO_TCP,
                      TCP_NODELAY, TRUE, NULL);
  if (sig->certificate) {
    start_tls(conn);
  } else {
    conn->stream = g_object_ref(G_IO_STREAM(tcp));
    hand_to_soup(conn);
  }
}

static void accept_next(struct p2psig_signaling *sig);

static gboolean
accept_again(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->accept_retry, g_source_unref);
  accept_next(sig);
  return G_SOURCE_REMOVE;
}

static void
accepted(GObject *source, GAsyncResult *result, void *data)
{
  struct p2psig_signaling *sig = data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *tcp = g_socket_listener_accept_finish(
      G_SOCKET_LISTENER(source), result, NULL, &error);

  p2psig__lock();
  if (sig->closed) {
    g_clear_object(&tcp);
  } else if (!tcp) {
    g_debug("cannot accept a connection: %s", error->message);
    sig->accept_retry = p2psig__loop_timeout(ACCEPT_RETRY_MS, accept_again,
                                             sig, NULL);
  } else {
    conn_add(sig, tcp);
    accept_next(sig);
  }
  sig_unref(sig);
  p2psig__unlock();
}

static void
accept_next(struct p2psig_signaling *sig)
{
  sig->refs++;
  g_socket_listener_accept_async(sig->listener, sig->accept_cancellable,
                                 accepted, sig);
}

/* The headers are in (the early handler runs next, if libsoup found
 * nothing wrong with them). */
static void
got_headers(SoupServerMessage *msg, void *data)
{
  struct p2psig_signaling *sig = data;
  struct conn *conn;

  p2psig__lock();
  if (!sig->closed && (conn = find_conn(sig, msg)))
    conn_set_state(conn, CONN_REQUEST);
  p2psig__unlock();
}

/* Every message: the response closes its connection (no listener of
 * libsoup's would keep it anyway), and its connection's state follows. */
static void
request_started(SoupServer *server, SoupServerMessage *msg, void *data)
{
  struct p2psig_signaling *sig = data;
  struct conn *conn;

  (void)server;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                               "Connection", "close");
  p2psig__lock();
  /* The first is announced as the connection is handed over: it waits
   * for its headers already. */
  if (!sig->closed && (conn = find_conn(sig, msg)) && conn->requests++ > 0)
    conn_set_state(conn, CONN_IDLE);
  sig->refs++;
  g_signal_connect_data(msg, "got-headers", G_CALLBACK(got_headers), sig,
                        sig_closure_unref, 0);
  p2psig__unlock();
}

static void poll_forget(struct p2psig_signaling *sig, SoupServerMessage *msg);

/* Answered or aborted: libsoup closes the connection next.  A long-poll
 * whose connection went is forgotten. */
static void
request_ended(SoupServer *server, SoupServerMessage *msg, void *data)
{
  struct p2psig_signaling *sig = data;

  (void)server;
  p2psig__lock();
  if (!sig->closed)
    poll_forget(sig, msg);
  if (!sig->closed && !sig->prune_source)
    sig->prune_source = p2psig__loop_idle(prune_cb, sig, NULL);
  p2psig__unlock();
}

/* Why the request does not carry our token, or NULL when it does.  The
 * credential's SHA-256 digest is compared with that of the token, computed
 * once in p2psig_signaling_new(), by CRYPTO_memcmp(), which reads all 32
 * bytes whatever differs: the time taken depends on the length of what the
 * client sent, never on the token's length or on how much of it matched.
 * RFC 7235 section 2.1: the scheme is case-insensitive, then spaces. */
static const char *
token_refusal(const struct p2psig_signaling *sig, SoupMessageHeaders *headers,
              GHashTable *query, const char **challenge)
{
  const char *value = soup_message_headers_get_one(headers, "Authorization");
  uint8_t digest[SHA256_DIGEST_LENGTH];

  /* RFC 6750 section 3.1: an error code only for a Bearer token sent. */
  *challenge = "Bearer realm=\"p2psig\"";
  /* Section 2.3: a browser opening the page cannot send a header. */
  if (!value && query && g_hash_table_lookup(query, "access_token")) {
    value = g_hash_table_lookup(query, "access_token");
  } else if (!value) {
    return "missing Authorization: Bearer token";
  } else if (g_ascii_strncasecmp(value, "Bearer ", 7) != 0) {
    return "Authorization is not a Bearer token";
  } else {
    for (value += 7; *value == ' '; value++)
      ;
  }
  SHA256((const unsigned char *)value, strlen(value), digest);
  if (CRYPTO_memcmp(digest, sig->token_digest, sizeof digest) == 0)
    return NULL;
  *challenge = "Bearer realm=\"p2psig\", error=\"invalid_token\"";
  return "wrong Bearer token";
}

/* CORS (Fetch standard): an allowed origin may read our responses,
 * refusals included, and the one-round-trip session id. */
static void
allow_origin(SoupServerMessage *msg, const char *origin)
{
  SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);

  soup_message_headers_replace(out, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace(out, "Access-Control-Expose-Headers",
                               SESSION_HEADER);
  soup_message_headers_append(out, "Vary", "Origin");
}

static void
preflight(SoupServerMessage *msg, SoupMessageHeaders *in)
{
  SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);
  const char *network = soup_message_headers_get_one(
      in, "Access-Control-Request-Private-Network");

  soup_message_headers_replace(out, "Access-Control-Allow-Methods",
                               "GET, POST");
  soup_message_headers_replace(out, "Access-Control-Allow-Headers",
                               "Authorization, Content-Type");
  soup_message_headers_replace(out, "Access-Control-Max-Age", "600");
  /* Chromium's Private Network Access: a public page reaching an address
   * of the LAN asks first; the origin is one we allow. */
  if (network && g_ascii_strcasecmp(network, "true") == 0)
    soup_message_headers_replace(out, "Access-Control-Allow-Private-Network",
                                 "true");
  soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* Runs once the headers are in: refuses what can be refused before the
 * body. */
static void
early_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, void *data)
{
  struct p2psig_signaling *sig = data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
  const char *method = soup_server_message_get_method(msg);
  const char *origin = soup_message_headers_get_one(headers, "Origin");
  const char *unauthorized = NULL, *challenge = NULL, *methods;
  bool cross = false;

  (void)server;
  p2psig__lock();
  /* A browser's request: its origin first, so that a page of a site we do
   * not know can neither act nor learn anything. */
  if (!sig->closed && origin &&
      !(cross = p2psig__signal_origin_allowed(
            origin, soup_message_headers_get_one(headers, "Host"),
            sig->certificate != NULL,
            (const char *const *)sig->cors_origins))) {
    g_autofree char *shown = excerpt(origin, 64);

    refuse(sig, msg, SOUP_STATUS_FORBIDDEN, P2PSIG_EHTTP,
           "origin %s not allowed", shown);
    goto out;
  }
  if (cross)
    allow_origin(msg, origin);
  if (!sig->closed && cross && strcmp(method, "OPTIONS") == 0 &&
      soup_message_headers_get_one(headers,
                                   "Access-Control-Request-Method")) {
    /* A preflight carries no credentials (Fetch standard): it is
     * answered without the token, and says nothing but what we take. */
    preflight(msg, headers);
    goto out;
  }
  if (!sig->closed && sig->token_required)
    unauthorized = token_refusal(sig, headers, query, &challenge);
  if (sig->closed) {
    soup_server_message_set_status(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                   NULL);
  } else if (unauthorized) {
    /* Before the path and method: a client without the token learns
     * nothing else. */
    soup_message_headers_replace(
        soup_server_message_get_response_headers(msg), "WWW-Authenticate",
        challenge);
    refuse(sig, msg, SOUP_STATUS_UNAUTHORIZED, P2PSIG_EUNAUTHORIZED, "%s",
           unauthorized);
  } else if (!(methods = path_methods(sig, path))) {
    g_autofree char *shown = excerpt(path, 64);

    refuse(sig, msg, SOUP_STATUS_NOT_FOUND, P2PSIG_EHTTP,
           "no such resource %s: use POST /sdp or POST /candidate", shown);
  } else if (!method_listed(methods, method)) {
    g_autofree char *shown = excerpt(method, 16);
    g_auto(GStrv) list = g_strsplit(methods, ", ", -1);
    g_autofree char *choice = g_strjoinv(" or ", list);

    soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                 "Allow", methods);
    refuse(sig, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, P2PSIG_EHTTP,
           "method %s not allowed: use %s", shown, choice);
  } else if (strcmp(method, SOUP_METHOD_POST) != 0) {
    /* GET: no body to take. */
  } else if (soup_message_headers_get_encoding(headers) ==
             SOUP_ENCODING_CONTENT_LENGTH) {
    if (soup_message_headers_get_content_length(headers) >
        P2PSIG_SIGNAL_MAX_BODY)
      refuse_too_big(sig, msg);
  } else {
    /* Chunked: count as it comes. */
    sig->refs++;
    g_signal_connect_data(msg, "got-chunk", G_CALLBACK(got_chunk), sig,
                          sig_closure_unref, 0);
  }

out:
  /* A refused request's body is read and dropped, not kept. */
  if (soup_server_message_get_status(msg) != 0)
    soup_message_body_set_accumulate(
        soup_server_message_get_request_body(msg), FALSE);
  p2psig__unlock();
}

static void
ok(SoupServerMessage *msg)
{
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
}

/* A query parameter, or NULL. */
static const char *
query_get(GHashTable *query, const char *name)
{
  return query ? g_hash_table_lookup(query, name) : NULL;
}

/* Whether a request naming session (NULL: none) is for the current one;
 * else refuses it with 409. */
static bool
session_current(struct p2psig_signaling *sig, SoupServerMessage *msg,
                const char *session)
{
  g_autofree char *shown = NULL;

  if (sig->ort && session && strcmp(session, sig->session_id) == 0)
    return true;
  shown = excerpt(session ? session : "", 40);
  refuse(sig, msg, SOUP_STATUS_CONFLICT, P2PSIG_ESTATE,
         "session \"%s\" is not the current one-round-trip session", shown);
  return false;
}

static void
respond_json(SoupServerMessage *msg, char *json)
{
  soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                               "Cache-Control", "no-store");
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, CONTENT_TYPE, SOUP_MEMORY_TAKE, json,
                                   strlen(json));
}

/* A new session id: 128 random bits. */
static void
new_session(struct p2psig_signaling *sig)
{
  static const char hex[] = "0123456789abcdef";
  uint8_t bytes[P2PSIG_SIGNAL_SESSION_LEN / 2];

  if (sig->limits.fixed_session) {
    g_strlcpy(sig->session_id, sig->limits.fixed_session, sizeof sig->session_id);
    return;
  }
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    for (size_t i = 0; i < sizeof bytes; i++)
      bytes[i] = (uint8_t)g_random_int();
  for (size_t i = 0; i < sizeof bytes; i++) {
    sig->session_id[2 * i] = hex[bytes[i] >> 4];
    sig->session_id[2 * i + 1] = hex[bytes[i] & 15];
  }
  sig->session_id[P2PSIG_SIGNAL_SESSION_LEN] = '\0';
}

/* A one-round-trip offer (session: NULL for a new session, else an ICE
 * restart's): answered in the response. */
static void
handle_ort_offer_locked(struct p2psig_signaling *sig, SoupServerMessage *msg,
                        const char *sdp, const char *session)
{
  bool restart = session != NULL;
  char *answer = NULL;
  int rc;

  if (restart && !session_current(sig, msg, session))
    return;
  if (!restart && sig->have_remote) {
    refuse(sig, msg, SOUP_STATUS_CONFLICT, P2PSIG_ESTATE,
           "busy: an offer was already received; try again once its peer "
           "is gone");
    return;
  }
  if ((rc = p2psig_peer_set_remote_description(sig->peer, P2PSIG_SDP_OFFER,
                                               sdp)) < 0) {
    if (restart)
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
             "unexpected offer: not an ICE restart of the session");
    else
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "offer refused: %s",
             p2psig_strerror(rc));
    return;
  }
  if ((rc = p2psig_peer_create_answer(sig->peer, &answer)) < 0) {
    refuse(sig, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, rc,
           "cannot answer the offer: %s", p2psig_strerror(rc));
    return;
  }
  if (!restart) {
    /* The offer has our answer once it reads this response: our
     * candidates wait for its polls from now on. */
    sig->ort = true;
    sig->have_remote = true;
    sig->answer_posted = true;
    new_session(sig);
    for (unsigned i = 0; i < sig->held->len; i++)
      outbox_add(sig, g_ptr_array_index(sig->held, i));
    g_ptr_array_set_size(sig->held, 0);
  }
  g_debug("%s, answering in the response (session %s)",
          restart ? "one-round-trip ICE restart applied"
                  : "one-round-trip offer applied", sig->session_id);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                               SESSION_HEADER, sig->session_id);
  respond_json(msg, p2psig__signal_encode_sdp(P2PSIG_SDP_ANSWER, answer));
  p2psig_free(answer);
}

static void
handle_sdp_locked(struct p2psig_signaling *sig, SoupServerMessage *msg,
                  GHashTable *query, const char *data, size_t len)
{
  g_autofree char *sdp = NULL;
  g_autofree char *detail = NULL;
  const char *mode = query_get(query, "mode");
  const char *session = query_get(query, "session");
  bool ort = mode && strcmp(mode, ORT_MODE) == 0;
  char *answer = NULL;
  p2psig_sdp_type type;
  int rc;

  if (mode && !ort && sig->role == P2PSIG_ROLE_ANSWER) {
    g_autofree char *shown = excerpt(mode, 32);

    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_EINVAL,
           "unknown mode \"%s\": use mode=" ORT_MODE, shown);
    return;
  }
  rc = p2psig__signal_decode_sdp(data, len, &type, &sdp, &detail);
  if (rc < 0) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "%s", detail);
    return;
  }

  if (sig->role == P2PSIG_ROLE_OFFER) {
    if (type == P2PSIG_SDP_OFFER) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
             "unexpected offer: this side makes the offer");
    } else if (!sig->started) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
             "unexpected answer: no offer was sent yet");
    } else if (sig->have_remote && !sig->restarting) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
             "unexpected answer: an answer was already received");
    } else if (sig->have_remote) {
      /* The answer to our ICE restart. */
      if ((rc = p2psig_peer_set_remote_description(
               sig->peer, P2PSIG_SDP_ANSWER, sdp)) < 0) {
        refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc,
               "unexpected answer: not the answer to our ICE restart (%s)",
               p2psig_strerror(rc));
      } else {
        ok(msg);
        answer_applied(sig);
      }
    } else if ((rc = p2psig_peer_set_remote_description(
                    sig->peer, P2PSIG_SDP_ANSWER, sdp)) < 0) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "answer refused: %s",
             p2psig_strerror(rc));
    } else {
      ok(msg);
      answer_applied(sig);
    }
    return;
  }

  if (type == P2PSIG_SDP_ANSWER) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
           "unexpected answer: this side answers");
  } else if (ort || session) {
    handle_ort_offer_locked(sig, msg, sdp, session);
  } else if (sig->ort) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
           "unexpected offer: an offer was already received");
  } else if (sig->have_remote) {
    /* A second offer is taken only as an ICE restart (the same DTLS
     * fingerprint, new ICE credentials): the peer refuses anything else. */
    if ((rc = p2psig_peer_set_remote_description(sig->peer, P2PSIG_SDP_OFFER,
                                                 sdp)) < 0) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE,
             "unexpected offer: an offer was already received");
    } else if ((rc = p2psig_peer_create_answer(sig->peer, &answer)) < 0) {
      refuse(sig, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, rc,
             "cannot answer the ICE restart: %s", p2psig_strerror(rc));
    } else {
      g_debug("ICE restart offer applied, posting the answer");
      enqueue(sig, sdp_body(P2PSIG_SDP_ANSWER, answer), POST_ANSWER);
      p2psig_free(answer);
      ok(msg);
    }
  } else if ((rc = p2psig_peer_set_remote_description(
                  sig->peer, P2PSIG_SDP_OFFER, sdp)) < 0) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "offer refused: %s",
           p2psig_strerror(rc));
  } else if ((rc = p2psig_peer_create_answer(sig->peer, &answer)) < 0) {
    refuse(sig, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, rc,
           "cannot answer the offer: %s", p2psig_strerror(rc));
  } else {
    g_debug("offer applied, posting the answer");
    sig->have_remote = true;
    enqueue(sig, sdp_body(P2PSIG_SDP_ANSWER, answer), POST_ANSWER);
    p2psig_free(answer);
    ok(msg);
  }
}

static void
handle_candidate_locked(struct p2psig_signaling *sig, SoupServerMessage *msg,
                        GHashTable *query, const char *data, size_t len)
{
  g_autofree char *candidate = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *shown = NULL;
  const char *session = query_get(query, "session");
  struct p2psig_candidate parsed;
  int rc;

  /* An old page's candidates are not for the peer of a new session. */
  if (session && sig->role == P2PSIG_ROLE_ANSWER &&
      !session_current(sig, msg, session))
    return;
  if (memchr(data, '\0', len)) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE,
           "bad candidate: the body holds a NUL byte");
    return;
  }
  candidate = g_strndup(data, len);
  g_strstrip(candidate);

  if (candidate[0] != '\0' &&
      sig->remote_candidates >= sig->limits.max_candidates) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE,
           "too many candidates: at most %u a session",
           sig->limits.max_candidates);
    return;
  }

  /* Pion never sends it, but an empty body reads as end of candidates. */
  rc = p2psig_peer_add_candidate(sig->peer, candidate);
  if (rc == 0 && candidate[0] != '\0')
    sig->remote_candidates++;
  if (rc == 0 || candidate[0] == '\0') {
    if (rc < 0) {
      g_debug("end of candidates: %s", p2psig_strerror(rc));
    } else {
      /* Extensions may hold any byte but a blank, at any length. */
      shown = excerpt(candidate, 200);
      g_debug("remote candidate %s", shown);
    }
    ok(msg);
    return;
  }

  /* libsoup 3.2 has no phrase for 429; 413 says "more than we take". */
  if (rc == P2PSIG_ELIMIT) {
    refuse(sig, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, rc,
           "too many candidates: at most %u are taken",
           (unsigned)P2PSIG_MAX_REMOTE_CANDIDATES);
    return;
  }
  /* The parser says precisely what is wrong. */
  if (rc == P2PSIG_ECANDIDATE &&
      p2psig__candidate_parse(candidate, &parsed, &detail) < 0 && detail) {
    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "bad candidate: %s",
           detail);
    return;
  }
  shown = excerpt(candidate, 64);
  refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "bad candidate \"%s\": %s",
         shown, p2psig_strerror(rc));
}

/* ---- One round trip: the answer's long-polls ---- */

static void
waiting_poll_free(struct waiting_poll *w)
{
  if (w->timer) {
    g_source_destroy(w->timer);
    g_source_unref(w->timer);
  }
  g_object_unref(w->msg);
  g_free(w);
}

/* Answers a poll: the candidates from index from on, as many as fit in a
 * batch (at least one). */
static void
poll_respond(struct p2psig_signaling *sig, SoupServerMessage *msg,
             unsigned from)
{
  const char *const *all = (const char *const *)sig->outbox->pdata;
  unsigned end = from;
  size_t bytes = 0;

  while (end < sig->outbox->len &&
         (end == from || bytes + strlen(all[end]) <= P2PSIG_SIGNAL_POLL_BATCH))
    bytes += strlen(all[end++]);
  respond_json(msg, p2psig__signal_encode_candidates(
                        all + from, end - from, end,
                        sig->gathered && end == sig->outbox->len));
}

/* A waiting poll's answer: now, through its paused message. */
static void
poll_finish(struct waiting_poll *w, bool stale)
{
  struct p2psig_signaling *sig = w->sig;

  g_queue_remove(&sig->polls, w);
  if (stale)
    refuse(sig, w->msg, SOUP_STATUS_CONFLICT, P2PSIG_ESTATE,
           "the session was replaced");
  else
    poll_respond(sig, w->msg, w->from);
  soup_server_message_unpause(w->msg);
  waiting_poll_free(w);
}

static gboolean
poll_expired(void *data)
{
  struct waiting_poll *w = data;

  g_clear_pointer(&w->timer, g_source_unref);
  poll_finish(w, false);
  return G_SOURCE_REMOVE;
}

/* A candidate came, or gathering ended: every waiting poll asked for what
 * is new. */
static void
polls_answer(struct p2psig_signaling *sig)
{
  struct waiting_poll *w;

  while ((w = g_queue_peek_head(&sig->polls)))
    poll_finish(w, false);
}

/* The poll's connection went (closed by us, or by the client). */
static void
poll_forget(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  for (GList *l = sig->polls.head; l; l = l->next) {
    struct waiting_poll *w = l->data;

    if (w->msg == msg) {
      g_queue_delete_link(&sig->polls, l);
      waiting_poll_free(w);
      return;
    }
  }
}

static void
handle_poll_locked(struct p2psig_signaling *sig, SoupServerMessage *msg,
                   GHashTable *query)
{
  const char *from_text = query_get(query, "from");
  struct waiting_poll *w;
  struct conn *conn;
  guint64 from = 0;

  if (!session_current(sig, msg, query_get(query, "session")))
    return;
  if (from_text && (!g_ascii_string_to_unsigned(from_text, 10, 0,
                                                sig->outbox->len, &from,
                                                NULL))) {
    g_autofree char *shown = excerpt(from_text, 16);

    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_EINVAL,
           "bad \"from\" %s: the session has %u candidates", shown,
           sig->outbox->len);
    return;
  }
  if (from < sig->outbox->len || sig->gathered) {
    poll_respond(sig, msg, (unsigned)from);
    return;
  }
  if (sig->polls.length >= sig->limits.max_polls)
    poll_finish(g_queue_peek_head(&sig->polls), false);
  w = g_new0(struct waiting_poll, 1);
  w->sig = sig;
  w->msg = g_object_ref(msg);
  w->from = (unsigned)from;
  w->timer = p2psig__loop_timeout(sig->limits.poll_wait_ms, poll_expired, w,
                                  NULL);
  g_queue_push_tail(&sig->polls, w);
  if ((conn = find_conn(sig, msg)))
    conn_set_state(conn, CONN_POLL);
  soup_server_message_pause(msg);
}

static void
serve_page(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);

  soup_message_headers_replace(out, "Content-Security-Policy", PAGE_CSP);
  soup_message_headers_replace(out, "Cache-Control", "no-store");
  soup_message_headers_replace(out, "X-Content-Type-Options", "nosniff");
  /* Its address may hold the token (access_token). */
  soup_message_headers_replace(out, "Referrer-Policy", "no-referrer");
  soup_message_headers_set_content_type(out, "text/html; charset=utf-8",
                                        NULL);
  soup_message_body_append_bytes(soup_server_message_get_response_body(msg),
                                 sig->page);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
}

/* Runs once the body is in, for requests the early handler let through. */
static void
handler(SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, void *data)
{
  struct p2psig_signaling *sig = data;
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
  gsize len;
  const char *text = g_bytes_get_data(bytes, &len);

  (void)server;
  p2psig__lock();
  if (sig->closed)
    soup_server_message_set_status(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                   NULL);
  else if (len > P2PSIG_SIGNAL_MAX_BODY)
    refuse_too_big(sig, msg);
  else if (strcmp(path, "/") == 0)
    serve_page(sig, msg);
  else if (strcmp(path, "/sdp") == 0)
    handle_sdp_locked(sig, msg, query, text ? text : "", len);
  else if (strcmp(soup_server_message_get_method(msg), SOUP_METHOD_GET) == 0)
    handle_poll_locked(sig, msg, query);
  else
    handle_candidate_locked(sig, msg, query, text ? text : "", len);
  p2psig__unlock();
}

/* -------------------------------------------------------------------- */
/* Public functions                                                       */

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

/* Says why p2psig_signaling_new() fails: a debug line, and the reason
 * on_status gets (the first one given). */
static void G_GNUC_PRINTF(2, 3)
new_fail(struct new_args *args, const char *fmt, ...)
{
  char *text;
  va_list ap;

  va_start(ap, fmt);
  text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_debug("%s", text);
  if (!args->reason)
    args->reason = text;
  else
    g_free(text);
}

/* Makes error "cannot listen on ADDRESS: REASON", with GIO's own wording
 * of the address taken out when it is there, leaving the system's words
 * for why ("Address already in use"). */
static void
name_listen_error(GInetAddress *addr, uint16_t port, GError *error)
{
  g_autofree char *host = g_inet_address_to_string(addr);
  g_autofree char *where =
      g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6
          ? g_strdup_printf("[%s]:%u", host, port)
          : g_strdup_printf("%s:%u", host, port);
  g_autofree char *prefix = g_strconcat(where, ": ", NULL);
  const char *why = strstr(error->message, prefix);
  char *message = g_strdup_printf("cannot listen on %s: %s", where,
                                  why ? why + strlen(prefix)
                                      : error->message);

  g_free(error->message);
  error->message = message;
}

/* A listening socket on addr:port, as libsoup's own listeners make them
 * (IPv6 sockets IPv6 only); its port in *bound. */
static GSocket *
listen_socket_named(GInetAddress *addr, uint16_t port, uint16_t *bound,
                    GError **error)
{
  GSocketFamily family = g_inet_address_get_family(addr);
  g_autoptr(GSocketAddress) want = g_inet_socket_address_new(addr, port);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocket) socket = g_socket_new(family, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, error);

  if (!socket)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  /* GIO's default of 10 drops an honest SYN, for a second, under a burst
   * of connections that we would have accepted and evicted. */
  g_socket_set_listen_backlog(socket, LISTEN_BACKLOG);
  if (!g_socket_bind(socket, want, TRUE, error) ||
      !g_socket_listen(socket, error) ||
      !(local = g_socket_get_local_address(socket, error)))
    return NULL;
  *bound = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  return g_steal_pointer(&socket);
}

/* listen_socket_named(), its error naming the address. */
static GSocket *
listen_socket(GInetAddress *addr, uint16_t port, uint16_t *bound,
              GError **error)
{
  GError *local = NULL;
  GSocket *socket = listen_socket_named(addr, port, bound, &local);

  if (!socket) {
    name_listen_error(addr, port, local);
    g_propagate_error(error, local);
  }
  return socket;
}

/* soup_server_listen_all() and soup_server_listen_local() of libsoup 3.2:
 * IPv4, then IPv6 on the same port, which may be missing; with port 0, a
 * port taken on the IPv6 side makes it try again. */
static bool
listen_pair(struct p2psig_signaling *sig, GInetAddress *v4, GInetAddress *v6,
            uint16_t port, GError **error)
{
  for (unsigned attempt = 0;; attempt++) {
    g_autoptr(GSocket) s4 = NULL;
    g_autoptr(GSocket) s6 = NULL;
    g_autoptr(GError) error6 = NULL;
    uint16_t bound = 0, bound6 = 0;

    if (!(s4 = listen_socket(v4, port, &bound, error)))
      return false;
    s6 = listen_socket(v6, bound, &bound6, &error6);
    if (!s6 && !g_error_matches(error6, G_IO_ERROR,
                                G_IO_ERROR_NOT_SUPPORTED)) {
      if (port == 0 && attempt < 16 &&
          g_error_matches(error6, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        continue;
      g_propagate_error(error, g_steal_pointer(&error6));
      return false;
    }
    if (!g_socket_listener_add_socket(sig->listener, s4, NULL, error) ||
        (s6 && !g_socket_listener_add_socket(sig->listener, s6, NULL, error)))
      return false;
    sig->port = bound;
    return true;
  }
}

static bool
server_listen(struct p2psig_signaling *sig, const struct new_args *args,
              GError **error)
{
  g_autoptr(GInetAddress) v4 = NULL;
  g_autoptr(GInetAddress) v6 = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (!args->listen_host) {
    v4 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
    v6 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV6);
  } else if (g_ascii_strcasecmp(args->listen_host, "localhost") == 0) {
    v4 = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    v6 = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV6);
  }
  if (v4)
    return listen_pair(sig, v4, v6, args->listen_port, error);
  socket = listen_socket(args->listen_addr, args->listen_port, &sig->port,
                         error);
  return socket &&
         g_socket_listener_add_socket(sig->listener, socket, NULL, error);
}

static void
new_on_loop(void *data)
{
  struct new_args *args = data;
  struct p2psig_signaling *sig = args->sig;
  GMainContext *context = p2psig__loop_context();
  g_autoptr(GError) error = NULL;

  g_assert(p2psig__loop_is_current());
  /* libsoup binds its sources to the thread-default context. */
  g_main_context_push_thread_default(context);
  p2psig__lock();

  if (sig->role == P2PSIG_ROLE_OFFER && sig->one_round_trip)
    goto client; /* it serves nothing */

  /* No TLS certificate for libsoup: the handshake is ours. */
  sig->server = soup_server_new("server-header",
                                "p2psig/" P2PSIG_VERSION_STRING " ", NULL);
  g_signal_connect(sig->server, "request-started", G_CALLBACK(request_started),
                   sig);
  g_signal_connect(sig->server, "request-finished", G_CALLBACK(request_ended),
                   sig);
  g_signal_connect(sig->server, "request-aborted", G_CALLBACK(request_ended),
                   sig);
  soup_server_add_early_handler(sig->server, NULL, early_handler, sig, NULL);
  soup_server_add_handler(sig->server, NULL, handler, sig, NULL);
  sig->listener = g_socket_listener_new();
  if (!server_listen(sig, args, &error)) {
    new_fail(args, "%s", error->message);
    g_socket_listener_close(sig->listener);
    g_clear_object(&sig->listener);
    g_clear_object(&sig->server);
    args->error = P2PSIG_ENETWORK;
    goto out;
  }
  sig->certificate = args->certificate ? g_object_ref(args->certificate)
                                       : NULL;
  sig->accept_cancellable = g_cancellable_new();
  accept_next(sig);

client:
  /* A long-poll is idle for as long as the server waits: our deadlines
   * bound each request whole. */
  sig->session = soup_session_new_with_options(
      "timeout", sig->one_round_trip ? 0 : REQUEST_TIMEOUT_S,
      "user-agent", "p2psig/" P2PSIG_VERSION_STRING " ", NULL);
  /* The other side is a peer, not a web site: no proxy. */
  soup_session_set_proxy_resolver(sig->session, NULL);
  if (args->ca)
    soup_session_set_tls_database(sig->session, args->ca);

  p2psig__peer_set_observer(sig->peer, &observer, sig);
  g_debug("%s role %s on port %u (%s%s), remote %s",
          sig->role == P2PSIG_ROLE_OFFER ? "offer" : "answer",
          sig->server ? "listening" : "not listening (one round trip)",
          sig->port,
          args->certificate ? "HTTPS" : "HTTP",
          sig->token_required ? ", token required" : "", sig->remote_base);
  args->error = 0;

out:
  p2psig__unlock();
  g_main_context_pop_thread_default(context);
}

/* "http://host:port" (or https), or NULL when libsoup cannot make a URI
 * of it. */
static char *
make_remote_base(const char *scheme, const char *host, uint16_t port)
{
  g_autofree char *base = NULL;
  g_autofree char *probe = NULL;
  g_autoptr(SoupMessage) msg = NULL;

  if (!host) {
    /* ":port", as Go dials it: this machine. */
    base = g_strdup_printf("%s://localhost:%u", scheme, port);
  } else if (strchr(host, ':')) {
    /* IPv6; a zone ("fe80::1%eth0") is written %25 in a URI (RFC 6874). */
    g_auto(GStrv) parts = g_strsplit(host, "%", -1);
    g_autofree char *escaped = g_strjoinv("%25", parts);

    base = g_strdup_printf("%s://[%s]:%u", scheme, escaped, port);
  } else {
    base = g_strdup_printf("%s://%s:%u", scheme, host, port);
  }
  probe = g_strconcat(base, "/sdp", NULL);
  msg = soup_message_new(SOUP_METHOD_POST, probe);
  return msg ? g_steal_pointer(&base) : NULL;
}

/* A token is sent in a header: printable ASCII, no spaces (RFC 6750's
 * b64token is narrower; passphrases with punctuation are common). */
static bool
valid_token(const char *token)
{
  if (token[0] == '\0')
    return false;
  for (const char *p = token; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return false;
  return true;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *data)
{
  return 0; /* encrypted keys are not supported: never prompt */
}

/* GIO takes a key that is not the certificate's, and every handshake would
 * then fail: check the pair once here. */
static bool
key_matches(const char *certificate, const char *key_path)
{
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  unsigned long err;
  BIO *bio;
  bool ok;

  ERR_clear_error();
  if ((bio = BIO_new_file(certificate, "r"))) {
    cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
  }
  if ((bio = BIO_new_file(key_path, "r"))) {
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
  }
  ok = cert && key && X509_check_private_key(cert, key) == 1;
  while ((err = ERR_get_error()))
    g_debug("OpenSSL: %s", ERR_error_string(err, NULL));
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

/* Checks the access-control fields and reads the TLS files, on the
 * caller's thread rather than on the library's. */
static int
load_security(const p2psig_signaling_config *cfg, struct new_args *args)
{
  g_autoptr(GError) error = NULL;
  GList *cas;
  bool have_ca;

  if (cfg->token && !valid_token(cfg->token)) {
    new_fail(args, cfg->token[0] ? "the token holds a space, a control "
             "character or a non-ASCII byte: it goes in an HTTP header as "
             "printable ASCII" : "the token is empty");
    return P2PSIG_EINVAL;
  }
  if (!cfg->tls_certificate != !cfg->tls_key) {
    new_fail(args, "tls_certificate and tls_key go together");
    return P2PSIG_EINVAL;
  }
  if (cfg->tls_ca && !cfg->tls_remote) {
    new_fail(args, "tls_ca without tls_remote");
    return P2PSIG_EINVAL;
  }
  if (cfg->tls_certificate) {
    args->certificate = g_tls_certificate_new_from_files(
        cfg->tls_certificate, cfg->tls_key, &error);
    if (!args->certificate) {
      new_fail(args, "cannot use certificate %s with key %s: %s",
               cfg->tls_certificate, cfg->tls_key, error->message);
      return P2PSIG_EINVAL;
    }
    if (!key_matches(cfg->tls_certificate, cfg->tls_key)) {
      new_fail(args, "key %s is not that of certificate %s", cfg->tls_key,
               cfg->tls_certificate);
      return P2PSIG_EINVAL;
    }
  }
  if (cfg->tls_ca) {
    /* GTlsFileDatabase wants an absolute path (else a warning, and
     * nothing is trusted). */
    g_autofree char *ca = g_canonicalize_filename(cfg->tls_ca, NULL);

    /* A file without a certificate would make an empty database, which
     * trusts nothing: say so now rather than at the first POST. */
    cas = g_tls_certificate_list_new_from_file(ca, &error);
    have_ca = cas != NULL;
    g_list_free_full(cas, g_object_unref);
    if (have_ca)
      args->ca = g_tls_file_database_new(ca, &error);
    if (!args->ca) {
      new_fail(args, "cannot use CA file %s: %s", cfg->tls_ca,
               error ? error->message : "no certificate in it");
      return P2PSIG_EINVAL;
    }
  }
  return 0;
}

/* Checks the one-round-trip and browser fields and copies them into sig. */
static int
load_browser(const p2psig_signaling_config *cfg, struct p2psig_signaling *sig,
             struct new_args *args)
{
  size_t n = 0;

  if (cfg->one_round_trip && cfg->role != P2PSIG_ROLE_OFFER) {
    new_fail(args,
             "one_round_trip is for the offer role: the answer serves both");
    return P2PSIG_EINVAL;
  }
  for (; cfg->cors_origins && cfg->cors_origins[n]; n++) {
    if (n == P2PSIG_SIGNAL_MAX_ORIGINS) {
      new_fail(args, "more than %d cors_origins", P2PSIG_SIGNAL_MAX_ORIGINS);
      return P2PSIG_EINVAL;
    }
    if (!p2psig__signal_valid_origin(cfg->cors_origins[n])) {
      new_fail(args, "cors_origins: \"%.64s\" is not \"*\" nor "
               "http[s]://host[:port]", cfg->cors_origins[n]);
      return P2PSIG_EINVAL;
    }
  }
  if (cfg->page && (strlen(cfg->page) > P2PSIG_SIGNAL_MAX_PAGE ||
                    !g_utf8_validate(cfg->page, -1, NULL))) {
    new_fail(args, "the page is larger than %d bytes or not UTF-8",
             P2PSIG_SIGNAL_MAX_PAGE);
    return P2PSIG_EINVAL;
  }
  sig->one_round_trip = cfg->one_round_trip;
  if (n > 0)
    sig->cors_origins = g_strdupv((char **)cfg->cors_origins);
  if (cfg->page)
    sig->page = g_bytes_new(cfg->page, strlen(cfg->page));
  return 0;
}

static void
new_args_clear(struct new_args *args)
{
  g_clear_pointer(&args->listen_host, g_free);
  g_clear_object(&args->listen_addr);
  g_clear_object(&args->certificate);
  g_clear_object(&args->ca);
  g_clear_pointer(&args->reason, g_free);
}

static void
run_on_loop(void (*fn)(void *data), void *data)
{
  if (p2psig__loop_is_current())
    fn(data);
  else
    p2psig__loop_run_sync(fn, data);
}

p2psig_signaling *
p2psig_signaling_new(p2psig_peer *peer, const p2psig_signaling_config *config,
                     int *error)
{
  p2psig_signaling_config cfg = {0};
  struct new_args args = {0};
  g_autofree char *remote_host = NULL;
  g_autofree char *remote_base = NULL;
  uint16_t remote_port = 0;
  const char *listen_address, *remote_address;
  struct p2psig_signaling *sig = NULL;
  int rc;

  if (!peer || !config) {
    rc = P2PSIG_EINVAL;
    goto fail;
  }
  {
    g_autofree char *detail = NULL;

    rc = p2psig__config_copy(&cfg, sizeof cfg, config, config->size,
                             "p2psig_signaling_config",
                             "P2PSIG_SIGNALING_CONFIG_INIT", &detail);
    if (rc < 0) {
      new_fail(&args, "signaling configuration refused: %s", detail);
      goto fail;
    }
  }
  if (cfg.role != P2PSIG_ROLE_OFFER && cfg.role != P2PSIG_ROLE_ANSWER) {
    new_fail(&args, "no such role: %d", (int)cfg.role);
    rc = P2PSIG_EINVAL;
    goto fail;
  }

  listen_address = cfg.listen_address;
  if (!listen_address)
    listen_address = cfg.role == P2PSIG_ROLE_OFFER ? ":50000" : ":60000";
  remote_address = cfg.remote_address;
  if (!remote_address)
    remote_address = cfg.role == P2PSIG_ROLE_OFFER ? "127.0.0.1:60000"
                                                   : "localhost:50000";
  if ((rc = p2psig__signal_parse_address(listen_address, true,
                                         &args.listen_host,
                                         &args.listen_port)) < 0) {
    new_fail(&args, "bad listen address \"%.64s\": [HOST]:PORT, an IPv6 "
             "address in brackets", listen_address);
    goto fail;
  }
  if ((rc = p2psig__signal_parse_address(remote_address, false, &remote_host,
                                         &remote_port)) < 0) {
    new_fail(&args, "bad remote address \"%.64s\": HOST:PORT, an IPv6 "
             "address in brackets", remote_address);
    goto fail;
  }

  if ((rc = load_security(&cfg, &args)) < 0)
    goto fail;

  remote_base = make_remote_base(cfg.tls_remote ? "https" : "http",
                                 remote_host, remote_port);
  if (!remote_base) {
    new_fail(&args, "cannot make a URI of \"%s\"", remote_address);
    rc = P2PSIG_EADDRESS;
    goto fail;
  }

  /* A listen host name is resolved here, on the caller's thread, rather
   * than on the library thread that serves every peer. */
  if (args.listen_host &&
      g_ascii_strcasecmp(args.listen_host, "localhost") != 0) {
    args.listen_addr = g_inet_address_new_from_string(args.listen_host);
    if (!args.listen_addr) {
      g_autoptr(GResolver) resolver = g_resolver_get_default();
      g_autoptr(GError) err = NULL;
      GList *addrs = g_resolver_lookup_by_name(resolver, args.listen_host,
                                               NULL, &err);

      if (!addrs) {
        new_fail(&args, "cannot resolve %s: %s", args.listen_host,
                 err->message);
        rc = P2PSIG_ENETWORK;
        goto fail;
      }
      args.listen_addr = g_object_ref(addrs->data);
      g_resolver_free_addresses(addrs);
    }
  }

  sig = g_new0(struct p2psig_signaling, 1);
  sig->refs = 1;
  sig->peer = peer;
  sig->role = cfg.role;
  sig->on_error = cfg.on_error;
  sig->on_status = cfg.on_status;
  sig->user_data = cfg.user_data;
  sig->remote_base = g_steal_pointer(&remote_base);
  if (cfg.token) {
    sig->authorization = g_strconcat("Bearer ", cfg.token, NULL);
    sig->token_required = true;
    SHA256((const unsigned char *)cfg.token, strlen(cfg.token),
           sig->token_digest);
  }
  sig->limits = p2psig__signal_limits;
  g_queue_init(&sig->queue);
  g_queue_init(&sig->reports);
  g_queue_init(&sig->conns);
  g_queue_init(&sig->polls);
  sig->held = g_ptr_array_new_with_free_func(g_free);
  sig->outbox = g_ptr_array_new_with_free_func(g_free);
  sig->backoff_ms = BACKOFF_MIN_MS;
  sig->poll_backoff_ms = BACKOFF_MIN_MS;
  if ((rc = load_browser(&cfg, sig, &args)) < 0)
    goto fail;

  args.sig = sig;
  args.error = P2PSIG_EINTERNAL;
  run_on_loop(new_on_loop, &args);
  if ((rc = args.error) < 0)
    goto fail;

  new_args_clear(&args);
  return sig;

fail:
  if (sig) {
    g_ptr_array_unref(sig->held);
    g_ptr_array_unref(sig->outbox);
    sig_unref(sig);
  }
  if (cfg.on_status) {
    p2psig_signaling_status status = {
      .size = sizeof status,
      .final = true,
      .error = rc,
      .reason = args.reason ? args.reason : p2psig_strerror(rc),
    };

    cfg.on_status(NULL, &status, cfg.user_data);
  }
  new_args_clear(&args);
  if (error)
    *error = rc;
  return NULL;
}

struct start_args {
  struct p2psig_signaling *sig;
  bool restart;               /* an ICE restart's offer, not the first */
  int error;
};

/* Makes an offer (the first, or an ICE restart's) and queues its POST. */
static void
start_on_loop(void *data)
{
  struct start_args *args = data;
  struct p2psig_signaling *sig = args->sig;
  char *offer = NULL;
  int rc;

  g_assert(p2psig__loop_is_current());
  g_main_context_push_thread_default(p2psig__loop_context());
  p2psig__lock();
  if (sig->role != P2PSIG_ROLE_OFFER) {
    rc = args->restart ? P2PSIG_ESTATE : 0;
  } else if (args->restart ? !sig->have_remote || sig->closed
                           : sig->started) {
    rc = P2PSIG_ESTATE;
  } else if ((rc = args->restart
                     ? p2psig_peer_restart_ice(sig->peer, &offer)
                     : p2psig_peer_create_offer(sig->peer, &offer)) == 0) {
    if (args->restart)
      sig->restarting = true;
    else
      sig->started = true;
    g_debug("posting the %s to %s/sdp",
            args->restart ? "ICE restart's offer" : "offer", sig->remote_base);
    enqueue(sig, sdp_body(P2PSIG_SDP_OFFER, offer), POST_OFFER);
    p2psig_free(offer);
  }
  args->error = rc;
  p2psig__unlock();
  g_main_context_pop_thread_default(p2psig__loop_context());
}

static int
post_offer(p2psig_signaling *signaling, bool restart)
{
  struct start_args args = {signaling, restart, P2PSIG_EINTERNAL};

  if (!signaling)
    return P2PSIG_EINVAL;
  run_on_loop(start_on_loop, &args);
  return args.error;
}

int
p2psig_signaling_start(p2psig_signaling *signaling)
{
  return post_offer(signaling, false);
}

int
p2psig_signaling_restart_ice(p2psig_signaling *signaling)
{
  return post_offer(signaling, true);
}

struct set_peer_args {
  struct p2psig_signaling *sig;
  p2psig_peer *peer;
  int error;
};

static void
set_peer_on_loop(void *data)
{
  struct set_peer_args *args = data;
  struct p2psig_signaling *sig = args->sig;
  struct waiting_poll *w;

  g_main_context_push_thread_default(p2psig__loop_context());
  p2psig__lock();
  if (sig->role != P2PSIG_ROLE_ANSWER || sig->closed) {
    args->error = P2PSIG_ESTATE;
    goto out;
  }
  g_debug("a new session%s%s", sig->session_id[0] ? " after " : "",
          sig->session_id);
  /* The old session's polls learn that it is over. */
  while ((w = g_queue_peek_head(&sig->polls)))
    poll_finish(w, true);
  p2psig__peer_set_observer(sig->peer, NULL, NULL);
  sig->peer = args->peer;
  p2psig__peer_set_observer(sig->peer, &observer, sig);

  /* Its POST in flight completes later, stale. */
  if (sig->request)
    g_cancellable_cancel(sig->request->cancellable);
  sig->request = NULL;
  if (sig->retry_source) {
    g_source_destroy(sig->retry_source);
    g_clear_pointer(&sig->retry_source, g_source_unref);
  }
  g_queue_clear_full(&sig->queue, (GDestroyNotify)post_free);
  g_clear_pointer(&sig->current, post_free);
  sig->backoff_ms = BACKOFF_MIN_MS;
  g_ptr_array_set_size(sig->held, 0);
  g_ptr_array_set_size(sig->outbox, 0);
  sig->have_remote = sig->restarting = sig->answer_posted = false;
  sig->ort = sig->gathered = false;
  sig->remote_candidates = 0;
  sig->session_id[0] = '\0';
  args->error = 0;
out:
  p2psig__unlock();
  g_main_context_pop_thread_default(p2psig__loop_context());
}

int
p2psig_signaling_set_peer(p2psig_signaling *signaling, p2psig_peer *peer)
{
  struct set_peer_args args = {signaling, peer, P2PSIG_EINTERNAL};

  if (!signaling || !peer)
    return P2PSIG_EINVAL;
  run_on_loop(set_peer_on_loop, &args);
  return args.error;
}

uint16_t
p2psig_signaling_get_port(const p2psig_signaling *signaling)
{
  return signaling ? signaling->port : 0;
}

static void
free_on_loop(void *data)
{
  struct p2psig_signaling *sig = data;
  struct report *r;
  struct conn *conn;

  g_assert(p2psig__loop_is_current());
  g_main_context_push_thread_default(p2psig__loop_context());
  p2psig__lock();
  g_assert(!sig->closed);
  sig->closed = true;
  p2psig__peer_set_observer(sig->peer, NULL, NULL);

  /* Waiting polls go with their connections. */
  g_queue_clear_full(&sig->polls, (GDestroyNotify)waiting_poll_free);
  /* The pending accept completes later and finds sig->closed. */
  if (sig->listener) {
    g_cancellable_cancel(sig->accept_cancellable);
    g_socket_listener_close(sig->listener);
    g_clear_object(&sig->listener);
    g_clear_object(&sig->accept_cancellable);
  }
  if (sig->accept_retry) {
    g_source_destroy(sig->accept_retry);
    g_clear_pointer(&sig->accept_retry, g_source_unref);
  }
  /* Disconnecting closes the connections libsoup has: no handler runs
   * after this.  Then ours, handshakes included. */
  if (sig->server)
    soup_server_disconnect(sig->server);
  g_clear_object(&sig->server);
  while ((conn = g_queue_peek_head(&sig->conns)))
    conn_close(conn, "signaling freed");
  if (sig->prune_source) {
    g_source_destroy(sig->prune_source);
    g_clear_pointer(&sig->prune_source, g_source_unref);
  }
  g_clear_object(&sig->certificate);

  /* A cancelled request completes later and finds sig->closed. */
  if (sig->request)
    g_cancellable_cancel(sig->request->cancellable);
  sig->request = NULL;
  if (sig->poll)
    g_cancellable_cancel(sig->poll->cancellable);
  sig->poll = NULL;
  if (sig->poll_retry) {
    g_source_destroy(sig->poll_retry);
    g_clear_pointer(&sig->poll_retry, g_source_unref);
  }
  soup_session_abort(sig->session);
  g_clear_object(&sig->session);

  if (sig->retry_source) {
    g_source_destroy(sig->retry_source);
    g_clear_pointer(&sig->retry_source, g_source_unref);
  }
  if (sig->report_source) {
    g_source_destroy(sig->report_source);
    g_clear_pointer(&sig->report_source, g_source_unref);
  }
  while ((r = g_queue_pop_head(&sig->reports)))
    report_free(r);
  g_queue_clear_full(&sig->queue, (GDestroyNotify)post_free);
  g_clear_pointer(&sig->current, post_free);
  g_clear_pointer(&sig->held, g_ptr_array_unref);
  g_clear_pointer(&sig->outbox, g_ptr_array_unref);

  sig_unref(sig);
  p2psig__unlock();
  g_main_context_pop_thread_default(p2psig__loop_context());
}

void
p2psig_signaling_free(p2psig_signaling *signaling)
{
  if (!signaling)
    return;
  run_on_loop(free_on_loop, signaling);
}
