/* SPDX-License-Identifier: MIT */
/*
 * The HTTP signaling of pion's pion-to-pion example, for one peer: a
 * server taking POST /sdp ({"type","sdp"} JSON) and POST /candidate (the
 * bare candidate string), and a client posting ours to the other side.
 * This file is the signaling object: its configuration, lifetime and
 * reports, the public functions, and the peer's local candidates, routed
 * to the client's queue or to the one-round-trip outbox.  It drives the
 * peer through its public functions and hears its local candidates
 * through the observer of peer.h.  The server is signaling-server.c (its
 * connections signaling-conn.c), the client signaling-client.c, the token
 * and TLS signaling-auth.c; signaling-private.h lists what they share.
 *
 * Everything libsoup does happens on one loop, the first peer's: public
 * functions hop there with p2psig__loop_run_sync(), and the server, the
 * session and the timers are attached to that loop's main context.  The
 * functions of the signaling run there with the signaling lock held
 * (libsoup's handlers and completions take it first), except the pure
 * ones of signaling.h; the peer's functions they call take the peer's
 * loop's lock after it.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <string.h>

#include "signaling-private.h"

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
/* Lifetime                                                               */

void
p2psig__signal_unref(struct p2psig_signaling *sig)
{
  g_assert(sig->refs > 0);
  if (--sig->refs > 0)
    return;
  /* free_on_loop() has already released everything else, and the
   * dispatcher holds a reference while it has reports. */
  p2psig__dispatch_clear(&sig->reports);
  g_free(sig->remote_base);
  g_strfreev(sig->cors_origins);
  g_clear_pointer(&sig->page, g_bytes_unref);
  p2psig__signal_auth_clear(sig);
  OPENSSL_cleanse(sig, sizeof *sig);
  g_free(sig);
}

void
p2psig__signal_closure_unref(void *data, GClosure *closure)
{
  bool took;

  (void)closure;
  took = p2psig__signal_lock_unless_held();
  p2psig__signal_unref(data);
  p2psig__signal_unlock_if(took);
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

/* Whether p2psig_signaling_free() was called (from the callback before,
 * say). */
static bool
is_closed(struct p2psig_signaling *sig)
{
  bool closed;

  p2psig__signal_lock();
  closed = sig->closed;
  p2psig__signal_unlock();
  return closed;
}

/* The dispatcher runs each report as it runs a peer's events: on the
 * loop's thread between its iterations, with no lock held, never inside a
 * libsoup handler nor inside the public call that caused it; one that
 * blocks is left to its thread while the loop goes on (loop.c), and holds
 * up only the later reports of its signaling object.  The application may
 * free the signaling object from them. */
static void
run_report(void *owner, void *item)
{
  struct p2psig_signaling *sig = owner;
  struct report *report = item;
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
  if (sig->on_status && !is_closed(sig))
    sig->on_status(sig, &status, sig->user_data);
}

static void
report_free_item(void *item)
{
  report_free(item);
}

static void
reports_ref(void *owner)
{
  /* Pushed from signaling code, which holds the lock. */
  ((struct p2psig_signaling *)owner)->refs++;
}

static void
reports_unref(void *owner)
{
  p2psig__signal_lock();
  p2psig__signal_unref(owner);
  p2psig__signal_unlock();
}

static void
reports_stopped(void *owner)
{
  (void)owner; /* the reference the run held is dropped after this */
}

static const struct p2psig_dispatch_ops report_ops = {
  .run = run_report,
  .free_item = report_free_item,
  .ref = reports_ref,
  .unref = reports_unref,
  .stopped = reports_stopped,
};

/* Queues a report made whole: once pushed, it belongs to the dispatcher,
 * which may run or drop it at once on another thread (a
 * p2psig_signaling_free() there drops what waits). */
static void
queue_report(struct p2psig_signaling *sig, enum report_kind kind, int error,
             unsigned http_status, unsigned retry_in_ms, const char *path,
             const char *text)
{
  struct report *r = g_new0(struct report, 1);
  GQueue one = G_QUEUE_INIT;

  r->kind = kind;
  r->retry_in_ms = retry_in_ms;
  r->message = p2psig__signal_one_line(text);
  r->error = error;
  r->http_status = http_status;
  r->url = kind == REPORT_SERVED ? g_strdup(path)
                                 : g_strconcat(sig->remote_base, path, NULL);
  if (kind != REPORT_RETRY)
    g_debug("%s: %s", p2psig_error_name(error), r->message);
  g_queue_push_tail(&one, r);
  p2psig__dispatch_push(&sig->reports, &one);
}

void
p2psig__signal_report(struct p2psig_signaling *sig, enum report_kind kind,
                      int error, unsigned http_status, const char *path,
                      const char *fmt, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start(ap, fmt);
  text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  queue_report(sig, kind, error, http_status, 0, path, text);
}

void
p2psig__signal_report_retry(struct p2psig_signaling *sig,
                            unsigned retry_in_ms, int error,
                            unsigned http_status, const char *path,
                            const char *why)
{
  queue_report(sig, REPORT_RETRY, error, http_status, retry_in_ms, path, why);
}

/* -------------------------------------------------------------------- */
/* The peer's local candidates                                            */

static void
on_local_candidate(void *data, const char *candidate)
{
  struct p2psig_signaling *sig = data;

  if (sig->closed)
    return;
  if (sig->ort) {
    p2psig__signal_outbox_add(sig, candidate);
    return;
  }
  /* NULL: gathering is done; pion's protocol has nothing to send for it. */
  if (!candidate)
    return;
  p2psig__signal_send_candidate(sig, candidate);
}

static const struct p2psig_peer_observer observer = {
  .on_local_candidate = on_local_candidate,
};

/* -------------------------------------------------------------------- */
/* Public functions                                                       */

void
p2psig__signal_new_fail(struct new_args *args, const char *fmt, ...)
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

static void
new_on_loop(void *data)
{
  struct new_args *args = data;
  struct p2psig_signaling *sig = args->sig;
  GMainContext *context = p2psig__loop_context(sig->loop);
  int rc;

  g_assert(p2psig__loop_is_current(sig->loop));
  /* libsoup binds its sources to the thread-default context. */
  g_main_context_push_thread_default(context);
  p2psig__signal_lock();

  /* A one-round-trip offer serves nothing. */
  if (!(sig->role == P2PSIG_ROLE_OFFER && sig->one_round_trip) &&
      (rc = p2psig__signal_server_start(sig, args)) < 0) {
    args->error = rc;
    goto out;
  }
  p2psig__signal_client_start(sig, args->ca);

  p2psig__peer_set_observer(sig->peer, &observer, sig, sig->loop);
  g_debug("%s role %s on port %u (%s%s), remote %s",
          sig->role == P2PSIG_ROLE_OFFER ? "offer" : "answer",
          sig->server ? "listening" : "not listening (one round trip)",
          sig->port,
          args->certificate ? "HTTPS" : "HTTP",
          sig->token_required ? ", token required" : "", sig->remote_base);
  args->error = 0;

out:
  p2psig__signal_unlock();
  g_main_context_pop_thread_default(context);
}

/* Checks the one-round-trip and browser fields and copies them into sig. */
static int
load_browser(const p2psig_signaling_config *cfg, struct p2psig_signaling *sig,
             struct new_args *args)
{
  size_t n = 0;

  if (cfg->one_round_trip && cfg->role != P2PSIG_ROLE_OFFER) {
    p2psig__signal_new_fail(
        args, "one_round_trip is for the offer role: the answer serves both");
    return P2PSIG_EINVAL;
  }
  for (; cfg->cors_origins && cfg->cors_origins[n]; n++) {
    if (n == P2PSIG_SIGNAL_MAX_ORIGINS) {
      p2psig__signal_new_fail(args, "more than %d cors_origins",
                              P2PSIG_SIGNAL_MAX_ORIGINS);
      return P2PSIG_EINVAL;
    }
    if (!p2psig__signal_valid_origin(cfg->cors_origins[n])) {
      p2psig__signal_new_fail(args,
                              "cors_origins: \"%.64s\" is not \"*\" nor "
                              "http[s]://host[:port]",
                              cfg->cors_origins[n]);
      return P2PSIG_EINVAL;
    }
  }
  if (cfg->page && (strlen(cfg->page) > P2PSIG_SIGNAL_MAX_PAGE ||
                    !g_utf8_validate(cfg->page, -1, NULL))) {
    p2psig__signal_new_fail(args,
                            "the page is larger than %d bytes or not UTF-8",
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
      p2psig__signal_new_fail(&args, "signaling configuration refused: %s",
                              detail);
      goto fail;
    }
  }
  if (cfg.role != P2PSIG_ROLE_OFFER && cfg.role != P2PSIG_ROLE_ANSWER) {
    p2psig__signal_new_fail(&args, "no such role: %d", (int)cfg.role);
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
    p2psig__signal_new_fail(
        &args,
        "bad listen address \"%.64s\": [HOST]:PORT, an IPv6 "
        "address in brackets",
        listen_address);
    goto fail;
  }
  if ((rc = p2psig__signal_parse_address(remote_address, false, &remote_host,
                                         &remote_port)) < 0) {
    p2psig__signal_new_fail(&args,
                            "bad remote address \"%.64s\": HOST:PORT, an IPv6 "
                            "address in brackets",
                            remote_address);
    goto fail;
  }

  if ((rc = p2psig__signal_load_security(&cfg, &args)) < 0)
    goto fail;

  remote_base = p2psig__signal_remote_base(cfg.tls_remote ? "https" : "http",
                                           remote_host, remote_port);
  if (!remote_base) {
    p2psig__signal_new_fail(&args, "cannot make a URI of \"%s\"",
                            remote_address);
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
        p2psig__signal_new_fail(&args, "cannot resolve %s: %s",
                                args.listen_host, err->message);
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
  sig->loop = p2psig__peer_loop(peer);
  p2psig__dispatch_init(&sig->reports, &report_ops, sig, sig->loop);
  sig->role = cfg.role;
  sig->on_error = cfg.on_error;
  sig->on_status = cfg.on_status;
  sig->user_data = cfg.user_data;
  sig->remote_base = g_steal_pointer(&remote_base);
  p2psig__signal_auth_init(sig, cfg.token);
  sig->limits = p2psig__signal_limits;
  p2psig__signal_client_init(sig);
  g_queue_init(&sig->conns);
  g_queue_init(&sig->polls);
  sig->held = g_ptr_array_new_with_free_func(g_free);
  sig->outbox = g_ptr_array_new_with_free_func(g_free);
  if ((rc = load_browser(&cfg, sig, &args)) < 0)
    goto fail;

  args.sig = sig;
  args.error = P2PSIG_EINTERNAL;
  p2psig__loop_run_sync(sig->loop, new_on_loop, &args);
  if ((rc = args.error) < 0)
    goto fail;

  new_args_clear(&args);
  return sig;

fail:
  if (sig) {
    /* A report queued on the way never runs: the caller gets no object. */
    p2psig__dispatch_stop(&sig->reports, false);
    g_ptr_array_unref(sig->held);
    g_ptr_array_unref(sig->outbox);
    p2psig__signal_lock();
    p2psig__signal_unref(sig);
    p2psig__signal_unlock();
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

  g_assert(p2psig__loop_is_current(sig->loop));
  g_main_context_push_thread_default(p2psig__loop_context(sig->loop));
  p2psig__signal_lock();
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
    p2psig__signal_post_sdp(sig, P2PSIG_SDP_OFFER, offer);
    p2psig_free(offer);
  }
  args->error = rc;
  p2psig__signal_unlock();
  g_main_context_pop_thread_default(p2psig__loop_context(sig->loop));
}

static int
post_offer(p2psig_signaling *signaling, bool restart)
{
  struct start_args args = {signaling, restart, P2PSIG_EINTERNAL};

  if (!signaling)
    return P2PSIG_EINVAL;
  p2psig__loop_run_sync(signaling->loop, start_on_loop, &args);
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

  g_main_context_push_thread_default(p2psig__loop_context(sig->loop));
  p2psig__signal_lock();
  if (sig->role != P2PSIG_ROLE_ANSWER || sig->closed) {
    args->error = P2PSIG_ESTATE;
    goto out;
  }
  g_debug("a new session%s%s", sig->session_id[0] ? " after " : "",
          sig->session_id);
  /* The old session's polls learn that it is over. */
  p2psig__signal_polls_end(sig);
  p2psig__peer_set_observer(sig->peer, NULL, NULL, NULL);
  sig->peer = args->peer;
  p2psig__peer_set_observer(sig->peer, &observer, sig, sig->loop);

  p2psig__signal_client_reset(sig);
  g_ptr_array_set_size(sig->held, 0);
  g_ptr_array_set_size(sig->outbox, 0);
  sig->have_remote = sig->restarting = sig->answer_posted = false;
  sig->ort = sig->gathered = false;
  sig->remote_candidates = 0;
  sig->session_id[0] = '\0';
  args->error = 0;
out:
  p2psig__signal_unlock();
  g_main_context_pop_thread_default(p2psig__loop_context(sig->loop));
}

int
p2psig_signaling_set_peer(p2psig_signaling *signaling, p2psig_peer *peer)
{
  struct set_peer_args args = {signaling, peer, P2PSIG_EINTERNAL};

  if (!signaling || !peer)
    return P2PSIG_EINVAL;
  p2psig__loop_run_sync(signaling->loop, set_peer_on_loop, &args);
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
  /* sig may be gone below. */
  GMainContext *context = p2psig__loop_context(sig->loop);

  g_assert(p2psig__loop_is_current(sig->loop));
  g_main_context_push_thread_default(context);
  p2psig__signal_lock();
  g_assert(!sig->closed);
  sig->closed = true;
  p2psig__peer_set_observer(sig->peer, NULL, NULL, NULL);

  p2psig__signal_server_stop(sig);
  p2psig__signal_client_stop(sig);
  g_clear_pointer(&sig->held, g_ptr_array_unref);
  g_clear_pointer(&sig->outbox, g_ptr_array_unref);

  p2psig__signal_unref(sig);
  p2psig__signal_unlock();
  g_main_context_pop_thread_default(context);
}

void
p2psig_signaling_free(p2psig_signaling *signaling)
{
  if (!signaling)
    return;
  /* No report starts after this; one running on another thread is waited
   * for, unless the caller may not wait (it is inside one of this
   * object's callbacks, or holds a lock or a loop). */
  p2psig__dispatch_stop(&signaling->reports, p2psig__loop_may_wait());
  p2psig__loop_run_sync(signaling->loop, free_on_loop, signaling);
}
