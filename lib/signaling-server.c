/* SPDX-License-Identifier: MIT */
/*
 * The requests the signaling server takes, once signaling-conn.c has
 * handed their connection to libsoup: the early handler refuses what it
 * can from the headers (a browser's Origin not ours nor listed, a
 * missing or wrong token, a path or method not ours, a body over
 * P2PSIG_SIGNAL_MAX_BODY) and answers CORS preflights; the handler takes
 * pion's POST /sdp and POST /candidate, the page at GET /, and the
 * one-round-trip mode: an offer answered in its response, a session with
 * a random id, and the long-polls (GET /candidate) that carry the
 * answer's candidates from its outbox.  Every refusal is a 4xx with a
 * one-line reason, reported through on_error and on_status.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <openssl/rand.h>
#include <stdarg.h>
#include <string.h>

#include "sdp.h"
#include "signaling-private.h"

/* What the page may do: run its own script and style, and talk to its own
 * origin (fetch); nothing is loaded from elsewhere, nor may it be framed.
 * WebRTC itself is not governed by CSP. */
#define PAGE_CSP                                                         \
  "default-src 'none'; script-src 'unsafe-inline'; "                     \
  "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "       \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* A GET /candidate of the answer role waiting for a local candidate. */
struct waiting_poll {
  struct p2psig_signaling *sig;
  SoupServerMessage *msg;      /* paused; referenced */
  unsigned from;               /* the index it asks from */
  GSource *timer;              /* the poll wait */
};

static void polls_answer(struct p2psig_signaling *sig);

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
  line = p2psig__signal_one_line(text);

  body = g_strconcat(line, "\n", NULL);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "text/plain; charset=utf-8",
                                   SOUP_MEMORY_TAKE, body, strlen(body));
  /* Both come from the request line, before any authentication. */
  method = p2psig__signal_excerpt(soup_server_message_get_method(msg), 16);
  path = p2psig__signal_excerpt(
      g_uri_get_path(soup_server_message_get_uri(msg)), 64);
  p2psig__signal_report(sig, REPORT_SERVED, error, status, path, "%s %s: %u %s",
                        method, path, status, line);
}

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
  bool took;

  (void)chunk;
  took = p2psig__signal_lock_unless_held();
  if (!sig->closed && soup_server_message_get_status(msg) == 0 &&
      body->length > P2PSIG_SIGNAL_MAX_BODY)
    refuse_too_big(sig, msg);
  p2psig__signal_unlock_if(took);
}

/* CORS (Fetch standard): an allowed origin may read our responses,
 * refusals included, and the one-round-trip session id. */
static void
allow_origin(SoupServerMessage *msg, const char *origin)
{
  SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);

  soup_message_headers_replace(out, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace(out, "Access-Control-Expose-Headers",
                               P2PSIG_SIGNAL_SESSION_HEADER);
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
  bool took;

  (void)server;
  took = p2psig__signal_lock_unless_held();
  /* A browser's request: its origin first, so that a page of a site we do
   * not know can neither act nor learn anything. */
  if (!sig->closed && origin &&
      !(cross = p2psig__signal_origin_allowed(
            origin, soup_message_headers_get_one(headers, "Host"),
            sig->certificate != NULL,
            (const char *const *)sig->cors_origins))) {
    g_autofree char *shown = p2psig__signal_excerpt(origin, 64);

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
    unauthorized =
        p2psig__signal_token_refusal(sig, headers, query, &challenge);
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
    g_autofree char *shown = p2psig__signal_excerpt(path, 64);

    refuse(sig, msg, SOUP_STATUS_NOT_FOUND, P2PSIG_EHTTP,
           "no such resource %s: use POST /sdp or POST /candidate", shown);
  } else if (!method_listed(methods, method)) {
    g_autofree char *shown = p2psig__signal_excerpt(method, 16);
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
                          p2psig__signal_closure_unref, 0);
  }

out:
  /* A refused request's body is read and dropped, not kept. */
  if (soup_server_message_get_status(msg) != 0)
    soup_message_body_set_accumulate(
        soup_server_message_get_request_body(msg), FALSE);
  p2psig__signal_unlock_if(took);
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
  shown = p2psig__signal_excerpt(session ? session : "", 40);
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
  soup_server_message_set_response(msg, P2PSIG_SIGNAL_CONTENT_TYPE,
                                   SOUP_MEMORY_TAKE, json, strlen(json));
}

/* A new session id: 128 random bits. */
static void
new_session(struct p2psig_signaling *sig)
{
  static const char hex[] = "0123456789abcdef";
  uint8_t bytes[P2PSIG_SIGNAL_SESSION_LEN / 2];

  if (sig->limits.fixed_session) {
    g_strlcpy(sig->session_id, sig->limits.fixed_session,
              sizeof sig->session_id);
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

/* One round trip, answer role: the candidate waits for the polls.  A
 * session keeps at most max_candidates, as many as it takes. */
void
p2psig__signal_outbox_add(struct p2psig_signaling *sig, const char *candidate)
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
      p2psig__signal_outbox_add(sig, g_ptr_array_index(sig->held, i));
    g_ptr_array_set_size(sig->held, 0);
  }
  g_debug("%s, answering in the response (session %s)",
          restart ? "one-round-trip ICE restart applied"
                  : "one-round-trip offer applied", sig->session_id);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                               P2PSIG_SIGNAL_SESSION_HEADER, sig->session_id);
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
  bool ort = mode && strcmp(mode, P2PSIG_SIGNAL_ORT_MODE) == 0;
  char *answer = NULL;
  p2psig_sdp_type type;
  int rc;

  if (mode && !ort && sig->role == P2PSIG_ROLE_ANSWER) {
    g_autofree char *shown = p2psig__signal_excerpt(mode, 32);

    refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, P2PSIG_EINVAL,
           "unknown mode \"%s\": use mode=" P2PSIG_SIGNAL_ORT_MODE, shown);
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
        p2psig__signal_answer_applied(sig);
      }
    } else if ((rc = p2psig_peer_set_remote_description(
                    sig->peer, P2PSIG_SDP_ANSWER, sdp)) < 0) {
      refuse(sig, msg, SOUP_STATUS_BAD_REQUEST, rc, "answer refused: %s",
             p2psig_strerror(rc));
    } else {
      ok(msg);
      p2psig__signal_answer_applied(sig);
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
      p2psig__signal_post_sdp(sig, P2PSIG_SDP_ANSWER, answer);
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
    p2psig__signal_post_sdp(sig, P2PSIG_SDP_ANSWER, answer);
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
      shown = p2psig__signal_excerpt(candidate, 200);
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
  shown = p2psig__signal_excerpt(candidate, 64);
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
void
p2psig__signal_poll_forget(struct p2psig_signaling *sig, SoupServerMessage *msg)
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

void
p2psig__signal_polls_end(struct p2psig_signaling *sig)
{
  struct waiting_poll *w;

  while ((w = g_queue_peek_head(&sig->polls)))
    poll_finish(w, true);
}

static void
handle_poll_locked(struct p2psig_signaling *sig, SoupServerMessage *msg,
                   GHashTable *query)
{
  const char *from_text = query_get(query, "from");
  struct waiting_poll *w;
  guint64 from = 0;

  if (!session_current(sig, msg, query_get(query, "session")))
    return;
  if (from_text && (!g_ascii_string_to_unsigned(from_text, 10, 0,
                                                sig->outbox->len, &from,
                                                NULL))) {
    g_autofree char *shown = p2psig__signal_excerpt(from_text, 16);

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
  w->timer = p2psig__loop_signal_timeout(sig->loop, sig->limits.poll_wait_ms,
                                         poll_expired, w, NULL);
  g_queue_push_tail(&sig->polls, w);
  p2psig__signal_conn_poll(sig, msg);
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
  bool took;

  (void)server;
  took = p2psig__signal_lock_unless_held();
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
  p2psig__signal_unlock_if(took);
}

int
p2psig__signal_server_start(struct p2psig_signaling *sig,
                            struct new_args *args)
{
  g_autoptr(GError) error = NULL;

  /* No TLS certificate for libsoup: the handshake is ours. */
  sig->server = soup_server_new("server-header",
                                "p2psig/" P2PSIG_VERSION_STRING " ", NULL);
  g_signal_connect(sig->server, "request-started",
                   G_CALLBACK(p2psig__signal_request_started), sig);
  g_signal_connect(sig->server, "request-finished",
                   G_CALLBACK(p2psig__signal_request_ended), sig);
  g_signal_connect(sig->server, "request-aborted",
                   G_CALLBACK(p2psig__signal_request_ended), sig);
  soup_server_add_early_handler(sig->server, NULL, early_handler, sig, NULL);
  soup_server_add_handler(sig->server, NULL, handler, sig, NULL);
  sig->listener = g_socket_listener_new();
  if (!p2psig__signal_listen(sig, args, &error)) {
    p2psig__signal_new_fail(args, "%s", error->message);
    g_socket_listener_close(sig->listener);
    g_clear_object(&sig->listener);
    g_clear_object(&sig->server);
    return P2PSIG_ENETWORK;
  }
  sig->certificate = args->certificate ? g_object_ref(args->certificate)
                                       : NULL;
  p2psig__signal_accept_start(sig);
  return 0;
}

void
p2psig__signal_server_stop(struct p2psig_signaling *sig)
{
  /* Waiting polls go with their connections. */
  g_queue_clear_full(&sig->polls, (GDestroyNotify)waiting_poll_free);
  p2psig__signal_conns_stop(sig);
}
