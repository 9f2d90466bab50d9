/* SPDX-License-Identifier: MIT */
/*
 * Object lifetimes between two peers in one process over 127.0.0.1:
 *
 * - /lifetime/callback/<callback>/<action>: the answer closes its peer,
 *   frees it, or closes a channel from inside each of its callbacks, while
 *   the offer streams messages large enough to arrive in pieces.  Nothing
 *   may touch freed memory (the suite runs under ASan in CI), no callback
 *   may follow a free, and every channel gets exactly one on_close.
 * - /lifetime/close-all/<path>/<n>: with n channels open, each way a
 *   connection can end gives every channel exactly one on_close (none
 *   after a free); a remote's close, its SCTP ABORT alone or its DTLS
 *   close_notify alone is closed by the remote at once, a silent remote
 *   ICE disconnected then failed, each before the peer state.
 * - /lifetime/burst/behind-busy-loop: the remote streams while our loop is
 *   busy for 300 ms: our UDP socket drops nothing, and the remote's close
 *   after it is heard at once.
 * - /lifetime/liveness/junk: datagrams that DTLS cannot authenticate,
 *   sent from the remote's address, do not keep a frozen remote alive.
 * - /lifetime/free/waits: p2psig_peer_free() from another thread while one
 *   of the peer's callbacks runs returns once that callback has returned.
 * - /lifetime/free/ring/<n>: n peers' callbacks, all running at once, each
 *   free the next one's peer (2: each other's); no deadlock, no callback
 *   after, nothing touched after it is freed.
 *
 * Tests reach the peer's internals (peer-private.h) only to play a remote
 * that misbehaves: frozen, aborting its association alone, closing only
 * its DTLS session, or failing.
 */
#include <p2psig/p2psig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer-private.h"
#include "testutil.h"

#define WAIT_MS 20000
#define BIG_MESSAGE (300 * 1024) /* several reads of SCTP's 128 KiB */
#define BIG_COUNT 6

enum trigger {
  ON_CANDIDATE,
  ON_STATE,
  ON_CHANNEL,
  ON_OPEN,
  ON_CLOSE,
  ON_MESSAGE,
  ON_BUFFERED_AMOUNT_LOW,
};

static const char *const trigger_names[] = {
  "on_candidate", "on_state", "on_channel", "on_open", "on_close",
  "on_message", "on_buffered_amount_low",
};

enum action { ACT_NONE, ACT_PEER_CLOSE, ACT_PEER_FREE, ACT_CHANNEL_CLOSE };

static const char *const action_names[] = {
  "none", "peer-close", "peer-free", "channel-close",
};

/* What one side saw; every count under the harness's lock. */
struct side {
  struct testutil_side base;
  GHashTable *closes;      /* label -> number of on_close */
  GHashTable *known;       /* label -> 1: created here or announced */
  GPtrArray *refs;         /* channels we hold a reference to */
  int opens, closes_total, messages, lows;
  bool stop_sending;

  enum trigger trigger;
  enum action action;
  bool acted;             /* a callback began the action */
  bool act_done;          /* and act() has returned: the test may end */
  bool closed_channel;     /* the action closed a channel */
  int act_result;
};

static struct side *
side_of(void *user_data)
{
  return ((struct testutil_side *)user_data)->user;
}

static int
count_of(GHashTable *table, const char *label)
{
  return GPOINTER_TO_INT(g_hash_table_lookup(table, label));
}

static void
bump(GHashTable *table, const char *label)
{
  g_hash_table_insert(table, g_strdup(label),
                      GINT_TO_POINTER(count_of(table, label) + 1));
}

/* Lock held: whether this callback is the side's trigger, once. */
static bool
should_act(struct side *side, enum trigger trigger)
{
  if (side->action == ACT_NONE || side->acted || side->trigger != trigger)
    return false;
  side->acted = true;
  if (side->action == ACT_PEER_FREE)
    side->base.freed = true; /* no callback may follow */
  return true;
}

/* Runs the side's action, without the harness's lock.  channel: the one
 * the callback is about, or NULL. */
static void
act(struct side *side, p2psig_peer *peer, p2psig_channel *channel)
{
  int ret = 0;

  switch (side->action) {
  case ACT_PEER_CLOSE:
    p2psig_peer_close(peer);
    p2psig_peer_close(peer); /* twice is harmless */
    break;
  case ACT_PEER_FREE:
    p2psig_peer_free(peer);
    break;
  case ACT_CHANNEL_CLOSE:
    if (!channel) {
      testutil_lock();
      channel = side->refs->len ? side->refs->pdata[0] : NULL;
      testutil_unlock();
    }
    if (channel) {
      ret = p2psig_channel_close(channel);
      testutil_lock();
      side->closed_channel = true;
      testutil_unlock();
    }
    /* A channel already closed (inside its own on_close) says so. */
    if (ret == P2PSIG_ECLOSED)
      ret = 0;
    break;
  case ACT_NONE:
    break;
  }
  testutil_lock();
  side->act_result = ret;
  side->act_done = true; /* the last touch: side may be gone after */
  testutil_unlock();
}

static void
on_candidate(p2psig_peer *peer, const char *candidate, void *user_data)
{
  struct side *side = side_of(user_data);
  bool now;

  testutil_on_candidate(peer, candidate, user_data);
  testutil_lock();
  now = candidate && should_act(side, ON_CANDIDATE);
  testutil_unlock();
  if (now)
    act(side, peer, NULL);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = side_of(user_data);
  bool now;

  testutil_on_state(peer, state, error, user_data);
  testutil_lock();
  now = state == P2PSIG_STATE_CONNECTED && should_act(side, ON_STATE);
  testutil_unlock();
  if (now)
    act(side, peer, NULL);
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  const char *label = p2psig_channel_get_label(channel);
  bool now;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  g_assert_cmpint(count_of(side->known, label), ==, 0);
  bump(side->known, label);
  g_ptr_array_add(side->refs, p2psig_channel_ref(channel));
  now = should_act(side, ON_CHANNEL);
  testutil_unlock();
  if (now)
    act(side, peer, channel);
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  bool now;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  side->opens++;
  now = should_act(side, ON_OPEN);
  testutil_unlock();
  if (now)
    act(side, p2psig_channel_get_peer(channel), channel);
}

static void
on_close(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  const char *label = p2psig_channel_get_label(channel);
  bool now;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  bump(side->closes, label);
  side->closes_total++;
  if (count_of(side->closes, label) > 1)
    g_printerr("# %s: second on_close for '%s'\n", side->base.name, label);
  now = should_act(side, ON_CLOSE);
  testutil_unlock();
  if (now)
    act(side, p2psig_channel_get_peer(channel), channel);
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = side_of(user_data);
  bool now;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  side->messages++;
  now = should_act(side, ON_MESSAGE);
  testutil_unlock();
  if (now)
    act(side, p2psig_channel_get_peer(channel), channel);
}

static void
on_low(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  bool now;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  side->lows++;
  now = should_act(side, ON_BUFFERED_AMOUNT_LOW);
  testutil_unlock();
  if (now)
    act(side, p2psig_channel_get_peer(channel), channel);
}

static void
side_init(struct side *side, const char *name, struct side *other)
{
  p2psig_peer_config cfg = {
    P2PSIG_PEER_CONFIG_INIT,
    .on_candidate = on_candidate,
    .on_state = on_state,
    .on_channel = on_channel,
    .on_open = on_open,
    .on_close = on_close,
    .on_message = on_message,
    .on_buffered_amount_low = on_low,
    .user_data = side,
    .sctp_streams = 2048, /* up to 1,000 channels from one side */
  };

  side->closes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  side->known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  side->refs = g_ptr_array_new_with_free_func(
      (GDestroyNotify)p2psig_channel_unref);
  testutil_side_init(&side->base, name, other ? &other->base : NULL, &cfg);
}

/* Creates channel label on side, before or after the connection. */
static p2psig_channel *
side_channel(struct side *side, const char *label)
{
  int error = -1;
  p2psig_channel *channel = p2psig_peer_create_channel(side->base.peer,
                                                       label, NULL, &error);

  g_assert_nonnull(channel);
  g_assert_cmpint(error, ==, 0);
  testutil_lock();
  bump(side->known, label);
  g_ptr_array_add(side->refs, p2psig_channel_ref(channel));
  testutil_unlock();
  return channel;
}

/* Lock held: every channel the side knew got exactly one on_close. */
static bool
all_closed_once(struct side *side)
{
  GHashTableIter iter;
  gpointer label;

  g_hash_table_iter_init(&iter, side->known);
  while (g_hash_table_iter_next(&iter, &label, NULL))
    if (count_of(side->closes, label) != 1)
      return false;
  return true;
}

/* Lock held: no channel got on_close twice. */
static bool
none_closed_twice(struct side *side)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init(&iter, side->closes);
  while (g_hash_table_iter_next(&iter, NULL, &value))
    if (GPOINTER_TO_INT(value) > 1)
      return false;
  return true;
}

/* Closes the side's peer (unless freed) and waits for its channels and its
 * state to say so. */
static void
side_close(struct side *side)
{
  p2psig_peer *peer;

  testutil_lock();
  peer = side->base.freed ? NULL : side->base.peer;
  testutil_unlock();
  if (!peer)
    return;
  p2psig_peer_close(peer);
  TESTUTIL_WAIT(side->base.closed_state_count == 1 && all_closed_once(side),
                WAIT_MS, "on_close for every channel, then closed");
}

static void
side_clear(struct side *side)
{
  testutil_lock();
  g_assert_true(none_closed_twice(side));
  testutil_unlock();
  testutil_side_clear(&side->base);
  g_ptr_array_unref(side->refs);
  g_hash_table_unref(side->closes);
  g_hash_table_unref(side->known);
}

/* The offer's channel 'stream' sends big messages until told to stop or
 * the channel closes.  Runs on a thread of its own. */
static gpointer
stream_big(gpointer data)
{
  struct side *side = data;
  p2psig_channel *channel;
  uint8_t *buf = g_malloc(BIG_MESSAGE);

  memset(buf, 'x', BIG_MESSAGE);
  testutil_lock();
  channel = p2psig_channel_ref(side->refs->pdata[0]);
  testutil_unlock();
  for (int sent = 0; sent < BIG_COUNT;) {
    bool stop;
    int ret = p2psig_channel_send(channel, buf, BIG_MESSAGE,
                                  P2PSIG_KIND_BINARY);

    testutil_lock();
    stop = side->stop_sending;
    testutil_unlock();
    if (stop || ret == P2PSIG_ECLOSED)
      break;
    if (ret == 0)
      sent++;
    else
      g_usleep(1000); /* buffers full: the peer drains them */
  }
  p2psig_channel_unref(channel);
  g_free(buf);
  return NULL;
}

struct callback_case {
  enum trigger trigger;
  enum action action;
};

static void
test_callback(gconstpointer data)
{
  const struct callback_case *c = data;
  struct side offer = { 0 }, answer = { 0 };
  GThread *streamer = NULL;
  bool offer_open = false;
  bool connects = !(c->trigger == ON_CANDIDATE &&
                    c->action != ACT_CHANNEL_CLOSE);

  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  testutil_lock();
  answer.trigger = c->trigger;
  answer.action = c->action;
  testutil_unlock();
  side_channel(&offer, "stream");
  side_channel(&offer, "second");
  if (c->trigger == ON_BUFFERED_AMOUNT_LOW)
    side_channel(&answer, "answer-sends"); /* made before the offer */
  testutil_negotiate(&offer.base, &answer.base, NULL, NULL);
  if (!connects) {
    /* Closed or freed while gathering: it never connects. */
    TESTUTIL_WAIT(answer.act_done, WAIT_MS, "the answer acted");
    goto done;
  }
  TESTUTIL_WAIT(offer.opens >= 2 || answer.acted, WAIT_MS,
                "the offer's channels open, or the answer acted");
  testutil_lock();
  offer_open = offer.opens >= 2;
  testutil_unlock();
  if (offer_open)
    streamer = g_thread_new("stream", stream_big, &offer);
  switch (c->trigger) {
  case ON_CLOSE:
    /* The offer closes 'second': the answer acts in its on_close. */
    TESTUTIL_WAIT(answer.opens >= 2, WAIT_MS, "the answer's channels open");
    g_assert_cmpint(p2psig_channel_close(offer.refs->pdata[1]), ==, 0);
    break;
  case ON_BUFFERED_AMOUNT_LOW: {
    /* The answer sends until the channel holds some of it (SCTP has no
     * room), so that it reports when that has gone.  However fast the
     * offer reads, SCTP's buffer fills within a few hundred messages. */
    g_autofree uint8_t *buf = g_malloc0(BIG_MESSAGE);
    p2psig_channel *ch;
    int sent = 0;

    TESTUTIL_WAIT(answer.opens >= 1, WAIT_MS, "the answer's channel open");
    testutil_lock();
    ch = p2psig_channel_ref(answer.refs->pdata[0]);
    testutil_unlock();
    while (sent < 1000 && p2psig_channel_get_buffered_amount(ch) == 0 &&
           p2psig_channel_send(ch, buf, BIG_MESSAGE, P2PSIG_KIND_BINARY) == 0)
      sent++;
    g_test_message("the answer sent %d messages before holding one", sent);
    p2psig_channel_unref(ch);
    break;
  }
  default:
    break;
  }
  TESTUTIL_WAIT(answer.act_done, WAIT_MS, "the answer acted");
  testutil_lock();
  g_assert_cmpint(answer.act_result, ==, 0);
  /* If the offer's association is up, the remote's leaving reaches it;
   * otherwise its channels close with it below. */
  offer_open = offer.opens >= 2;
  testutil_unlock();

  switch (c->action) {
  case ACT_PEER_CLOSE:
    TESTUTIL_WAIT(answer.base.closed_state_count == 1 &&
                  all_closed_once(&answer), WAIT_MS,
                  "the answer's channels and peer closed");
    /* The offer hears of it: SCTP abort, DTLS close_notify. */
    if (offer_open)
      TESTUTIL_WAIT(all_closed_once(&offer), WAIT_MS,
                    "the offer's channels closed by the remote");
    break;
  case ACT_PEER_FREE:
    /* The freed peer tears its association down. */
    if (offer_open)
      TESTUTIL_WAIT(all_closed_once(&offer), WAIT_MS,
                    "the offer's channels closed by the remote");
    break;
  case ACT_CHANNEL_CLOSE:
    TESTUTIL_WAIT(answer.closes_total >= 1 || !answer.closed_channel,
                  WAIT_MS, "a channel of the answer closed");
    break;
  case ACT_NONE:
    break;
  }

done:
  testutil_lock();
  offer.stop_sending = true;
  testutil_unlock();
  if (streamer)
    g_thread_join(streamer);
  side_close(&answer);
  side_close(&offer);
  testutil_lock();
  g_assert_cmpint(answer.base.after_free, ==, 0);
  testutil_unlock();
  side_clear(&offer);
  side_clear(&answer);
}

/* ---- every way a connection ends closes every channel once ---- */

enum ending {
  END_REMOTE_CLOSE,   /* the remote closes its peer */
  END_SCTP_ABORT,     /* the remote aborts its association alone */
  END_CLOSE_NOTIFY,   /* the remote sends only a DTLS close_notify */
  END_FAILURE,        /* a fatal error below (ICE or DTLS) */
  END_LIVENESS,       /* the remote goes silent */
  END_LOCAL_CLOSE,
  END_LOCAL_FREE,     /* silent: no on_close at all */
};

static const char *const ending_names[] = {
  "remote-close", "sctp-abort", "close-notify", "failure", "liveness",
  "local-close", "local-free",
};

struct ending_case {
  enum ending ending;
  int channels;
};

/* On the library thread with its lock held, as internals expect. */
static void
remote_misbehaves(void *data)
{
  void **args = data;
  p2psig_peer *peer = args[0];
  enum ending ending = GPOINTER_TO_INT(args[1]);

  p2psig__lock(peer->loop);
  switch (ending) {
  case END_SCTP_ABORT:
    /* usrsctp_close with SO_LINGER 0 sends an ABORT. */
    g_clear_pointer(&peer->sctp, p2psig__sctp_free);
    peer->sctp_connected = false;
    break;
  case END_CLOSE_NOTIFY:
    p2psig__dtls_shutdown(peer->dtls);
    break;
  case END_FAILURE:
    p2psig__peer_fail(peer, P2PSIG_EDTLS);
    break;
  default:
    break;
  }
  p2psig__unlock(peer->loop);
}

static void
run_on_library_thread(p2psig_peer *peer, int what)
{
  void *args[2] = { peer, GINT_TO_POINTER(what) };

  p2psig__loop_run_sync(peer->loop, remote_misbehaves, args);
}

/* Freezes peer: it keeps receiving but sends nothing, as a process that
 * stopped would; returns its ICE layer, which the test may still send raw
 * datagrams through.  Give it back with thaw() before freeing the peer. */
static void
freeze_cb(void *data)
{
  void **args = data;
  p2psig_peer *peer = args[0];

  p2psig__lock(peer->loop);
  args[1] = peer->ice;
  peer->ice = NULL; /* dtls_send drops what it has no ICE layer for */
  p2psig__unlock(peer->loop);
}

static struct p2psig_ice *
freeze(p2psig_peer *peer)
{
  void *args[2] = { peer, NULL };

  p2psig__loop_run_sync(peer->loop, freeze_cb, args);
  return args[1];
}

static void
thaw_cb(void *data)
{
  void **args = data;
  p2psig_peer *peer = args[0];

  p2psig__lock(peer->loop);
  peer->ice = args[1];
  p2psig__unlock(peer->loop);
}

static void
thaw(p2psig_peer *peer, struct p2psig_ice *ice)
{
  void *args[2] = { peer, ice };

  p2psig__loop_run_sync(peer->loop, thaw_cb, args);
}

static void
shorten_liveness_cb(void *data)
{
  p2psig_peer *peer = data;

  p2psig__lock(peer->loop);
  peer->disconnected_after_s = 1;
  peer->failed_after_s = 3;
  p2psig__unlock(peer->loop);
}

/* Lock held: whether before comes ahead of after in side's log. */
static bool
logged_before(const struct testutil_side *side, const char *before,
              const char *after)
{
  const char *a = strstr(side->log->str, before);
  const char *b = strstr(side->log->str, after);

  return a && b && a < b;
}

/* How the local side (the offer) reports the end: a remote that closed,
 * however it said so, as closed by the remote, at once; a silent one as
 * ICE disconnected then failed (consent), each before the peer state. */
static void
ending_reported(enum ending ending, struct testutil_side *local)
{
  switch (ending) {
  case END_REMOTE_CLOSE:
  case END_SCTP_ABORT:
  case END_CLOSE_NOTIFY:
    TESTUTIL_WAIT(local->closed_state_count == 1, 1000,
                  "closed by the remote");
    testutil_lock();
    g_assert_cmpint(local->state_error, ==, P2PSIG_ECLOSED_BY_REMOTE);
    g_assert_cmpint(local->failed_count, ==, 0);
    g_assert_true(logged_before(local, "ice:closed ", "state:closed "));
    testutil_unlock();
    break;
  case END_LIVENESS:
    testutil_lock();
    g_assert_true(logged_before(local, "ice:disconnected ",
                                "state:disconnected "));
    g_assert_true(logged_before(local, "state:disconnected ",
                                "ice:failed "));
    g_assert_true(logged_before(local, "ice:failed ", "state:failed "));
    g_assert_cmpint(local->state_error, ==, P2PSIG_ETIMEDOUT);
    testutil_unlock();
    break;
  default:
    break;
  }
}

static void
test_ending(gconstpointer data)
{
  const struct ending_case *c = data;
  struct side offer = { 0 }, answer = { 0 };
  struct p2psig_ice *frozen = NULL;

  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  for (int i = 0; i < c->channels; i++) {
    g_autofree char *label = g_strdup_printf("c%d", i);

    side_channel(&offer, label);
  }
  testutil_negotiate(&offer.base, &answer.base, NULL, NULL);
  TESTUTIL_WAIT(offer.opens == c->channels && answer.opens == c->channels,
                WAIT_MS * 3, "every channel open on both sides");

  /* The offer is the local side; the answer is the remote. */
  switch (c->ending) {
  case END_REMOTE_CLOSE:
    p2psig_peer_close(answer.base.peer);
    break;
  case END_SCTP_ABORT:
  case END_CLOSE_NOTIFY:
    run_on_library_thread(answer.base.peer, c->ending);
    break;
  case END_FAILURE:
    run_on_library_thread(offer.base.peer, c->ending);
    TESTUTIL_WAIT(offer.base.failed_count == 1, WAIT_MS, "failed");
    break;
  case END_LIVENESS:
    p2psig__loop_run_sync(offer.base.peer->loop, shorten_liveness_cb,
                          offer.base.peer);
    frozen = freeze(answer.base.peer);
    TESTUTIL_WAIT(offer.base.failed_count == 1, WAIT_MS,
                  "failed after the remote went silent");
    break;
  case END_LOCAL_CLOSE:
    p2psig_peer_close(offer.base.peer);
    TESTUTIL_WAIT(offer.base.closed_state_count == 1, WAIT_MS, "closed");
    break;
  case END_LOCAL_FREE:
    testutil_lock();
    offer.base.freed = true;
    testutil_unlock();
    p2psig_peer_free(offer.base.peer);
    break;
  }
  if (c->ending == END_LOCAL_FREE) {
    /* The remote sees the association go: the test's event to wait for
     * before checking that the freed side stayed silent. */
    TESTUTIL_WAIT(all_closed_once(&answer), WAIT_MS * 2,
                  "the remote's channels closed");
    testutil_lock();
    g_assert_cmpint(offer.closes_total, ==, 0);
    testutil_unlock();
  } else {
    TESTUTIL_WAIT(all_closed_once(&offer), WAIT_MS * 2,
                  "every local channel closed once");
  }
  ending_reported(c->ending, &offer.base);
  if (frozen)
    thaw(answer.base.peer, frozen);
  side_close(&answer);
  side_close(&offer);
  side_clear(&offer);
  side_clear(&answer);
}

/* ---- liveness counts only what DTLS authenticated ---- */

struct junk {
  struct p2psig_loop *loop;  /* the ICE layer's */
  struct p2psig_ice *ice;
  bool stop;
  GMutex lock;
};

static void
send_junk_cb(void *data)
{
  struct junk *junk = data;
  /* Looks like a DTLS application-data record (RFC 7983's first byte),
   * but no key made it. */
  uint8_t record[64] = { 23, 0xfe, 0xfd, 0, 1 };

  for (size_t i = 5; i < sizeof record; i++)
    record[i] = (uint8_t)g_random_int();
  p2psig__lock(junk->loop);
  p2psig__ice_send(junk->ice, record, sizeof record);
  p2psig__unlock(junk->loop);
}

static gpointer
junk_thread(gpointer data)
{
  struct junk *junk = data;

  for (;;) {
    bool stop;

    g_mutex_lock(&junk->lock);
    stop = junk->stop;
    g_mutex_unlock(&junk->lock);
    if (stop)
      return NULL;
    p2psig__loop_run_sync(junk->loop, send_junk_cb, junk);
    g_usleep(50 * 1000); /* the pace of an attacker, not a wait */
  }
}

static void
test_liveness_junk(void)
{
  struct side offer = { 0 }, answer = { 0 };
  struct junk junk = { 0 };
  GThread *thread;

  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  side_channel(&offer, "data");
  testutil_negotiate(&offer.base, &answer.base, NULL, NULL);
  TESTUTIL_WAIT(offer.opens == 1 && answer.opens == 1, WAIT_MS, "open");

  p2psig__loop_run_sync(offer.base.peer->loop, shorten_liveness_cb,
                          offer.base.peer);
  g_mutex_init(&junk.lock);
  junk.loop = answer.base.peer->loop;
  junk.ice = freeze(answer.base.peer);
  thread = g_thread_new("junk", junk_thread, &junk);
  /* 3 s of silence: junk from the remote's address must not count. */
  TESTUTIL_WAIT(offer.base.failed_count == 1, 10000,
                "failed although junk keeps coming");
  g_mutex_lock(&junk.lock);
  junk.stop = true;
  g_mutex_unlock(&junk.lock);
  g_thread_join(thread);
  g_mutex_clear(&junk.lock);
  thaw(answer.base.peer, junk.ice);
  side_close(&answer);
  side_close(&offer);
  side_clear(&offer);
  side_clear(&answer);
}

/* ---- p2psig_peer_free() and callbacks running on other threads ---- */

#define BLOCK_MS 300

/* Under the harness's lock. */
static struct {
  int entered, returned;
  gint64 returned_at;
} blocker;

static void
blocking_on_message(p2psig_channel *channel, const void *data, size_t len,
                    p2psig_kind kind, void *user_data)
{
  testutil_on_message(channel, data, len, kind, user_data);
  testutil_lock();
  blocker.entered++;
  testutil_unlock();
  g_usleep(BLOCK_MS * 1000); /* the callback that blocks, under test */
  testutil_lock();
  blocker.returned++;
  blocker.returned_at = g_get_monotonic_time();
  testutil_unlock();
}

static void
test_free_waits(void)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .on_message = blocking_on_message };
  struct testutil_side offer, answer;
  gint64 returned_at;

  memset(&blocker, 0, sizeof blocker);
  testutil_side_init(&offer, "offer", &answer, NULL);
  testutil_side_init(&answer, "answer", &offer, &cfg);
  testutil_side_channel(&offer, "data", NULL);
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer.opened == 1 && answer.opened == 1, WAIT_MS, "open");
  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "block"), ==, 0);
  TESTUTIL_WAIT(blocker.entered == 1, WAIT_MS, "the callback blocking");
  /* Frees from this thread and checks that nothing came after. */
  testutil_side_clear(&answer);
  returned_at = g_get_monotonic_time();
  testutil_lock();
  g_assert_cmpint(blocker.returned, ==, 1);
  g_assert_cmpint(blocker.returned_at, <=, returned_at);
  testutil_unlock();
  testutil_side_clear(&offer);
}

/* ---- nothing dropped behind a busy loop ---- */

#define BUSY_MS 300
#define BURST_BYTES (3 * 1024 * 1024)
#define BURST_MESSAGE (64 * 1024)
#define WANTED_RECV_BUFFER (4 * 1024 * 1024) /* ice.c's */

/* Holds a loop's thread, as a long piece of work on it would, until
 * released: the loop reads none of its sockets meanwhile. */
static struct {
  bool entered, release;
} busy;

static gboolean
busy_on_loop(gpointer unused)
{
  testutil_lock();
  busy.entered = true;
  while (!busy.release)
    testutil_wait_until(g_get_monotonic_time() + 100 * 1000);
  testutil_unlock();
  return G_SOURCE_REMOVE;
}

/* Datagrams the kernel dropped at the UDP socket bound to 127.0.0.1:port
 * for want of room (Linux's /proc/net/udp); -1: not known here. */
static long
udp_drops(uint16_t port)
{
  g_autofree char *table = NULL;
  g_autofree char *local = g_strdup_printf("0100007F:%04X", port);
  g_auto(GStrv) lines = NULL;
  long drops = -1;

  if (!g_file_get_contents("/proc/net/udp", &table, NULL, NULL))
    return -1;
  lines = g_strsplit(table, "\n", -1);
  for (int i = 1; lines[i] && drops < 0; i++) {
    g_auto(GStrv) fields = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
    GPtrArray *words = g_ptr_array_new();

    for (int f = 0; fields[f]; f++)
      if (*fields[f])
        g_ptr_array_add(words, fields[f]);
    if (words->len >= 13 && strcmp(words->pdata[1], local) == 0)
      drops = strtol(words->pdata[words->len - 1], NULL, 10);
    g_ptr_array_free(words, TRUE);
  }
  return drops;
}

/* Whether this process may have a UDP receive buffer of the size the
 * library asks for (net.core.rmem_max, or CAP_NET_ADMIN). */
static bool
big_recv_buffer_allowed(void)
{
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = WANTED_RECV_BUFFER;
  socklen_t len = sizeof size;

  if (fd < 0)
    return false;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0 ||
      (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0 &&
       size / 2 < WANTED_RECV_BUFFER)) {
    size = WANTED_RECV_BUFFER;
#ifdef SO_RCVBUFFORCE
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
#endif
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len);
  }
  close(fd);
  return size / 2 >= WANTED_RECV_BUFFER;
}

static void
send_burst(p2psig_channel *ch, const uint8_t *buf)
{
  for (int sent = 0; sent < BURST_BYTES / BURST_MESSAGE;)
    if (p2psig_channel_send(ch, buf, BURST_MESSAGE, P2PSIG_KIND_BINARY) == 0)
      sent++;
    else
      g_usleep(1000); /* buffers full: the remote drains them */
}

/* The remote streams at full speed, our loop busy for BUSY_MS in the
 * middle, then it closes: our socket drops nothing of what SCTP may have
 * in flight (a loss costs a retransmission, and the close, last, is never
 * repeated), and its close is heard at once. */
static void
test_burst_behind_busy_loop(void)
{
  struct side offer = { 0 }, answer = { 0 };
  g_autofree uint8_t *buf = g_malloc0(BURST_MESSAGE);
  p2psig_peer_stats stats = P2PSIG_STATS_INIT(p2psig_peer_stats);
  p2psig_channel *ch;
  GSource *source;
  long drops;

  if (!big_recv_buffer_allowed()) {
    g_test_skip("net.core.rmem_max is below 4 MiB and the process may "
                "not override it");
    return;
  }
  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  g_assert_true(p2psig__peer_loop(offer.base.peer) !=
                p2psig__peer_loop(answer.base.peer));
  ch = side_channel(&offer, "burst");
  testutil_negotiate(&offer.base, &answer.base, NULL, NULL);
  TESTUTIL_WAIT(offer.opens == 1 && answer.opens == 1, WAIT_MS, "open");
  g_assert_cmpint(p2psig_peer_get_stats(answer.base.peer, &stats), ==, 0);
  g_assert_true(stats.has_selected_pair);
  drops = udp_drops(stats.local_port);
  if (drops < 0) {
    side_clear(&answer);
    side_clear(&offer);
    g_test_skip("no /proc/net/udp: drops not known");
    return;
  }

  send_burst(ch, buf);
  memset(&busy, 0, sizeof busy);
  source = p2psig__loop_idle(p2psig__peer_loop(answer.base.peer),
                             busy_on_loop, NULL, NULL);
  TESTUTIL_WAIT(busy.entered, WAIT_MS, "the answer's loop busy");
  send_burst(ch, buf); /* all SCTP may send unacknowledged goes out */
  g_usleep(BUSY_MS * 1000);
  testutil_lock();
  busy.release = true;
  testutil_unlock();
  g_source_unref(source);
  send_burst(ch, buf);
  TESTUTIL_WAIT(answer.messages == 3 * BURST_BYTES / BURST_MESSAGE,
                WAIT_MS, "every message delivered");
  g_assert_cmpint(udp_drops(stats.local_port) - drops, ==, 0);

  p2psig_peer_close(offer.base.peer);
  TESTUTIL_WAIT(answer.base.closed_state_count == 1, 1000,
                "closed by the remote");
  testutil_lock();
  g_assert_cmpint(answer.base.state_error, ==, P2PSIG_ECLOSED_BY_REMOTE);
  testutil_unlock();
  side_clear(&answer);
  side_clear(&offer);
}

#define RING_MAX 3
#define BARRIER_MS 10000

struct member {
  struct testutil_side offer, answer;
  int index;
  bool acted;
};

/* Under the harness's lock. */
static struct {
  int n;
  struct member members[RING_MAX];
  int inside, returned;
  bool apart;          /* a callback waited in vain for the others */
} ring;

/* Member i's answer, once inside on_message, waits until every member's
 * is, then frees member i + 1's answer, whose callback runs meanwhile on
 * another thread and frees the next one's. */
static void
ring_on_message(p2psig_channel *channel, const void *data, size_t len,
                p2psig_kind kind, void *user_data)
{
  struct testutil_side *side = user_data;
  struct member *m = side->user;
  struct member *next;
  gint64 deadline = g_get_monotonic_time() + BARRIER_MS * 1000;
  p2psig_peer *victim;

  testutil_on_message(channel, data, len, kind, user_data);
  testutil_lock();
  if (m->acted) {
    testutil_unlock();
    return;
  }
  m->acted = true;
  ring.inside++;
  while (ring.inside < ring.n)
    if (!testutil_wait_until(deadline) && ring.inside < ring.n) {
      ring.apart = true;
      break;
    }
  next = &ring.members[(m->index + 1) % ring.n];
  victim = next->answer.peer;
  /* Its callback is past its check; no later one may start. */
  next->answer.freed = true;
  testutil_unlock();
  p2psig_peer_free(victim);
  testutil_lock();
  ring.returned++;
  testutil_unlock();
}

static void
test_free_ring(gconstpointer data)
{
  int n = GPOINTER_TO_INT(data);
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .on_message = ring_on_message };

  memset(&ring, 0, sizeof ring);
  ring.n = n;
  for (int i = 0; i < n; i++) {
    struct member *m = &ring.members[i];

    m->index = i;
    cfg.user_data = m;
    testutil_side_init(&m->offer, "offer", &m->answer, NULL);
    testutil_side_init(&m->answer, "answer", &m->offer, &cfg);
    testutil_side_channel(&m->offer, "ring", NULL);
    testutil_negotiate(&m->offer, &m->answer, NULL, NULL);
  }
  for (int i = 0; i < n; i++)
    TESTUTIL_WAIT(ring.members[i].offer.opened == 1 &&
                  ring.members[i].answer.opened == 1, WAIT_MS, "open");
  for (int i = 0; i < n; i++)
    g_assert_cmpint(p2psig_channel_send_text(ring.members[i].offer.channel,
                                             "free the next"), ==, 0);
  TESTUTIL_WAIT(ring.returned == n, WAIT_MS, "every free returned");
  testutil_lock();
  g_assert_false(ring.apart);
  testutil_unlock();
  for (int i = 0; i < n; i++) {
    testutil_side_clear(&ring.members[i].answer); /* freed: records only */
    testutil_side_clear(&ring.members[i].offer);
  }
}

static bool
peers_released(void *data)
{
  return p2psig__peers_alive() == 0;
}

int
main(int argc, char **argv)
{
  static struct callback_case callback_cases[G_N_ELEMENTS(trigger_names) *
                                             3];
  static struct ending_case ending_cases[G_N_ELEMENTS(ending_names) * 4];
  static const int channel_counts[] = { 1, 5, 50, 1000 };
  size_t n = 0;
  int ret;

  g_test_init(&argc, &argv, NULL);
  /* The two sides of a pair on loops of their own (peers take the loops
   * in turn), whatever the machine's cores: each side's callbacks and
   * packets then race the other's, as between two processes. */
  g_assert_cmpint(p2psig_set_loop_count(2), ==, 0);
  for (enum trigger t = ON_CANDIDATE; t <= ON_BUFFERED_AMOUNT_LOW; t++) {
    for (enum action a = ACT_PEER_CLOSE; a <= ACT_CHANNEL_CLOSE; a++) {
      g_autofree char *path = g_strdup_printf(
          "/lifetime/callback/%s/%s", trigger_names[t], action_names[a]);

      callback_cases[n] = (struct callback_case){ t, a };
      g_test_add_data_func(path, &callback_cases[n++], test_callback);
    }
  }
  n = 0;
  for (enum ending e = END_REMOTE_CLOSE; e <= END_LOCAL_FREE; e++) {
    for (size_t i = 0; i < G_N_ELEMENTS(channel_counts); i++) {
      g_autofree char *path = g_strdup_printf(
          "/lifetime/close-all/%s/%d", ending_names[e], channel_counts[i]);

      ending_cases[n] = (struct ending_case){ e, channel_counts[i] };
      g_test_add_data_func(path, &ending_cases[n++], test_ending);
    }
  }
  g_test_add_func("/lifetime/liveness/junk", test_liveness_junk);
  g_test_add_func("/lifetime/burst/behind-busy-loop",
                  test_burst_behind_busy_loop);
  g_test_add_func("/lifetime/free/waits", test_free_waits);
  g_test_add_data_func("/lifetime/free/ring/2", GINT_TO_POINTER(2),
                       test_free_ring);
  g_test_add_data_func("/lifetime/free/ring/3", GINT_TO_POINTER(3),
                       test_free_ring);
  ret = g_test_run();
  /* Peers freed from inside their callbacks are released in the
   * background: not while the process exits (OpenSSL's exit handlers would
   * race it). */
  testutil_wait_for(peers_released, NULL, 5000, "every peer released");
  return ret;
}
