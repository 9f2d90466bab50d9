/* SPDX-License-Identifier: MIT */
/*
 * address_family: two peers on 127.0.0.1 and ::1.  Both families: host
 * candidates of each, and a pair.  IPv4 only or IPv6 only: candidates of
 * that family only, the remote's of the other ignored, the pair of that
 * family.  A list of local addresses with none of the family is refused.
 * Skipped (77) without ::1.
 */
#include <gio/gio.h>
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

static const char *const both[] = { "127.0.0.1", "::1", NULL };

static bool
have_ipv6_loopback(void)
{
  g_autoptr(GSocket) socket =
    g_socket_new(G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                 G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
    G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);

  return socket && g_socket_bind(socket, addr, FALSE, NULL);
}

/* How many of side's candidates are of each family (lock held). */
static void
count_families(const struct testutil_side *side, unsigned *v4, unsigned *v6)
{
  *v4 = *v6 = 0;
  for (guint i = 0; i < side->candidates->len; i++) {
    g_auto(GStrv) f = g_strsplit(side->candidates->pdata[i], " ", -1);

    g_assert_cmpuint(g_strv_length(f), >=, 6);
    if (strchr(f[4], ':'))
      (*v6)++;
    else
      (*v4)++;
  }
}

/* Connects a peer limited to offer_family with one limited to
 * answer_family, both on both loopbacks; returns the offer's selected
 * pair. */
static void
run_pair(p2psig_address_family offer_family,
         p2psig_address_family answer_family, p2psig_peer_stats *stats)
{
  p2psig_peer_config ocfg = { P2PSIG_PEER_CONFIG_INIT,
                              .local_addresses = both,
                              .address_family = offer_family };
  p2psig_peer_config acfg = ocfg;
  struct testutil_side offer, answer;
  struct testutil_side *sides[] = { &offer, &answer };

  acfg.address_family = answer_family;
  testutil_side_init(&offer, "offer", &answer, &ocfg);
  testutil_side_init(&answer, "answer", &offer, &acfg);
  testutil_open_pair(&offer, &answer);
  TESTUTIL_WAIT(offer.gathering_done == 1 && answer.gathering_done == 1,
                12000, "end of candidates");
  for (size_t i = 0; i < G_N_ELEMENTS(sides); i++) {
    p2psig_address_family family = sides[i] == &offer ? offer_family
                                                      : answer_family;
    unsigned v4, v6;

    testutil_lock();
    count_families(sides[i], &v4, &v6);
    testutil_unlock();
    g_test_message("%s (%d): %u IPv4, %u IPv6 candidates", sides[i]->name,
                   (int)family, v4, v6);
    if (family == P2PSIG_ADDRESS_FAMILY_IPV4) {
      g_assert_cmpuint(v4, >, 0);
      g_assert_cmpuint(v6, ==, 0);
    } else if (family == P2PSIG_ADDRESS_FAMILY_IPV6) {
      g_assert_cmpuint(v4, ==, 0);
      g_assert_cmpuint(v6, >, 0);
    } else {
      g_assert_cmpuint(v4, >, 0);
      g_assert_cmpuint(v6, >, 0);
    }
  }
  g_assert_cmpint(p2psig_peer_get_stats(offer.peer, stats), ==, 0);
  g_assert_true(stats->has_selected_pair);
  g_test_message("pair %s <-> %s", stats->local_address,
                 stats->remote_address);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

static bool
is_v6(const char *address)
{
  return strchr(address, ':') != NULL;
}

static void
test_both(void)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  run_pair(P2PSIG_ADDRESS_FAMILY_ANY, P2PSIG_ADDRESS_FAMILY_ANY, &s);
  g_assert_cmpint(is_v6(s.local_address), ==, is_v6(s.remote_address));
}

static void
test_ipv4_only(void)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  run_pair(P2PSIG_ADDRESS_FAMILY_IPV4, P2PSIG_ADDRESS_FAMILY_IPV4, &s);
  g_assert_cmpstr(s.local_address, ==, "127.0.0.1");
  g_assert_cmpstr(s.remote_address, ==, "127.0.0.1");
}

static void
test_ipv6_only(void)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  run_pair(P2PSIG_ADDRESS_FAMILY_IPV6, P2PSIG_ADDRESS_FAMILY_IPV6, &s);
  g_assert_cmpstr(s.local_address, ==, "::1");
  g_assert_cmpstr(s.remote_address, ==, "::1");
}

/* One side takes both, the other IPv6 only: the IPv4 candidates it gets
 * are ignored, and the pair is IPv6 (with both, libnice prefers IPv6's
 * higher priority anyway, so the IPv4-only side is the one tried next). */
static unsigned ignored[3]; /* by family, from the debug lines */

static void
count_ignored(p2psig_log_level level, const char *domain, const char *message,
              void *user_data)
{
  if (!g_str_has_prefix(message, "remote candidate "))
    return;
  if (strstr(message, " ignored: IPv4 only"))
    g_atomic_int_inc(&ignored[P2PSIG_ADDRESS_FAMILY_IPV4]);
  else if (strstr(message, " ignored: IPv6 only"))
    g_atomic_int_inc(&ignored[P2PSIG_ADDRESS_FAMILY_IPV6]);
}

static void
test_remote_of_other_family_ignored(void)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, count_ignored, NULL);
  run_pair(P2PSIG_ADDRESS_FAMILY_IPV6, P2PSIG_ADDRESS_FAMILY_ANY, &s);
  g_assert_cmpstr(s.local_address, ==, "::1");
  g_assert_cmpstr(s.remote_address, ==, "::1");
  run_pair(P2PSIG_ADDRESS_FAMILY_ANY, P2PSIG_ADDRESS_FAMILY_IPV4, &s);
  g_assert_cmpstr(s.local_address, ==, "127.0.0.1");
  g_assert_cmpstr(s.remote_address, ==, "127.0.0.1");
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, NULL, NULL);
  /* Each limited side dropped the remote's candidates of the other
   * family, with a debug line each: at least the UDP one (the
   * controlling offer leaves TCP ones aside anyway). */
  g_assert_cmpuint(g_atomic_int_get(&ignored[P2PSIG_ADDRESS_FAMILY_IPV6]),
                   >=, 1);
  g_assert_cmpuint(g_atomic_int_get(&ignored[P2PSIG_ADDRESS_FAMILY_IPV4]),
                   >=, 3);
}

static void
test_refused(void)
{
  static const char *const v6[] = { "::1", NULL };
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT, .local_addresses = v6,
                             .address_family = P2PSIG_ADDRESS_FAMILY_IPV4 };
  int error = 0;

  g_assert_null(p2psig_peer_new(&cfg, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  cfg.local_addresses = NULL;
  cfg.address_family = 3;
  g_assert_null(p2psig_peer_new(&cfg, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (!have_ipv6_loopback()) {
    g_print("1..0 # SKIP no IPv6 loopback (::1)\n");
    return 77;
  }
  g_test_add_func("/address-family/both", test_both);
  g_test_add_func("/address-family/ipv4-only", test_ipv4_only);
  g_test_add_func("/address-family/ipv6-only", test_ipv6_only);
  g_test_add_func("/address-family/remote-of-other-family-ignored",
                  test_remote_of_other_family_ignored);
  g_test_add_func("/address-family/refused", test_refused);
  return g_test_run();
}
