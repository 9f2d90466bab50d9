/* SPDX-License-Identifier: MIT */
/*
 * Churn: many connect / exchange / close cycles in one process, two peers
 * a cycle over loopback.  Resident memory and open file descriptors after
 * the last cycle must stay within a small bound of their values after the
 * first ten: nothing accumulates per connection.
 *
 * /churn/free-inside: the same with the answer freeing its own peer from
 * inside on_message while this thread frees the offer, whose callbacks
 * hear the remote go meanwhile: a fifth as many cycles.
 *
 * P2PSIG_CHURN_CYCLES sets the number of cycles (default 500; CI runs a
 * smaller count under valgrind and LeakSanitizer).
 */
#include <p2psig/p2psig.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "peer-private.h"
#include "testutil.h"

/* Bounds, documented in the README: RSS may grow by allocator slack,
 * descriptors not at all beyond a couple in flight. */
#define RSS_GROWTH_MAX_KIB (8 * 1024)
#define FD_GROWTH_MAX 2

/* A failure anywhere fails the test at once. */
static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  g_assert_cmpint(state, !=, P2PSIG_STATE_FAILED);
  testutil_on_state(peer, state, error, user_data);
}

static void
cycle(void)
{
  /* Sides without names: their thousands of states are not logged. */
  static const p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                                          .on_state = on_state };
  struct testutil_side offer, answer;

  testutil_side_init(&offer, NULL, &answer, &cfg);
  testutil_side_init(&answer, NULL, &offer, &cfg);
  testutil_side_channel(&offer, "churn", NULL);
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer.opened == 1, 10000, "offer open");
  TESTUTIL_WAIT(answer.opened == 1, 10000, "answer open");
  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "ping"), ==, 0);
  g_assert_cmpint(p2psig_channel_send_text(answer.channel, "pong"), ==, 0);
  TESTUTIL_WAIT(offer.messages->len == 1, 10000, "offer message");
  TESTUTIL_WAIT(answer.messages->len == 1, 10000, "answer message");
  p2psig_peer_close(offer.peer);
  TESTUTIL_WAIT(offer.closed_state_count == 1, 10000, "offer closed");
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* Under the harness's lock: answers that freed themselves. */
static int freed_inside;

static void
free_on_message(p2psig_channel *channel, const void *data, size_t len,
                p2psig_kind kind, void *user_data)
{
  struct testutil_side *side = user_data;
  p2psig_peer *peer = p2psig_channel_get_peer(channel);

  testutil_on_message(channel, data, len, kind, user_data);
  testutil_lock();
  side->freed = true; /* no callback may follow */
  testutil_unlock();
  /* From inside its own callback: returns at once, the memory stays until
   * this returns, and the channel says the peer is gone. */
  p2psig_peer_free(peer);
  g_assert_cmpint(p2psig_channel_send_text(channel, "late"), ==,
                  P2PSIG_ECLOSED);
  testutil_lock();
  freed_inside++;
  testutil_unlock();
}

static void
cycle_free_inside(void)
{
  static const p2psig_peer_config offer_cfg = { P2PSIG_PEER_CONFIG_INIT,
                                                .on_state = on_state };
  static const p2psig_peer_config answer_cfg = {
    P2PSIG_PEER_CONFIG_INIT, .on_state = on_state,
    .on_message = free_on_message,
  };
  struct testutil_side offer, answer;
  int before;

  testutil_side_init(&offer, NULL, &answer, &offer_cfg);
  testutil_side_init(&answer, NULL, &offer, &answer_cfg);
  testutil_side_channel(&offer, "churn", NULL);
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer.opened == 1 && answer.opened == 1, 10000, "open");
  testutil_lock();
  before = freed_inside;
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "free"), ==, 0);
  TESTUTIL_WAIT(freed_inside == before + 1, 10000, "the answer freed");
  /* At once: the offer may be hearing the remote go. */
  testutil_side_clear(&offer);
  testutil_side_clear(&answer); /* freed already: records only */
}

static long
rss_kib(void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");

  g_assert_nonnull(f);
  g_assert_cmpint(fscanf(f, "%ld %ld", &pages, &resident), ==, 2);
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
open_fds(void)
{
  DIR *dir = opendir("/proc/self/fd");
  int n = 0;

  g_assert_nonnull(dir);
  while (readdir(dir))
    n++;
  closedir(dir);
  return n;
}

/* The library releases a freed peer's sockets on its own thread; the
 * count settles within moments. */
static int baseline_fds;

static bool
fds_settled(void *data)
{
  return open_fds() <= baseline_fds + FD_GROWTH_MAX;
}

static void
run_cycles(void (*one)(void), int cycles)
{
  long rss_after_ten = 0;
  gint64 start = g_get_monotonic_time();

  g_assert_cmpint(cycles, >=, 10);
  for (int i = 1; i <= cycles; i++) {
    one();
    if (i == 10) {
      rss_after_ten = rss_kib();
      baseline_fds = open_fds();
    }
  }
  testutil_wait_for(fds_settled, NULL, 5000, "descriptors released");
  g_test_message("%d cycles in %.1f s; RSS %ld KiB after 10, %ld KiB after "
                 "%d; descriptors %d after 10, %d at the end",
                 cycles, (double)(g_get_monotonic_time() - start) / 1e6,
                 rss_after_ten, rss_kib(), cycles, baseline_fds, open_fds());
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer's quarantine keeps freed memory resident on purpose;
   * the run checks leaks and descriptors only. */
  g_test_message("RSS bound not checked under AddressSanitizer");
#else
  g_assert_cmpint(rss_kib() - rss_after_ten, <=, RSS_GROWTH_MAX_KIB);
#endif
}

static int
cycles_asked(void)
{
  const char *env = g_getenv("P2PSIG_CHURN_CYCLES");

  return env ? atoi(env) : 500;
}

static void
test_churn(void)
{
  run_cycles(cycle, cycles_asked());
}

static bool
peers_released(void *data)
{
  return p2psig__peers_alive() == 0;
}

static void
test_free_inside(void)
{
  run_cycles(cycle_free_inside, MAX(10, cycles_asked() / 5));
  /* The last answer is released in the background: not while the process
   * exits (OpenSSL's exit handlers would race it). */
  testutil_wait_for(peers_released, NULL, 5000, "every peer released");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/churn/cycles", test_churn);
  g_test_add_func("/churn/free-inside", test_free_inside);
  return g_test_run();
}
