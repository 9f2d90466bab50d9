/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of the signaling layer (lib/signaling.h): the JSON of
 * POST /sdp, decoded from what pion sends and refused with P2PSIG_EJSON
 * and a one-line reason for everything else, encoded so that pion reads it;
 * and the "host:port" addresses of the listen and remote flags.
 */
#include <string.h>

#include "signaling.h"
#include "testutil.h"

/* What pion's json.Marshal(webrtc.SessionDescription) produces (Go escapes
 * '<', '>' and '&' as \u003c etc., and the line ends as \r\n). */
static const char pion_offer[] =
  "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\n"
  "s=-\\r\\nt=0 0\\r\\na=x:\\u003c\\u0026\\u003e\\r\\n\"}";

static void
check_one_line(const char *detail)
{
  g_assert_nonnull(detail);
  g_assert_cmpuint(strlen(detail), >, 0);
  g_assert_null(strchr(detail, '\n'));
  g_assert_null(strchr(detail, '\r'));
}

static void
test_decode_pion(void)
{
  p2psig_sdp_type type = P2PSIG_SDP_ANSWER;
  g_autofree char *sdp = NULL;
  g_autofree char *detail = NULL;

  g_assert_cmpint(p2psig__signal_decode_sdp(pion_offer, strlen(pion_offer),
                                            &type, &sdp, &detail), ==, 0);
  g_assert_null(detail);
  g_assert_cmpint(type, ==, P2PSIG_SDP_OFFER);
  g_assert_cmpstr(sdp, ==,
                  "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                  "a=x:<&>\r\n");
}

static void
test_decode_answer(void)
{
  static const char body[] =
    "  {\"sdp\": \"v=0\\n\", \"extra\": [1, {\"a\": null}],\n"
    "   \"type\": \"answer\"}  ";
  p2psig_sdp_type type = P2PSIG_SDP_OFFER;
  g_autofree char *sdp = NULL;

  /* Not NUL-terminated: only len bytes count. */
  g_autofree char *copy = g_strdup(body);
  memcpy(copy + strlen(body) - 1, "X", 1);
  g_assert_cmpint(p2psig__signal_decode_sdp(copy, strlen(body) - 1, &type,
                                            &sdp, NULL), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_ANSWER);
  g_assert_cmpstr(sdp, ==, "v=0\n");
}

static void
test_decode_case_insensitive(void)
{
  static const char body[] = "{\"Type\":\"answer\",\"SDP\":\"v=0\"}";
  p2psig_sdp_type type = P2PSIG_SDP_OFFER;
  g_autofree char *sdp = NULL;

  /* Go's encoding/json matches member names without case. */
  g_assert_cmpint(p2psig__signal_decode_sdp(body, strlen(body), &type, &sdp,
                                            NULL), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_ANSWER);
  g_assert_cmpstr(sdp, ==, "v=0");
}

static const struct {
  const char *name;
  const char *body;
  int len; /* -1: strlen */
} bad[] = {
  {"empty", "", -1},
  {"spaces", "   ", -1},
  {"not-json", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n", -1},
  {"truncated", "{\"type\":\"offer\",\"sdp\":\"v=0", -1},
  {"trailing-garbage", "{\"type\":\"offer\",\"sdp\":\"v=0\"} x", -1},
  {"array", "[\"offer\", \"v=0\"]", -1},
  {"string", "\"offer\"", -1},
  {"number", "42", -1},
  {"null", "null", -1},
  {"empty-object", "{}", -1},
  {"missing-sdp", "{\"type\":\"offer\"}", -1},
  {"missing-type", "{\"sdp\":\"v=0\"}", -1},
  {"type-number", "{\"type\":1,\"sdp\":\"v=0\"}", -1},
  {"type-null", "{\"type\":null,\"sdp\":\"v=0\"}", -1},
  {"type-object", "{\"type\":{},\"sdp\":\"v=0\"}", -1},
  {"sdp-number", "{\"type\":\"offer\",\"sdp\":5}", -1},
  {"sdp-array", "{\"type\":\"offer\",\"sdp\":[\"v=0\"]}", -1},
  {"sdp-bool", "{\"type\":\"answer\",\"sdp\":true}", -1},
  {"sdp-empty", "{\"type\":\"offer\",\"sdp\":\"\"}", -1},
  {"pranswer", "{\"type\":\"pranswer\",\"sdp\":\"v=0\"}", -1},
  {"rollback", "{\"type\":\"rollback\",\"sdp\":\"v=0\"}", -1},
  {"unknown-type", "{\"type\":\"bogus\",\"sdp\":\"v=0\"}", -1},
  {"type-case", "{\"type\":\"Offer\",\"sdp\":\"v=0\"}", -1},
  {"type-newline", "{\"type\":\"of\\nfer\\r\",\"sdp\":\"v=0\"}", -1},
  {"nul-inside", "{\"type\":\"offer\",\0\"sdp\":\"v=0\"}", 29},
  {"not-utf8", "{\"type\":\"offer\",\"sdp\":\"v=0\xff\xfe\"}", -1},
  {"deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", -1},
};

static void
test_decode_bad(void)
{
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    size_t len = bad[i].len < 0 ? strlen(bad[i].body) : (size_t)bad[i].len;
    p2psig_sdp_type type;
    char *sdp = (char *)"untouched";
    g_autofree char *detail = NULL;

    g_test_message("%s", bad[i].name);
    g_assert_cmpint(p2psig__signal_decode_sdp(bad[i].body, len, &type, &sdp,
                                              &detail), ==, P2PSIG_EJSON);
    g_assert_null(sdp);
    check_one_line(detail);
    g_test_message("  -> %s", detail);
  }
}

static void
test_decode_reasons(void)
{
  static const struct {
    const char *body;
    const char *reason;
  } cases[] = {
    {"{\"type\":\"offer\"}", "missing \"sdp\""},
    {"{\"type\":1,\"sdp\":\"v=0\"}", "\"type\" is not a string"},
    {"{\"type\":\"offer\",\"sdp\":5}", "\"sdp\" is not a string"},
    {"{\"type\":\"pranswer\",\"sdp\":\"v=0\"}",
     "unsupported SDP type \"pranswer\""},
    {"{\"type\":\"x\\ny\",\"sdp\":\"v=0\"}", "unknown SDP type \"x\\x0ay\""},
  };

  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    p2psig_sdp_type type;
    g_autofree char *sdp = NULL;
    g_autofree char *detail = NULL;

    g_assert_cmpint(p2psig__signal_decode_sdp(cases[i].body,
                                              strlen(cases[i].body), &type,
                                              &sdp, &detail), ==, P2PSIG_EJSON);
    g_assert_cmpstr(detail, ==, cases[i].reason);
  }
}

/* json-glib quotes the offending token: the reason stays short. */
static void
test_decode_long_token(void)
{
  g_autofree char *body = g_strnfill(60000, 'x');
  g_autofree char *detail = NULL;
  p2psig_sdp_type type;
  char *sdp = NULL;

  g_assert_cmpint(p2psig__signal_decode_sdp(body, strlen(body), &type, &sdp,
                                            &detail), ==, P2PSIG_EJSON);
  check_one_line(detail);
  g_assert_cmpuint(strlen(detail), <=, 250);
}

static void
test_decode_no_detail(void)
{
  p2psig_sdp_type type;
  char *sdp = NULL;

  g_assert_cmpint(p2psig__signal_decode_sdp("{", 1, &type, &sdp, NULL), ==,
                  P2PSIG_EJSON);
  g_assert_cmpint(p2psig__signal_decode_sdp(NULL, 0, &type, &sdp, NULL), ==,
                  P2PSIG_EJSON);
  g_assert_null(sdp);
}

/* Every prefix of a valid body, and every single-byte change of it, gives 0
 * or P2PSIG_EJSON: never a crash (run under ASan or valgrind). */
static void
test_decode_mutations(void)
{
  size_t len = strlen(pion_offer);
  g_autofree char *buf = g_malloc(len);
  static const char bytes[] = {'\0', '"', '\\', '{', '}', '[', ':', ',', 'x',
                               '\n', (char)0x80, (char)0xff};

  for (size_t cut = 0; cut <= len; cut++) {
    p2psig_sdp_type type;
    g_autofree char *sdp = NULL;
    g_autofree char *detail = NULL;
    int rc;

    /* A heap copy of exactly cut bytes: a read past it is caught. */
    g_autofree char *prefix = g_memdup2(pion_offer, cut);
    rc = p2psig__signal_decode_sdp(prefix, cut, &type, &sdp, &detail);
    g_assert_true(rc == 0 || rc == P2PSIG_EJSON);
    if (rc < 0)
      check_one_line(detail);
  }
  for (size_t pos = 0; pos < len; pos++) {
    for (size_t b = 0; b < G_N_ELEMENTS(bytes); b++) {
      p2psig_sdp_type type;
      g_autofree char *sdp = NULL;
      g_autofree char *detail = NULL;
      int rc;

      memcpy(buf, pion_offer, len);
      buf[pos] = bytes[b];
      rc = p2psig__signal_decode_sdp(buf, len, &type, &sdp, &detail);
      g_assert_true(rc == 0 || rc == P2PSIG_EJSON);
      g_assert_true((rc == 0) == (sdp != NULL));
      if (rc < 0)
        check_one_line(detail);
    }
  }
}

static void
test_encode(void)
{
  static const char sdp[] =
    "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=\"quoted\" \\ back\tslash\r\n";
  g_autofree char *offer = p2psig__signal_encode_sdp(P2PSIG_SDP_OFFER, sdp);
  g_autofree char *answer = p2psig__signal_encode_sdp(P2PSIG_SDP_ANSWER,
                                                      "v=0\r\n");
  g_autofree char *back = NULL;
  p2psig_sdp_type type = P2PSIG_SDP_ANSWER;

  g_assert_nonnull(offer);
  /* pion's field order and names; one line, control characters escaped. */
  g_assert_true(g_str_has_prefix(offer, "{\"type\":\"offer\",\"sdp\":\"v=0"));
  g_assert_null(strchr(offer, '\n'));
  g_assert_null(strchr(offer, '\r'));
  g_assert_null(strchr(offer, '\t'));
  g_assert_cmpstr(answer, ==, "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}");

  g_assert_cmpint(p2psig__signal_decode_sdp(offer, strlen(offer), &type,
                                            &back, NULL), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_OFFER);
  g_assert_cmpstr(back, ==, sdp);

  g_assert_null(p2psig__signal_encode_sdp(P2PSIG_SDP_OFFER, NULL));
  g_assert_null(p2psig__signal_encode_sdp((p2psig_sdp_type)7, "v=0"));
}

static void
test_encode_real_sdp(void)
{
  gsize len;
  g_autofree char *sdp = testutil_read_data("pion-3.1.56-answer.sdp", &len);
  g_autofree char *json = p2psig__signal_encode_sdp(P2PSIG_SDP_ANSWER, sdp);
  g_autofree char *back = NULL;
  p2psig_sdp_type type = P2PSIG_SDP_OFFER;

  g_assert_cmpint(p2psig__signal_decode_sdp(json, strlen(json), &type, &back,
                                            NULL), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_ANSWER);
  g_assert_cmpstr(back, ==, sdp);
}

static void
test_address_good(void)
{
  static const struct {
    const char *address;
    bool listen;
    const char *host; /* NULL: empty host */
    uint16_t port;
  } cases[] = {
    {":50000", true, NULL, 50000},
    {":0", true, NULL, 0},
    {"127.0.0.1:60000", false, "127.0.0.1", 60000},
    {"127.0.0.1:0", true, "127.0.0.1", 0},
    {"localhost:50000", false, "localhost", 50000},
    {"[::1]:8080", true, "::1", 8080},
    {"[::1]:8080", false, "::1", 8080},
    {"[::]:1", true, "::", 1},
    {"[fe80::1]:65535", false, "fe80::1", 65535},
    {"[127.0.0.1]:5", false, "127.0.0.1", 5},
    {"example.org:80", false, "example.org", 80},
    {"my-host_1.lan:00080", false, "my-host_1.lan", 80},
    {":50000", false, NULL, 50000},
  };

  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *host = NULL;
    uint16_t port = 1234;

    g_test_message("%s", cases[i].address);
    g_assert_cmpint(p2psig__signal_parse_address(cases[i].address,
                                                 cases[i].listen, &host,
                                                 &port), ==, 0);
    g_assert_cmpstr(host, ==, cases[i].host);
    g_assert_cmpuint(port, ==, cases[i].port);
  }
}

static void
test_address_bad(void)
{
  static const struct {
    const char *address;
    bool listen;
  } cases[] = {
    {NULL, true},
    {"", true},
    {":", true},
    {"50000", true},
    {"localhost", false},
    {"127.0.0.1:", false},
    {"127.0.0.1:65536", false},
    {"127.0.0.1:123456", false},
    {"127.0.0.1:-1", false},
    {"127.0.0.1:+80", false},
    {"127.0.0.1:80 ", false},
    {"127.0.0.1:0", false},
    {":0", false},
    {"::1:80", false},
    {"[::1]80", false},
    {"[::1]", false},
    {"[::1:80", false},
    {"[]:80", false},
    {"[example.org]:80", false},
    {"[::1]:", true},
    {"host name:80", false},
    {"user@host:80", false},
    {"host/path:80", false},
    {"h\xc3\xa9t\xc3\xa9:80", false},
    {"http://127.0.0.1:80", false},
  };

  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *host = (char *)"untouched";
    uint16_t port = 1234;

    g_test_message("%s", cases[i].address ? cases[i].address : "(null)");
    g_assert_cmpint(p2psig__signal_parse_address(cases[i].address,
                                                 cases[i].listen, &host,
                                                 &port), ==, P2PSIG_EADDRESS);
    g_assert_null(host);
  }
}

/* The one-round-trip poll's response, both ways. */
static void
test_candidates_roundtrip(void)
{
  static const char *const list[] = {
    "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
    "candidate:2 1 tcp 1 ::1 9 typ host tcptype active \"</script>\"", ""};
  g_autofree char *json = p2psig__signal_encode_candidates(list, 3, 7, true);
  g_auto(GStrv) got = NULL;
  unsigned next = 0;
  bool complete = false;

  g_assert_cmpint(p2psig__signal_decode_candidates(json, strlen(json), &got,
                                                   &next, &complete, NULL),
                  ==, 0);
  g_assert_cmpuint(g_strv_length(got), ==, 3);
  for (unsigned i = 0; i < 3; i++)
    g_assert_cmpstr(got[i], ==, list[i]);
  g_assert_cmpuint(next, ==, 7);
  g_assert_true(complete);
  g_clear_pointer(&json, g_free);
  json = p2psig__signal_encode_candidates(NULL, 0, 0, false);
  g_clear_pointer(&got, g_strfreev);
  g_assert_cmpint(p2psig__signal_decode_candidates(json, strlen(json), &got,
                                                   &next, &complete, NULL),
                  ==, 0);
  g_assert_cmpuint(g_strv_length(got), ==, 0);
  g_assert_false(complete);
}

static void
test_candidates_bad(void)
{
  static const char *const poll_bad[] = {
    "", "[]", "{}", "{\"candidates\":\"x\",\"next\":0}",
    "{\"candidates\":[1],\"next\":1}", "{\"candidates\":[],\"next\":-1}",
    "{\"candidates\":[],\"next\":4294967296}",
    "{\"candidates\":[],\"next\":\"0\"}",
    "{\"candidates\":[],\"next\":0,\"complete\":1}",
    "{\"candidates\":[],\"next\":1.5}",
    "{\"candidates\":[\"\\udc00\"],\"next\":1}",
    "{\"candidates\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]],\"next\":0}",
    "{\"candidates\":[],\"next\":0",
  };

  for (size_t i = 0; i < G_N_ELEMENTS(poll_bad); i++) {
    g_auto(GStrv) got = NULL;
    g_autofree char *detail = NULL;
    unsigned next = 9;
    bool complete = true;

    g_test_message("%s", poll_bad[i]);
    g_assert_cmpint(p2psig__signal_decode_candidates(poll_bad[i], strlen(poll_bad[i]),
                                                     &got, &next, &complete,
                                                     &detail),
                    ==, P2PSIG_EJSON);
    g_assert_null(got);
    g_assert_nonnull(detail);
    g_assert_null(strchr(detail, '\n'));
  }
}

/* Which browser origins are served. */
static void
test_origins(void)
{
  static const char *const listed[] = {"https://app.example:8443", NULL};
  static const char *const any[] = {"*", NULL};

  /* Our own, by address or localhost, with the scheme we serve. */
  g_assert_true(p2psig__signal_origin_allowed(
      "http://127.0.0.1:60000", "127.0.0.1:60000", false, NULL));
  g_assert_true(p2psig__signal_origin_allowed("http://[::1]:60000",
                                              "[::1]:60000", false, NULL));
  g_assert_true(p2psig__signal_origin_allowed("http://LOCALHOST:1",
                                              "localhost:1", false, NULL));
  g_assert_true(p2psig__signal_origin_allowed("https://198.18.0.1",
                                              "198.18.0.1", true, NULL));
  g_assert_false(p2psig__signal_origin_allowed(
      "https://127.0.0.1:60000", "127.0.0.1:60000", false, NULL));
  g_assert_false(p2psig__signal_origin_allowed(
      "http://127.0.0.1:60001", "127.0.0.1:60000", false, NULL));
  /* A name could have been rebound to us. */
  g_assert_false(p2psig__signal_origin_allowed(
      "http://evil.example:60000", "evil.example:60000", false, NULL));
  g_assert_false(p2psig__signal_origin_allowed("null", "127.0.0.1", false,
                                               NULL));
  g_assert_false(p2psig__signal_origin_allowed("http://127.0.0.1", NULL,
                                               false, NULL));
  /* Listed ones, and any. */
  g_assert_true(p2psig__signal_origin_allowed(
      "https://APP.example:8443", "127.0.0.1:1", false, listed));
  g_assert_false(p2psig__signal_origin_allowed(
      "https://app.example", "127.0.0.1:1", false, listed));
  g_assert_true(p2psig__signal_origin_allowed("null", NULL, false, any));

  g_assert_true(p2psig__signal_valid_origin("*"));
  g_assert_true(p2psig__signal_valid_origin("https://a.example:65535"));
  g_assert_true(p2psig__signal_valid_origin("http://[fe80::1]"));
  g_assert_false(p2psig__signal_valid_origin("https://a.example:65536"));
  g_assert_false(p2psig__signal_valid_origin("https://a.example/"));
  g_assert_false(p2psig__signal_valid_origin("https://a.example:"));
  g_assert_false(p2psig__signal_valid_origin("https://"));
  g_assert_false(p2psig__signal_valid_origin("a.example"));
  g_assert_false(p2psig__signal_valid_origin(NULL));
}

/* What the client takes as the answer's P2psig-Session header. */
static void
test_session_id(void)
{
  g_assert_true(p2psig__signal_valid_session(
      "0123456789abcdef0123456789ABCDEF"));
  g_assert_false(p2psig__signal_valid_session(NULL));
  g_assert_false(p2psig__signal_valid_session(""));
  g_assert_false(p2psig__signal_valid_session(
      "0123456789abcdef0123456789abcde"));
  g_assert_false(p2psig__signal_valid_session(
      "0123456789abcdef0123456789abcdef0"));
  g_assert_false(p2psig__signal_valid_session(
      "0123456789abcdef0123456789abcdeg"));
  g_assert_false(p2psig__signal_valid_session(
      "0123456789abcdef 123456789abcdef"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/signaling/json/decode/pion", test_decode_pion);
  g_test_add_func("/signaling/json/decode/answer", test_decode_answer);
  g_test_add_func("/signaling/json/decode/case-insensitive",
                  test_decode_case_insensitive);
  g_test_add_func("/signaling/json/decode/bad", test_decode_bad);
  g_test_add_func("/signaling/json/decode/reasons", test_decode_reasons);
  g_test_add_func("/signaling/json/decode/long-token",
                  test_decode_long_token);
  g_test_add_func("/signaling/json/decode/no-detail", test_decode_no_detail);
  g_test_add_func("/signaling/json/decode/mutations", test_decode_mutations);
  g_test_add_func("/signaling/json/encode/basic", test_encode);
  g_test_add_func("/signaling/json/encode/real-sdp", test_encode_real_sdp);
  g_test_add_func("/signaling/address/good", test_address_good);
  g_test_add_func("/signaling/address/bad", test_address_bad);
  g_test_add_func("/signaling/json/candidates/roundtrip",
                  test_candidates_roundtrip);
  g_test_add_func("/signaling/json/candidates/bad", test_candidates_bad);
  g_test_add_func("/signaling/origins", test_origins);
  g_test_add_func("/signaling/session-id", test_session_id);

  return g_test_run();
}
