/* SPDX-License-Identifier: MIT */
/*
 * Several library loops in one process (p2psig_set_loop_count).
 *
 * /loops/count: the count is taken before the loops start (0 is the
 * default, over 64 is refused), and cannot change once they run.
 *
 * /loops/apart: peers on different loops share no lock.  Four peers made
 * in a row land on the two loops in turn, so pair F (the 1st and 3rd) is
 * on one loop and pair N (the 2nd and 4th) on the other.  While a thread
 * holds F's loop's lock for HOLD_MS, MESSAGES sent on N one after the
 * other over half of it are each taken and arrive in well under that
 * (LIMIT_MS), usrsctp's 10 ms tick (which takes every loop's lock) coming
 * in between; with one lock shared by all peers, the first send alone
 * waits HOLD_MS.  Then F still works.
 *
 * /loops/not-recursive: taking a loop's lock, or the signaling lock, that
 * the thread holds already stops the process at once (an assertion), in
 * place of a recursive lock that hid the re-entry.
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "peer-private.h"
#include "testutil.h"

#define WAIT_MS 20000
#define HOLD_MS 500
#define LIMIT_MS 100
#define MESSAGES 25

static void
test_count(void)
{
  struct testutil_side side;

  g_assert_cmpint(p2psig_set_loop_count(65), ==, P2PSIG_EINVAL);
  g_assert_cmpint(p2psig_set_loop_count(3), ==, 0);
  /* The last call before the start counts. */
  g_assert_cmpint(p2psig_set_loop_count(2), ==, 0);
  testutil_side_init(&side, NULL, NULL, NULL);
  g_assert_cmpuint(p2psig__loop_count(), ==, 2);
  g_assert_cmpint(p2psig_set_loop_count(3), ==, P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_set_loop_count(1), ==, P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_set_loop_count(2), ==, 0);
  testutil_side_clear(&side);
}

struct holder {
  struct p2psig_loop *loop;
  GMutex lock;
  GCond cond;
  bool holding;
};

static gpointer
hold_loop(gpointer data)
{
  struct holder *h = data;

  p2psig__lock(h->loop);
  g_mutex_lock(&h->lock);
  h->holding = true;
  g_cond_signal(&h->cond);
  g_mutex_unlock(&h->lock);
  g_usleep(HOLD_MS * 1000);
  p2psig__unlock(h->loop);
  return NULL;
}

/* Sends one message on offer's channel; returns how long until answer had
 * it, in ms, and the send's own time in *send_ms. */
static gint64
message_time(struct testutil_side *offer, struct testutil_side *answer,
             gint64 *send_ms)
{
  gint64 start = g_get_monotonic_time();
  guint before;

  testutil_lock();
  before = answer->messages->len;
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_send_text(offer->channel, "hello"), ==, 0);
  *send_ms = (g_get_monotonic_time() - start) / 1000;
  TESTUTIL_WAIT(answer->messages->len > before, WAIT_MS, "message");
  return (g_get_monotonic_time() - start) / 1000;
}

static void
test_apart(void)
{
  struct testutil_side side[4];
  struct holder h = { 0 };
  GThread *thread;
  gint64 send_ms = 0, total_ms = 0;

  for (int i = 0; i < 4; i++)
    testutil_side_init(&side[i], NULL, &side[i ^ 2], NULL);
  /* F: 0 and 2; N: 1 and 3. */
  g_assert_true(side[0].peer->loop == side[2].peer->loop);
  g_assert_true(side[1].peer->loop == side[3].peer->loop);
  g_assert_true(side[0].peer->loop != side[1].peer->loop);
  testutil_open_pair(&side[0], &side[2]);
  testutil_open_pair(&side[1], &side[3]);

  h.loop = side[0].peer->loop;
  g_mutex_init(&h.lock);
  g_cond_init(&h.cond);
  thread = g_thread_new("holder", hold_loop, &h);
  g_mutex_lock(&h.lock);
  while (!h.holding)
    g_cond_wait(&h.cond, &h.lock);
  g_mutex_unlock(&h.lock);

  /* Over most of the hold, so that usrsctp's timer (every 10 ms, all
   * loops' locks) comes in the middle too. */
  for (int i = 0; i < MESSAGES; i++) {
    gint64 one_send_ms, one_total_ms = message_time(&side[1], &side[3],
                                                    &one_send_ms);

    send_ms = MAX(send_ms, one_send_ms);
    total_ms = MAX(total_ms, one_total_ms);
    g_usleep(HOLD_MS * 1000 / 2 / MESSAGES);
  }
  g_test_message("while F's loop is held: the longest send on N took %"
                 G_GINT64_FORMAT " ms, the longest delivery %"
                 G_GINT64_FORMAT " ms", send_ms, total_ms);
  g_assert_cmpint(send_ms, <, LIMIT_MS);
  g_assert_cmpint(total_ms, <, LIMIT_MS);
  g_thread_join(thread);
  g_mutex_clear(&h.lock);
  g_cond_clear(&h.cond);

  message_time(&side[0], &side[2], &send_ms);
  for (int i = 0; i < 4; i++)
    testutil_side_clear(&side[i]);
}

/* Run only in the subprocesses of /loops/not-recursive. */
static void
lock_loop_twice(void)
{
  struct testutil_side side;
  struct p2psig_loop *loop;

  if (!g_test_subprocess())
    return;
  testutil_side_init(&side, NULL, NULL, NULL);
  loop = p2psig__peer_loop(side.peer);
  p2psig__lock(loop);
  p2psig__lock(loop);
  p2psig__unlock(loop);
  p2psig__unlock(loop);
  testutil_side_clear(&side);
}

static void
lock_signaling_twice(void)
{
  if (!g_test_subprocess())
    return;
  p2psig__signal_lock();
  p2psig__signal_lock();
  p2psig__signal_unlock();
  p2psig__signal_unlock();
}

static void
test_not_recursive(void)
{
  static const char *const children[] = {
    "/loops/not-recursive/loop", "/loops/not-recursive/signaling",
  };

  for (size_t i = 0; i < G_N_ELEMENTS(children); i++) {
    g_test_trap_subprocess(children[i], 10 * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*assertion failed*");
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* In this order: the count is set before any peer starts the loops. */
  g_test_add_func("/loops/count", test_count);
  g_test_add_func("/loops/apart", test_apart);
  g_test_add_func("/loops/not-recursive", test_not_recursive);
  g_test_add_func("/loops/not-recursive/loop", lock_loop_twice);
  g_test_add_func("/loops/not-recursive/signaling", lock_signaling_twice);
  return g_test_run();
}
