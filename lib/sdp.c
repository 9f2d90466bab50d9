/* SPDX-License-Identifier: MIT */
/*
 * SDP for one data-channel section, and ICE candidate strings.  The peer
 * layer builds its local description here and hands remote descriptions and
 * remote candidates here to be parsed; nothing here keeps state or does I/O.
 *
 * Everything parsed comes from the network.  The parsers walk spans (pointer
 * and length) of the input and never rely on a NUL inside a line, so a line
 * of any length, any byte value or a missing field gives an error, never an
 * out-of-bounds read.  They accept what pion 3.1.56, Chromium and the older
 * DTLS/SCTP form send, and ignore what they do not know.
 */
#define G_LOG_DOMAIN "p2psig"

#include "sdp.h"

#include <inttypes.h>
#include <string.h>

#include "internal.h"

/* RFC 8839 section 5.4: ice-ufrag and ice-pwd are at most 256 ice-chars. */
#define ICE_CREDENTIAL_MAX 256
/* Longer mids are legal SDP but are echoed into our answer; RFC 8843
 * section 15 lets an answerer refuse what it cannot handle. */
#define MID_MAX 256

struct span {
  const char *p;
  size_t n;
};

/* Attributes of one level (session or our media section), first one wins. */
struct attrs {
  struct span ufrag;
  bool has_ufrag;
  struct span pwd;
  bool has_pwd;
  bool has_fingerprint;
  uint8_t fingerprint[P2PSIG_FINGERPRINT_LEN];
  enum p2psig_setup setup;
  struct span mid;
  bool has_mid;
  uint16_t sctp_port;                      /* 0 when absent */
  uint64_t max_message_size;
  bool has_max_message_size;
  bool ice_lite;
  bool end_of_candidates;
};

static struct span
span_of(const char *p, size_t n)
{
  struct span s = { p, n };

  return s;
}

static bool
is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static struct span
trim(struct span s)
{
  while (s.n > 0 && (is_blank(s.p[0]) || s.p[0] == '\r' || s.p[0] == '\n')) {
    s.p++;
    s.n--;
  }
  while (s.n > 0 && (is_blank(s.p[s.n - 1]) || s.p[s.n - 1] == '\r' ||
                     s.p[s.n - 1] == '\n'))
    s.n--;
  return s;
}

/* Splits off the next token; runs of blanks separate tokens, because some
 * stacks pad with more than the one SP the grammars ask for. */
static bool
next_token(struct span *rest, struct span *tok)
{
  size_t i = 0;
  size_t start;

  while (i < rest->n && is_blank(rest->p[i]))
    i++;
  start = i;
  while (i < rest->n && !is_blank(rest->p[i]))
    i++;
  *tok = span_of(rest->p + start, i - start);
  rest->p += i;
  rest->n -= i;
  return tok->n > 0;
}

static bool
span_is(struct span s, const char *lit)
{
  size_t n = strlen(lit);

  return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool
span_is_ci(struct span s, const char *lit)
{
  size_t n = strlen(lit);

  return s.n == n && g_ascii_strncasecmp(s.p, lit, n) == 0;
}

static bool
take_prefix_ci(struct span *s, const char *lit)
{
  size_t n = strlen(lit);

  if (s->n < n || g_ascii_strncasecmp(s->p, lit, n) != 0)
    return false;
  s->p += n;
  s->n -= n;
  return true;
}

/* Decimal digits only, at most max.  Not strtoull: it takes a sign, blanks
 * and base prefixes, and needs a terminated string. */
static bool
parse_uint(struct span s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if (s.n == 0)
    return false;
  for (size_t i = 0; i < s.n; i++) {
    unsigned d;

    if (s.p[i] < '0' || s.p[i] > '9')
      return false;
    d = (unsigned)(s.p[i] - '0');
    if (d > max || v > (max - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static bool
parse_port(struct span s, bool allow_zero, uint16_t *out)
{
  uint64_t v;

  if (!parse_uint(s, 65535, &v) || (v == 0 && !allow_zero))
    return false;
  *out = (uint16_t)v;
  return true;
}

/* RFC 8839 section 5.1: ice-char = ALPHA / DIGIT / "+" / "/" */
static bool
is_ice_char(char c)
{
  return g_ascii_isalnum(c) || c == '+' || c == '/';
}

/* RFC 8866 section 9: token-char, which a=mid and a=group use. */
static bool
is_token_char(char c)
{
  unsigned char u = (unsigned char)c;

  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2a || u == 0x2b ||
         u == 0x2d || u == 0x2e || (u >= 0x30 && u <= 0x39) ||
         (u >= 0x41 && u <= 0x5a) || (u >= 0x5e && u <= 0x7e);
}

static bool
span_all(struct span s, size_t max, bool (*pred)(char))
{
  if (s.n == 0 || s.n > max)
    return false;
  for (size_t i = 0; i < s.n; i++)
    if (!pred(s.p[i]))
      return false;
  return true;
}

/* "AB:CD:..." with exactly 32 bytes; RFC 8122 section 5 makes the hex
 * upper case, but lower case costs nothing to accept. */
static bool
parse_fingerprint(struct span s, uint8_t fp[P2PSIG_FINGERPRINT_LEN])
{
  if (s.n != 3 * P2PSIG_FINGERPRINT_LEN - 1)
    return false;
  for (size_t i = 0; i < P2PSIG_FINGERPRINT_LEN; i++) {
    int hi = g_ascii_xdigit_value(s.p[3 * i]);
    int lo = g_ascii_xdigit_value(s.p[3 * i + 1]);

    if (hi < 0 || lo < 0)
      return false;
    if (i + 1 < P2PSIG_FINGERPRINT_LEN && s.p[3 * i + 2] != ':')
      return false;
    fp[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

static bool
parse_setup(struct span s, enum p2psig_setup *out)
{
  /* holdconn (RFC 4145) means "no connection": unusable, so refused. */
  if (span_is_ci(s, "actpass"))
    *out = P2PSIG_SETUP_ACTPASS;
  else if (span_is_ci(s, "active"))
    *out = P2PSIG_SETUP_ACTIVE;
  else if (span_is_ci(s, "passive"))
    *out = P2PSIG_SETUP_PASSIVE;
  else
    return false;
  return true;
}

static bool
is_hostname_char(char c)
{
  return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
}

/* An IP literal (IPv6 with an optional zone), or a host name such as the
 * mDNS "abcd-1234.local" that browsers use to hide local addresses. */
static bool
valid_address(struct span s)
{
  char buf[256];
  size_t start;

  if (s.n == 0 || s.n >= sizeof buf)
    return false;
  memcpy(buf, s.p, s.n);
  buf[s.n] = '\0';
  if (g_hostname_is_ip_address(buf))
    return true;
  if (!span_all(s, sizeof buf - 1, is_hostname_char) || buf[0] == '.' ||
      strstr(buf, "..") != NULL)
    return false;
  /* RFC 3696 section 2: a top-level label is never all digits, so such a
   * name is a broken IPv4 address ("1.2.3.999"), not a host name. */
  if (buf[s.n - 1] == '.')
    buf[--s.n] = '\0';
  start = s.n;
  while (start > 0 && buf[start - 1] != '.')
    start--;
  for (size_t i = start; i < s.n; i++)
    if (!g_ascii_isdigit(buf[i]))
      return true;
  return false;
}

static int
candidate_fail(char **detail, const char *why)
{
  g_debug("refusing ICE candidate: %s", why);
  if (detail != NULL)
    *detail = g_strdup_printf("malformed ICE candidate: %s", why);
  return P2PSIG_ECANDIDATE;
}

int
p2psig__candidate_parse(const char *text, struct p2psig_candidate *out,
                        char **detail)
{
  struct p2psig_candidate c;
  struct span s, tok, name, value;
  uint64_t v;
  bool has_tcptype = false;

  if (detail != NULL)
    *detail = NULL;
  g_return_val_if_fail(out != NULL, P2PSIG_EINVAL);
  if (text == NULL)
    return candidate_fail(detail, "no candidate");
  memset(&c, 0, sizeof c);
  s = trim(span_of(text, strlen(text)));
  (void)take_prefix_ci(&s, "a=");
  if (!take_prefix_ci(&s, "candidate:"))
    return candidate_fail(detail, "does not start with \"candidate:\"");

  /* The foundation follows the colon directly: a blank there would make
   * the component look like the foundation. */
  if (s.n == 0 || is_blank(s.p[0]))
    return candidate_fail(detail, "empty foundation");
  next_token(&s, &tok);
  if (!span_all(tok, sizeof c.foundation - 1, is_ice_char))
    return candidate_fail(detail, "bad foundation");
  memcpy(c.foundation, tok.p, tok.n);

  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no component");
  if (!parse_uint(tok, 256, &v) || v == 0)
    return candidate_fail(detail, "bad component");
  c.component = (unsigned)v;

  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no transport");
  if (span_is_ci(tok, "udp"))
    c.transport = P2PSIG_TRANSPORT_UDP;
  else if (span_is_ci(tok, "tcp"))
    c.transport = P2PSIG_TRANSPORT_TCP;
  else if (span_all(tok, 32, is_token_char))
    c.unsupported = "a transport other than udp and tcp";
  else
    return candidate_fail(detail, "bad transport");

  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no priority");
  if (!parse_uint(tok, UINT32_MAX, &v))
    return candidate_fail(detail, "bad priority");
  c.priority = (uint32_t)v;

  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no address");
  if (!valid_address(tok))
    return candidate_fail(detail, "bad address");
  memcpy(c.address, tok.p, tok.n);

  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no port");
  if (!parse_port(tok, false, &c.port))
    return candidate_fail(detail, "bad port");

  if (!next_token(&s, &tok) || !span_is_ci(tok, "typ"))
    return candidate_fail(detail, "no \"typ\"");
  if (!next_token(&s, &tok))
    return candidate_fail(detail, "no type");
  if (span_is_ci(tok, "host"))
    c.type = P2PSIG_CANDIDATE_HOST;
  else if (span_is_ci(tok, "srflx"))
    c.type = P2PSIG_CANDIDATE_SRFLX;
  else if (span_is_ci(tok, "prflx"))
    c.type = P2PSIG_CANDIDATE_PRFLX;
  else if (span_is_ci(tok, "relay"))
    c.type = P2PSIG_CANDIDATE_RELAY;
  else if (span_all(tok, 32, is_token_char))
    c.unsupported = c.unsupported ? c.unsupported
                                  : "a type other than host, srflx, prflx "
                                    "and relay";
  else
    return candidate_fail(detail, "bad type");

  /* RFC 8839 section 5.1 orders raddr, rport, tcptype, then extensions;
   * pion writes tcptype before raddr, so take them in any order. */
  while (next_token(&s, &name)) {
    if (!next_token(&s, &value))
      return candidate_fail(detail, "attribute without a value");
    if (span_is_ci(name, "raddr")) {
      if (!valid_address(value))
        return candidate_fail(detail, "bad raddr");
      memcpy(c.related_address, value.p, value.n);
      c.related_address[value.n] = '\0';
    } else if (span_is_ci(name, "rport")) {
      /* Browsers hiding addresses send "raddr 0.0.0.0 rport 0". */
      if (!parse_port(value, true, &c.related_port))
        return candidate_fail(detail, "bad rport");
    } else if (span_is_ci(name, "tcptype")) {
      if (span_is_ci(value, "active"))
        c.tcp_type = P2PSIG_TCP_ACTIVE;
      else if (span_is_ci(value, "passive"))
        c.tcp_type = P2PSIG_TCP_PASSIVE;
      else if (span_is_ci(value, "so"))
        c.tcp_type = P2PSIG_TCP_SO;
      else if (!c.unsupported)
        c.unsupported = "a tcptype other than active, passive and so";
      has_tcptype = true;
    }
    /* Anything else (generation, ufrag, network-id, network-cost...) is an
     * extension we may ignore, RFC 8839 section 5.1. */
  }

  /* RFC 6544 section 4.5: without it we cannot tell who connects. */
  if (c.transport == P2PSIG_TRANSPORT_TCP && !has_tcptype && !c.unsupported)
    c.unsupported = "a tcp candidate without tcptype";
  if (c.transport == P2PSIG_TRANSPORT_UDP || c.unsupported)
    c.tcp_type = P2PSIG_TCP_NONE;
  /* A host candidate has no base (RFC 8445 section 5.1.1.1); a stray
   * raddr on one is ignored, as its format leaves it out. */
  if (c.type == P2PSIG_CANDIDATE_HOST) {
    c.related_address[0] = '\0';
    c.related_port = 0;
  }
  *out = c;
  return 0;
}

static const char *
candidate_type_name(enum p2psig_candidate_type type)
{
  switch (type) {
  case P2PSIG_CANDIDATE_HOST:
    return "host";
  case P2PSIG_CANDIDATE_SRFLX:
    return "srflx";
  case P2PSIG_CANDIDATE_PRFLX:
    return "prflx";
  case P2PSIG_CANDIDATE_RELAY:
    return "relay";
  }
  return NULL;
}

static const char *
tcp_type_name(enum p2psig_tcp_type type)
{
  switch (type) {
  case P2PSIG_TCP_ACTIVE:
    return "active";
  case P2PSIG_TCP_PASSIVE:
    return "passive";
  case P2PSIG_TCP_SO:
    return "so";
  case P2PSIG_TCP_NONE:
    break;
  }
  return NULL;
}

char *
p2psig__candidate_format(const struct p2psig_candidate *c)
{
  const char *type;
  GString *s;

  g_return_val_if_fail(c != NULL, NULL);
  type = candidate_type_name(c->type);
  g_return_val_if_fail(type != NULL, NULL);

  s = g_string_sized_new(128);
  g_string_append_printf(s, "candidate:%s %u %s %" PRIu32 " %s %u typ %s",
                         c->foundation, c->component,
                         c->transport == P2PSIG_TRANSPORT_TCP ? "tcp" : "udp",
                         c->priority, c->address, (unsigned)c->port, type);
  /* RFC 8839 section 5.1: raddr and rport are mandatory for these types;
   * 0.0.0.0 and 0 are what browsers send when they do not tell. */
  if (c->type != P2PSIG_CANDIDATE_HOST)
    g_string_append_printf(s, " raddr %s rport %u",
                           c->related_address[0] != '\0' ? c->related_address
                                                         : "0.0.0.0",
                           (unsigned)c->related_port);
  if (c->transport == P2PSIG_TRANSPORT_TCP && tcp_type_name(c->tcp_type))
    g_string_append_printf(s, " tcptype %s", tcp_type_name(c->tcp_type));
  return g_string_free(s, FALSE);
}

void
p2psig__fingerprint_format(const uint8_t *fp, char buf[96])
{
  static const char hex[] = "0123456789ABCDEF";

  for (size_t i = 0; i < P2PSIG_FINGERPRINT_LEN; i++) {
    buf[3 * i] = hex[fp[i] >> 4];
    buf[3 * i + 1] = hex[fp[i] & 0x0f];
    buf[3 * i + 2] = i + 1 < P2PSIG_FINGERPRINT_LEN ? ':' : '\0';
  }
}

static int
sdp_fail(char **detail, size_t line, const char *why)
{
  if (line > 0) {
    g_debug("refusing SDP: line %" G_GSIZE_FORMAT ": %s", line, why);
    if (detail != NULL)
      *detail = g_strdup_printf("line %" G_GSIZE_FORMAT ": %s", line, why);
  } else {
    g_debug("refusing SDP: %s", why);
    if (detail != NULL)
      *detail = g_strdup(why);
  }
  return P2PSIG_ESDP;
}

enum media_kind {
  MEDIA_OTHER,                             /* not a data-channel section */
  MEDIA_DATA,
  MEDIA_BAD,                               /* ours, but malformed */
};

/* "m=application 9 UDP/DTLS/SCTP webrtc-datachannel" (RFC 8841), or the
 * older "m=application 9 DTLS/SCTP 5000" whose format is the SCTP port. */
static enum media_kind
media_line(struct span value, uint16_t *sctp_port, const char **why)
{
  struct span media, port, proto, fmt, count;
  const char *slash;
  uint16_t ignored;
  bool found = false;

  if (!next_token(&value, &media) || !span_is(media, "application") ||
      !next_token(&value, &port) || !next_token(&value, &proto))
    return MEDIA_OTHER;

  *sctp_port = P2PSIG_SCTP_PORT;
  if (span_is_ci(proto, "UDP/DTLS/SCTP") ||
      span_is_ci(proto, "TCP/DTLS/SCTP")) {
    while (!found && next_token(&value, &fmt))
      found = span_is_ci(fmt, "webrtc-datachannel");
    if (!found)
      return MEDIA_OTHER;
  } else if (span_is_ci(proto, "DTLS/SCTP")) {
    if (!next_token(&value, &fmt))
      return MEDIA_OTHER;
    if (!parse_port(fmt, false, sctp_port)) {
      *why = "bad SCTP port in m=application DTLS/SCTP";
      return MEDIA_BAD;
    }
  } else {
    return MEDIA_OTHER;
  }

  /* <port>[/<count>]; a bundle-only section has port 0 (RFC 8843). */
  slash = memchr(port.p, '/', port.n);
  if (slash != NULL) {
    count = span_of(slash + 1, port.n - (size_t)(slash + 1 - port.p));
    port.n = (size_t)(slash - port.p);
    if (!parse_port(count, false, &ignored)) {
      *why = "bad port count in m= line";
      return MEDIA_BAD;
    }
  }
  if (!parse_port(port, true, &ignored)) {
    *why = "bad port in m= line";
    return MEDIA_BAD;
  }
  return MEDIA_DATA;
}

/* Takes one "a=" line's value at one level; returns NULL or why it is
 * refused.  A candidate line's text goes to candidates when valid. */
static const char *
attribute(struct span value, bool media_level, struct attrs *a,
          GPtrArray *candidates, size_t line)
{
  const char *colon = memchr(value.p, ':', value.n);
  struct span name = value, arg = span_of(value.p + value.n, 0);
  struct span hash, rest;
  uint64_t v;

  if (colon != NULL) {
    name.n = (size_t)(colon - value.p);
    arg = trim(span_of(colon + 1, value.n - name.n - 1));
  }

  if (span_is(name, "ice-ufrag")) {
    if (!span_all(arg, ICE_CREDENTIAL_MAX, is_ice_char))
      return "bad a=ice-ufrag";
    if (!a->has_ufrag)
      a->ufrag = arg;
    a->has_ufrag = true;
  } else if (span_is(name, "ice-pwd")) {
    if (!span_all(arg, ICE_CREDENTIAL_MAX, is_ice_char))
      return "bad a=ice-pwd";
    if (!a->has_pwd)
      a->pwd = arg;
    a->has_pwd = true;
  } else if (span_is(name, "fingerprint")) {
    uint8_t fp[P2PSIG_FINGERPRINT_LEN];

    rest = arg;
    if (!next_token(&rest, &hash))
      return "empty a=fingerprint";
    /* RFC 8122 section 5 allows several; we verify with sha-256 only and
     * skip the others rather than refuse them. */
    if (!span_is_ci(hash, "sha-256"))
      return NULL;
    if (!parse_fingerprint(trim(rest), fp))
      return "malformed sha-256 a=fingerprint";
    if (!a->has_fingerprint)
      memcpy(a->fingerprint, fp, sizeof fp);
    a->has_fingerprint = true;
  } else if (span_is(name, "setup")) {
    enum p2psig_setup setup;

    if (!parse_setup(arg, &setup))
      return "unsupported a=setup";
    if (a->setup == P2PSIG_SETUP_NONE)
      a->setup = setup;
  } else if (span_is(name, "ice-lite")) {
    a->ice_lite = true;
  } else if (span_is(name, "end-of-candidates")) {
    a->end_of_candidates = true;
  } else if (!media_level) {
    /* The rest is media-level only (RFC 8866 section 6, RFC 8841). */
  } else if (span_is(name, "mid")) {
    if (!span_all(arg, MID_MAX, is_token_char))
      return "bad a=mid";
    if (!a->has_mid)
      a->mid = arg;
    a->has_mid = true;
  } else if (span_is(name, "sctp-port")) {
    uint16_t port;

    if (!parse_port(arg, false, &port))
      return "bad a=sctp-port";
    if (a->sctp_port == 0)
      a->sctp_port = port;
  } else if (span_is(name, "max-message-size")) {
    if (!parse_uint(arg, UINT64_MAX, &v))
      return "bad a=max-message-size";
    /* RFC 8841 section 6: 0 means no limit; absent (our 0) means 64 KiB. */
    if (!a->has_max_message_size)
      a->max_message_size = v == 0 ? UINT64_MAX : v;
    a->has_max_message_size = true;
  } else if (span_is(name, "candidate")) {
    struct p2psig_candidate c;
    char *text;

    /* The public API takes an SDP of any size: keep a bounded number. */
    if (candidates->len >= P2PSIG_MAX_REMOTE_CANDIDATES) {
      g_debug("SDP line %" G_GSIZE_FORMAT ": more than %u candidates, "
              "skipped", line, (unsigned)P2PSIG_MAX_REMOTE_CANDIDATES);
      return NULL;
    }
    text = g_strndup(value.p, value.n);
    /* One candidate we cannot use must not cost the whole description;
     * the others may still connect. */
    if (p2psig__candidate_parse(text, &c, NULL) == 0) {
      g_ptr_array_add(candidates, text);
    } else {
      g_debug("SDP line %" G_GSIZE_FORMAT ": skipping a bad candidate",
              line);
      g_free(text);
    }
  }
  return NULL;
}

int
p2psig__sdp_parse(const char *text, struct p2psig_sdp_remote *out,
                  char **detail)
{
  enum { SESSION, OURS, OTHER } where = SESSION;
  struct attrs session, media;
  GPtrArray *candidates;
  const struct attrs *pick;
  uint16_t mline_port = P2PSIG_SCTP_PORT;
  bool found = false;
  const char *p, *why = "malformed SDP";
  size_t line = 0;

  if (detail != NULL)
    *detail = NULL;
  g_return_val_if_fail(out != NULL, P2PSIG_EINVAL);
  memset(out, 0, sizeof *out);
  if (text == NULL)
    return sdp_fail(detail, 0, "no SDP");
  memset(&session, 0, sizeof session);
  memset(&media, 0, sizeof media);
  candidates = g_ptr_array_new_with_free_func(g_free);

  for (p = text; *p != '\0';) {
    const char *nl = strchr(p, '\n');
    struct span l = span_of(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
    struct span value;

    p = l.p + l.n + (nl != NULL);
    line++;
    l = trim(l);
    /* RFC 8866 section 5: <type>=<value>, one letter type. */
    if (l.n < 2 || l.p[1] != '=')
      continue;
    value = span_of(l.p + 2, l.n - 2);
    if (l.p[0] == 'm') {
      uint16_t port = P2PSIG_SCTP_PORT;
      enum media_kind kind = MEDIA_OTHER;

      /* Only the first data-channel section counts. */
      if (!found)
        kind = media_line(value, &port, &why);
      if (kind == MEDIA_BAD)
        goto fail;
      where = kind == MEDIA_DATA ? OURS : OTHER;
      if (kind == MEDIA_DATA) {
        found = true;
        mline_port = port;
      }
      continue;
    }
    if (l.p[0] != 'a' || where == OTHER)
      continue;
    why = attribute(value, where == OURS, where == OURS ? &media : &session,
                    candidates, line);
    if (why != NULL)
      goto fail;
  }
  line = 0;

  if (!found) {
    why = "no m=application UDP/DTLS/SCTP webrtc-datachannel section";
    goto fail;
  }
  pick = media.has_ufrag ? &media : &session;
  if (!pick->has_ufrag) {
    why = "no a=ice-ufrag";
    goto fail;
  }
  out->ice_ufrag = g_strndup(pick->ufrag.p, pick->ufrag.n);
  pick = media.has_pwd ? &media : &session;
  if (!pick->has_pwd) {
    why = "no a=ice-pwd";
    goto fail;
  }
  out->ice_pwd = g_strndup(pick->pwd.p, pick->pwd.n);
  pick = media.has_fingerprint ? &media : &session;
  if (!pick->has_fingerprint) {
    why = "no sha-256 a=fingerprint";
    goto fail;
  }
  out->has_fingerprint = true;
  memcpy(out->fingerprint, pick->fingerprint, sizeof out->fingerprint);
  out->setup = media.setup != P2PSIG_SETUP_NONE ? media.setup : session.setup;
  if (media.has_mid)
    out->mid = g_strndup(media.mid.p, media.mid.n);
  out->sctp_port = media.sctp_port != 0 ? media.sctp_port : mline_port;
  out->max_message_size = media.max_message_size;
  out->ice_lite = session.ice_lite || media.ice_lite;
  out->end_of_candidates = session.end_of_candidates ||
                           media.end_of_candidates;
  out->candidates = candidates;
  return 0;

fail:
  g_ptr_array_unref(candidates);
  p2psig__sdp_remote_clear(out);
  return sdp_fail(detail, line, why);
}

void
p2psig__sdp_remote_clear(struct p2psig_sdp_remote *sdp)
{
  if (sdp == NULL)
    return;
  g_free(sdp->ice_ufrag);
  g_free(sdp->ice_pwd);
  g_free(sdp->mid);
  if (sdp->candidates != NULL)
    g_ptr_array_unref(sdp->candidates);
  memset(sdp, 0, sizeof *sdp);
}

static const char *
setup_name(enum p2psig_setup setup)
{
  switch (setup) {
  case P2PSIG_SETUP_ACTPASS:
    return "actpass";
  case P2PSIG_SETUP_ACTIVE:
    return "active";
  case P2PSIG_SETUP_PASSIVE:
    return "passive";
  case P2PSIG_SETUP_NONE:
    break;
  }
  return NULL;
}

char *
p2psig__sdp_build(const struct p2psig_sdp_local *sdp)
{
  enum p2psig_setup setup;
  const char *mid;
  char fp[96];
  GString *s;

  g_return_val_if_fail(sdp != NULL && sdp->ice_ufrag != NULL &&
                           sdp->ice_pwd != NULL && sdp->fingerprint != NULL,
                       NULL);
  /* RFC 8842 section 5.1 and 5.2: an offer says actpass, an answer active
   * when the caller has no preference. */
  setup = sdp->setup;
  if (setup == P2PSIG_SETUP_NONE)
    setup = sdp->offer ? P2PSIG_SETUP_ACTPASS : P2PSIG_SETUP_ACTIVE;
  g_return_val_if_fail(setup_name(setup) != NULL, NULL);
  mid = sdp->mid != NULL ? sdp->mid : "0";
  p2psig__fingerprint_format(sdp->fingerprint, fp);

  s = g_string_sized_new(512);
  /* JSEP (RFC 8829) section 5.2.1: the session id fits a signed 64-bit
   * integer, and parsers that read it as one refuse larger values. */
  g_string_append_printf(s,
                         "v=0\r\n"
                         "o=- %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                         " IN IP4 127.0.0.1\r\n"
                         "s=-\r\n"
                         "t=0 0\r\n"
                         "a=group:BUNDLE %s\r\n"
                         "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                         "c=IN IP4 0.0.0.0\r\n"
                         "a=ice-ufrag:%s\r\n"
                         "a=ice-pwd:%s\r\n"
                         "a=ice-options:trickle\r\n"
                         "a=fingerprint:sha-256 %s\r\n"
                         "a=setup:%s\r\n"
                         "a=mid:%s\r\n"
                         "a=sctp-port:%u\r\n",
                         sdp->session_id & (uint64_t)G_MAXINT64,
                         sdp->session_version ? sdp->session_version : 2,
                         mid,
                         sdp->ice_ufrag, sdp->ice_pwd, fp, setup_name(setup),
                         mid,
                         (unsigned)(sdp->sctp_port != 0 ? sdp->sctp_port
                                                        : P2PSIG_SCTP_PORT));
  /* RFC 8841 section 6: absent means 64 KiB and 0 means no limit, so our
   * 0 leaves the line out and UINT64_MAX writes 0, as the parser reads. */
  if (sdp->max_message_size != 0)
    g_string_append_printf(s, "a=max-message-size:%" G_GUINT64_FORMAT "\r\n",
                           sdp->max_message_size == UINT64_MAX
                               ? (uint64_t)0
                               : sdp->max_message_size);
  for (guint i = 0; sdp->candidates && i < sdp->candidates->len; i++)
    g_string_append_printf(s, "a=%s\r\n",
                           (const char *)sdp->candidates->pdata[i]);
  return g_string_free(s, FALSE);
}
