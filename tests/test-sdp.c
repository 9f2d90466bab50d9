/* SPDX-License-Identifier: MIT */
/*
 * SDP building and parsing (lib/sdp.c): real descriptions from pion and
 * Chromium in both line-end styles, hand-made ones for the corners real
 * peers rarely show, build/parse round trips, a table of malformed inputs
 * that must each give P2PSIG_ESDP, and a deterministic mutation loop that
 * must never crash (run it under ASan/UBSan).
 */
#include <string.h>

#include "sdp.h"
#include "internal.h"
#include "testutil.h"

#define FP_PION \
  "88:6A:88:E8:8C:F4:A4:68:4A:A3:29:B2:3C:DA:91:D6:DB:06:84:47:28:A2:7E:E7:" \
  "3F:22:FB:88:98:89:C9:5B"
#define FP_CHROMIUM \
  "5D:AA:38:6D:C8:B9:6F:E8:3E:76:6E:F6:8E:DE:3A:49:E3:25:F5:D6:E2:46:D3:67:" \
  "14:A3:C0:20:3F:06:78:C9"
#define FP_TEMPLATE \
  "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:" \
  "18:19:1A:1B:1C:1D:1E:1F"

static const char *const samples[] = {
  "pion-3.1.56-answer.sdp",
  "chromium-156-offer.sdp",
  "handmade-legacy-dtls-sctp.sdp",
  "handmade-audio-then-data.sdp",
};

/* A description that parses; malformed cases each change one line of it. */
static const char template_sdp[] =
  "v=0\n"
  "o=- 1 2 IN IP4 127.0.0.1\n"
  "s=-\n"
  "t=0 0\n"
  "a=group:BUNDLE 0\n"
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
  "c=IN IP4 0.0.0.0\n"
  "a=ice-ufrag:abcd\n"
  "a=ice-pwd:abcdefghijklmnopqrstuvwx\n"
  "a=fingerprint:sha-256 " FP_TEMPLATE "\n"
  "a=setup:actpass\n"
  "a=mid:0\n"
  "a=sctp-port:5000\n"
  "a=max-message-size:262144\n";

static char *
to_lf(const char *text)
{
  GString *s = g_string_new(NULL);

  for (const char *p = text; *p != '\0'; p++)
    if (*p != '\r')
      g_string_append_c(s, *p);
  return g_string_free(s, FALSE);
}

static char *
to_crlf(const char *text)
{
  GString *s = g_string_new(NULL);

  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '\r')
      continue;
    if (*p == '\n')
      g_string_append_c(s, '\r');
    g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

static void
assert_fingerprint(const uint8_t *fp, const char *expected)
{
  char buf[96];

  p2psig__fingerprint_format(fp, buf);
  g_assert_cmpstr(buf, ==, expected);
}

/* Whatever the input, the parser answers 0 with a usable description, or
 * P2PSIG_ESDP with a one-line reason and nothing to free. */
static int
parse_checked(const char *text, struct p2psig_sdp_remote *sdp)
{
  char *detail = (char *)"unset";
  int r = p2psig__sdp_parse(text, sdp, &detail);

  if (r == 0) {
    g_assert_null(detail);
    g_assert_nonnull(sdp->ice_ufrag);
    g_assert_cmpuint(strlen(sdp->ice_ufrag), >, 0);
    g_assert_nonnull(sdp->ice_pwd);
    g_assert_true(sdp->has_fingerprint);
    g_assert_nonnull(sdp->candidates);
    g_assert_cmpuint(sdp->sctp_port, >, 0);
    for (guint i = 0; i < sdp->candidates->len; i++) {
      struct p2psig_candidate c;
      const char *cand = g_ptr_array_index(sdp->candidates, i);

      g_assert_true(g_str_has_prefix(cand, "candidate:"));
      g_assert_cmpint(p2psig__candidate_parse(cand, &c, NULL), ==, 0);
    }
  } else {
    g_assert_cmpint(r, ==, P2PSIG_ESDP);
    g_assert_nonnull(detail);
    g_assert_cmpuint(strlen(detail), >, 0);
    g_assert_null(strchr(detail, '\n'));
    g_assert_null(strchr(detail, '\r'));
    g_assert_null(sdp->ice_ufrag);
    g_assert_null(sdp->ice_pwd);
    g_assert_null(sdp->mid);
    g_assert_null(sdp->candidates);
    g_free(detail);
  }
  return r;
}

static void
check_pion(const char *text)
{
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpstr(sdp.ice_ufrag, ==, "VgkchERaWhkyqolc");
  g_assert_cmpstr(sdp.ice_pwd, ==, "LzUsnZekvefNZxmOvCLhxlXJoDdpwUxs");
  /* pion 3.1.56 puts the fingerprint at session level. */
  assert_fingerprint(sdp.fingerprint, FP_PION);
  g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_ACTIVE);
  g_assert_cmpstr(sdp.mid, ==, "0");
  g_assert_cmpuint(sdp.sctp_port, ==, 5000);
  /* It sends no a=max-message-size. */
  g_assert_cmpuint(sdp.max_message_size, ==, 0);
  g_assert_false(sdp.ice_lite);
  g_assert_false(sdp.end_of_candidates);
  g_assert_cmpuint(sdp.candidates->len, ==, 0);
  p2psig__sdp_remote_clear(&sdp);
  p2psig__sdp_remote_clear(&sdp);
}

static void
check_chromium(const char *text)
{
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpstr(sdp.ice_ufrag, ==, "Xpl3");
  g_assert_cmpstr(sdp.ice_pwd, ==, "ZjJCrjkHbo8EqMK6f6LcMwx+");
  assert_fingerprint(sdp.fingerprint, FP_CHROMIUM);
  g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_ACTPASS);
  g_assert_cmpstr(sdp.mid, ==, "0");
  g_assert_cmpuint(sdp.sctp_port, ==, 5000);
  g_assert_cmpuint(sdp.max_message_size, ==, 262144);
  g_assert_false(sdp.ice_lite);
  g_assert_cmpuint(sdp.candidates->len, ==, 0);
  p2psig__sdp_remote_clear(&sdp);
}

/* Each sample as stored, with LF only, and with CRLF. */
static void
for_each_line_end(const char *name, void (*check)(const char *text))
{
  g_autofree char *raw = testutil_read_data(name, NULL);
  g_autofree char *lf = to_lf(raw);
  g_autofree char *crlf = to_crlf(raw);

  check(raw);
  check(lf);
  check(crlf);
}

static void
test_parse_pion_answer(void)
{
  for_each_line_end("pion-3.1.56-answer.sdp", check_pion);
}

static void
test_parse_chromium_offer(void)
{
  for_each_line_end("chromium-156-offer.sdp", check_chromium);
}

static void
check_legacy(const char *text)
{
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpstr(sdp.ice_ufrag, ==, "8hhY");
  g_assert_cmpstr(sdp.ice_pwd, ==, "asd88fgpdd777uzjYhagZg");
  assert_fingerprint(sdp.fingerprint,
                     "D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:"
                     "4E:9C:1E:15:54:39:0C:06:8B:A0:86:C5:4A:2A");
  g_assert_cmpstr(sdp.mid, ==, "data");
  g_assert_cmpuint(sdp.sctp_port, ==, 5000);
  g_assert_cmpuint(sdp.max_message_size, ==, 0);
  p2psig__sdp_remote_clear(&sdp);
}

static void
test_parse_legacy(void)
{
  for_each_line_end("handmade-legacy-dtls-sctp.sdp", check_legacy);
}

/* The older form's format is the SCTP port; a=sctp-port still wins. */
static void
test_parse_legacy_port(void)
{
  g_autofree char *raw = testutil_read_data("handmade-legacy-dtls-sctp.sdp",
                                            NULL);
  g_autofree char *port = NULL;
  g_autofree char *both = NULL;
  struct p2psig_sdp_remote sdp;
  GString *s;

  s = g_string_new(raw);
  g_string_replace(s, "DTLS/SCTP 5000", "DTLS/SCTP 5001", 0);
  port = g_string_free(s, FALSE);
  g_assert_cmpint(parse_checked(port, &sdp), ==, 0);
  g_assert_cmpuint(sdp.sctp_port, ==, 5001);
  p2psig__sdp_remote_clear(&sdp);

  both = g_strconcat(port, "a=sctp-port:6000\r\n", NULL);
  g_assert_cmpint(parse_checked(both, &sdp), ==, 0);
  g_assert_cmpuint(sdp.sctp_port, ==, 6000);
  p2psig__sdp_remote_clear(&sdp);
}

static void
check_audio_then_data(const char *text)
{
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  /* No ufrag in the data section: the session's, not the audio's. */
  g_assert_cmpstr(sdp.ice_ufrag, ==, "sessionufrag");
  g_assert_cmpstr(sdp.ice_pwd, ==, "datapassworddatapasswor");
  /* sha-1 skipped; the first sha-256, in lower case hex. */
  assert_fingerprint(sdp.fingerprint,
                     "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:"
                     "45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF");
  g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_PASSIVE);
  g_assert_cmpstr(sdp.mid, ==, "data");
  g_assert_cmpuint(sdp.sctp_port, ==, 5001);
  /* RFC 8841: 0 means no limit. */
  g_assert_cmpuint(sdp.max_message_size, ==, UINT64_MAX);
  g_assert_true(sdp.ice_lite);
  g_assert_true(sdp.end_of_candidates);
  /* Session-level, audio and second-section candidates ignored, the bad
   * one skipped. */
  g_assert_cmpuint(sdp.candidates->len, ==, 3);
  g_assert_cmpstr(g_ptr_array_index(sdp.candidates, 0), ==,
                  "candidate:3 1 udp 2130706431 192.0.2.1 40001 typ host");
  g_assert_cmpstr(g_ptr_array_index(sdp.candidates, 1), ==,
                  "candidate:4 1 udp 1694498815 203.0.113.9 40002 typ srflx "
                  "raddr 192.0.2.1 rport 40001 generation 0");
  g_assert_cmpstr(g_ptr_array_index(sdp.candidates, 2), ==,
                  "candidate:5 1 tcp 1518280447 192.0.2.1 9 typ host "
                  "tcptype active");
  p2psig__sdp_remote_clear(&sdp);
}

static void
test_parse_multiple_sections(void)
{
  for_each_line_end("handmade-audio-then-data.sdp", check_audio_then_data);
}

/* Returns template_sdp with each line starting with prefix replaced by
 * replacement (or removed when it is NULL). */
static char *
edit_template(const char *prefix, const char *replacement)
{
  g_auto(GStrv) lines = g_strsplit(template_sdp, "\n", -1);
  GString *s = g_string_new(NULL);

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line = lines[i];

    if (line[0] == '\0')
      continue;
    if (prefix != NULL && g_str_has_prefix(line, prefix)) {
      if (replacement == NULL)
        continue;
      line = replacement;
    }
    g_string_append_printf(s, "%s\n", line);
  }
  return g_string_free(s, FALSE);
}

struct edit {
  const char *name;
  const char *prefix;       /* NULL: text is the whole description */
  const char *text;
};

/* Accepted, with the value the test checks. */
static const struct edit tolerated[] = {
  { "upper-case-hash", "a=fingerprint:", "a=fingerprint:SHA-256 " FP_TEMPLATE },
  { "lower-case-hex", "a=fingerprint:",
    "a=fingerprint:sha-256 00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:"
    "10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f" },
  { "extra-blanks", "a=fingerprint:",
    "a=fingerprint:  sha-256 \t " FP_TEMPLATE "  \t" },
  { "sha-1-before", "a=fingerprint:",
    "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:"
    "E5:7C:AB\na=fingerprint:sha-512 nonsense\n"
    "a=fingerprint:sha-256 " FP_TEMPLATE },
  { "unknown-lines", "c=",
    "c=IN IP4 0.0.0.0\nx=whatever\n=\na\na=\nb=AS:30\nrandom text\n"
    "a=:::\na=sctpmap:5000 webrtc-datachannel 1024\n\n\n" },
  { "no-version-line", "v=", NULL },
  { "leading-blanks", "a=mid:", "   a=mid:0" },
  { "bundle-only-port-zero", "m=",
    "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\na=bundle-only" },
  { "port-count", "m=", "m=application 9/1 UDP/DTLS/SCTP webrtc-datachannel" },
  { "tcp-dtls-sctp", "m=", "m=application 9 TCP/DTLS/SCTP webrtc-datachannel" },
  { "several-formats", "m=",
    "m=application 9 UDP/DTLS/SCTP x webrtc-datachannel" },
  { "session-level-credentials", NULL,
    "v=0\na=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\n"
    "a=setup:actpass\na=fingerprint:sha-256 " FP_TEMPLATE "\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:0\n" },
  { "media-overrides-session", NULL,
    "v=0\na=ice-ufrag:wxyz\na=ice-pwd:zzzzzzzzzzzzzzzzzzzzzzzz\n"
    "a=setup:passive\na=fingerprint:sha-256 " FP_PION "\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:0\n"
    "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\n"
    "a=setup:actpass\na=fingerprint:sha-256 " FP_TEMPLATE "\n" },
  { "duplicates-first-wins", "a=mid:",
    "a=mid:0\na=mid:1\na=ice-ufrag:efgh\na=setup:active\n"
    "a=fingerprint:sha-256 " FP_PION },
  { "no-final-newline", NULL,
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:abcd\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\na=setup:actpass\na=mid:0\n"
    "a=fingerprint:sha-256 " FP_TEMPLATE },
  { "mixed-line-ends", NULL,
    "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\n"
    "a=setup:actpass \r\na=mid:0\r\r\n"
    "a=fingerprint:sha-256 " FP_TEMPLATE "\r\n" },
  { "later-sections-ignored", NULL,
    "m=video 9 UDP/TLS/RTP/SAVPF 96\na=ice-ufrag:zzzz\na=mid:v\n"
    "a=fingerprint:sha-256 :::\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:abcd\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\na=setup:actpass\na=mid:0\n"
    "a=fingerprint:sha-256 " FP_TEMPLATE "\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:\n"
    "a=mid:\na=sctp-port:x\na=fingerprint:sha-256 zz\n" },
};

static void
test_parse_tolerated(gconstpointer data)
{
  const struct edit *e = data;
  g_autofree char *text = e->prefix != NULL ? edit_template(e->prefix, e->text)
                                            : g_strdup(e->text);
  g_autofree char *crlf = to_crlf(text);
  const char *variants[] = { text, crlf };

  for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
    struct p2psig_sdp_remote sdp;

    g_assert_cmpint(parse_checked(variants[i], &sdp), ==, 0);
    g_assert_cmpstr(sdp.mid, ==, "0");
    g_assert_cmpstr(sdp.ice_ufrag, ==, "abcd");
    g_assert_cmpstr(sdp.ice_pwd, ==, "abcdefghijklmnopqrstuvwx");
    assert_fingerprint(sdp.fingerprint, FP_TEMPLATE);
    g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_ACTPASS);
    g_assert_cmpuint(sdp.sctp_port, ==, 5000);
    p2psig__sdp_remote_clear(&sdp);
  }
}

#define FP_31 \
  "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:" \
  "18:19:1A:1B:1C:1D:1E"
#define LONG_64 \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_320 LONG_64 LONG_64 LONG_64 LONG_64 LONG_64

static const struct edit malformed[] = {
  { "empty", NULL, "" },
  { "only-newlines", NULL, "\r\n\n\r\n\n" },
  { "garbage", NULL, "\x01\x02\x7f\xff\xfe=\xc3\x28 m= a= \t" },
  { "version-only", NULL, "v=0\r\n" },
  { "no-m-line", "m=", NULL },
  { "m-audio", "m=", "m=audio 9 UDP/TLS/RTP/SAVPF 111" },
  { "m-rtp-proto", "m=", "m=application 9 RTP/AVP 0" },
  { "m-upper-case-media", "m=",
    "m=APPLICATION 9 UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-missing-proto", "m=", "m=application 9" },
  { "m-missing-port", "m=", "m=application" },
  { "m-empty", "m=", "m=" },
  { "m-no-format", "m=", "m=application 9 UDP/DTLS/SCTP" },
  { "m-other-format", "m=", "m=application 9 UDP/DTLS/SCTP bfcp" },
  { "m-port-not-numeric", "m=",
    "m=application x UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-port-overflow", "m=",
    "m=application 65536 UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-port-huge", "m=",
    "m=application 99999999999999999999999 UDP/DTLS/SCTP "
    "webrtc-datachannel" },
  { "m-port-negative", "m=",
    "m=application -9 UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-port-count-bad", "m=",
    "m=application 9/x UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-port-count-empty", "m=",
    "m=application 9/ UDP/DTLS/SCTP webrtc-datachannel" },
  { "m-legacy-port-text", "m=", "m=application 9 DTLS/SCTP abc" },
  { "m-legacy-port-zero", "m=", "m=application 9 DTLS/SCTP 0" },
  { "m-legacy-port-overflow", "m=", "m=application 9 DTLS/SCTP 65536" },
  { "m-legacy-no-format", "m=", "m=application 9 DTLS/SCTP" },
  { "no-ufrag", "a=ice-ufrag", NULL },
  { "no-pwd", "a=ice-pwd", NULL },
  { "no-fingerprint", "a=fingerprint", NULL },
  { "fingerprint-sha-1-only", "a=fingerprint",
    "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:"
    "E5:7C:AB" },
  { "fingerprint-short", "a=fingerprint", "a=fingerprint:sha-256 " FP_31 },
  { "fingerprint-long", "a=fingerprint",
    "a=fingerprint:sha-256 " FP_TEMPLATE ":20" },
  { "fingerprint-trailing-colon", "a=fingerprint",
    "a=fingerprint:sha-256 " FP_TEMPLATE ":" },
  { "fingerprint-bad-hex", "a=fingerprint",
    "a=fingerprint:sha-256 ZZ:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:"
    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F" },
  { "fingerprint-no-colons", "a=fingerprint",
    "a=fingerprint:sha-256 000102030405060708090A0B0C0D0E0F101112131415161718"
    "191A1B1C1D1E1F" },
  { "fingerprint-dashes", "a=fingerprint",
    "a=fingerprint:sha-256 00-01-02-03-04-05-06-07-08-09-0A-0B-0C-0D-0E-0F-"
    "10-11-12-13-14-15-16-17-18-19-1A-1B-1C-1D-1E-1F" },
  { "fingerprint-one-digit", "a=fingerprint",
    "a=fingerprint:sha-256 0:001:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:"
    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F" },
  { "fingerprint-extra-token", "a=fingerprint",
    "a=fingerprint:sha-256 " FP_TEMPLATE " extra" },
  { "fingerprint-no-value", "a=fingerprint", "a=fingerprint:sha-256" },
  { "fingerprint-empty", "a=fingerprint", "a=fingerprint:" },
  { "fingerprint-no-colon", "a=fingerprint", "a=fingerprint" },
  { "fingerprint-high-bytes", "a=fingerprint",
    "a=fingerprint:sha-256 \xff\xff:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:"
    "0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F" },
  { "ufrag-empty", "a=ice-ufrag", "a=ice-ufrag:" },
  { "ufrag-no-colon", "a=ice-ufrag", "a=ice-ufrag" },
  { "ufrag-blank-inside", "a=ice-ufrag", "a=ice-ufrag:ab cd" },
  { "ufrag-colon", "a=ice-ufrag", "a=ice-ufrag:ab:cd" },
  { "ufrag-high-bytes", "a=ice-ufrag", "a=ice-ufrag:\xc3\xa9t\xc3\xa9" },
  { "ufrag-too-long", "a=ice-ufrag", "a=ice-ufrag:" LONG_320 },
  { "pwd-empty", "a=ice-pwd", "a=ice-pwd:" },
  { "pwd-bad-char", "a=ice-pwd", "a=ice-pwd:abcdefghijklmnopqrstuvw!" },
  { "setup-holdconn", "a=setup", "a=setup:holdconn" },
  { "setup-unknown", "a=setup", "a=setup:both" },
  { "setup-empty", "a=setup", "a=setup:" },
  { "mid-empty", "a=mid", "a=mid:" },
  { "mid-blank-inside", "a=mid", "a=mid:0 1" },
  { "mid-bad-char", "a=mid", "a=mid:\"0\"" },
  { "mid-too-long", "a=mid", "a=mid:" LONG_320 },
  { "sctp-port-zero", "a=sctp-port", "a=sctp-port:0" },
  { "sctp-port-overflow", "a=sctp-port", "a=sctp-port:65536" },
  { "sctp-port-huge", "a=sctp-port", "a=sctp-port:99999999999999999999999" },
  { "sctp-port-text", "a=sctp-port", "a=sctp-port:abc" },
  { "sctp-port-negative", "a=sctp-port", "a=sctp-port:-1" },
  { "sctp-port-plus", "a=sctp-port", "a=sctp-port:+5000" },
  { "sctp-port-hex", "a=sctp-port", "a=sctp-port:0x1388" },
  { "sctp-port-empty", "a=sctp-port", "a=sctp-port:" },
  { "mms-overflow", "a=max-message-size",
    "a=max-message-size:18446744073709551616" },
  { "mms-text", "a=max-message-size", "a=max-message-size:lots" },
  { "mms-negative", "a=max-message-size", "a=max-message-size:-1" },
  { "mms-fraction", "a=max-message-size", "a=max-message-size:1.5" },
  { "mms-empty", "a=max-message-size", "a=max-message-size:" },
  { "credentials-in-other-section", NULL,
    "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=ice-ufrag:abcd\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\n"
    "a=fingerprint:sha-256 " FP_TEMPLATE "\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:0\n" },
};

static void
test_parse_malformed(gconstpointer data)
{
  const struct edit *e = data;
  g_autofree char *text = e->prefix != NULL ? edit_template(e->prefix, e->text)
                                            : g_strdup(e->text);
  g_autofree char *crlf = to_crlf(text);
  const char *variants[] = { text, crlf };

  for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
    struct p2psig_sdp_remote sdp;
    char *detail = NULL;

    g_assert_cmpint(parse_checked(variants[i], &sdp), ==, P2PSIG_ESDP);
    /* A NULL detail is allowed too. */
    g_assert_cmpint(p2psig__sdp_parse(variants[i], &sdp, NULL), ==,
                    P2PSIG_ESDP);
    g_assert_cmpint(p2psig__sdp_parse(variants[i], &sdp, &detail), ==,
                    P2PSIG_ESDP);
    g_test_message("%s: %s", e->name, detail);
    g_free(detail);
  }
}

static void
test_parse_template(void)
{
  g_autofree char *text = edit_template(NULL, NULL);
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpuint(sdp.max_message_size, ==, 262144);
  p2psig__sdp_remote_clear(&sdp);
}

static void
test_parse_null(void)
{
  struct p2psig_sdp_remote sdp;

  g_assert_cmpint(parse_checked(NULL, &sdp), ==, P2PSIG_ESDP);
  p2psig__sdp_remote_clear(NULL);
}

/* One line of 1 MiB, in the places a parser might copy it somewhere. */
static void
test_parse_huge_line(void)
{
  static const char *const prefixes[] = {
    "", "a=", "a=ice-ufrag:", "a=ice-pwd:", "a=mid:", "a=fingerprint:sha-256 ",
    "a=fingerprint:", "a=sctp-port:", "a=max-message-size:", "a=candidate:",
    "a=candidate:1 1 udp 1 ", "m=application 9 UDP/DTLS/SCTP ",
    "m=application ", "a=setup:",
  };
  gsize big = 1024 * 1024;
  char *filler = g_malloc(big + 1);

  memset(filler, 'a', big);
  filler[big] = '\0';
  for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
    g_autofree char *line = g_strconcat(prefixes[i], filler, NULL);
    g_autofree char *digits = g_strdup(line);
    g_autofree char *text = NULL;
    struct p2psig_sdp_remote sdp;
    const char *lines[] = { line, digits };

    memset(digits + strlen(prefixes[i]), '7', big);
    for (size_t j = 0; j < G_N_ELEMENTS(lines); j++) {
      int r;

      /* Inserted just before the end of our section, and alone. */
      g_free(text);
      text = g_strconcat(template_sdp, lines[j], "\n", NULL);
      r = parse_checked(text, &sdp);
      p2psig__sdp_remote_clear(&sdp);
      g_test_message("huge line after \"%s\": %d", prefixes[i], r);
      r = parse_checked(lines[j], &sdp);
      g_assert_cmpint(r, ==, P2PSIG_ESDP);
    }
  }
  g_free(filler);
}

static void
test_fingerprint_format(void)
{
  uint8_t fp[P2PSIG_FINGERPRINT_LEN];
  char buf[96];

  for (size_t i = 0; i < sizeof fp; i++)
    fp[i] = (uint8_t)i;
  p2psig__fingerprint_format(fp, buf);
  g_assert_cmpstr(buf, ==, FP_TEMPLATE);
  memset(fp, 0xab, sizeof fp);
  fp[31] = 0xff;
  p2psig__fingerprint_format(fp, buf);
  g_assert_cmpuint(strlen(buf), ==, 95);
  g_assert_true(g_str_has_prefix(buf, "AB:AB:"));
  g_assert_true(g_str_has_suffix(buf, ":AB:FF"));
}

static void
test_build_format(void)
{
  uint8_t fp[P2PSIG_FINGERPRINT_LEN];
  struct p2psig_sdp_local local = {
    .offer = true,
    .session_id = 8656206859812375711u,
    .ice_ufrag = "abcd",
    .ice_pwd = "abcdefghijklmnopqrstuvwx",
    .fingerprint = fp,
    .setup = P2PSIG_SETUP_ACTPASS,
    .mid = "0",
    .sctp_port = 5000,
    .max_message_size = 262144,
  };
  g_autofree char *text = NULL;

  for (size_t i = 0; i < sizeof fp; i++)
    fp[i] = (uint8_t)i;
  text = p2psig__sdp_build(&local);
  g_assert_cmpstr(text, ==,
                  "v=0\r\n"
                  "o=- 8656206859812375711 2 IN IP4 127.0.0.1\r\n"
                  "s=-\r\n"
                  "t=0 0\r\n"
                  "a=group:BUNDLE 0\r\n"
                  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                  "c=IN IP4 0.0.0.0\r\n"
                  "a=ice-ufrag:abcd\r\n"
                  "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
                  "a=ice-options:trickle\r\n"
                  "a=fingerprint:sha-256 " FP_TEMPLATE "\r\n"
                  "a=setup:actpass\r\n"
                  "a=mid:0\r\n"
                  "a=sctp-port:5000\r\n"
                  "a=max-message-size:262144\r\n");
}

static void
assert_crlf_only(const char *text)
{
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '\n')
      g_assert_true(p > text && p[-1] == '\r');
    if (*p == '\r')
      g_assert_true(p[1] == '\n');
  }
  g_assert_true(g_str_has_suffix(text, "\r\n"));
}

static void
test_build_defaults(void)
{
  uint8_t fp[P2PSIG_FINGERPRINT_LEN] = { 0 };
  struct p2psig_sdp_local local = {
    .offer = false,
    .session_id = UINT64_MAX,
    .ice_ufrag = "abcd",
    .ice_pwd = "abcdefghijklmnopqrstuvwx",
    .fingerprint = fp,
  };
  g_autofree char *text = p2psig__sdp_build(&local);
  struct p2psig_sdp_remote sdp;

  assert_crlf_only(text);
  /* The session id stays below 2^63 (JSEP). */
  g_assert_nonnull(strstr(text, "o=- 9223372036854775807 2 IN IP4"));
  g_assert_null(strstr(text, "max-message-size"));
  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_ACTIVE);
  g_assert_cmpstr(sdp.mid, ==, "0");
  g_assert_cmpuint(sdp.sctp_port, ==, 5000);
  g_assert_cmpuint(sdp.max_message_size, ==, 0);
  p2psig__sdp_remote_clear(&sdp);

  local.offer = true;
  g_free(text);
  text = p2psig__sdp_build(&local);
  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpint(sdp.setup, ==, P2PSIG_SETUP_ACTPASS);
  p2psig__sdp_remote_clear(&sdp);
}

/* Candidates gathered before the description go in it, in order, and the
 * parser gives them back as they were. */
static void
test_build_candidates(void)
{
  static const char *const lines[] = {
    "candidate:1 1 udp 2015364095 127.0.0.1 50000 typ host",
    "candidate:2 1 udp 1679819007 203.0.113.7 61000 typ srflx raddr "
    "192.168.1.2 rport 50001",
  };
  uint8_t fp[P2PSIG_FINGERPRINT_LEN] = { 0 };
  g_autoptr(GPtrArray) candidates = g_ptr_array_new();
  struct p2psig_sdp_local local = {
    .offer = true,
    .ice_ufrag = "abcd",
    .ice_pwd = "abcdefghijklmnopqrstuvwx",
    .fingerprint = fp,
    .candidates = candidates,
  };
  g_autofree char *empty = p2psig__sdp_build(&local);
  g_autofree char *text = NULL;
  struct p2psig_sdp_remote sdp;

  g_assert_null(strstr(empty, "a=candidate"));
  for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
    g_ptr_array_add(candidates, (char *)lines[i]);
  text = p2psig__sdp_build(&local);
  assert_crlf_only(text);
  g_assert_nonnull(strstr(text, "\r\na=candidate:1 1 udp 2015364095 "
                                "127.0.0.1 50000 typ host\r\n"));
  g_assert_cmpint(parse_checked(text, &sdp), ==, 0);
  g_assert_cmpuint(sdp.candidates->len, ==, G_N_ELEMENTS(lines));
  for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
    g_assert_cmpstr(sdp.candidates->pdata[i], ==, lines[i]);
  p2psig__sdp_remote_clear(&sdp);
}

static void
test_roundtrip(void)
{
  static const struct {
    bool offer;
    enum p2psig_setup setup;
    const char *mid;
    uint16_t port;
    uint64_t mms;
  } cases[] = {
    { true, P2PSIG_SETUP_ACTPASS, "0", 5000, 262144 },
    { false, P2PSIG_SETUP_ACTIVE, "0", 5000, 65536 },
    { false, P2PSIG_SETUP_PASSIVE, "data", 5001, 1 },
    { true, P2PSIG_SETUP_ACTPASS, "a-b.c_d~!", 65535, UINT64_MAX },
    { false, P2PSIG_SETUP_ACTIVE, "1", 1, UINT64_MAX - 1 },
    { true, P2PSIG_SETUP_ACTPASS, "0", 5000, 0 },
  };
  GRand *rand = g_rand_new_with_seed(0x5dc0ffee);

  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    uint8_t fp[P2PSIG_FINGERPRINT_LEN];
    char ufrag[17], pwd[33];
    struct p2psig_sdp_local local = {
      .offer = cases[i].offer,
      .session_id = g_rand_int(rand),
      .ice_ufrag = ufrag,
      .ice_pwd = pwd,
      .fingerprint = fp,
      .setup = cases[i].setup,
      .mid = cases[i].mid,
      .sctp_port = cases[i].port,
      .max_message_size = cases[i].mms,
    };
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    g_autofree char *text = NULL;
    g_autofree char *lf = NULL;
    struct p2psig_sdp_remote sdp;

    for (size_t j = 0; j < sizeof fp; j++)
      fp[j] = (uint8_t)g_rand_int_range(rand, 0, 256);
    for (size_t j = 0; j < sizeof ufrag - 1; j++)
      ufrag[j] = chars[g_rand_int_range(rand, 0, sizeof chars - 1)];
    ufrag[sizeof ufrag - 1] = '\0';
    for (size_t j = 0; j < sizeof pwd - 1; j++)
      pwd[j] = chars[g_rand_int_range(rand, 0, sizeof chars - 1)];
    pwd[sizeof pwd - 1] = '\0';

    text = p2psig__sdp_build(&local);
    assert_crlf_only(text);
    lf = to_lf(text);
    for (int k = 0; k < 2; k++) {
      g_assert_cmpint(parse_checked(k == 0 ? text : lf, &sdp), ==, 0);
      g_assert_cmpstr(sdp.ice_ufrag, ==, ufrag);
      g_assert_cmpstr(sdp.ice_pwd, ==, pwd);
      g_assert_true(sdp.has_fingerprint);
      g_assert_cmpmem(sdp.fingerprint, sizeof sdp.fingerprint, fp,
                      sizeof fp);
      g_assert_cmpint(sdp.setup, ==, cases[i].setup);
      g_assert_cmpstr(sdp.mid, ==, cases[i].mid);
      g_assert_cmpuint(sdp.sctp_port, ==, cases[i].port);
      g_assert_cmpuint(sdp.max_message_size, ==, cases[i].mms);
      g_assert_false(sdp.ice_lite);
      g_assert_false(sdp.end_of_candidates);
      g_assert_cmpuint(sdp.candidates->len, ==, 0);
      p2psig__sdp_remote_clear(&sdp);
    }
  }
  g_rand_free(rand);
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

/* Every prefix of every sample, in both line-end styles, copied to a heap
 * block of its exact size so that ASan sees any read past the end. */
static void
test_robustness_truncate(void)
{
  unsigned accepted = 0, refused = 0;
  gboolean debug = quiet_begin();

  for (size_t i = 0; i < G_N_ELEMENTS(samples); i++) {
    g_autofree char *raw = testutil_read_data(samples[i], NULL);
    g_autofree char *lf = to_lf(raw);
    g_autofree char *crlf = to_crlf(raw);
    const char *variants[] = { lf, crlf };

    for (size_t v = 0; v < G_N_ELEMENTS(variants); v++) {
      size_t n = strlen(variants[v]);

      for (size_t len = 0; len <= n; len++) {
        char *text = g_strndup(variants[v], len);
        struct p2psig_sdp_remote sdp;

        if (parse_checked(text, &sdp) == 0)
          accepted++;
        else
          refused++;
        p2psig__sdp_remote_clear(&sdp);
        g_free(text);
      }
    }
  }
  g_log_set_debug_enabled(debug);
  g_test_message("truncations: %u accepted, %u refused", accepted, refused);
  g_assert_cmpuint(accepted, >, 0);
  g_assert_cmpuint(refused, >, 0);
}

/* Pieces that steer mutations into the parser's deeper branches. */
static const char *const dictionary[] = {
  "\n", "\r\n", "\r", " ", "\t", ":", "/", "=", "a=", "m=", "0", "9",
  "65535", "65536", "18446744073709551615", "18446744073709551616",
  "99999999999999999999999", "-1", "+1", "application", "UDP/DTLS/SCTP",
  "DTLS/SCTP", "webrtc-datachannel", "a=fingerprint:sha-256 ", "sha-256",
  "a=ice-ufrag:", "a=ice-pwd:", "a=mid:", "a=setup:", "actpass",
  "a=sctp-port:", "a=max-message-size:", "a=candidate:", "typ", "raddr",
  "a=ice-lite", "a=end-of-candidates", "m=application 9 DTLS/SCTP ",
  "\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n", "AB:", "\xff",
};

static char *
mutate(GRand *rand, const char *input)
{
  GString *s = g_string_new(input);
  int edits = g_rand_int_range(rand, 1, 9);

  for (int e = 0; e < edits; e++) {
    gsize pos = s->len > 0 ? (gsize)g_rand_int_range(rand, 0, (gint32)s->len)
                           : 0;
    /* Drawn here: MIN() would evaluate a draw twice. */
    gsize run = (gsize)g_rand_int_range(rand, 1, 80);

    switch (g_rand_int_range(rand, 0, 5)) {
    case 0: /* flip a byte to any value but NUL */
      if (s->len > 0)
        s->str[pos] = (char)g_rand_int_range(rand, 1, 256);
      break;
    case 1: /* flip one bit */
      if (s->len > 0)
        s->str[pos] ^= (char)(1 << g_rand_int_range(rand, 0, 8));
      if (s->len > 0 && s->str[pos] == '\0')
        s->str[pos] = '?';
      break;
    case 2: /* insert a dictionary word */
      g_string_insert(s, (gssize)pos,
                      dictionary[g_rand_int_range(rand, 0,
                                                  G_N_ELEMENTS(dictionary))]);
      break;
    case 3: /* delete a run */
      g_string_erase(s, (gssize)pos, (gssize)MIN(s->len - pos, run / 2));
      break;
    default: /* duplicate a run elsewhere */
      if (s->len > 0) {
        gsize from = (gsize)g_rand_int_range(rand, 0, (gint32)s->len);
        char *piece = g_strndup(s->str + from, MIN(s->len - from, run));

        g_string_insert(s, (gssize)pos, piece);
        g_free(piece);
      }
      break;
    }
  }
  return g_string_free(s, FALSE);
}

static void
test_robustness_mutate(void)
{
  GRand *rand = g_rand_new_with_seed(20240522);
  char *inputs[G_N_ELEMENTS(samples) + 1];
  unsigned accepted = 0, refused = 0;
  int rounds = g_test_slow() ? 200000 : 20000;
  gboolean debug = quiet_begin();

  for (size_t i = 0; i < G_N_ELEMENTS(samples); i++)
    inputs[i] = testutil_read_data(samples[i], NULL);
  inputs[G_N_ELEMENTS(samples)] = g_strdup(template_sdp);

  for (int round = 0; round < rounds; round++) {
    const char *input = inputs[g_rand_int_range(rand, 0,
                                                G_N_ELEMENTS(inputs))];
    char *text = mutate(rand, input);
    struct p2psig_sdp_remote sdp;

    if (parse_checked(text, &sdp) == 0)
      accepted++;
    else
      refused++;
    p2psig__sdp_remote_clear(&sdp);
    g_free(text);
  }
  g_log_set_debug_enabled(debug);
  g_test_message("mutations: %u accepted, %u refused", accepted, refused);
  for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++)
    g_free(inputs[i]);
  g_rand_free(rand);
}

/* Random bytes, no structure at all. */
static void
test_robustness_random(void)
{
  GRand *rand = g_rand_new_with_seed(77);
  gboolean debug = quiet_begin();

  for (int round = 0; round < 5000; round++) {
    gsize len = (gsize)g_rand_int_range(rand, 0, 300);
    char *text = g_malloc(len + 1);
    struct p2psig_sdp_remote sdp;

    for (gsize i = 0; i < len; i++)
      text[i] = (char)g_rand_int_range(rand, 1, 256);
    text[len] = '\0';
    parse_checked(text, &sdp);
    p2psig__sdp_remote_clear(&sdp);
    g_free(text);
  }
  g_log_set_debug_enabled(debug);
  g_rand_free(rand);
}

static void
add_edit_tests(const char *prefix, const struct edit *edits, size_t n,
               GTestDataFunc fn)
{
  for (size_t i = 0; i < n; i++) {
    g_autofree char *path = g_strdup_printf("%s/%s", prefix, edits[i].name);

    g_test_add_data_func(path, &edits[i], fn);
  }
}

int
main(int argc, char *argv[])
{
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/sdp/parse/pion-answer", test_parse_pion_answer);
  g_test_add_func("/sdp/parse/chromium-offer", test_parse_chromium_offer);
  g_test_add_func("/sdp/parse/legacy-dtls-sctp", test_parse_legacy);
  g_test_add_func("/sdp/parse/legacy-dtls-sctp-port", test_parse_legacy_port);
  g_test_add_func("/sdp/parse/multiple-sections",
                  test_parse_multiple_sections);
  g_test_add_func("/sdp/parse/template", test_parse_template);
  g_test_add_func("/sdp/parse/null", test_parse_null);
  g_test_add_func("/sdp/parse/huge-line", test_parse_huge_line);
  add_edit_tests("/sdp/parse/tolerated", tolerated, G_N_ELEMENTS(tolerated),
                 test_parse_tolerated);
  add_edit_tests("/sdp/parse/malformed", malformed, G_N_ELEMENTS(malformed),
                 test_parse_malformed);
  g_test_add_func("/sdp/fingerprint/format", test_fingerprint_format);
  g_test_add_func("/sdp/build/format", test_build_format);
  g_test_add_func("/sdp/build/defaults", test_build_defaults);
  g_test_add_func("/sdp/build/candidates", test_build_candidates);
  g_test_add_func("/sdp/roundtrip", test_roundtrip);
  g_test_add_func("/sdp/robustness/truncate", test_robustness_truncate);
  g_test_add_func("/sdp/robustness/mutate", test_robustness_mutate);
  g_test_add_func("/sdp/robustness/random", test_robustness_random);
  return g_test_run();
}
