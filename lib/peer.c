/* SPDX-License-Identifier: MIT */
/*
 * The peer connection: offer and answer, the state machine, the glue
 * between ICE, DTLS and SCTP, and the peer's events, which the dispatcher
 * (dispatch.c) runs as the application's callbacks.
 *
 * Every event is queued, whoever causes it, and its callback runs from the
 * dispatcher with no lock held: never inside a layer, nor inside the
 * public call that caused it.  So a callback may close or free anything,
 * its own peer included, and a callback that blocks holds up only its own
 * peer's later callbacks.  The receive path gathers the events a datagram
 * causes and hands them over together at the end of the ICE receive
 * upcall, once DTLS and SCTP have returned.
 */
#define G_LOG_DOMAIN "p2psig"

#include "peer-private.h"

#include <gio/gio.h>
#include <string.h>

#include "dcep.h"

static bool
peer_valid(const p2psig_peer *peer)
{
  return peer && peer->magic == PEER_MAGIC;
}

/* ---- events ---- */

/* Message events waiting for on_message, in bytes (each counts at least
 * EVENT_COST, so that empty messages count too): past UNDELIVERED_MAX the
 * peer stops reading SCTP, whose receive window then fills and closes, so
 * that the remote waits rather than the queue growing while a callback
 * blocks; reading resumes once the callbacks have brought it down to
 * UNDELIVERED_RESUME.  Nothing is dropped. */
#define UNDELIVERED_MAX (1024 * 1024)
#define UNDELIVERED_RESUME (UNDELIVERED_MAX / 2)
#define EVENT_COST 64

static gint peers_alive;

unsigned
p2psig__peers_alive(void)
{
  return (unsigned)g_atomic_int_get(&peers_alive);
}

static void
peer_ref(void *data)
{
  p2psig_peer *peer = data;

  g_atomic_int_inc(&peer->refcount);
}

static void
peer_unref(void *data)
{
  p2psig_peer *peer = data;

  if (!g_atomic_int_dec_and_test(&peer->refcount))
    return;
  p2psig__dispatch_clear(&peer->dispatch);
  peer->magic = 0;
  g_free(peer);
  g_atomic_int_add(&peers_alive, -1);
}

static void
event_free(void *item)
{
  struct event *event = item;

  g_free(event->candidate);
  if (event->message)
    g_bytes_unref(event->message);
  p2psig_channel_unref(event->channel);
  g_free(event);
}

/* Runs fn(peer) from an idle source on the library context, from any
 * thread; never at once, inside the caller (as g_main_context_invoke could
 * on the library thread). */
static void
post_to_loop(GSourceFunc fn, p2psig_peer *peer, GDestroyNotify destroy,
             int priority)
{
  GSource *source = g_idle_source_new();

  g_source_set_priority(source, priority);
  g_source_set_callback(source, fn, peer, destroy);
  g_source_attach(source, p2psig__loop_context(peer->loop));
  g_source_unref(source);
}

/* On the library thread: reads SCTP again, unless the peer has gone. */
static gboolean
resume_idle(gpointer data)
{
  p2psig_peer *peer = data;

  p2psig__lock(peer->loop);
  g_atomic_int_set(&peer->resume_scheduled, 0);
  if (!peer->freed &&
      g_atomic_int_compare_and_exchange(&peer->receive_paused, 1, 0) &&
      peer->sctp) {
    g_debug("peer %p: callbacks caught up, reading again", (void *)peer);
    p2psig__sctp_set_paused(peer->sctp, false);
  }
  p2psig__unlock(peer->loop);
  return G_SOURCE_REMOVE;
}

/* From any thread, with or without the lock. */
static void
schedule_resume(p2psig_peer *peer)
{
  if (!g_atomic_int_compare_and_exchange(&peer->resume_scheduled, 0, 1))
    return;
  peer_ref(peer);
  post_to_loop(resume_idle, peer, peer_unref, G_PRIORITY_DEFAULT);
}

/* A message event about to be queued, on the library thread (SCTP's
 * receive path). */
static void
count_message(p2psig_peer *peer, struct event *event)
{
  gsize len = 0;

  g_bytes_get_data(event->message, &len);
  event->held = (int)len + EVENT_COST;
  if (g_atomic_int_add(&peer->undelivered, event->held) + event->held <=
        UNDELIVERED_MAX ||
      g_atomic_int_get(&peer->receive_paused) || !peer->sctp)
    return;
  g_debug("peer %p: %d bytes of messages undelivered, not reading until "
          "the callbacks catch up", (void *)peer,
          g_atomic_int_get(&peer->undelivered));
  g_atomic_int_set(&peer->receive_paused, 1);
  p2psig__sctp_set_paused(peer->sctp, true);
  /* A callback that brought the count down before the flag was set saw no
   * pause to end. */
  if (g_atomic_int_get(&peer->undelivered) <= UNDELIVERED_RESUME)
    schedule_resume(peer);
}

/* A message event done with, after its callback. */
static void
message_delivered(p2psig_peer *peer, int held)
{
  if (g_atomic_int_add(&peer->undelivered, -held) - held <=
        UNDELIVERED_RESUME &&
      g_atomic_int_get(&peer->receive_paused))
    schedule_resume(peer);
}

/* Runs one event's callback: from the dispatcher, with no lock held,
 * after the events of the peer before it (see dispatch.h). */
static void
run_event(void *owner, void *item)
{
  p2psig_peer *peer = owner;
  struct event *event = item;
  const p2psig_peer_config *cfg = &peer->config;
  void *ud = cfg->user_data;

  switch (event->type) {
  case EVENT_CANDIDATE:
    if (cfg->on_candidate)
      cfg->on_candidate(peer, event->candidate, ud);
    break;
  case EVENT_STATE:
    g_info("peer %p: %s", (void *)peer, p2psig_state_name(event->state));
    if (cfg->on_state)
      cfg->on_state(peer, event->state, event->error, ud);
    break;
  case EVENT_CHANNEL:
    if (cfg->on_channel)
      cfg->on_channel(peer, event->channel, ud);
    break;
  case EVENT_OPEN:
    if (cfg->on_open)
      cfg->on_open(event->channel, ud);
    break;
  case EVENT_CLOSE:
    if (cfg->on_close)
      cfg->on_close(event->channel, ud);
    /* A channel lives until its on_close has returned. */
    p2psig__lock(peer->loop);
    if (!peer->freed && !event->channel->detached)
      p2psig__channel_release(event->channel);
    p2psig__unlock(peer->loop);
    break;
  case EVENT_BUFFERED_AMOUNT_LOW:
    if (cfg->on_buffered_amount_low)
      cfg->on_buffered_amount_low(event->channel, ud);
    break;
  case EVENT_ICE_GATHERING_STATE:
    g_debug("peer %p: ICE gathering %s", (void *)peer,
            p2psig_ice_gathering_state_name(event->ice_state));
    if (cfg->on_ice_gathering_state)
      cfg->on_ice_gathering_state(peer, event->ice_state, ud);
    break;
  case EVENT_ICE_CONNECTION_STATE:
    g_debug("peer %p: ICE connection %s", (void *)peer,
            p2psig_ice_connection_state_name(event->ice_state));
    if (cfg->on_ice_connection_state)
      cfg->on_ice_connection_state(peer, event->ice_state, ud);
    break;
  case EVENT_MESSAGE:
    if (cfg->on_message) {
      gsize len;
      const void *data = g_bytes_get_data(event->message, &len);

      cfg->on_message(event->channel, data, len, event->kind, ud);
    }
    message_delivered(peer, event->held);
    break;
  }
}

static void schedule_teardown(p2psig_peer *peer);

/* The peer was freed while one of its callbacks ran that the free could
 * not wait for: that callback has returned now. */
static void
dispatch_stopped(void *owner)
{
  schedule_teardown(owner);
}

static const struct p2psig_dispatch_ops dispatch_ops = {
  .run = run_event,
  .free_item = event_free,
  .ref = peer_ref,
  .unref = peer_unref,
  .stopped = dispatch_stopped,
};

/* Hands the events gathered so far to the dispatcher. */
static void
flush_events(p2psig_peer *peer)
{
  p2psig__dispatch_push(&peer->dispatch, &peer->events);
}

/* The observer's turn for the local candidates: on the observer's loop
 * with the signaling lock and the peer's held (in that order), in order,
 * as the signaling layer needs. */
static gboolean
observe_idle(gpointer data)
{
  p2psig_peer *peer = data;

  p2psig__lock(peer->loop);
  /* Destroyed meanwhile: a new observer got a source of its own. */
  if (g_source_is_destroyed(g_main_current_source())) {
    p2psig__unlock(peer->loop);
    return G_SOURCE_REMOVE;
  }
  g_clear_pointer(&peer->observer_source, g_source_unref);
  while (!peer->freed && !g_queue_is_empty(&peer->observed)) {
    char *candidate = g_queue_pop_head(&peer->observed);

    if (peer->observer && peer->observer->on_local_candidate)
      peer->observer->on_local_candidate(peer->observer_data, candidate);
    g_free(candidate);
  }
  p2psig__unlock(peer->loop);
  return G_SOURCE_REMOVE;
}

/* The peer's lock held.  The source holds a reference: the peer may be
 * torn down on its own loop while the source waits for its lock. */
static void
schedule_observer(p2psig_peer *peer)
{
  if (peer->observer_source || !peer->observer_loop)
    return;
  peer_ref(peer);
  peer->observer_source = p2psig__loop_signal_idle(peer->observer_loop,
                                                   observe_idle, peer,
                                                   peer_unref);
}

static void
observe_candidate(p2psig_peer *peer, const char *candidate)
{
  g_queue_push_tail(&peer->observed, g_strdup(candidate));
  schedule_observer(peer);
}

/* Queues an event, with the lock held; takes references to its channel
 * and message, copies its candidate. */
void
p2psig__peer_emit(p2psig_peer *peer, struct event *event)
{
  struct event *copy;

  if (peer->freed)
    return;
  if (event->type == EVENT_CANDIDATE)
    observe_candidate(peer, event->candidate);
  copy = g_new(struct event, 1);
  *copy = *event;
  copy->candidate = g_strdup(event->candidate);
  if (event->message)
    g_bytes_ref(event->message);
  if (event->channel)
    p2psig_channel_ref(event->channel);
  if (copy->type == EVENT_MESSAGE)
    count_message(peer, copy);
  g_queue_push_tail(&peer->events, copy);
  /* Inside the receive upcall, its end hands the whole batch over. */
  if (!peer->receiving)
    flush_events(peer);
}

/* The W3C ICE connection state, from libnice's (ice_state) and from the
 * peer's consent check (its disconnected state, ice_failed). */
static p2psig_ice_connection_state
ice_connection_state(const p2psig_peer *peer)
{
  if (peer->state == P2PSIG_STATE_CLOSED)
    return P2PSIG_ICE_CONNECTION_CLOSED;
  if (peer->ice_failed || peer->ice_state == P2PSIG_ICE_FAILED)
    return P2PSIG_ICE_CONNECTION_FAILED;
  if (peer->state == P2PSIG_STATE_DISCONNECTED)
    return P2PSIG_ICE_CONNECTION_DISCONNECTED;
  switch (peer->ice_state) {
  case P2PSIG_ICE_CHECKING:
    /* An ICE restart checks anew while the old pair carries the data. */
    return peer->dtls_started ? P2PSIG_ICE_CONNECTION_CONNECTED
                              : P2PSIG_ICE_CONNECTION_CHECKING;
  case P2PSIG_ICE_CONNECTED:
    return P2PSIG_ICE_CONNECTION_CONNECTED;
  case P2PSIG_ICE_COMPLETED:
    return P2PSIG_ICE_CONNECTION_COMPLETED;
  default:
    return P2PSIG_ICE_CONNECTION_NEW;
  }
}

/* Queues on_ice_connection_state when the state changed; called wherever
 * what it derives from changes, before the on_state that follows. */
static void
update_ice_connection_state(p2psig_peer *peer)
{
  p2psig_ice_connection_state state = ice_connection_state(peer);
  struct event event = { .type = EVENT_ICE_CONNECTION_STATE,
                         .ice_state = (int)state };

  if (state == peer->ice_connection_state)
    return;
  peer->ice_connection_state = state;
  p2psig__peer_emit(peer, &event);
}

static void
set_gathering_state(p2psig_peer *peer, p2psig_ice_gathering_state state)
{
  struct event event = { .type = EVENT_ICE_GATHERING_STATE,
                         .ice_state = (int)state };

  if (state == peer->ice_gathering_state)
    return;
  peer->ice_gathering_state = state;
  p2psig__peer_emit(peer, &event);
}

static void
set_state(p2psig_peer *peer, p2psig_state state, int error)
{
  struct event event = { .type = EVENT_STATE, .state = state,
                         .error = error };

  if (peer->state == state || peer->state == P2PSIG_STATE_CLOSED)
    return;
  /* failed is final until closed */
  if (peer->state == P2PSIG_STATE_FAILED && state != P2PSIG_STATE_CLOSED)
    return;
  peer->state = state;
  update_ice_connection_state(peer);
  p2psig__peer_emit(peer, &event);
}

static void stop_liveness(p2psig_peer *peer);
static void close_locked(p2psig_peer *peer, bool abort_sctp, int error);

void
p2psig__peer_fail(p2psig_peer *peer, int error)
{
  g_debug("peer %p failed: %s", (void *)peer, p2psig_strerror(error));
  stop_liveness(peer);
  p2psig__channels_close_all(peer);
  set_state(peer, P2PSIG_STATE_FAILED, error);
}

/* ---- SCTP upcalls ---- */

static void
sctp_send(void *data, const uint8_t *buf, size_t len)
{
  p2psig_peer *peer = data;

  if (peer->dtls)
    p2psig__dtls_send(peer->dtls, buf, len);
}

static void
sctp_connected(void *data)
{
  p2psig_peer *peer = data;

  g_debug("SCTP association up");
  peer->sctp_connected = true;
  p2psig__channels_connected(peer);
}

static void
sctp_closed(void *data, int error)
{
  p2psig_peer *peer = data;

  g_debug("SCTP association closed");
  peer->sctp_connected = false;
  p2psig__channels_close_all(peer);
  /* The remote aborted or shut it down: it closed.  Its SCTP object stays
   * until the transports are released (we are in its upcall). */
  if (error == P2PSIG_ECLOSED_BY_REMOTE)
    close_locked(peer, false, P2PSIG_ECLOSED_BY_REMOTE);
}

static void
sctp_message(void *data, uint16_t sid, uint32_t ppid, GBytes *message)
{
  p2psig__channel_receive(data, sid, ppid, message);
}

static void
sctp_stream_reset(void *data, uint16_t sid)
{
  p2psig__channel_remote_reset(data, sid);
}

static void
sctp_outgoing_reset(void *data, uint16_t sid)
{
  p2psig__channel_outgoing_reset(data, sid);
}

static void
sctp_writable(void *data)
{
  p2psig__channels_flush(data);
}

static const struct p2psig_sctp_callbacks sctp_callbacks = {
  .on_writable = sctp_writable,
  .send = sctp_send,
  .on_connected = sctp_connected,
  .on_closed = sctp_closed,
  .on_message = sctp_message,
  .on_stream_reset = sctp_stream_reset,
  .on_outgoing_reset = sctp_outgoing_reset,
};

/* ---- DTLS upcalls ---- */

static void
dtls_send(void *data, const uint8_t *buf, size_t len)
{
  p2psig_peer *peer = data;

  if (peer->ice)
    p2psig__ice_send(peer->ice, buf, len);
}

/* Consent freshness (RFC 7675) on what the remote sends: disconnected
 * after 5 s without a packet (as pion), failed after 30 s (RFC 7675's
 * consent timeout).  Only records DTLS authenticated count.  After each
 * second without one (two for the DTLS server) the peer sends an SCTP
 * heartbeat, whose answer is one: an idle pair exchanges a heartbeat and
 * its answer every 2 s or so, and a living remote gets three or four tries
 * before the first limit.  libnice 0.1.21's own consent check gives up
 * after about 10 s, which a link losing 30 % of its packets each way
 * reaches within seconds, so ICE leaves that to us.
 *
 * One timer checks every connected peer once a second, rather than a timer
 * a peer: an idle process wakes once a second for all of them.  The peers
 * are in an array, each knowing its index, so that leaving is O(1). */
/* Descriptors a new peer needs left: its stream's and a socket. */
#define PEER_DESCRIPTORS 2

#define DISCONNECTED_AFTER_S 5
#define FAILED_AFTER_S 30

/* Per loop, under its lock. */
static struct liveness {
  GPtrArray *peers;
  GSource *tick;
} liveness[P2PSIG_MAX_LOOPS];

static void
check_liveness(p2psig_peer *peer)
{
  if (peer->sctp_connected)
    p2psig__channels_retry_resets(peer);
  if (peer->rx_packets != peer->rx_packets_seen) {
    peer->rx_packets_seen = peer->rx_packets;
    peer->silent_seconds = 0;
    if (peer->state == P2PSIG_STATE_DISCONNECTED)
      set_state(peer, P2PSIG_STATE_CONNECTED, 0);
    return;
  }
  peer->silent_seconds++;
  /* The DTLS server waits a second more: while the client is there, its
   * heartbeats keep the server from asking too, and a pair exchanges one
   * heartbeat and its answer, not two. */
  if (peer->sctp && peer->sctp_connected &&
      peer->silent_seconds >= (peer->dtls_client ? 1u : 2u))
    p2psig__sctp_heartbeat(peer->sctp);
  if (peer->silent_seconds >= peer->failed_after_s) {
    /* Consent expired (RFC 7675): ICE failed. */
    peer->ice_failed = true;
    p2psig__peer_fail(peer, P2PSIG_ETIMEDOUT);
    return;
  }
  if (peer->silent_seconds >= peer->disconnected_after_s)
    set_state(peer, P2PSIG_STATE_DISCONNECTED, 0);
}

static gboolean
on_liveness_tick(gpointer data)
{
  struct liveness *live = data;

  /* From the end: a peer that fails leaves the array (stop_liveness), and
   * only the last one, already checked, moves into its place. */
  for (guint i = live->peers->len; i > 0; i--)
    check_liveness(g_ptr_array_index(live->peers, i - 1));
  if (live->peers->len > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer(&live->tick, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
start_liveness(p2psig_peer *peer)
{
  struct liveness *live = &liveness[p2psig__loop_index(peer->loop)];

  if (peer->live)
    return;
  if (!live->peers)
    live->peers = g_ptr_array_new();
  peer->live = true;
  peer->live_index = live->peers->len;
  peer->silent_seconds = 0;
  peer->rx_packets_seen = peer->rx_packets;
  g_ptr_array_add(live->peers, peer);
  if (!live->tick)
    live->tick = p2psig__loop_timeout_seconds(peer->loop, 1,
                                              on_liveness_tick, live, NULL);
}

static void
stop_liveness(p2psig_peer *peer)
{
  struct liveness *live = &liveness[p2psig__loop_index(peer->loop)];
  p2psig_peer *last;

  if (!peer->live)
    return;
  peer->live = false;
  last = g_ptr_array_steal_index(live->peers, live->peers->len - 1);
  if (last != peer) {
    live->peers->pdata[peer->live_index] = last;
    last->live_index = peer->live_index;
  }
  if (live->peers->len == 0 && live->tick) {
    g_source_destroy(live->tick);
    g_clear_pointer(&live->tick, g_source_unref);
  }
}

static void
dtls_connected(void *data)
{
  p2psig_peer *peer = data;
  int error = 0;

  set_state(peer, P2PSIG_STATE_CONNECTED, 0);
  start_liveness(peer);
  peer->sctp = p2psig__sctp_new(peer->loop, P2PSIG_SCTP_PORT, peer->remote.sctp_port,
                                peer->config.sctp_streams,
                                !peer->config.disable_message_interleaving,
                                &sctp_callbacks, peer, &error);
  if (!peer->sctp || p2psig__sctp_connect(peer->sctp) < 0)
    p2psig__peer_fail(peer, error ? error : P2PSIG_ESCTP);
}

static void
dtls_failed(void *data, int error)
{
  p2psig__peer_fail(data, error);
}

static void
dtls_data(void *data, const uint8_t *buf, size_t len)
{
  p2psig_peer *peer = data;

  /* Only what DTLS authenticated is a sign of life: anyone can send a
   * datagram with the remote's address on it. */
  peer->rx_packets++;
  if (peer->sctp)
    p2psig__sctp_feed(peer->sctp, buf, len);
}

static void
dtls_closed(void *data)
{
  p2psig_peer *peer = data;

  /* The remote closed cleanly: its channels are gone, and so is it. */
  close_locked(peer, false, P2PSIG_ECLOSED_BY_REMOTE);
}

static const struct p2psig_dtls_callbacks dtls_callbacks = {
  .send = dtls_send,
  .on_connected = dtls_connected,
  .on_failed = dtls_failed,
  .on_data = dtls_data,
  .on_closed = dtls_closed,
};

/* Starts DTLS once ICE works and both descriptions are known. */
static void
maybe_start_dtls(p2psig_peer *peer)
{
  if (peer->dtls_started || !peer->dtls || peer->closed ||
      (peer->ice_state != P2PSIG_ICE_CONNECTED &&
       peer->ice_state != P2PSIG_ICE_COMPLETED))
    return;
  peer->dtls_started = true;
  g_debug("starting DTLS as %s", peer->dtls_client ? "client" : "server");
  p2psig__dtls_start(peer->dtls);
  for (guint i = 0; i < peer->early_datagrams->len && peer->dtls; i++) {
    gsize len;
    const uint8_t *buf = g_bytes_get_data(peer->early_datagrams->pdata[i],
                                          &len);

    p2psig__dtls_feed(peer->dtls, buf, len);
  }
  g_ptr_array_set_size(peer->early_datagrams, 0);
}

/* ---- ICE upcalls ---- */

static void
emit_candidate(p2psig_peer *peer, const char *candidate)
{
  struct event event = { .type = EVENT_CANDIDATE,
                         .candidate = (char *)candidate };

  /* W3C: the gathering state is complete before the last candidate
   * event. */
  if (!candidate)
    set_gathering_state(peer, P2PSIG_ICE_GATHERING_COMPLETE);
  p2psig__peer_emit(peer, &event);
}

/* Gathering starts just before the local description is made, so that it
 * carries the host candidates and the remote can check them at once.  Those
 * are held for it and reported (trickled) too once it is set
 * (emit_gathered_candidates), as a W3C peer connection does; later ones
 * are reported at once.  An ICE restart gathers anew
 * (start_local_generation). */
static void
ice_candidate(void *data, const char *candidate)
{
  p2psig_peer *peer = data;

  if (candidate)
    g_ptr_array_add(peer->local_candidates, g_strdup(candidate));
  else if (!peer->local_set)
    peer->local_gathering_done = true;
  if (peer->local_set)
    emit_candidate(peer, candidate);
}

static void
emit_gathered_candidates(p2psig_peer *peer)
{
  set_gathering_state(peer, P2PSIG_ICE_GATHERING_GATHERING);
  for (guint i = 0; i < peer->local_candidates->len; i++)
    emit_candidate(peer, peer->local_candidates->pdata[i]);
  if (peer->local_gathering_done)
    emit_candidate(peer, NULL);
}

static void
ice_state(void *data, enum p2psig_ice_state state)
{
  p2psig_peer *peer = data;

  peer->ice_state = state;
  update_ice_connection_state(peer);
  switch (state) {
  case P2PSIG_ICE_CHECKING:
    /* An ICE restart checks again while the old pair carries the
     * connection: still connected (W3C). */
    if (!peer->dtls_started)
      set_state(peer, P2PSIG_STATE_CONNECTING, 0);
    break;
  case P2PSIG_ICE_CONNECTED:
  case P2PSIG_ICE_COMPLETED:
    if (!peer->dtls_started)
      set_state(peer, P2PSIG_STATE_CONNECTING, 0);
    maybe_start_dtls(peer);
    break;
  case P2PSIG_ICE_FAILED:
    p2psig__peer_fail(peer, P2PSIG_EICE);
    break;
  default:
    break;
  }
}

/* The top of the receive path: libnice's callback, with the lock held.
 * The events the datagram caused go to the dispatcher together once DTLS
 * and SCTP have returned. */
static void
ice_receive(void *data, const uint8_t *buf, size_t len)
{
  p2psig_peer *peer = data;

  /* RFC 7983: DTLS records start with a byte in 20..63. */
  if (len == 0 || buf[0] < 20 || buf[0] > 63)
    return;
  if (peer->dtls_started) {
    peer->receiving = true;
    p2psig__dtls_feed(peer->dtls, buf, len);
    peer->receiving = false;
    flush_events(peer);
  } else if (peer->early_datagrams->len < EARLY_DATAGRAMS_MAX) {
    g_ptr_array_add(peer->early_datagrams, g_bytes_new(buf, len));
  }
}

static const struct p2psig_ice_callbacks ice_callbacks = {
  .on_candidate = ice_candidate,
  .on_state = ice_state,
  .on_receive = ice_receive,
};

/* ---- configuration ---- */

/* Checks what p2psig_peer_new cannot honour; a reason in *detail. */
static int
check_config(const p2psig_peer_config *cfg, char **detail)
{
  if (cfg->port_min && cfg->port_max && cfg->port_min > cfg->port_max) {
    *detail = g_strdup_printf("port_min %u above port_max %u",
                              cfg->port_min, cfg->port_max);
    return P2PSIG_EINVAL;
  }
  if (cfg->local_addresses && !cfg->local_addresses[0]) {
    *detail = g_strdup("local_addresses is empty (NULL means every "
                       "interface)");
    return P2PSIG_EINVAL;
  }
  for (const char *const *a = cfg->local_addresses; a && *a; a++) {
    if (!g_hostname_is_ip_address(*a)) {
      *detail = g_strdup_printf("local address \"%.64s\" is not an IP "
                                "address", *a);
      return P2PSIG_EINVAL;
    }
    if (!p2psig__is_local_address(*a)) {
      *detail = g_strdup_printf("local address %s is not an address of "
                                "this host", *a);
      return P2PSIG_EINVAL;
    }
  }
  if (cfg->ice_transport_policy != P2PSIG_ICE_TRANSPORT_ALL &&
      cfg->ice_transport_policy != P2PSIG_ICE_TRANSPORT_RELAY) {
    *detail = g_strdup_printf("unknown ice_transport_policy %d",
                              (int)cfg->ice_transport_policy);
    return P2PSIG_EINVAL;
  }
  if (cfg->address_family != P2PSIG_ADDRESS_FAMILY_ANY &&
      cfg->address_family != P2PSIG_ADDRESS_FAMILY_IPV4 &&
      cfg->address_family != P2PSIG_ADDRESS_FAMILY_IPV6) {
    *detail = g_strdup_printf("unknown address_family %d",
                              (int)cfg->address_family);
    return P2PSIG_EINVAL;
  }
  if (cfg->private_key_pem && !cfg->certificate_pem) {
    *detail = g_strdup("private_key_pem without certificate_pem");
    return P2PSIG_EINVAL;
  }
  return 0;
}

static int
socket_family(p2psig_address_family family)
{
  switch (family) {
  case P2PSIG_ADDRESS_FAMILY_IPV4:
    return G_SOCKET_FAMILY_IPV4;
  case P2PSIG_ADDRESS_FAMILY_IPV6:
    return G_SOCKET_FAMILY_IPV6;
  default:
    return 0;
  }
}

/* The local addresses of the family asked for (checked by check_config);
 * P2PSIG_EINVAL when none is left. */
static int
filter_local_addresses(p2psig_peer *peer, const p2psig_peer_config *cfg,
                       char **detail)
{
  int family = socket_family(cfg->address_family);
  GPtrArray *kept = g_ptr_array_new();

  for (const char *const *a = cfg->local_addresses; *a; a++) {
    g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(*a);

    if (family && (int)g_inet_address_get_family(ip) != family) {
      g_debug("local address %s skipped: address_family is %s only", *a,
              family == G_SOCKET_FAMILY_IPV4 ? "IPv4" : "IPv6");
      continue;
    }
    g_ptr_array_add(kept, g_strdup(*a));
  }
  g_ptr_array_add(kept, NULL);
  peer->local_addresses = (char **)g_ptr_array_free(kept, FALSE);
  if (!peer->local_addresses[0]) {
    *detail = g_strdup_printf("no local address is %s, as address_family "
                              "asks", family == G_SOCKET_FAMILY_IPV4
                                        ? "IPv4" : "IPv6");
    return P2PSIG_EINVAL;
  }
  return 0;
}

/* The CAs trusted for turns: servers, read once here. */
static int
load_tls_ca(const char *path, GTlsDatabase **out, char **detail)
{
  g_autoptr(GError) error = NULL;
  /* GTlsFileDatabase wants an absolute path. */
  g_autofree char *absolute = g_canonicalize_filename(path, NULL);
  GList *certificates = g_tls_certificate_list_new_from_file(absolute,
                                                             &error);

  *out = NULL;
  if (!certificates) {
    *detail = g_strdup_printf("ice_tls_ca %s: %s", path,
                              error ? error->message : "no certificate");
    return P2PSIG_EINVAL;
  }
  g_list_free_full(certificates, g_object_unref);
  *out = g_tls_file_database_new(absolute, &error);
  if (!*out) {
    *detail = g_strdup_printf("ice_tls_ca %s: %s", path, error->message);
    return P2PSIG_EINVAL;
  }
  return 0;
}

/* ---- lifetime ---- */

/* Frees what p2psig_peer_new allocated, once the transports, events and
 * channels are gone, and drops the application's reference: the memory
 * goes with the last one (a callback still running, a pending resume). */
static void
free_peer(p2psig_peer *peer)
{
  p2psig__dtls_cert_free(peer->cert);
  p2psig__sdp_remote_clear(&peer->remote);
  g_free(peer->remote_sdp);
  g_free(peer->local_ufrag);
  g_free(peer->local_pwd);
  g_ptr_array_unref(peer->local_candidates);
  g_array_unref(peer->pending_candidates);
  g_hash_table_unref(peer->remote_candidate_keys);
  g_ptr_array_unref(peer->early_datagrams);
  p2psig__channels_end(&peer->channels);
  g_strfreev(peer->local_addresses);
  peer_unref(peer);
}

p2psig_peer *
p2psig_peer_new(const p2psig_peer_config *config, int *error)
{
  p2psig_peer *peer;
  p2psig_peer_config cfg = { 0 };
  struct p2psig_ice_options ice_options = { 0 };
  struct p2psig_ice_servers servers = { 0 };
  GTlsDatabase *tls_ca = NULL;
  g_autofree char *detail = NULL;
  int err = 0;

  if (!config) {
    err = P2PSIG_EINVAL;
    goto fail_early;
  }
  err = p2psig__config_copy(&cfg, sizeof cfg, config, config->size,
                            "p2psig_peer_config", "P2PSIG_PEER_CONFIG_INIT",
                            &detail);
  if (err < 0) {
    g_debug("peer configuration refused: %s", detail);
    goto fail_early;
  }
  /* Before the checks of local_addresses, which list the interfaces
   * through a socket of their own and would find none. */
  if (!p2psig__descriptors_left(PEER_DESCRIPTORS)) {
    err = P2PSIG_EDESCRIPTORS;
    goto fail_early;
  }

  peer = g_new0(p2psig_peer, 1);
  peer->magic = PEER_MAGIC;
  peer->refcount = 1;
  g_atomic_int_inc(&peers_alive);
  peer->loop = p2psig__loop_next();
  p2psig__dispatch_init(&peer->dispatch, &dispatch_ops, peer, peer->loop);
  peer->config = cfg;
  /* Copied below into what needs them; never kept as given. */
  peer->config.ice_servers = NULL;
  peer->config.local_addresses = NULL;
  peer->config.ice_server_list = NULL;
  peer->config.ice_server_count = 0;
  peer->config.ice_tls_ca = NULL;
  peer->config.certificate_pem = NULL;
  peer->config.private_key_pem = NULL;
  peer->state = P2PSIG_STATE_NEW;
  peer->remote_max_message_size = P2PSIG_DEFAULT_REMOTE_MAX_MESSAGE_SIZE;
  peer->disconnected_after_s = DISCONNECTED_AFTER_S;
  peer->failed_after_s = FAILED_AFTER_S;
  peer->local_candidates = g_ptr_array_new_with_free_func(g_free);
  peer->pending_candidates = g_array_new(FALSE, FALSE,
                                         sizeof(struct p2psig_candidate));
  peer->remote_candidate_keys = g_hash_table_new_full(g_str_hash,
                                                      g_str_equal, g_free,
                                                      NULL);
  peer->early_datagrams =
    g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  p2psig__channels_init(&peer->channels, cfg.send_buffer_limit);
  g_queue_init(&peer->events);
  g_queue_init(&peer->observed);
  peer->remote.candidates = g_ptr_array_new_with_free_func(g_free);

  err = check_config(&cfg, &detail);
  if (err == 0 && cfg.local_addresses)
    err = filter_local_addresses(peer, &cfg, &detail);
  if (err == 0 && cfg.certificate_pem)
    err = p2psig__dtls_cert_from_pem(cfg.certificate_pem,
                                     cfg.private_key_pem, &peer->cert,
                                     &detail);
  if (err == 0)
    err = p2psig__ice_servers_parse(cfg.ice_servers, cfg.ice_server_list,
                                    cfg.ice_server_count, &servers, &detail);
  if (err == 0 && cfg.ice_tls_ca)
    err = load_tls_ca(cfg.ice_tls_ca, &tls_ca, &detail);
  if (err < 0) {
    g_debug("peer configuration refused: %s", detail);
    goto fail;
  }
  for (size_t i = 0; i < servers.stun_unused; i++)
    g_debug("ICE servers: libnice takes one STUN server, %s:%u; a further "
            "one is not queried", servers.stun.host, servers.stun.port);

  if (!peer->cert) {
    err = p2psig__dtls_cert_new(&peer->cert);
    if (err < 0)
      goto fail;
  }

  ice_options.local_addresses = (const char *const *)peer->local_addresses;
  ice_options.port_min = cfg.port_min;
  ice_options.port_max = cfg.port_max;
  ice_options.ice_tcp = !cfg.disable_ice_tcp;
  ice_options.relay_only =
    cfg.ice_transport_policy == P2PSIG_ICE_TRANSPORT_RELAY;
  ice_options.servers = &servers;
  ice_options.tls_ca = tls_ca;
  ice_options.mdns_host_candidates = cfg.mdns_host_candidates;
  ice_options.family = socket_family(cfg.address_family);
  ice_options.loop = peer->loop;
  peer->ice = p2psig__ice_new(&ice_options, &ice_callbacks, peer, &err);
  if (!peer->ice)
    goto fail;
  p2psig__ice_servers_clear(&servers);
  g_clear_object(&tls_ca);
  if (error)
    *error = 0;
  return peer;

fail:
  p2psig__ice_servers_clear(&servers);
  g_clear_object(&tls_ca);
  free_peer(peer);
fail_early:
  if (error)
    *error = err ? err : P2PSIG_EINTERNAL;
  return NULL;
}

/* Releases the transports; runs on the library context, so that no libnice
 * or timer callback of this peer can be running or pending meanwhile. */
static void
release_transports(p2psig_peer *peer)
{
  stop_liveness(peer);
  g_clear_pointer(&peer->sctp, p2psig__sctp_free);
  g_clear_pointer(&peer->dtls, p2psig__dtls_free);
  if (peer->ice) {
    p2psig__ice_closing_wait(peer->ice_closing, 0);
    peer->ice_closing = p2psig__ice_free(peer->ice);
    peer->ice = NULL;
  }
}

struct teardown {
  p2psig_peer *peer;
  struct p2psig_ice_closing *ice_closing; /* out: libnice's close */
};

static void
teardown(void *data)
{
  struct teardown *args = data;
  p2psig_peer *peer = args->peer;
  struct p2psig_loop *loop = peer->loop; /* the peer may be gone below */

  p2psig__lock(loop);
  release_transports(peer);
  args->ice_closing = peer->ice_closing;
  peer->ice_closing = NULL;
  if (peer->release_source) {
    g_source_destroy(peer->release_source);
    g_clear_pointer(&peer->release_source, g_source_unref);
  }
  if (peer->observer_source) {
    g_source_destroy(peer->observer_source);
    g_clear_pointer(&peer->observer_source, g_source_unref);
  }
  g_queue_clear_full(&peer->events, event_free);
  g_queue_clear_full(&peer->observed, g_free);
  p2psig__channels_release_all(peer);
  free_peer(peer);
  p2psig__unlock(loop);
}

/* Freed from inside a callback, or on the library thread: libnice
 * finishes closing in the background. */
static gboolean
teardown_idle(gpointer data)
{
  struct teardown args = { data, NULL };

  teardown(&args);
  p2psig__ice_closing_wait(args.ice_closing, 0);
  return G_SOURCE_REMOVE;
}

/* The teardown runs on the library context, so that no libnice or timer
 * callback of this peer can be running or pending meanwhile. */
static void
schedule_teardown(p2psig_peer *peer)
{
  post_to_loop(teardown_idle, peer, NULL, G_PRIORITY_DEFAULT_IDLE);
}

void
p2psig_peer_free(p2psig_peer *peer)
{
  bool on_loop;

  if (!peer_valid(peer))
    return;
  p2psig__lock(peer->loop);
  if (peer->freed) {
    p2psig__unlock(peer->loop);
    return;
  }
  peer->freed = true; /* no event is queued any more */
  p2psig__unlock(peer->loop);
  on_loop = p2psig__loop_is_current(peer->loop);
  if (!p2psig__dispatch_stop(&peer->dispatch, p2psig__loop_may_wait()))
    return; /* the teardown follows the callback still running */
  if (on_loop) {
    schedule_teardown(peer);
  } else {
    struct teardown args = { peer, NULL };

    p2psig__loop_run_sync(peer->loop, teardown, &args);
    /* Bounded: a TURN server that never answers costs at most this. */
    if (!p2psig__ice_closing_wait(args.ice_closing,
                                  P2PSIG_ICE_CLOSE_TIMEOUT_MS))
      g_debug("peer %p: libnice still closing after %d ms", (void *)peer,
              P2PSIG_ICE_CLOSE_TIMEOUT_MS);
  }
}

static gboolean
release_transports_idle(gpointer data)
{
  p2psig_peer *peer = data;

  g_clear_pointer(&peer->release_source, g_source_unref);
  release_transports(peer);
  return G_SOURCE_REMOVE;
}

/* Closes the channels and the peer, tells the remote (an SCTP ABORT when
 * abort_sctp, then a DTLS close_notify, or ours in return for its own),
 * and releases the transports from the loop, outside the layers' upcalls
 * that a remote's close comes from.  error: 0 when we closed,
 * P2PSIG_ECLOSED_BY_REMOTE when the remote did. */
static void
close_locked(p2psig_peer *peer, bool abort_sctp, int error)
{
  if (peer->freed || peer->closed)
    return;
  /* A failed peer stays failed until the application closes it. */
  if (error && peer->state == P2PSIG_STATE_FAILED)
    return;
  if (error)
    g_debug("peer %p: closed by the remote", (void *)peer);
  peer->closed = true;
  stop_liveness(peer);
  p2psig__channels_close_all(peer);
  if (abort_sctp)
    g_clear_pointer(&peer->sctp, p2psig__sctp_free);
  if (peer->dtls)
    p2psig__dtls_shutdown(peer->dtls);
  set_state(peer, P2PSIG_STATE_CLOSED, error);
  peer->release_source = p2psig__loop_idle(peer->loop,
                                           release_transports_idle, peer,
                                           NULL);
}

void
p2psig_peer_close(p2psig_peer *peer)
{
  if (!peer_valid(peer))
    return;
  p2psig__lock(peer->loop);
  close_locked(peer, true, 0);
  p2psig__unlock(peer->loop);
}

/* ---- negotiation ---- */

static uint64_t
random_session_id(void)
{
  /* 62 bits, as browsers do, so it stays positive in any SDP parser. */
  return ((uint64_t)g_random_int() << 30) ^ g_random_int();
}

/* The local description as it stands: the last one made, with the
 * candidates gathered since.  g_free. */
static char *
render_local_sdp(const p2psig_peer *peer)
{
  struct p2psig_sdp_local local = {
    .offer = peer->local_offer,
    .session_id = peer->session_id,
    .session_version = peer->session_version,
    .ice_ufrag = peer->local_ufrag,
    .ice_pwd = peer->local_pwd,
    .fingerprint = p2psig__dtls_cert_fingerprint(peer->cert),
    .setup = peer->local_setup,
    .mid = peer->remote.mid ? peer->remote.mid : "0",
    .sctp_port = P2PSIG_SCTP_PORT,
    .max_message_size = P2PSIG_MAX_MESSAGE_SIZE,
    .candidates = peer->local_candidates,
  };

  return p2psig__sdp_build(&local);
}

/* A new local description (RFC 3264 section 5: the same session id, the
 * next version). */
static char *
build_local_sdp(p2psig_peer *peer, bool offer, enum p2psig_setup setup)
{
  if (peer->session_version == 0) {
    peer->session_id = random_session_id();
    peer->session_version = 1;
  }
  peer->session_version++;
  peer->local_offer = offer;
  peer->local_setup = setup;
  /* Copied: the getter works after the ICE agent is gone (closed). */
  g_free(peer->local_ufrag);
  g_free(peer->local_pwd);
  peer->local_ufrag = g_strdup(p2psig__ice_local_ufrag(peer->ice));
  peer->local_pwd = g_strdup(p2psig__ice_local_pwd(peer->ice));
  return render_local_sdp(peer);
}

/* Both descriptions known: set up DTLS and SCTP objects, then start. */
static int
descriptions_complete(p2psig_peer *peer)
{
  peer->dtls = p2psig__dtls_new(peer->loop, peer->cert, peer->dtls_client,
                                peer->remote.fingerprint, &dtls_callbacks,
                                peer);
  if (!peer->dtls)
    return P2PSIG_EDTLS;
  maybe_start_dtls(peer);
  return 0;
}

int
p2psig_peer_create_offer(p2psig_peer *peer, char **sdp)
{
  int ret = 0;

  if (!peer_valid(peer) || !sdp)
    return P2PSIG_EINVAL;
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed) {
    ret = P2PSIG_ECLOSED;
  } else if (peer->local_set || peer->remote_set) {
    ret = P2PSIG_ESTATE;
  } else {
    peer->offerer = true;
    p2psig__ice_set_controlling(peer->ice, true);
    ret = p2psig__ice_gather(peer->ice);
  }
  if (ret == 0) {
    *sdp = build_local_sdp(peer, true, P2PSIG_SETUP_ACTPASS);
    peer->local_set = true;
    emit_gathered_candidates(peer);
  }
  p2psig__unlock(peer->loop);
  return ret;
}

int
p2psig_peer_create_answer(p2psig_peer *peer, char **sdp)
{
  int ret = 0;

  if (!peer_valid(peer) || !sdp)
    return P2PSIG_EINVAL;
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed) {
    ret = P2PSIG_ECLOSED;
  } else if (peer->restart_answer_due) {
    /* The answer to an ICE restart: the roles stay as they are. */
    *sdp = build_local_sdp(peer, false,
                           peer->dtls_client ? P2PSIG_SETUP_ACTIVE
                                             : P2PSIG_SETUP_PASSIVE);
    peer->restart_answer_due = false;
    p2psig__unlock(peer->loop);
    return 0;
  } else if (peer->offerer || !peer->remote_set || peer->local_set) {
    ret = P2PSIG_ESTATE;
  } else {
    /* We take the DTLS client role unless the offer insists on it. */
    peer->dtls_client = peer->remote.setup != P2PSIG_SETUP_ACTIVE;
    ret = p2psig__ice_gather(peer->ice);
  }
  if (ret == 0) {
    *sdp = build_local_sdp(peer, false,
                           peer->dtls_client ? P2PSIG_SETUP_ACTIVE
                                             : P2PSIG_SETUP_PASSIVE);
    peer->local_set = true;
    emit_gathered_candidates(peer);
    ret = descriptions_complete(peer);
  }
  p2psig__unlock(peer->loop);
  return ret;
}

/* What makes two remote candidates the same one for us: a copy is
 * ignored, whether it came in the description or trickled.  g_free. */
static char *
candidate_key(const struct p2psig_candidate *c)
{
  return g_strdup_printf("%d %d %u %" G_GUINT32_FORMAT " %s %s %u",
                         (int)c->transport, (int)c->type, c->component,
                         c->priority, c->foundation, c->address, c->port);
}

/* Records key (taken) unless a copy is known; returns whether it is new. */
static bool
remember_candidate(p2psig_peer *peer, char *key)
{
  if (g_hash_table_contains(peer->remote_candidate_keys, key)) {
    g_free(key);
    return false;
  }
  g_hash_table_add(peer->remote_candidate_keys, key);
  return true;
}

static void
apply_remote_candidate(p2psig_peer *peer, const char *text)
{
  struct p2psig_candidate c;
  g_autofree char *detail = NULL;

  if (p2psig__candidate_parse(text, &c, &detail) < 0) {
    g_debug("remote candidate ignored: %s", detail);
    return;
  }
  /* A copy of one trickled before: that one is applied below. */
  if (!remember_candidate(peer, candidate_key(&c)))
    return;
  if (p2psig__ice_add_remote_candidate(peer->ice, &c, &detail) < 0)
    /* The parsed address, not the remote's raw text, goes to the log. */
    g_debug("remote candidate %s:%u ignored: %s", c.address, c.port, detail);
}

/* Applies the candidates trickled before the remote description, each
 * once (add_trickled_candidate_locked dropped the copies). */
static void
apply_pending_candidates(p2psig_peer *peer)
{
  for (guint i = 0; i < peer->pending_candidates->len; i++) {
    const struct p2psig_candidate *c =
      &g_array_index(peer->pending_candidates, struct p2psig_candidate, i);
    g_autofree char *detail = NULL;

    if (p2psig__ice_add_remote_candidate(peer->ice, c, &detail) < 0)
      g_debug("remote candidate %s:%u ignored: %s", c->address, c->port,
              detail);
  }
  g_array_set_size(peer->pending_candidates, 0);
}

/* Takes a trickled candidate: a copy of one taken before is ignored (0);
 * past P2PSIG_MAX_REMOTE_CANDIDATES, P2PSIG_ELIMIT.  Held until the remote
 * description, parsed: a few hundred bytes each, whatever the text was. */
static int
add_trickled_candidate_locked(p2psig_peer *peer,
                              const struct p2psig_candidate *c, char *key,
                              char **detail)
{
  int ret;

  if (g_hash_table_contains(peer->remote_candidate_keys, key)) {
    g_free(key);
    return 0;
  }
  if (peer->trickled_candidates >= P2PSIG_MAX_REMOTE_CANDIDATES) {
    g_free(key);
    *detail = g_strdup_printf("more than %u remote candidates",
                              (unsigned)P2PSIG_MAX_REMOTE_CANDIDATES);
    return P2PSIG_ELIMIT;
  }
  if (peer->remote_set) {
    ret = p2psig__ice_add_remote_candidate(peer->ice, c, detail);
    if (ret < 0) {
      g_free(key);
      return ret;
    }
  } else {
    g_array_append_val(peer->pending_candidates, *c);
  }
  remember_candidate(peer, key);
  peer->trickled_candidates++;
  return 0;
}

/* ---- ICE restart (RFC 8445 section 9) ---- */

/* Our side of a restart: a new stream, gathered anew; its host candidates
 * arrive during this call (ice_candidate), in time for the description. */
static int
start_local_generation(p2psig_peer *peer)
{
  g_ptr_array_set_size(peer->local_candidates, 0);
  peer->local_gathering_done = false;
  set_gathering_state(peer, P2PSIG_ICE_GATHERING_GATHERING);
  return p2psig__ice_restart(peer->ice);
}

/* The remote's new credentials and candidates, for a new generation of
 * checks: the copies met before are new again. */
static void
apply_generation_locked(p2psig_peer *peer, struct p2psig_sdp_remote *remote)
{
  g_hash_table_remove_all(peer->remote_candidate_keys);
  peer->trickled_candidates = 0;
  g_array_set_size(peer->pending_candidates, 0);
  g_free(peer->remote.ice_ufrag);
  g_free(peer->remote.ice_pwd);
  peer->remote.ice_ufrag = g_steal_pointer(&remote->ice_ufrag);
  peer->remote.ice_pwd = g_steal_pointer(&remote->ice_pwd);
  for (guint i = 0; i < remote->candidates->len; i++)
    apply_remote_candidate(peer, remote->candidates->pdata[i]);
  g_ptr_array_set_size(remote->candidates, 0);
}

/* A description after the first: an ICE restart, or nothing we take.  A
 * restart keeps the DTLS session (the same fingerprint and roles) and
 * changes the ICE credentials; anything else stays refused with
 * P2PSIG_ESTATE, as before. */
static int
apply_restart_locked(p2psig_peer *peer, p2psig_sdp_type type,
                     struct p2psig_sdp_remote *remote)
{
  int ret;

  if (memcmp(remote->fingerprint, peer->remote.fingerprint,
             sizeof remote->fingerprint) != 0 ||
      (strcmp(remote->ice_ufrag, peer->remote.ice_ufrag) == 0 &&
       strcmp(remote->ice_pwd, peer->remote.ice_pwd) == 0))
    return P2PSIG_ESTATE;
  if (type == P2PSIG_SDP_ANSWER) {
    if (!peer->offerer || !peer->restarting)
      return P2PSIG_ESTATE;
    /* libnice forgot the remote credentials when we restarted. */
    ret = p2psig__ice_set_remote_credentials(peer->ice, remote->ice_ufrag,
                                             remote->ice_pwd);
    if (ret < 0)
      return ret;
    peer->restarting = false;
  } else {
    if (peer->offerer || !peer->local_set || peer->restart_answer_due)
      return P2PSIG_ESTATE;
    ret = start_local_generation(peer);
    if (ret == 0)
      ret = p2psig__ice_set_remote_credentials(peer->ice, remote->ice_ufrag,
                                               remote->ice_pwd);
    if (ret < 0)
      return ret;
    peer->restart_answer_due = true;
  }
  g_debug("ICE restart: remote credentials %s", remote->ice_ufrag);
  apply_generation_locked(peer, remote);
  return 0;
}

int
p2psig_peer_restart_ice(p2psig_peer *peer, char **sdp)
{
  int ret;

  if (!peer_valid(peer) || !sdp)
    return P2PSIG_EINVAL;
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed)
    ret = P2PSIG_ECLOSED;
  else if (!peer->offerer || !peer->remote_set || peer->restarting)
    ret = P2PSIG_ESTATE;
  else
    ret = start_local_generation(peer);
  if (ret == 0) {
    peer->restarting = true;
    *sdp = build_local_sdp(peer, true, P2PSIG_SETUP_ACTPASS);
    g_debug("ICE restart: new offer, local credentials %s",
            p2psig__ice_local_ufrag(peer->ice));
  }
  p2psig__unlock(peer->loop);
  return ret;
}

/* For p2psig_peer_get_remote_description: the text as given, the
 * latest only.  Its size is the caller's (the signaling bounds what it
 * takes from the network, 64 KiB). */
static void
keep_remote_sdp(p2psig_peer *peer, p2psig_sdp_type type, const char *sdp)
{
  g_free(peer->remote_sdp);
  peer->remote_sdp = g_strdup(sdp);
  peer->remote_type = type;
}

int
p2psig_peer_set_remote_description(p2psig_peer *peer, p2psig_sdp_type type,
                                   const char *sdp)
{
  struct p2psig_sdp_remote remote = { 0 };
  g_autofree char *detail = NULL;
  int ret;

  if (!peer_valid(peer) || !sdp ||
      (type != P2PSIG_SDP_OFFER && type != P2PSIG_SDP_ANSWER))
    return P2PSIG_EINVAL;
  ret = p2psig__sdp_parse(sdp, &remote, &detail);
  if (ret < 0) {
    g_debug("remote SDP refused: %s", detail);
    return ret;
  }
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed) {
    ret = P2PSIG_ECLOSED;
    goto out;
  }
  if (peer->remote_set) {
    ret = apply_restart_locked(peer, type, &remote);
    if (ret == 0)
      keep_remote_sdp(peer, type, sdp);
    goto out;
  }
  if ((type == P2PSIG_SDP_OFFER && peer->local_set) ||
      (type == P2PSIG_SDP_ANSWER && !(peer->offerer && peer->local_set))) {
    ret = P2PSIG_ESTATE;
    goto out;
  }
  ret = p2psig__ice_set_remote_credentials(peer->ice, remote.ice_ufrag,
                                           remote.ice_pwd);
  if (ret < 0)
    goto out;
  p2psig__sdp_remote_clear(&peer->remote);
  peer->remote = remote;
  memset(&remote, 0, sizeof remote);
  /* Atomic for p2psig__peer_has_remote_description(). */
  __atomic_store_n(&peer->remote_set, true, __ATOMIC_RELEASE);
  if (peer->remote.max_message_size > 0)
    peer->remote_max_message_size = peer->remote.max_message_size;
  if (type == P2PSIG_SDP_OFFER) {
    p2psig__ice_set_controlling(peer->ice, false);
  } else {
    /* The answerer chose; actpass in an answer is invalid, and we read
     * it as active. */
    peer->dtls_client = peer->remote.setup == P2PSIG_SETUP_PASSIVE;
    ret = descriptions_complete(peer);
  }
  for (guint i = 0; i < peer->remote.candidates->len; i++)
    apply_remote_candidate(peer, peer->remote.candidates->pdata[i]);
  /* Their texts are of no further use. */
  g_ptr_array_set_size(peer->remote.candidates, 0);
  apply_pending_candidates(peer);
  keep_remote_sdp(peer, type, sdp);
out:
  p2psig__unlock(peer->loop);
  p2psig__sdp_remote_clear(&remote);
  return ret;
}

int
p2psig_peer_add_candidate(p2psig_peer *peer, const char *candidate)
{
  struct p2psig_candidate c;
  g_autofree char *detail = NULL;
  char *key;
  int ret = 0;

  if (!peer_valid(peer) || !candidate)
    return P2PSIG_EINVAL;
  if (candidate[0] == '\0')
    return 0; /* end of candidates: libnice keeps checking what it has */
  ret = p2psig__candidate_parse(candidate, &c, &detail);
  if (ret < 0) {
    g_debug("remote candidate refused: %s", detail);
    return ret;
  }
  /* A candidate we cannot use is no error of the remote's (W3C
   * addIceCandidate takes any that parses): dropped now, never held. */
  if (p2psig__ice_candidate_usable(&c, &detail) < 0) {
    g_debug("remote candidate ignored: %s", detail);
    return 0;
  }
  key = candidate_key(&c);
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed) {
    g_free(key);
    ret = P2PSIG_ECLOSED;
  } else {
    ret = add_trickled_candidate_locked(peer, &c, key, &detail);
  }
  if (ret < 0 && detail)
    g_debug("remote candidate refused: %s", detail);
  p2psig__unlock(peer->loop);
  return ret;
}

p2psig_state
p2psig_peer_get_state(const p2psig_peer *peer)
{
  p2psig_state state;

  if (!peer_valid(peer))
    return P2PSIG_STATE_CLOSED;
  p2psig__lock(peer->loop);
  state = peer->state;
  p2psig__unlock(peer->loop);
  return state;
}

p2psig_ice_gathering_state
p2psig_peer_get_ice_gathering_state(const p2psig_peer *peer)
{
  p2psig_ice_gathering_state state;

  if (!peer_valid(peer))
    return P2PSIG_ICE_GATHERING_NEW;
  p2psig__lock(peer->loop);
  state = peer->ice_gathering_state;
  p2psig__unlock(peer->loop);
  return state;
}

p2psig_ice_connection_state
p2psig_peer_get_ice_connection_state(const p2psig_peer *peer)
{
  p2psig_ice_connection_state state;

  if (!peer_valid(peer))
    return P2PSIG_ICE_CONNECTION_CLOSED;
  p2psig__lock(peer->loop);
  state = peer->ice_connection_state;
  p2psig__unlock(peer->loop);
  return state;
}

/* The local description (rebuilt) or the remote one (as given). */
static int
get_description(const p2psig_peer *peer, bool local, p2psig_sdp_type *type,
                char **sdp)
{
  int ret = 0;

  if (!sdp)
    return P2PSIG_EINVAL;
  *sdp = NULL;
  if (!peer_valid(peer))
    return P2PSIG_EINVAL;
  p2psig__lock(peer->loop);
  if (local ? !peer->local_set : !peer->remote_sdp) {
    ret = P2PSIG_ESTATE;
  } else if (local) {
    *sdp = render_local_sdp(peer);
    if (type)
      *type = peer->local_offer ? P2PSIG_SDP_OFFER : P2PSIG_SDP_ANSWER;
  } else {
    *sdp = g_strdup(peer->remote_sdp);
    if (type)
      *type = peer->remote_type;
  }
  p2psig__unlock(peer->loop);
  return ret;
}

int
p2psig_peer_get_local_description(const p2psig_peer *peer,
                                  p2psig_sdp_type *type, char **sdp)
{
  return get_description(peer, true, type, sdp);
}

int
p2psig_peer_get_remote_description(const p2psig_peer *peer,
                                   p2psig_sdp_type *type, char **sdp)
{
  return get_description(peer, false, type, sdp);
}

int
p2psig_peer_get_certificate(const p2psig_peer *peer, char **certificate_pem,
                            char **private_key_pem)
{
  int ret;

  if (!certificate_pem)
    return P2PSIG_EINVAL;
  *certificate_pem = NULL;
  if (private_key_pem)
    *private_key_pem = NULL;
  if (!peer_valid(peer))
    return P2PSIG_EINVAL;
  /* The certificate never changes once the peer exists. */
  ret = p2psig__dtls_cert_to_pem(peer->cert, certificate_pem,
                                 private_key_pem);
  return ret;
}

void *
p2psig_peer_get_user_data(const p2psig_peer *peer)
{
  return peer_valid(peer) ? peer->config.user_data : NULL;
}

static void
copy_candidate(const NiceCandidate *c, char *address, size_t address_size,
               uint16_t *port, char *type, size_t type_size)
{
  static const char *const types[] = { "host", "srflx", "prflx", "relay" };
  char buf[NICE_ADDRESS_STRING_LEN];

  nice_address_to_string(&c->addr, buf);
  g_strlcpy(address, buf, address_size);
  *port = (uint16_t)nice_address_get_port(&c->addr);
  g_strlcpy(type, (unsigned)c->type < G_N_ELEMENTS(types) ? types[c->type]
                                                          : "host",
            type_size);
}

static const char *
protocol_name(const NiceCandidate *c)
{
  return c->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp";
}

int
p2psig_peer_get_stats(const p2psig_peer *peer, p2psig_peer_stats *stats)
{
  p2psig_peer_stats s = { 0 };
  NiceCandidate *local = NULL, *remote = NULL;

  if (!peer_valid(peer) || !stats || stats->size < sizeof(size_t))
    return P2PSIG_EINVAL;
  p2psig__lock(peer->loop);
  s.size = MIN(stats->size, sizeof s);
  s.messages_sent = peer->messages_sent;
  s.bytes_sent = peer->bytes_sent;
  s.messages_received = peer->messages_received;
  s.bytes_received = peer->bytes_received;
  if (peer->ice && p2psig__ice_selected_pair(peer->ice, &local, &remote)) {
    s.has_selected_pair = true;
    copy_candidate(local, s.local_address, sizeof s.local_address,
                   &s.local_port, s.local_type, sizeof s.local_type);
    copy_candidate(remote, s.remote_address, sizeof s.remote_address,
                   &s.remote_port, s.remote_type, sizeof s.remote_type);
    g_strlcpy(s.local_protocol, protocol_name(local), sizeof s.local_protocol);
    g_strlcpy(s.remote_protocol, protocol_name(remote),
              sizeof s.remote_protocol);
    g_strlcpy(s.local_relay_protocol,
              p2psig__ice_relay_protocol(peer->ice, local),
              sizeof s.local_relay_protocol);
  }
  if (peer->sctp)
    s.rtt_ms = p2psig__sctp_rtt_ms(peer->sctp);
  p2psig__unlock(peer->loop);
  memcpy(stats, &s, s.size);
  return 0;
}

void
p2psig__peer_set_observer(p2psig_peer *peer,
                          const struct p2psig_peer_observer *observer,
                          void *data, struct p2psig_loop *loop)
{
  p2psig__lock(peer->loop);
  peer->observer = observer;
  peer->observer_data = data;
  peer->observer_loop = observer ? loop : NULL;
  /* A source on the old observer's loop would call the new one there. */
  if (peer->observer_source) {
    g_source_destroy(peer->observer_source);
    g_clear_pointer(&peer->observer_source, g_source_unref);
  }
  if (!g_queue_is_empty(&peer->observed) && !peer->freed)
    schedule_observer(peer);
  p2psig__unlock(peer->loop);
}

struct p2psig_loop *
p2psig__peer_loop(const p2psig_peer *peer)
{
  return peer->loop;
}

bool
p2psig__peer_has_remote_description(const p2psig_peer *peer)
{
  /* The signaling layer asks with the peer's lock held and without it;
   * set once, never cleared. */
  return __atomic_load_n(&peer->remote_set, __ATOMIC_ACQUIRE);
}
