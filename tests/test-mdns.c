/* SPDX-License-Identifier: MIT */
/*
 * The mDNS messages (lib/mdns.c): names browsers make, one-shot queries,
 * answers (multicast and legacy unicast), and responses from the network
 * that must parse to nothing: truncated, looping or forward compression
 * pointers, the wrong name, goodbyes, other classes.  No sockets.
 */
#include <gio/gio.h>
#include <string.h>

#include "mdns.h"
#include "testutil.h"

#define NAME "0a1b2c3d-4e5f-4789-abcd-ef0123456789.local"

static void
test_names(void)
{
  static const char *const good[] = {
    NAME, "a.local", "A-1.LOCAL", "x.Local",
    /* 63 characters */
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.local",
  };
  static const char *const bad[] = {
    "", ".local", "local", "a.local.", "a..local", "a.b.local", "a.lan",
    "a.localx", "a b.local", "a_b.local", "h\xc3\xa9.local", "10.0.0.1",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl.local",
  };

  for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(p2psig__mdns_name_valid(good[i]));
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("refused: '%s'", bad[i]);
    g_assert_false(p2psig__mdns_name_valid(bad[i]));
  }
  g_assert_false(p2psig__mdns_name_valid(NULL));
}

static void
test_query(void)
{
  uint8_t buf[512];
  struct p2psig_mdns_question qs[4];
  uint16_t id = 0;
  size_t len = p2psig__mdns_build_query(0x1234, NAME, true, buf, sizeof buf);
  size_t n;

  /* header, then twice: 1 + 36 + 1 + 5 + 1 name bytes, type, class */
  g_assert_cmpuint(len, ==, 12 + 2 * (44 + 4));
  g_assert_cmpuint(buf[0], ==, 0x12);
  g_assert_cmpuint(buf[2], ==, 0); /* a query, no flags */
  g_assert_cmpuint(buf[5], ==, 2);
  g_assert_cmpuint(buf[12], ==, 36);
  g_assert_cmpmem(buf + 13, 36, NAME, 36);
  n = p2psig__mdns_parse_query(buf, len, &id, qs, G_N_ELEMENTS(qs));
  g_assert_cmpuint(n, ==, 2);
  g_assert_cmpuint(id, ==, 0x1234);
  g_assert_cmpstr(qs[0].name, ==, NAME);
  g_assert_cmpuint(qs[0].type, ==, 1);
  g_assert_cmpuint(qs[1].type, ==, 28);
  g_assert_false(qs[0].unicast); /* RFC 6762 5.1: QU not needed */
  /* A query is no response. */
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, NAME,
                                               (struct p2psig_mdns_address
                                                  [2]){ 0 }, 2), ==, 0);
  /* Too small a buffer, a bad name. */
  g_assert_cmpuint(p2psig__mdns_build_query(1, NAME, true, buf, len - 1), ==,
                   0);
  g_assert_cmpuint(p2psig__mdns_build_query(1, "a.b", false, buf,
                                            sizeof buf), ==, 0);
  /* Every truncation of a query parses to fewer questions, never past
   * the end. */
  for (size_t cut = 0; cut < len; cut++) {
    g_autofree uint8_t *copy = g_memdup2(buf, cut);

    g_assert_cmpuint(p2psig__mdns_parse_query(copy, cut, &id, qs,
                                              G_N_ELEMENTS(qs)), <, 2);
  }
}

static void
test_response(void)
{
  uint8_t buf[512];
  struct p2psig_mdns_address a4 = { .family = G_SOCKET_FAMILY_IPV4,
                                    .bytes = { 198, 18, 0, 21 } };
  struct p2psig_mdns_address a6 = { .family = G_SOCKET_FAMILY_IPV6,
                                    .bytes = { 0xfd, 0, [15] = 1 } };
  struct p2psig_mdns_address out[2];
  size_t len, n;

  /* Multicast: id 0, no question, cache-flush, TTL 120. */
  len = p2psig__mdns_build_response(7, NAME, &a4, false, buf, sizeof buf);
  g_assert_cmpuint(len, ==, 12 + 44 + 10 + 4);
  g_assert_cmpuint(buf[0] | buf[1], ==, 0);
  g_assert_cmpuint(buf[2], ==, 0x84);
  g_assert_cmpuint(buf[5], ==, 0);
  g_assert_cmpuint(buf[12 + 44 + 2], ==, 0x80); /* cache-flush */
  g_assert_cmpuint(buf[12 + 44 + 7], ==, 120);
  n = p2psig__mdns_parse_response(buf, len, NAME, out, 2);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpint(out[0].family, ==, G_SOCKET_FAMILY_IPV4);
  g_assert_cmpmem(out[0].bytes, 4, a4.bytes, 4);
  /* Names compare without case. */
  g_assert_cmpuint(p2psig__mdns_parse_response(
                     buf, len, "0A1B2C3D-4E5F-4789-ABCD-EF0123456789.LOCAL",
                     out, 2), ==, 1);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "other.local", out,
                                               2), ==, 0);
  /* Every truncation parses to nothing. */
  for (size_t cut = 0; cut < len; cut++) {
    g_autofree uint8_t *copy = g_memdup2(buf, cut);

    g_assert_cmpuint(p2psig__mdns_parse_response(copy, cut, NAME, out, 2),
                     ==, 0);
  }

  /* Legacy unicast (RFC 6762 6.7): id and question echoed, TTL 10, no
   * cache-flush; AAAA. */
  len = p2psig__mdns_build_response(0xbeef, NAME, &a6, true, buf,
                                    sizeof buf);
  g_assert_cmpuint(len, ==, 12 + 48 + 44 + 10 + 16);
  g_assert_cmpuint(buf[0], ==, 0xbe);
  g_assert_cmpuint(buf[5], ==, 1);
  g_assert_cmpuint(buf[12 + 48 + 44 + 2], ==, 0);
  g_assert_cmpuint(buf[12 + 48 + 44 + 7], ==, 10);
  n = p2psig__mdns_parse_response(buf, len, NAME, out, 2);
  g_assert_cmpuint(n, ==, 1);
  g_assert_cmpint(out[0].family, ==, G_SOCKET_FAMILY_IPV6);
  g_assert_cmpmem(out[0].bytes, 16, a6.bytes, 16);
  g_assert_cmpuint(p2psig__mdns_build_response(1, NAME, &a6, true, buf,
                                               len - 1), ==, 0);
}

/* A response built by hand: header, then records. */
static size_t
hand(uint8_t *buf, unsigned answers, const uint8_t *body, size_t body_len)
{
  static const uint8_t header[12] = { 0, 0, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

  memcpy(buf, header, 12);
  buf[7] = (uint8_t)answers;
  memcpy(buf + 12, body, body_len);
  return 12 + body_len;
}

/* count questions "aaaa", "aaaa.aaaa", ... (each a label and a pointer to
 * the one before), then an A record of a.local; parsed. */
static size_t
chain(uint8_t *buf, size_t size, unsigned count)
{
  static const uint8_t rr[] = { 1, 'a', 5, 'l', 'o', 'c', 'a', 'l', 0,
                                0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 1, 2, 3, 4 };
  struct p2psig_mdns_address out[2];
  size_t off = 12, prev = 0;

  memset(buf, 0, 12);
  buf[2] = 0x84;
  buf[5] = (uint8_t)count;
  buf[7] = 1;
  for (unsigned i = 0; i < count; i++) {
    g_assert_cmpuint(off + 11 + sizeof rr, <=, size);
    buf[off] = 4;
    memcpy(buf + off + 1, "aaaa", 4);
    if (i == 0) {
      buf[off + 5] = 0;
      prev = off;
      off += 6;
    } else {
      buf[off + 5] = (uint8_t)(0xC0 | prev >> 8);
      buf[off + 6] = (uint8_t)prev;
      prev = off;
      off += 7;
    }
    memcpy(buf + off, "\0\1\0\1", 4);
    off += 4;
  }
  memcpy(buf + off, rr, sizeof rr);
  return p2psig__mdns_parse_response(buf, off + sizeof rr, "a.local", out, 2);
}

static void
test_hostile(void)
{
  uint8_t buf[1024];
  struct p2psig_mdns_address out[2];
  size_t len;
  /* "a.local" A 1.2.3.4, TTL 120 */
#define A_LOCAL 1, 'a', 5, 'l', 'o', 'c', 'a', 'l', 0
#define RR_A(ttl) 0, 1, 0, 1, 0, 0, 0, ttl, 0, 4, 1, 2, 3, 4
  static const uint8_t good[] = { A_LOCAL, RR_A(120) };
  /* Two answers: the second names the first by a pointer to offset 12. */
  static const uint8_t pointer[] = { A_LOCAL, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4,
                                     9, 9, 9, 9, /* TTL 0: a goodbye */
                                     0xC0, 12, RR_A(120) };
  /* A pointer to itself, to a later offset, a name of 64-byte labels. */
  static const uint8_t self[] = { 0xC0, 12, RR_A(120) };
  static const uint8_t forward[] = { 0xC0, 14, A_LOCAL, RR_A(120) };
  static const uint8_t reserved[] = { 0x40, 'a', 0, RR_A(120) };
  static const uint8_t dotted[] = { 7, 'a', '.', 'l', 'o', 'c', 'a', 'l', 0,
                                    RR_A(120) };
  static const uint8_t chaos[] = { A_LOCAL, 0, 1, 0, 3, 0, 0, 0, 120, 0, 4,
                                   1, 2, 3, 4 };
  static const uint8_t short_rd[] = { A_LOCAL, 0, 1, 0, 1, 0, 0, 0, 120, 0,
                                      3, 1, 2, 3 };
  static const uint8_t long_rd[] = { A_LOCAL, 0, 1, 0, 1, 0, 0, 0, 120, 0xff,
                                     0xff, 1, 2, 3, 4 };

  len = hand(buf, 1, good, sizeof good);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 1);
  g_assert_cmpuint(out[0].bytes[3], ==, 4);
  /* Not a response: QR clear; an error rcode; another opcode. */
  buf[2] = 0;
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  buf[2] = 0x84;
  buf[3] = 3;
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  buf[3] = 0;
  buf[2] = 0x84 | 0x10;
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);

  len = hand(buf, 2, pointer, sizeof pointer);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 1);
  g_assert_cmpuint(out[0].bytes[0], ==, 1); /* not the goodbye's 9.9.9.9 */

  len = hand(buf, 1, self, sizeof self);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  len = hand(buf, 1, forward, sizeof forward);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  len = hand(buf, 1, reserved, sizeof reserved);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a", out, 2), ==, 0);
  len = hand(buf, 1, dotted, sizeof dotted);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  len = hand(buf, 1, chaos, sizeof chaos);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  len = hand(buf, 1, short_rd, sizeof short_rd);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);
  len = hand(buf, 1, long_rd, sizeof long_rd);
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 0);

  /* 65535 answers announced, two present: the packet bounds the work. */
  len = hand(buf, 2, pointer, sizeof pointer);
  buf[6] = buf[7] = buf[8] = buf[9] = buf[10] = buf[11] = 0xff;
  g_assert_cmpuint(p2psig__mdns_parse_response(buf, len, "a.local", out, 2),
                   ==, 1);

  /* Questions that each add a label to the one before by a backward
   * pointer: followed, up to names of 255 bytes. */
  g_assert_cmpuint(chain(buf, sizeof buf, 40), ==, 1);
  g_assert_cmpuint(chain(buf, sizeof buf, 60), ==, 0);
#undef A_LOCAL
#undef RR_A
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mdns/names", test_names);
  g_test_add_func("/mdns/query", test_query);
  g_test_add_func("/mdns/response", test_response);
  g_test_add_func("/mdns/hostile", test_hostile);
  return g_test_run();
}
