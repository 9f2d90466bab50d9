/* SPDX-License-Identifier: MIT */
/*
 * Churn: many connect / exchange / close cycles in one process, two peers
 * a cycle over loopback.  Resident memory and open file descriptors after
 * the last cycle must stay within a small bound of their values after the
 * first ten: nothing accumulates per connection.
 *
 * P2PSIG_CHURN_CYCLES sets the number of cycles (default 500; CI runs a
 * smaller count under valgrind and LeakSanitizer).
 */
#include <p2psig/p2psig.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
test_churn(void)
{
  const char *env = g_getenv("P2PSIG_CHURN_CYCLES");
  int cycles = env ? atoi(env) : 500;
  long rss_after_ten = 0;
  gint64 start = g_get_monotonic_time();

  g_assert_cmpint(cycles, >=, 10);
  for (int i = 1; i <= cycles; i++) {
    cycle();
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

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/churn/cycles", test_churn);
  return g_test_run();
}
