/* SPDX-License-Identifier: MIT */
/*
 * mDNS candidates between two peers over 127.0.0.1, with real multicast:
 * run by tests/net/mdns-loopback.sh in a network namespace of its own
 * whose loopback takes multicast (as lo does not by default), so that the
 * queries and answers never leave it.
 *
 * Both peers hiding their addresses connect only if each resolves the
 * other's names; one hiding side reveals no address in its SDP or its
 * candidates; names that never answer are given up, bounded, and a peer
 * freed while it resolves stays quiet.
 */
#include <string.h>

#include "mdns.h"
#include "testutil.h"

static void
check_hidden(const char *what, const char *text)
{
  g_assert_nonnull(text);
  if (strstr(text, "127.0.0.1") || !strstr(text, ".local")) {
    g_test_message("%s: %s", what, text);
    g_test_fail();
  }
}

/* The candidate lines of an SDP (its o= line says 127.0.0.1, as browsers
 * write it, whatever the addresses). */
static void
check_sdp_hidden(const char *what, const char *sdp)
{
  g_auto(GStrv) lines = g_strsplit(sdp, "\r\n", -1);
  unsigned candidates = 0;

  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix(*l, "a=candidate:")) {
      check_hidden(what, *l);
      candidates++;
    }
  }
  g_assert_cmpuint(candidates, >, 0);
}

/* Every local candidate of side reported so far carries a name. */
static void
check_candidates_hidden(struct testutil_side *side)
{
  testutil_lock();
  g_assert_cmpuint(side->candidates->len, >, 0);
  for (guint i = 0; i < side->candidates->len; i++) {
    const char *c = side->candidates->pdata[i];

    check_hidden("candidate", c);
    g_assert_nonnull(strstr(c, "typ host"));
  }
  testutil_unlock();
}

static void
exchange_messages(struct testutil_side *a, struct testutil_side *b)
{
  TESTUTIL_WAIT(a->opened == 1 && b->announced == 1 && b->opened == 1, 10000,
                "channels open");
  g_assert_cmpint(p2psig_channel_send_text(a->channel, "from a"), ==, 0);
  g_assert_cmpint(p2psig_channel_send_text(b->channel, "from b"), ==, 0);
  TESTUTIL_WAIT(a->messages->len == 1 && b->messages->len == 1, 10000,
                "a message each way");
}

static void
run_pair(bool a_hides, bool b_hides)
{
  p2psig_peer_config ca = { P2PSIG_PEER_CONFIG_INIT,
                            .mdns_host_candidates = a_hides };
  p2psig_peer_config cb = { P2PSIG_PEER_CONFIG_INIT,
                            .mdns_host_candidates = b_hides };
  struct testutil_side a, b;
  g_autofree char *offer = NULL, *answer = NULL;
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);
  gint64 t0 = g_get_monotonic_time();

  testutil_side_init(&a, "a", &b, &ca);
  testutil_side_init(&b, "b", &a, &cb);
  testutil_side_channel(&a, "data", NULL);
  testutil_negotiate(&a, &b, &offer, &answer);
  if (a_hides)
    check_sdp_hidden("offer", offer);
  if (b_hides)
    check_sdp_hidden("answer", answer);
  TESTUTIL_WAIT(a.state == P2PSIG_STATE_CONNECTED &&
                b.state == P2PSIG_STATE_CONNECTED, 10000, "connected");
  g_test_message("connected in %" G_GINT64_FORMAT " ms",
                 (g_get_monotonic_time() - t0) / 1000);
  exchange_messages(&a, &b);
  if (a_hides)
    check_candidates_hidden(&a);
  if (b_hides)
    check_candidates_hidden(&b);
  /* The side that resolved sees the hiding one at its host address. */
  g_assert_cmpint(p2psig_peer_get_stats(b.peer, &s), ==, 0);
  g_assert_true(s.has_selected_pair);
  g_test_message("b: local %s %s:%u, remote %s %s:%u", s.local_type,
                 s.local_address, s.local_port, s.remote_type,
                 s.remote_address, s.remote_port);
  g_assert_cmpstr(s.remote_address, ==, "127.0.0.1");
  g_assert_cmpstr(s.remote_type, ==, "host");
  testutil_side_clear(&a);
  testutil_side_clear(&b);
}

/* Neither side has an address to give: each must resolve the other. */
static void
test_both_hide(void)
{
  run_pair(true, true);
}

/* Only the offer hides: the answer resolves it; a host pair. */
static void
test_offer_hides(void)
{
  run_pair(true, false);
}

static char *
unknown_name_candidate(unsigned n)
{
  return g_strdup_printf("candidate:1 1 udp 2122260223 "
                         "%08x-0000-4000-8000-000000000000.local %u typ host",
                         n, 40000 + n);
}

/* Names nobody answers: at most P2PSIG_MDNS_MAX_PENDING at a time, given
 * up after P2PSIG_MDNS_TIMEOUT_MS, after which others may start. */
static void
test_unanswered(void)
{
  struct testutil_side a, b;
  g_autofree char *offer = NULL;
  g_autofree char *c = NULL;

  testutil_side_init(&a, "a", NULL, NULL);
  testutil_side_init(&b, "b", NULL, NULL);
  testutil_side_channel(&a, "data", NULL);
  g_assert_cmpint(p2psig_peer_create_offer(a.peer, &offer), ==, 0);
  g_assert_cmpint(p2psig_peer_set_remote_description(b.peer,
                                                     P2PSIG_SDP_OFFER,
                                                     offer), ==, 0);
  for (unsigned i = 0; i < P2PSIG_MDNS_MAX_PENDING; i++) {
    g_autofree char *ci = unknown_name_candidate(i);

    g_assert_cmpint(p2psig_peer_add_candidate(b.peer, ci), ==, 0);
  }
  c = unknown_name_candidate(P2PSIG_MDNS_MAX_PENDING);
  g_assert_cmpint(p2psig_peer_add_candidate(b.peer, c), ==, P2PSIG_ELIMIT);
  /* Another port of a name being resolved waits for it. */
  g_clear_pointer(&c, g_free);
  c = g_strdup_printf("candidate:2 1 udp 2122260223 "
                      "%08x-0000-4000-8000-000000000000.local 9 typ host", 0);
  g_assert_cmpint(p2psig_peer_add_candidate(b.peer, c), ==, 0);
  g_usleep((P2PSIG_MDNS_TIMEOUT_MS + 500) * 1000);
  g_clear_pointer(&c, g_free);
  c = unknown_name_candidate(P2PSIG_MDNS_MAX_PENDING + 1);
  g_assert_cmpint(p2psig_peer_add_candidate(b.peer, c), ==, 0);
  testutil_side_clear(&a);
  /* Freed while that one is being resolved: nothing follows. */
  testutil_side_clear(&b);
  g_usleep(300 * 1000);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mdns-net/both-hide", test_both_hide);
  g_test_add_func("/mdns-net/offer-hides", test_offer_hides);
  g_test_add_func("/mdns-net/unanswered", test_unanswered);
  return g_test_run();
}
