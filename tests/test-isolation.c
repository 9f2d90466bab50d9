/* SPDX-License-Identifier: MIT */
/*
 * Isolation between peers of one process: pair X and pair Y over
 * 127.0.0.1.  X's answer blocks 500 ms in on_message; meanwhile this
 * thread sends on Y's offer, a message every millisecond, each carrying
 * the time it was sent, and Y's answer notes how long each took to
 * arrive.  Neither a send on Y nor a delivery on Y may wait for X's
 * callback: each stays under 5 ms (the largest of some 300 counts).
 *
 * A shared machine can stall a thread for milliseconds now and then, so a
 * round that sees one such stall is tried again, up to five rounds; a
 * library that makes Y wait for X fails every round by some 500 ms.  The
 * sender measures the machine too, by how late its 1 ms sleeps return:
 * when every round saw this thread itself stalled past 5 ms, the machine
 * is too busy to tell 5 ms apart, and the test asserts a bound it can
 * tell (100 ms, still a fifth of the block) and says so.
 *
 * /isolation/back-pressure: while the receiver's on_message blocks, a
 * sender that never stops fills what the receiver holds for it up to its
 * bound (peer.c's UNDELIVERED_MAX, read through the internals), then
 * waits (P2PSIG_EAGAIN); once the callback returns, every message arrives,
 * in order.
 *
 * /isolation/signaling-in-callback: 50 callbacks that each make and free
 * 30 signaling objects in a row (each made on the loop's context, which the
 * callback's thread holds meanwhile) runs long enough for the loop to
 * move to another thread: it moves only while the context is free, and
 * every call succeeds.
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "peer-private.h"
#include "testutil.h"

#define WAIT_MS 20000
#define BLOCK_MS 500
#define LIMIT_US 5000
#define BUSY_LIMIT_US (BLOCK_MS * 1000 / 5)
#define ROUNDS 5
/* Sends are spread over this much of the block, leaving its end for the
 * last deliveries. */
#define SEND_WINDOW_MS 300

struct stamp {
  gint64 sent;    /* g_get_monotonic_time() at the send */
  uint32_t round;
};

/* Under the harness's lock. */
static struct {
  int block_started;       /* X's answer entered its blocking callback */
  gint64 block_ended;      /* when the last one returned */
  uint32_t round;
  int delivered;           /* Y's answer: messages of this round */
  gint64 max_delivery_us;
  gint64 last_delivery;
} seen;

static void
x_on_message(p2psig_channel *channel, const void *data, size_t len,
             p2psig_kind kind, void *user_data)
{
  testutil_on_message(channel, data, len, kind, user_data);
  if (len != 5 || memcmp(data, "block", 5) != 0)
    return;
  testutil_lock();
  seen.block_started++;
  testutil_unlock();
  /* The blocking callback: the harness's lock is not held meanwhile. */
  g_usleep(BLOCK_MS * 1000);
  testutil_lock();
  seen.block_ended = g_get_monotonic_time();
  testutil_unlock();
}

static void
y_on_message(p2psig_channel *channel, const void *data, size_t len,
             p2psig_kind kind, void *user_data)
{
  gint64 now = g_get_monotonic_time();
  struct stamp stamp;

  if (len != sizeof stamp) {
    testutil_on_message(channel, data, len, kind, user_data);
    return;
  }
  memcpy(&stamp, data, sizeof stamp);
  testutil_lock();
  if (stamp.round == seen.round) {
    seen.delivered++;
    seen.max_delivery_us = MAX(seen.max_delivery_us, now - stamp.sent);
    seen.last_delivery = now;
  }
  testutil_unlock();
}

struct pair {
  struct testutil_side offer, answer;
};

static void
pair_open(struct pair *pair, const char *name, p2psig_message_cb on_message)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .on_message = on_message };
  g_autofree char *offer_name = g_strdup_printf("%s offer", name);
  g_autofree char *answer_name = g_strdup_printf("%s answer", name);

  testutil_side_init(&pair->offer, g_intern_string(offer_name),
                     &pair->answer, NULL);
  testutil_side_init(&pair->answer, g_intern_string(answer_name),
                     &pair->offer, &cfg);
  testutil_side_channel(&pair->offer, name, NULL);
  testutil_negotiate(&pair->offer, &pair->answer, NULL, NULL);
  TESTUTIL_WAIT(pair->offer.opened == 1 && pair->answer.opened == 1,
                WAIT_MS, "the pair's channel open on both sides");
}

static void
pair_close(struct pair *pair)
{
  testutil_side_clear(&pair->offer);
  testutil_side_clear(&pair->answer);
}

struct round {
  gint64 send_us, delivery_us; /* the largest */
  gint64 stall_us;             /* this thread's latest wake from a sleep */
  bool within;                 /* every delivery while X blocked */
};

static bool
round_passed(const struct round *r, gint64 limit_us)
{
  return r->within && r->send_us < limit_us && r->delivery_us < limit_us;
}

/* One round: X blocks, Y sends and receives meanwhile. */
static void
round_run(struct pair *x, struct pair *y, uint32_t round, struct round *r)
{
  int started, sent = 0;
  gint64 start;

  memset(r, 0, sizeof *r);
  testutil_lock();
  started = seen.block_started;
  seen.round = round;
  seen.delivered = 0;
  seen.max_delivery_us = 0;
  seen.block_ended = 0;
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_send_text(x->offer.channel, "block"), ==,
                  0);
  TESTUTIL_WAIT(seen.block_started == started + 1, WAIT_MS,
                "X's answer blocking in on_message");

  start = g_get_monotonic_time();
  while (g_get_monotonic_time() - start < SEND_WINDOW_MS * 1000) {
    struct stamp stamp = { .round = round };
    gint64 after;

    stamp.sent = g_get_monotonic_time();
    g_assert_cmpint(p2psig_channel_send(y->offer.channel, &stamp,
                                        sizeof stamp, P2PSIG_KIND_BINARY),
                    ==, 0);
    after = g_get_monotonic_time();
    r->send_us = MAX(r->send_us, after - stamp.sent);
    sent++;
    g_usleep(1000); /* the pace of the sender, not a wait */
    r->stall_us = MAX(r->stall_us, g_get_monotonic_time() - after - 1000);
  }
  TESTUTIL_WAIT(seen.delivered == sent, WAIT_MS,
                "Y's messages delivered");
  TESTUTIL_WAIT(seen.block_ended != 0, WAIT_MS, "X's callback returned");
  testutil_lock();
  r->delivery_us = seen.max_delivery_us;
  /* The figures count only if Y was measured while X blocked. */
  r->within = seen.last_delivery < seen.block_ended;
  testutil_unlock();
  g_test_message("round %u: %d messages on Y while X blocked; largest "
                 "send %" G_GINT64_FORMAT " us, largest delivery %"
                 G_GINT64_FORMAT " us; this thread stalled up to %"
                 G_GINT64_FORMAT " us%s", round, sent, r->send_us,
                 r->delivery_us, r->stall_us,
                 r->within ? "" : " (not all within the block)");
}

/* Whether r is nearer passing than best (or best is unset). */
static bool
round_better(const struct round *r, const struct round *best)
{
  return !best->within ||
         (r->within && MAX(r->send_us, r->delivery_us) <
                         MAX(best->send_us, best->delivery_us));
}

static void
test_blocked_callback(void)
{
  struct pair x, y;
  struct round r, best_quiet = { 0 }, best = { 0 };
  bool passed = false;

  pair_open(&x, "X", x_on_message);
  pair_open(&y, "Y", y_on_message);
  for (uint32_t round = 1; round <= ROUNDS && !passed; round++) {
    round_run(&x, &y, round, &r);
    passed = round_passed(&r, LIMIT_US);
    if (r.stall_us < LIMIT_US && round_better(&r, &best_quiet))
      best_quiet = r;
    if (round_better(&r, &best))
      best = r;
  }
  if (!passed && best_quiet.within) {
    /* A round on a quiet machine: the figures stand. */
    g_assert_cmpint(best_quiet.send_us, <, LIMIT_US);
    g_assert_cmpint(best_quiet.delivery_us, <, LIMIT_US);
  } else if (!passed) {
    g_test_message("this thread stalled past %d us in every round: the "
                   "machine is too busy to check %d us; checking %d us",
                   LIMIT_US, LIMIT_US, BUSY_LIMIT_US);
    g_assert_true(best.within);
    g_assert_cmpint(best.send_us, <, BUSY_LIMIT_US);
    g_assert_cmpint(best.delivery_us, <, BUSY_LIMIT_US);
  }
  pair_close(&x);
  pair_close(&y);
}

/* ---- back-pressure from a blocked callback ---- */

#define FLOOD_SIZE (64 * 1024)
#define FLOOD_COUNT 256           /* 16 MiB: far more than the buffers */
/* What the receiver may hold undelivered: peer.c's bound, plus the
 * message that crosses it and its event. */
#define HELD_MAX (1024 * 1024 + FLOOD_SIZE + 64)
#define STUCK_MS 200

/* Under the harness's lock. */
static struct {
  bool release;
  int received;
  uint32_t next;
  bool out_of_order;
  int max_held;
} flood;

static void
flood_on_message(p2psig_channel *channel, const void *data, size_t len,
                 p2psig_kind kind, void *user_data)
{
  p2psig_peer *peer = p2psig_channel_get_peer(channel);
  int held = g_atomic_int_get(&peer->undelivered);
  gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
  uint32_t seq = 0;

  g_assert_cmpuint(len, ==, FLOOD_SIZE);
  memcpy(&seq, data, sizeof seq);
  testutil_lock();
  flood.max_held = MAX(flood.max_held, held);
  flood.out_of_order |= seq != flood.next;
  flood.next = seq + 1;
  g_atomic_int_inc(&flood.received);
  /* The first message blocks until the test has seen the sender wait. */
  while (!flood.release)
    if (!testutil_wait_until(deadline))
      break;
  testutil_unlock();
}

/* Sends message seq; retries while the send buffer is full. */
static void
flood_send(p2psig_channel *channel, uint8_t *buf, uint32_t seq)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
  int ret;

  memcpy(buf, &seq, sizeof seq);
  while ((ret = p2psig_channel_send(channel, buf, FLOOD_SIZE,
                                    P2PSIG_KIND_BINARY)) == P2PSIG_EAGAIN) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(1000); /* the pace of a sender that retries */
  }
  g_assert_cmpint(ret, ==, 0);
}

/* Sends until the receiver has stopped reading and the sender has been
 * held up for STUCK_MS since; returns how many went.  Without a bound on
 * the receiver, every message goes. */
static uint32_t
flood_until_held_up(p2psig_channel *channel, uint8_t *buf,
                    p2psig_peer *receiver)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
  gint64 last_sent = g_get_monotonic_time();
  uint32_t sent = 0;

  while (sent < FLOOD_COUNT) {
    int ret;

    memcpy(buf, &sent, sizeof sent);
    ret = p2psig_channel_send(channel, buf, FLOOD_SIZE, P2PSIG_KIND_BINARY);
    if (ret == 0) {
      sent++;
      last_sent = g_get_monotonic_time();
      continue;
    }
    g_assert_cmpint(ret, ==, P2PSIG_EAGAIN);
    /* The first callback may start only after the loop has read all
     * that its socket held (libnice reads until it would block). */
    if (g_atomic_int_get(&receiver->receive_paused) &&
        g_atomic_int_get(&flood.received) > 0 &&
        g_get_monotonic_time() - last_sent > STUCK_MS * 1000)
      break;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(1000); /* the pace of a sender that retries */
  }
  return sent;
}

static void
test_back_pressure(void)
{
  p2psig_peer_config offer_cfg = { P2PSIG_PEER_CONFIG_INIT,
                                   .send_buffer_limit = 1024 * 1024 };
  p2psig_peer_config answer_cfg = { P2PSIG_PEER_CONFIG_INIT,
                                    .on_message = flood_on_message };
  struct testutil_side offer, answer;
  g_autofree uint8_t *buf = g_malloc0(FLOOD_SIZE);
  uint32_t sent = 0;
  int held;

  memset(&flood, 0, sizeof flood);
  testutil_side_init(&offer, "offer", &answer, &offer_cfg);
  testutil_side_init(&answer, "answer", &offer, &answer_cfg);
  testutil_side_channel(&offer, "flood", NULL);
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer.opened == 1 && answer.opened == 1, WAIT_MS, "open");

  sent = flood_until_held_up(offer.channel, buf, answer.peer);
  held = g_atomic_int_get(&((p2psig_peer *)answer.peer)->undelivered);
  testutil_lock();
  g_test_message("the sender was held up after %u messages; the receiver "
                 "held %d bytes, at most %d, with 1 callback blocked", sent,
                 held, MAX(held, flood.max_held));
  g_assert_cmpint(flood.received, ==, 1);
  testutil_unlock();
  g_assert_cmpuint(sent, <, FLOOD_COUNT);
  g_assert_cmpint(held, <=, HELD_MAX);

  testutil_lock();
  flood.release = true;
  testutil_unlock();
  for (; sent < FLOOD_COUNT; sent++)
    flood_send(offer.channel, buf, sent);
  TESTUTIL_WAIT(flood.received == FLOOD_COUNT, WAIT_MS,
                "every message delivered");
  testutil_lock();
  g_assert_false(flood.out_of_order);
  g_assert_cmpint(flood.max_held, <=, HELD_MAX);
  testutil_unlock();
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* ---- a callback that keeps calling into the loop ---- */

#define SIGNALING_MESSAGES 50
#define SIGNALING_ROUNDS 30

/* Under the harness's lock. */
static struct {
  p2psig_peer *peer;       /* Z: the peer the signaling objects serve */
  int made;                /* signaling objects made and freed */
  int done;                /* callbacks returned */
} busy;

/* Runs some milliseconds: the watchdog moves the loop meanwhile, likely
 * while this thread is inside p2psig_signaling_new, which runs on the
 * loop's context (so each message gives the race a chance). */
static void
signaling_on_message(p2psig_channel *channel, const void *data, size_t len,
                     p2psig_kind kind, void *user_data)
{
  p2psig_signaling_config config = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_ANSWER,
    .listen_address = "127.0.0.1:0",
    .remote_address = "127.0.0.1:9",
  };
  int made = 0;

  testutil_on_message(channel, data, len, kind, user_data);
  for (int i = 0; i < SIGNALING_ROUNDS; i++) {
    int error = -1;
    p2psig_signaling *sig = p2psig_signaling_new(busy.peer, &config, &error);

    if (!sig)
      break;
    p2psig_signaling_free(sig);
    made++;
  }
  testutil_lock();
  busy.made += made;
  busy.done++;
  testutil_unlock();
}

static void
test_signaling_in_callback(void)
{
  struct pair x;
  struct testutil_side z;

  pair_open(&x, "X", signaling_on_message);
  testutil_side_init(&z, "Z", NULL, NULL);
  busy.peer = z.peer;
  for (int i = 0; i < SIGNALING_MESSAGES; i++)
    g_assert_cmpint(p2psig_channel_send(x.offer.channel, "go", 2,
                                        P2PSIG_KIND_TEXT), ==, P2PSIG_OK);
  TESTUTIL_WAIT(busy.done == SIGNALING_MESSAGES, WAIT_MS,
                "X's answer done with its callbacks");
  g_assert_cmpint(busy.made, ==, SIGNALING_MESSAGES * SIGNALING_ROUNDS);
  testutil_side_clear(&z);
  pair_close(&x);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/isolation/blocked-callback", test_blocked_callback);
  g_test_add_func("/isolation/back-pressure", test_back_pressure);
  g_test_add_func("/isolation/signaling-in-callback",
                  test_signaling_in_callback);
  return g_test_run();
}
