/* SPDX-License-Identifier: MIT */
/* ICE server URLs (lib/iceurl.c): RFC 7064 and RFC 7065. */
#include <string.h>

#include "iceurl.h"
#include "internal.h"

struct good {
  const char *url;
  enum p2psig_ice_url_kind kind;
  enum p2psig_ice_url_transport transport;
  const char *host;
  bool host_is_ip;
  uint16_t port;
};

static const struct good goods[] = {
  { "stun:stun.l.google.com:19302", P2PSIG_ICE_URL_STUN, P2PSIG_ICE_URL_UDP,
    "stun.l.google.com", false, 19302 },
  { "stun:198.18.0.1", P2PSIG_ICE_URL_STUN, P2PSIG_ICE_URL_UDP,
    "198.18.0.1", true, 3478 },
  { "STUN:example.org", P2PSIG_ICE_URL_STUN, P2PSIG_ICE_URL_UDP,
    "example.org", false, 3478 },
  { "stun:[2001:db8::1]:3479", P2PSIG_ICE_URL_STUN, P2PSIG_ICE_URL_UDP,
    "2001:db8::1", true, 3479 },
  { "turn:198.18.1.1", P2PSIG_ICE_URL_TURN, P2PSIG_ICE_URL_UDP,
    "198.18.1.1", true, 3478 },
  { "turn:turn.example.org:3480?transport=udp", P2PSIG_ICE_URL_TURN,
    P2PSIG_ICE_URL_UDP, "turn.example.org", false, 3480 },
  { "turn:198.18.1.1?transport=tcp", P2PSIG_ICE_URL_TURN, P2PSIG_ICE_URL_TCP,
    "198.18.1.1", true, 3478 },
  { "turn:[::1]:9?transport=TCP", P2PSIG_ICE_URL_TURN, P2PSIG_ICE_URL_TCP,
    "::1", true, 9 },
  { "turns:turn.example.org", P2PSIG_ICE_URL_TURN, P2PSIG_ICE_URL_TLS,
    "turn.example.org", false, 5349 },
  { "turns:198.18.1.1:443?transport=tcp", P2PSIG_ICE_URL_TURN,
    P2PSIG_ICE_URL_TLS, "198.18.1.1", true, 443 },
};

static const char *const bads[] = {
  "", "stun", "stun:", "http://example.org", "stuns:example.org",
  "stun://example.org", "stun:user@example.org", "stun:example.org/path",
  "stun:example.org:", "stun:example.org:0", "stun:example.org:65536",
  "stun:example.org:123456", "stun:example.org:12a", "stun:2001:db8::1",
  "stun:[2001:db8::1", "stun:[198.18.0.1]", "stun:[example.org]",
  "stun:exa mple.org", "stun:-example.org", "stun:example.org?transport=udp",
  "turn:example.org?transport=sctp", "turn:example.org?foo=bar",
  "turns:example.org?transport=udp", "turn:example.org#x",
  "turn:example.org:3478 trailing", "stun:\x1b[31m",
};

static void
test_good(void)
{
  for (size_t i = 0; i < G_N_ELEMENTS(goods); i++) {
    struct p2psig_ice_url url;
    g_autofree char *detail = NULL;

    g_test_message("%s", goods[i].url);
    g_assert_cmpint(p2psig__ice_url_parse(goods[i].url, &url, &detail), ==,
                    0);
    g_assert_null(detail);
    g_assert_cmpint(url.kind, ==, goods[i].kind);
    g_assert_cmpint(url.transport, ==, goods[i].transport);
    g_assert_cmpstr(url.host, ==, goods[i].host);
    g_assert_cmpint(url.host_is_ip, ==, goods[i].host_is_ip);
    g_assert_cmpint(url.port, ==, goods[i].port);
  }
}

static void
test_bad(void)
{
  for (size_t i = 0; i < G_N_ELEMENTS(bads); i++) {
    struct p2psig_ice_url url;
    g_autofree char *detail = NULL;

    g_assert_cmpint(p2psig__ice_url_parse(bads[i], &url, &detail), ==,
                    P2PSIG_EINVAL);
    g_assert_nonnull(detail);
    g_test_message("%s", detail);
    /* One printable line. */
    for (const char *p = detail; *p; p++)
      g_assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
  }
  g_assert_cmpint(p2psig__ice_url_parse(NULL, NULL, NULL), ==,
                  P2PSIG_EINVAL);
}

static void
test_long(void)
{
  g_autofree char *name = g_strnfill(300, 'a');
  g_autofree char *text = g_strconcat("turn:", name, NULL);
  struct p2psig_ice_url url;
  g_autofree char *detail = NULL;

  g_assert_cmpint(p2psig__ice_url_parse(text, &url, &detail), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpuint(strlen(detail), <, 200);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/iceurl/good", test_good);
  g_test_add_func("/iceurl/bad", test_bad);
  g_test_add_func("/iceurl/long", test_long);
  return g_test_run();
}
