/* SPDX-License-Identifier: MIT */
/*
 * The requests the signaling sends to the other side's server, on one
 * libsoup session.  Ordering rules, from pion's example: a side sends its
 * candidates only once it has the remote description, and the answerer
 * only after its answer has been posted (pion's offerer panics on a
 * candidate that precedes the answer).  All outgoing POSTs go through one
 * FIFO queue, one request in flight at a time, which keeps them in order.
 * POSTs that meet a connection error or a 5xx are retried with backoff:
 * the offer may start before the answer listens.  A one-round-trip offer
 * reads the answer from its POST's response, then long-polls the
 * answer's GET /candidate for its candidates.
 *
 * Nothing remote is unbounded: each request has an overall deadline and
 * reads at most a cap of its response (signaling.h names them); a
 * completion whose request is no longer in its slot (the object freed,
 * the session replaced) is dropped.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <string.h>

#include "signaling-private.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* libsoup's idle timeout of a POST; P2PSIG_SIGNAL_POST_DEADLINE_MS bounds
 * its whole time. */
#define REQUEST_TIMEOUT_S 15

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

static void send_current(struct p2psig_signaling *sig);
static void poll_send(struct p2psig_signaling *sig);
static void read_body(struct request *req);

static void
post_free(struct post *post)
{
  if (!post)
    return;
  g_bytes_unref(post->body);
  g_free(post);
}

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
  return g_strconcat("/sdp?mode=" P2PSIG_SIGNAL_ORT_MODE,
                     sig->session_id[0] ? "&session=" : "", sig->session_id,
                     NULL);
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
  p2psig__signal_report_retry(sig, sig->backoff_ms,
                              status ? P2PSIG_EHTTP : P2PSIG_ENETWORK, status,
                              post_path(sig->current), why);
  sig->retry_source = p2psig__loop_signal_timeout(sig->loop, sig->backoff_ms, retry_cb, sig,
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
  return p2psig__signal_excerpt(text, 200);
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
  g_autofree char *phrase =
      p2psig__signal_excerpt(soup_message_get_reason_phrase(req->msg), 64);

  p2psig__signal_report(
      sig, REPORT_FINAL,
      req->status == SOUP_STATUS_UNAUTHORIZED ? P2PSIG_EUNAUTHORIZED
                                              : P2PSIG_EHTTP,
      req->status, path, "%s %s%s refused: %u %s%s%s", method, sig->remote_base,
      path, req->status, phrase, reason[0] ? ": " : "", reason);
}

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
void
p2psig__signal_answer_applied(struct p2psig_signaling *sig)
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

/* One round trip: whether a 2xx's body filled its cap (of which the last
 * byte only tells that there is more), which is then reported. */
static bool
response_too_big(struct p2psig_signaling *sig, const struct request *req,
                 const char *method, const char *path)
{
  if (req->len < req->cap)
    return false;
  p2psig__signal_report(sig, REPORT_FINAL, P2PSIG_ETOOBIG, req->status, path,
                        "%s %s%s: the response is larger than %zu bytes",
                        method, sig->remote_base, path, req->cap - 1);
  return true;
}

/* One round trip: the answer is the response to our offer. */
static void
take_inline_answer(struct p2psig_signaling *sig, struct request *req)
{
  const char *id =
      soup_message_headers_get_one(soup_message_get_response_headers(req->msg),
                                   P2PSIG_SIGNAL_SESSION_HEADER);
  g_autofree char *sdp = NULL;
  g_autofree char *detail = NULL;
  p2psig_sdp_type type;
  int rc;

  if (response_too_big(sig, req, "POST", "/sdp"))
    return;
  if (!p2psig__signal_valid_session(id)) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_EHTTP, req->status, "/sdp",
        "POST %s/sdp: no session id in the response: the answer does "
        "not take one-round-trip offers",
        sig->remote_base);
  } else if ((rc = p2psig__signal_decode_sdp(req->body, req->len, &type, &sdp,
                                             &detail)) < 0) {
    p2psig__signal_report(sig, REPORT_FINAL, rc, req->status, "/sdp",
                          "POST %s/sdp: bad answer in the response: %s",
                          sig->remote_base, detail);
  } else if (type != P2PSIG_SDP_ANSWER) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_EJSON, req->status, "/sdp",
        "POST %s/sdp: the response is an offer, not an answer",
        sig->remote_base);
  } else if (sig->have_remote && strcmp(id, sig->session_id) != 0) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_ESTATE, req->status, "/sdp",
        "POST %s/sdp: the ICE restart was answered for another session",
        sig->remote_base);
  } else if ((rc = p2psig_peer_set_remote_description(
                  sig->peer, P2PSIG_SDP_ANSWER, sdp)) < 0) {
    p2psig__signal_report(sig, REPORT_FINAL, rc, req->status, "/sdp",
                          "POST %s/sdp: answer refused: %s", sig->remote_base,
                          p2psig_strerror(rc));
  } else {
    memcpy(sig->session_id, id, sizeof sig->session_id);
    p2psig__signal_answer_applied(sig);
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

  if (error && p2psig__signal_tls_refused(error)) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_ENETWORK, 0, post_path(post),
        "POST %s%s failed: %s%s", sig->remote_base, post_path(post),
        error->message,
        p2psig__signal_certificate_problem(
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
    p2psig__signal_report_retry(sig, sig->poll_backoff_ms,
                                status ? P2PSIG_EHTTP : P2PSIG_ENETWORK,
                                status, "/candidate", why);
  sig->poll_retry = p2psig__loop_signal_timeout(sig->loop,
                                                sig->poll_backoff_ms, poll_retry_cb,
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

  if (response_too_big(sig, req, "GET", "/candidate")) {
    sig->poll_stopped = true;
    return;
  }
  rc = p2psig__signal_decode_candidates(req->body, req->len, &list, &next,
                                        &complete, &detail);
  if (rc < 0) {
    p2psig__signal_report(sig, REPORT_FINAL, rc, req->status, "/candidate",
                          "GET %s/candidate: %s", sig->remote_base, detail);
    sig->poll_stopped = true;
    return;
  }
  n = g_strv_length(list);
  if (next != sig->poll_next + n) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_EJSON, req->status, "/candidate",
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
      p2psig__signal_report(
          sig, REPORT_FINAL, P2PSIG_ELIMIT, req->status, "/candidate",
          "GET %s/candidate: too many candidates: at most %u a session",
          sig->remote_base, sig->limits.max_candidates);
      sig->poll_stopped = true;
      return;
    }
    shown = p2psig__signal_excerpt(list[i], 200);
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
  if (error && p2psig__signal_tls_refused(error)) {
    p2psig__signal_report(
        sig, REPORT_FINAL, P2PSIG_ENETWORK, 0, "/candidate",
        "GET %s/candidate failed: %s%s", sig->remote_base, error->message,
        p2psig__signal_certificate_problem(
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

static void
body_read(GObject *source, GAsyncResult *result, void *data)
{
  struct request *req = data;
  struct p2psig_signaling *sig = req->sig;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL);

  p2psig__signal_lock();
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
  p2psig__signal_unref(sig);
  p2psig__signal_unlock();
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

  p2psig__signal_lock();
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
  p2psig__signal_unref(sig);
  p2psig__signal_unlock();
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
    soup_message_set_request_body_from_bytes(req->msg,
                                             P2PSIG_SIGNAL_CONTENT_TYPE, body);
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
  req->deadline = p2psig__loop_signal_timeout(sig->loop, deadline_ms,
                                              post_deadline, req, NULL);
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

void
p2psig__signal_client_init(struct p2psig_signaling *sig)
{
  g_queue_init(&sig->queue);
  sig->backoff_ms = BACKOFF_MIN_MS;
  sig->poll_backoff_ms = BACKOFF_MIN_MS;
}

void
p2psig__signal_client_start(struct p2psig_signaling *sig, GTlsDatabase *ca)
{
  /* A long-poll is idle for as long as the server waits: our deadlines
   * bound each request whole. */
  sig->session = soup_session_new_with_options(
      "timeout", sig->one_round_trip ? 0 : REQUEST_TIMEOUT_S,
      "user-agent", "p2psig/" P2PSIG_VERSION_STRING " ", NULL);
  /* The other side is a peer, not a web site: no proxy. */
  soup_session_set_proxy_resolver(sig->session, NULL);
  if (ca)
    soup_session_set_tls_database(sig->session, ca);
}

/* Drops the request in a slot: cancelled, it completes later, stale. */
static void
request_drop(struct request **slot)
{
  if (*slot)
    g_cancellable_cancel((*slot)->cancellable);
  *slot = NULL;
}

static void
timer_drop(GSource **slot)
{
  if (*slot) {
    g_source_destroy(*slot);
    g_clear_pointer(slot, g_source_unref);
  }
}

void
p2psig__signal_client_reset(struct p2psig_signaling *sig)
{
  request_drop(&sig->request);
  timer_drop(&sig->retry_source);
  g_queue_clear_full(&sig->queue, (GDestroyNotify)post_free);
  g_clear_pointer(&sig->current, post_free);
  sig->backoff_ms = BACKOFF_MIN_MS;
}

void
p2psig__signal_client_stop(struct p2psig_signaling *sig)
{
  p2psig__signal_client_reset(sig);
  request_drop(&sig->poll);
  timer_drop(&sig->poll_retry);
  soup_session_abort(sig->session);
  g_clear_object(&sig->session);
}

void
p2psig__signal_post_sdp(struct p2psig_signaling *sig, p2psig_sdp_type type,
                        const char *sdp)
{
  enqueue(sig, sdp_body(type, sdp),
          type == P2PSIG_SDP_OFFER ? POST_OFFER : POST_ANSWER);
}

void
p2psig__signal_send_candidate(struct p2psig_signaling *sig,
                              const char *candidate)
{
  if (can_send_candidates(sig))
    enqueue_candidate(sig, candidate);
  else
    g_ptr_array_add(sig->held, g_strdup(candidate));
}
