/* SPDX-License-Identifier: MIT */
/*
 * ICE candidate strings (lib/sdp.c): what pion and Chromium send, the
 * RFC 8839 and RFC 6544 forms other stacks use, pion's output format, a
 * table of malformed strings that must each give P2PSIG_ECANDIDATE, and a
 * deterministic mutation loop that must never crash.
 */
#include <string.h>

#include "sdp.h"
#include "internal.h"
#include "testutil.h"

#define HOST P2PSIG_CANDIDATE_HOST
#define SRFLX P2PSIG_CANDIDATE_SRFLX
#define PRFLX P2PSIG_CANDIDATE_PRFLX
#define RELAY P2PSIG_CANDIDATE_RELAY
#define UDP P2PSIG_TRANSPORT_UDP
#define TCP P2PSIG_TRANSPORT_TCP

#define LONG_64 \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* 251 + ".com" = 255 characters, the longest address that fits. */
#define NAME_255 LONG_64 LONG_64 LONG_64 \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"

struct good {
  const char *name;
  const char *text;
  const char *foundation;
  unsigned component;
  enum p2psig_candidate_transport transport;
  uint32_t priority;
  const char *address;
  uint16_t port;
  enum p2psig_candidate_type type;
  const char *related_address;
  uint16_t related_port;
  enum p2psig_tcp_type tcp_type;
  const char *formatted;    /* NULL: same as text */
};

static const struct good goods[] = {
  { "pion-host",
    "candidate:1966762134 1 udp 2130706431 127.0.0.1 54321 typ host",
    "1966762134", 1, UDP, 2130706431, "127.0.0.1", 54321, HOST, "", 0,
    P2PSIG_TCP_NONE, NULL },
  { "a-prefix-and-crlf",
    "a=candidate:1966762134 1 udp 2130706431 127.0.0.1 54321 typ host\r\n",
    "1966762134", 1, UDP, 2130706431, "127.0.0.1", 54321, HOST, "", 0,
    P2PSIG_TCP_NONE,
    "candidate:1966762134 1 udp 2130706431 127.0.0.1 54321 typ host" },
  { "chromium-extras",
    "candidate:3004852045 1 udp 2122260223 127.0.0.1 57991 typ host "
    "generation 0 ufrag Xpl3 network-id 1 network-cost 50",
    "3004852045", 1, UDP, 2122260223, "127.0.0.1", 57991, HOST, "", 0,
    P2PSIG_TCP_NONE,
    "candidate:3004852045 1 udp 2122260223 127.0.0.1 57991 typ host" },
  { "upper-case",
    "CANDIDATE:1 1 UDP 2130706431 10.0.0.1 5000 TYP HOST",
    "1", 1, UDP, 2130706431, "10.0.0.1", 5000, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host" },
  { "ipv6",
    "candidate:2 1 udp 2122262783 2001:db8::1 40000 typ host",
    "2", 1, UDP, 2122262783, "2001:db8::1", 40000, HOST, "", 0,
    P2PSIG_TCP_NONE, NULL },
  { "ipv6-zone",
    "candidate:2 1 udp 2122262783 fe80::1%eth0 40000 typ host",
    "2", 1, UDP, 2122262783, "fe80::1%eth0", 40000, HOST, "", 0,
    P2PSIG_TCP_NONE, NULL },
  { "mdns",
    "candidate:3 1 udp 2113937151 0a1b2c3d-4e5f-6789-abcd-ef0123456789.local "
    "51234 typ host generation 0 network-cost 999",
    "3", 1, UDP, 2113937151, "0a1b2c3d-4e5f-6789-abcd-ef0123456789.local",
    51234, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:3 1 udp 2113937151 0a1b2c3d-4e5f-6789-abcd-ef0123456789.local "
    "51234 typ host" },
  { "hostname-trailing-dot",
    "candidate:3 1 udp 1 turn.example.org. 3478 typ host",
    "3", 1, UDP, 1, "turn.example.org.", 3478, HOST, "", 0, P2PSIG_TCP_NONE,
    NULL },
  { "srflx",
    "candidate:842163049 1 udp 1677729535 203.0.113.7 61234 typ srflx "
    "raddr 192.168.1.10 rport 61234 generation 0",
    "842163049", 1, UDP, 1677729535, "203.0.113.7", 61234, SRFLX,
    "192.168.1.10", 61234, P2PSIG_TCP_NONE,
    "candidate:842163049 1 udp 1677729535 203.0.113.7 61234 typ srflx "
    "raddr 192.168.1.10 rport 61234" },
  { "srflx-hidden-base",
    "candidate:1 1 udp 1677729535 203.0.113.7 61234 typ srflx "
    "raddr 0.0.0.0 rport 0",
    "1", 1, UDP, 1677729535, "203.0.113.7", 61234, SRFLX, "0.0.0.0", 0,
    P2PSIG_TCP_NONE, NULL },
  { "prflx",
    "candidate:9 1 udp 1845501695 198.51.100.4 50000 typ prflx "
    "raddr 10.0.0.4 rport 50001",
    "9", 1, UDP, 1845501695, "198.51.100.4", 50000, PRFLX, "10.0.0.4", 50001,
    P2PSIG_TCP_NONE, NULL },
  { "relay",
    "candidate:4 1 udp 33562367 198.51.100.2 3478 typ relay "
    "raddr 203.0.113.7 rport 50000",
    "4", 1, UDP, 33562367, "198.51.100.2", 3478, RELAY, "203.0.113.7", 50000,
    P2PSIG_TCP_NONE, NULL },
  { "relay-without-raddr",
    "candidate:4 1 udp 33562367 198.51.100.2 3478 typ relay",
    "4", 1, UDP, 33562367, "198.51.100.2", 3478, RELAY, "", 0,
    P2PSIG_TCP_NONE,
    "candidate:4 1 udp 33562367 198.51.100.2 3478 typ relay "
    "raddr 0.0.0.0 rport 0" },
  { "tcp-passive",
    "candidate:5 1 tcp 1518280447 192.168.1.10 9000 typ host tcptype passive",
    "5", 1, TCP, 1518280447, "192.168.1.10", 9000, HOST, "", 0,
    P2PSIG_TCP_PASSIVE, NULL },
  { "tcp-active-port-9",
    "candidate:6 1 TCP 1518214911 192.168.1.10 9 typ host tcptype active",
    "6", 1, TCP, 1518214911, "192.168.1.10", 9, HOST, "", 0,
    P2PSIG_TCP_ACTIVE,
    "candidate:6 1 tcp 1518214911 192.168.1.10 9 typ host tcptype active" },
  { "tcp-so",
    "candidate:7 1 tcp 1518149375 192.168.1.10 9001 typ host tcptype so",
    "7", 1, TCP, 1518149375, "192.168.1.10", 9001, HOST, "", 0,
    P2PSIG_TCP_SO, NULL },
  { "pion-tcptype-before-raddr",
    "candidate:7 1 tcp 1845501695 203.0.113.7 443 typ srflx tcptype passive "
    "raddr 10.0.0.2 rport 443",
    "7", 1, TCP, 1845501695, "203.0.113.7", 443, SRFLX, "10.0.0.2", 443,
    P2PSIG_TCP_PASSIVE,
    "candidate:7 1 tcp 1845501695 203.0.113.7 443 typ srflx "
    "raddr 10.0.0.2 rport 443 tcptype passive" },
  { "udp-tcptype-ignored",
    "candidate:8 1 udp 1 10.0.0.1 1 typ host tcptype active",
    "8", 1, UDP, 1, "10.0.0.1", 1, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:8 1 udp 1 10.0.0.1 1 typ host" },
  { "host-raddr-ignored",
    "candidate:8 1 udp 1 10.0.0.1 1 typ host raddr 10.0.0.2 rport 7",
    "8", 1, UDP, 1, "10.0.0.1", 1, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:8 1 udp 1 10.0.0.1 1 typ host" },
  { "limits",
    "candidate:abcdefghijklmnopqrstuvwxyz+/0123 256 udp 4294967295 "
    "10.0.0.1 65535 typ host",
    "abcdefghijklmnopqrstuvwxyz+/0123", 256, UDP, 4294967295u, "10.0.0.1",
    65535, HOST, "", 0, P2PSIG_TCP_NONE, NULL },
  { "rtcp-component",
    "candidate:1 2 udp 2130706430 10.0.0.1 5001 typ host",
    "1", 2, UDP, 2130706430, "10.0.0.1", 5001, HOST, "", 0, P2PSIG_TCP_NONE,
    NULL },
  { "priority-zero",
    "candidate:1 1 udp 0 10.0.0.1 5001 typ host",
    "1", 1, UDP, 0, "10.0.0.1", 5001, HOST, "", 0, P2PSIG_TCP_NONE, NULL },
  { "longest-address",
    "candidate:1 1 udp 1 " NAME_255 " 5 typ host",
    "1", 1, UDP, 1, NAME_255, 5, HOST, "", 0, P2PSIG_TCP_NONE, NULL },
  { "extra-blanks",
    "  candidate:1  1\tudp   2130706431 10.0.0.1  5000 typ  host  x  y \r\n",
    "1", 1, UDP, 2130706431, "10.0.0.1", 5000, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host" },
  { "unknown-extension-with-odd-bytes",
    "candidate:1 1 udp 1 10.0.0.1 5000 typ host x-\xc3\xa9 \x01\x7f",
    "1", 1, UDP, 1, "10.0.0.1", 5000, HOST, "", 0, P2PSIG_TCP_NONE,
    "candidate:1 1 udp 1 10.0.0.1 5000 typ host" },
};

static void
assert_good(const struct good *g, const struct p2psig_candidate *c)
{
  g_assert_cmpstr(c->foundation, ==, g->foundation);
  g_assert_cmpuint(c->component, ==, g->component);
  g_assert_cmpint(c->transport, ==, g->transport);
  g_assert_cmpuint(c->priority, ==, g->priority);
  g_assert_cmpstr(c->address, ==, g->address);
  g_assert_cmpuint(c->port, ==, g->port);
  g_assert_cmpint(c->type, ==, g->type);
  g_assert_cmpstr(c->related_address, ==, g->related_address);
  g_assert_cmpuint(c->related_port, ==, g->related_port);
  g_assert_cmpint(c->tcp_type, ==, g->tcp_type);
}

static void
assert_same(const struct p2psig_candidate *a, const struct p2psig_candidate *b)
{
  g_assert_cmpstr(a->foundation, ==, b->foundation);
  g_assert_cmpuint(a->component, ==, b->component);
  g_assert_cmpint(a->transport, ==, b->transport);
  g_assert_cmpuint(a->priority, ==, b->priority);
  g_assert_cmpstr(a->address, ==, b->address);
  g_assert_cmpuint(a->port, ==, b->port);
  g_assert_cmpint(a->type, ==, b->type);
  g_assert_cmpstr(a->related_address, ==, b->related_address);
  g_assert_cmpuint(a->related_port, ==, b->related_port);
  g_assert_cmpint(a->tcp_type, ==, b->tcp_type);
}

static void
test_parse_good(gconstpointer data)
{
  const struct good *g = data;
  struct p2psig_candidate c;
  char *detail = (char *)"unset";

  g_assert_cmpint(p2psig__candidate_parse(g->text, &c, &detail), ==, 0);
  g_assert_null(detail);
  assert_good(g, &c);
  memset(&c, 0, sizeof c);
  g_assert_cmpint(p2psig__candidate_parse(g->text, &c, NULL), ==, 0);
  assert_good(g, &c);
}

static void
test_format_good(gconstpointer data)
{
  const struct good *g = data;
  struct p2psig_candidate c, again;
  g_autofree char *text = NULL;

  g_assert_cmpint(p2psig__candidate_parse(g->text, &c, NULL), ==, 0);
  text = p2psig__candidate_format(&c);
  g_assert_cmpstr(text, ==, g->formatted != NULL ? g->formatted : g->text);
  /* And what we write reads back the same (bar a missing raddr, which the
   * format fills in). */
  g_assert_cmpint(p2psig__candidate_parse(text, &again, NULL), ==, 0);
  if (c.type != HOST && c.related_address[0] == '\0')
    strcpy(c.related_address, "0.0.0.0");
  assert_same(&c, &again);
}

/* Each line of a sample file parses; pion's read back byte for byte. */
static void
check_file(const char *name, bool exact)
{
  g_autofree char *raw = testutil_read_data(name, NULL);
  g_auto(GStrv) lines = g_strsplit(raw, "\n", -1);
  unsigned n = 0;

  for (guint i = 0; lines[i] != NULL; i++) {
    struct p2psig_candidate c;
    g_autofree char *text = NULL;
    g_autofree char *crlf = g_strconcat("a=", lines[i], "\r\n", NULL);

    if (lines[i][0] == '\0')
      continue;
    g_assert_cmpint(p2psig__candidate_parse(lines[i], &c, NULL), ==, 0);
    text = p2psig__candidate_format(&c);
    g_test_message("%s -> %s", lines[i], text);
    if (exact)
      g_assert_cmpstr(text, ==, lines[i]);
    else
      g_assert_true(g_str_has_prefix(lines[i], text));
    g_assert_cmpint(p2psig__candidate_parse(crlf, &c, NULL), ==, 0);
    n++;
  }
  g_assert_cmpuint(n, >, 0);
}

static void
test_parse_pion_file(void)
{
  check_file("pion-3.1.56-candidates.txt", true);
}

static void
test_parse_chromium_file(void)
{
  struct p2psig_candidate c;
  g_autofree char *raw = testutil_read_data("chromium-156-candidates.txt",
                                            NULL);

  check_file("chromium-156-candidates.txt", false);
  g_assert_cmpint(p2psig__candidate_parse(raw, &c, NULL), !=, 0);
  *strchr(raw, '\n') = '\0';
  g_assert_cmpint(p2psig__candidate_parse(raw, &c, NULL), ==, 0);
  g_assert_cmpstr(c.foundation, ==, "3004852045");
  g_assert_cmpuint(c.priority, ==, 2122260223);
  g_assert_cmpstr(c.address, ==, "127.0.0.1");
  g_assert_cmpuint(c.port, ==, 57991);
}

struct bad {
  const char *name;
  const char *text;
};

#define C "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host"

static const struct bad bads[] = {
  { "empty", "" },
  { "blanks", "  \t\r\n" },
  { "no-prefix", "1 1 udp 2130706431 10.0.0.1 5000 typ host" },
  { "wrong-prefix", "candidat:1 1 udp 2130706431 10.0.0.1 5000 typ host" },
  { "a-only", "a=" },
  { "double-a", "a=a=" C },
  { "prefix-only", "candidate:" },
  { "prefix-no-colon", "candidate" },
  { "only-foundation", "candidate:1" },
  { "no-transport", "candidate:1 1" },
  { "no-priority", "candidate:1 1 udp" },
  { "no-address", "candidate:1 1 udp 2130706431" },
  { "no-port", "candidate:1 1 udp 2130706431 10.0.0.1" },
  { "no-typ", "candidate:1 1 udp 2130706431 10.0.0.1 5000" },
  { "no-type", "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ" },
  { "typ-missing-keyword", "candidate:1 1 udp 2130706431 10.0.0.1 5000 host" },
  { "typ-misspelt", "candidate:1 1 udp 2130706431 10.0.0.1 5000 type host" },
  { "foundation-empty", "candidate: 1 udp 2130706431 10.0.0.1 5000 typ host" },
  { "foundation-33", "candidate:abcdefghijklmnopqrstuvwxyz0123456 1 udp "
                     "2130706431 10.0.0.1 5000 typ host" },
  { "foundation-bad-char", "candidate:ab-c 1 udp 1 10.0.0.1 5000 typ host" },
  { "foundation-high-byte", "candidate:\xff 1 udp 1 10.0.0.1 5000 typ host" },
  { "component-zero", "candidate:1 0 udp 1 10.0.0.1 5000 typ host" },
  { "component-257", "candidate:1 257 udp 1 10.0.0.1 5000 typ host" },
  { "component-negative", "candidate:1 -1 udp 1 10.0.0.1 5000 typ host" },
  { "component-plus", "candidate:1 +1 udp 1 10.0.0.1 5000 typ host" },
  { "component-text", "candidate:1 one udp 1 10.0.0.1 5000 typ host" },
  { "component-huge", "candidate:1 99999999999999999999999 udp 1 10.0.0.1 "
                      "5000 typ host" },
  { "priority-overflow",
    "candidate:1 1 udp 4294967296 10.0.0.1 5000 typ host" },
  { "priority-huge", "candidate:1 1 udp 99999999999999999999999 10.0.0.1 "
                     "5000 typ host" },
  { "priority-negative", "candidate:1 1 udp -1 10.0.0.1 5000 typ host" },
  { "priority-fraction", "candidate:1 1 udp 1.5 10.0.0.1 5000 typ host" },
  { "priority-hex", "candidate:1 1 udp 0x10 10.0.0.1 5000 typ host" },
  { "port-zero", "candidate:1 1 udp 1 10.0.0.1 0 typ host" },
  { "port-overflow", "candidate:1 1 udp 1 10.0.0.1 65536 typ host" },
  { "port-huge", "candidate:1 1 udp 1 10.0.0.1 99999999999999999999 typ host" },
  { "port-text", "candidate:1 1 udp 1 10.0.0.1 http typ host" },
  { "port-negative", "candidate:1 1 udp 1 10.0.0.1 -5000 typ host" },
  { "port-suffix", "candidate:1 1 udp 1 10.0.0.1 80a typ host" },
  { "address-256", "candidate:1 1 udp 1 a" NAME_255 " 5 typ host" },
  { "address-semicolon", "candidate:1 1 udp 1 10.0.0.1;x 5 typ host" },
  { "address-ipv4-octet", "candidate:1 1 udp 1 999.1.1.1 5 typ host" },
  { "address-ipv4-short", "candidate:1 1 udp 1 1.2.3 5 typ host" },
  { "address-ipv6-bad", "candidate:1 1 udp 1 ::g 5 typ host" },
  { "address-ipv6-brackets", "candidate:1 1 udp 1 [::1] 5 typ host" },
  { "address-empty-label", "candidate:1 1 udp 1 a..local 5 typ host" },
  { "address-leading-dot", "candidate:1 1 udp 1 .local 5 typ host" },
  { "address-high-byte", "candidate:1 1 udp 1 h\xc3\xa9.local 5 typ host" },
  { "odd-trailing-name", C " generation" },
  { "odd-after-pairs", C " generation 0 ufrag" },
  { "raddr-without-value", "candidate:1 1 udp 1 10.0.0.1 5 typ srflx raddr" },
  { "raddr-bad", "candidate:1 1 udp 1 10.0.0.1 5 typ srflx raddr ::zz "
                 "rport 1" },
  { "rport-overflow", "candidate:1 1 udp 1 10.0.0.1 5 typ srflx "
                      "raddr 10.0.0.2 rport 65536" },
  { "rport-text", "candidate:1 1 udp 1 10.0.0.1 5 typ srflx "
                  "raddr 10.0.0.2 rport x" },
};

/* Candidates RFC 8839's grammar allows (any token as a transport, a type
 * or a tcptype) that we cannot use: they parse, marked unsupported, so that
 * a remote sending them is not refused. */
static const struct bad unsupported[] = {
  { "type-unknown", "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ foo" },
  { "type-prefix", "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ hostx" },
  { "transport-sctp", "candidate:1 1 sctp 1 10.0.0.1 5000 typ host" },
  { "transport-ssltcp", "candidate:1 1 ssltcp 1 10.0.0.1 5000 typ host" },
  { "transport-udp4", "candidate:1 1 udp4 1 10.0.0.1 5000 typ host" },
  { "tcptype-unknown", "candidate:1 1 tcp 1 10.0.0.1 5 typ host "
                       "tcptype both" },
  { "tcp-without-tcptype", "candidate:1 1 tcp 1 10.0.0.1 5 typ host" },
};

static void
test_parse_unsupported(gconstpointer data)
{
  const struct bad *b = data;
  struct p2psig_candidate c;
  char *detail = NULL;

  g_assert_cmpint(p2psig__candidate_parse(b->text, &c, &detail), ==, 0);
  g_assert_null(detail);
  g_assert_nonnull(c.unsupported);
  g_test_message("%s: %s", b->name, c.unsupported);
}

static void
test_parse_bad(gconstpointer data)
{
  const struct bad *b = data;
  struct p2psig_candidate c;
  char *detail = NULL;

  g_assert_cmpint(p2psig__candidate_parse(b->text, &c, NULL), ==,
                  P2PSIG_ECANDIDATE);
  g_assert_cmpint(p2psig__candidate_parse(b->text, &c, &detail), ==,
                  P2PSIG_ECANDIDATE);
  g_assert_nonnull(detail);
  g_assert_null(strchr(detail, '\n'));
  g_test_message("%s: %s", b->name, detail);
  g_free(detail);
}

static void
test_parse_null(void)
{
  struct p2psig_candidate c;
  char *detail = NULL;

  g_assert_cmpint(p2psig__candidate_parse(NULL, &c, &detail), ==,
                  P2PSIG_ECANDIDATE);
  g_assert_nonnull(detail);
  g_free(detail);
}

static void
test_format_built(void)
{
  struct p2psig_candidate c;
  g_autofree char *host = NULL;
  g_autofree char *relay = NULL;
  g_autofree char *tcp = NULL;

  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "1966762134");
  c.component = 1;
  c.priority = 2130706431;
  strcpy(c.address, "127.0.0.1");
  c.port = 54321;
  host = p2psig__candidate_format(&c);
  g_assert_cmpstr(host, ==,
                  "candidate:1966762134 1 udp 2130706431 127.0.0.1 54321 "
                  "typ host");

  c.type = RELAY;
  strcpy(c.address, "2001:db8::5");
  strcpy(c.related_address, "192.0.2.1");
  c.related_port = 40000;
  relay = p2psig__candidate_format(&c);
  g_assert_cmpstr(relay, ==,
                  "candidate:1966762134 1 udp 2130706431 2001:db8::5 54321 "
                  "typ relay raddr 192.0.2.1 rport 40000");

  c.type = HOST;
  c.transport = TCP;
  c.tcp_type = P2PSIG_TCP_ACTIVE;
  c.port = 9;
  tcp = p2psig__candidate_format(&c);
  g_assert_cmpstr(tcp, ==,
                  "candidate:1966762134 1 tcp 2130706431 2001:db8::5 9 "
                  "typ host tcptype active");
}

/* GLib's test mode prints debug messages; the loops below would print one
 * per refused input. */
static gboolean
quiet_begin(void)
{
  gboolean was = g_log_get_debug_enabled();

  g_log_set_debug_enabled(FALSE);
  return was;
}

/* Accepted or not, nothing may break; what is accepted must be sane and
 * must survive our own format. */
static int
parse_checked(const char *text)
{
  struct p2psig_candidate c, again;
  char *detail = NULL;
  int r = p2psig__candidate_parse(text, &c, &detail);

  if (r != 0) {
    g_assert_cmpint(r, ==, P2PSIG_ECANDIDATE);
    g_assert_nonnull(detail);
    g_assert_null(strchr(detail, '\n'));
    g_free(detail);
    return r;
  }
  g_assert_null(detail);
  g_assert_cmpuint(strlen(c.foundation), >=, 1);
  g_assert_cmpuint(strlen(c.foundation), <=, 32);
  g_assert_cmpuint(c.component, >=, 1);
  g_assert_cmpuint(c.component, <=, 256);
  g_assert_cmpuint(strlen(c.address), >=, 1);
  g_assert_cmpuint(strlen(c.address), <=, 255);
  g_assert_cmpuint(strlen(c.related_address), <=, 255);
  g_assert_cmpuint(c.port, >, 0);
  g_assert_true(c.type <= RELAY);
  /* What we cannot use is never formatted: no round trip for it. */
  if (c.unsupported) {
    g_assert_cmpuint(strlen(c.unsupported), >, 0);
    return 0;
  }
  g_assert_true(c.transport == UDP || c.tcp_type != P2PSIG_TCP_NONE);
  {
    g_autofree char *text2 = p2psig__candidate_format(&c);

    g_assert_cmpint(p2psig__candidate_parse(text2, &again, NULL), ==, 0);
    if (c.type != HOST && c.related_address[0] == '\0')
      strcpy(c.related_address, "0.0.0.0");
    assert_same(&c, &again);
  }
  return 0;
}

static void
test_robustness_truncate(void)
{
  unsigned accepted = 0, refused = 0;
  gboolean debug = quiet_begin();

  for (size_t i = 0; i < G_N_ELEMENTS(goods); i++) {
    size_t n = strlen(goods[i].text);

    for (size_t len = 0; len <= n; len++) {
      /* Exact-size heap copies: ASan sees any read past the end. */
      char *text = g_strndup(goods[i].text, len);

      if (parse_checked(text) == 0)
        accepted++;
      else
        refused++;
      g_free(text);
    }
  }
  g_log_set_debug_enabled(debug);
  g_test_message("truncations: %u accepted, %u refused", accepted, refused);
  g_assert_cmpuint(accepted, >, 0);
  g_assert_cmpuint(refused, >, 0);
}

/* Pieces that steer mutations into the parser's deeper branches. */
static const char *const dictionary[] = {
  " ", "\t", "\r\n", ":", ".", "0", "9", "65535", "65536", "256", "257",
  "4294967295", "4294967296", "99999999999999999999", "-1", "+1", "udp",
  "tcp", "typ", "host", "srflx", "prflx", "relay", " raddr ", " rport ",
  " tcptype ", "active", "passive", "so", "::1", "fe80::1%eth0", ".local",
  "a=", "candidate:", " generation 0", "\xff",
};

static void
test_robustness_mutate(void)
{
  GRand *rand = g_rand_new_with_seed(0xca11ab1e);
  unsigned accepted = 0, refused = 0;
  int rounds = g_test_slow() ? 500000 : 50000;
  gboolean debug = quiet_begin();

  for (int round = 0; round < rounds; round++) {
    GString *s = g_string_new(
        goods[g_rand_int_range(rand, 0, G_N_ELEMENTS(goods))].text);
    int edits = g_rand_int_range(rand, 1, 5);
    char *text;

    for (int e = 0; e < edits; e++) {
      gsize pos = s->len > 0
                      ? (gsize)g_rand_int_range(rand, 0, (gint32)s->len)
                      : 0;
      gsize run = (gsize)g_rand_int_range(rand, 1, 12);

      switch (g_rand_int_range(rand, 0, 4)) {
      case 0: /* any byte but NUL */
        if (s->len > 0)
          s->str[pos] = (char)g_rand_int_range(rand, 1, 256);
        break;
      case 1: /* a digit, to grow or break numbers */
        g_string_insert_c(s, (gssize)pos,
                          (char)('0' + g_rand_int_range(rand, 0, 10)));
        break;
      case 2:
        g_string_insert(s, (gssize)pos,
                        dictionary[g_rand_int_range(
                            rand, 0, G_N_ELEMENTS(dictionary))]);
        break;
      default:
        g_string_erase(s, (gssize)pos, (gssize)MIN(s->len - pos, run));
        break;
      }
    }
    text = g_string_free(s, FALSE);
    if (parse_checked(text) == 0)
      accepted++;
    else
      refused++;
    g_free(text);
  }
  g_log_set_debug_enabled(debug);
  g_test_message("mutations: %u accepted, %u refused", accepted, refused);
  g_assert_cmpuint(accepted, >, 0);
  g_assert_cmpuint(refused, >, 0);
  g_rand_free(rand);
}

int
main(int argc, char *argv[])
{
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/candidate/parse/pion-file", test_parse_pion_file);
  g_test_add_func("/candidate/parse/chromium-file", test_parse_chromium_file);
  g_test_add_func("/candidate/parse/null", test_parse_null);
  for (size_t i = 0; i < G_N_ELEMENTS(goods); i++) {
    g_autofree char *parse = g_strdup_printf("/candidate/parse/%s",
                                             goods[i].name);
    g_autofree char *format = g_strdup_printf("/candidate/format/%s",
                                              goods[i].name);

    g_test_add_data_func(parse, &goods[i], test_parse_good);
    g_test_add_data_func(format, &goods[i], test_format_good);
  }
  for (size_t i = 0; i < G_N_ELEMENTS(bads); i++) {
    g_autofree char *path = g_strdup_printf("/candidate/parse/malformed/%s",
                                            bads[i].name);

    g_test_add_data_func(path, &bads[i], test_parse_bad);
  }
  for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++) {
    g_autofree char *path = g_strdup_printf(
        "/candidate/parse/unsupported/%s", unsupported[i].name);

    g_test_add_data_func(path, &unsupported[i], test_parse_unsupported);
  }
  g_test_add_func("/candidate/format/built", test_format_built);
  g_test_add_func("/candidate/robustness/truncate", test_robustness_truncate);
  g_test_add_func("/candidate/robustness/mutate", test_robustness_mutate);
  return g_test_run();
}
