/* SPDX-License-Identifier: MIT */
/*
 * ICE server URLs: RFC 7064 (stun:, stuns:) and RFC 7065 (turn:, turns:,
 * ?transport=udp|tcp).  The grammar is "scheme:host[:port][?transport=x]",
 * host being an IPv4 address, an IPv6 address in brackets, or a DNS name;
 * no user information, path or other query parameter.  Schemes match
 * without case, as URI schemes do (RFC 3986 section 3.1).  Also the
 * configuration's list of servers, checked and copied.
 */
#define G_LOG_DOMAIN "p2psig"

#include "iceurl.h"

#include <gio/gio.h>
#include <string.h>

#include "internal.h"

#define STUN_PORT 3478 /* RFC 8489 section 9: also TURN's */
#define STUNS_PORT 5349

static int
url_fail(char **detail, const char *text, const char *why)
{
  if (detail) {
    /* Bounded and printable: the URL comes from a configuration, but may
     * come from anywhere before that. */
    GString *shown = g_string_new(NULL);

    for (size_t i = 0; text[i] && i < 80; i++) {
      unsigned char c = (unsigned char)text[i];

      if (c < 0x20 || c >= 0x7f)
        g_string_append_printf(shown, "\\x%02x", c);
      else
        g_string_append_c(shown, (char)c);
    }
    if (strlen(text) > 80)
      g_string_append(shown, "...");
    *detail = g_strdup_printf("ICE server URL \"%s\": %s", shown->str, why);
    g_string_free(shown, TRUE);
  }
  return P2PSIG_EINVAL;
}

/* Strips a case-insensitive prefix. */
static bool
take_prefix(const char **s, const char *prefix)
{
  size_t n = strlen(prefix);

  if (g_ascii_strncasecmp(*s, prefix, n) != 0)
    return false;
  *s += n;
  return true;
}

static bool
valid_dns_name(const char *host, size_t len)
{
  if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isalnum(host[i]) && host[i] != '-' && host[i] != '.' &&
        host[i] != '_')
      return false;
  return true;
}

int
p2psig__ice_url_parse(const char *text, struct p2psig_ice_url *out,
                      char **detail)
{
  struct p2psig_ice_url url = { 0 };
  const char *s = text, *host, *host_end, *query;
  bool secure = false, bracketed;
  size_t host_len;

  if (detail)
    *detail = NULL;
  if (!text)
    return url_fail(detail, "", "no URL");
  if (take_prefix(&s, "stun:")) {
    url.kind = P2PSIG_ICE_URL_STUN;
  } else if (take_prefix(&s, "turn:")) {
    url.kind = P2PSIG_ICE_URL_TURN;
  } else if (take_prefix(&s, "turns:")) {
    url.kind = P2PSIG_ICE_URL_TURN;
    secure = true;
  } else if (take_prefix(&s, "stuns:")) {
    return url_fail(detail, text, "STUN over TLS (stuns:) is not "
                                  "supported: use stun:");
  } else {
    return url_fail(detail, text, "the scheme is not stun:, turn: or "
                                  "turns:");
  }
  if (g_str_has_prefix(s, "//"))
    return url_fail(detail, text, "no \"//\" after the scheme (RFC 7064)");
  if (strpbrk(s, "@/#"))
    return url_fail(detail, text, "user information, paths and fragments "
                                  "are not part of an ICE server URL");

  host = s;
  bracketed = *s == '[';
  if (bracketed) {
    host_end = strchr(s, ']');
    if (!host_end)
      return url_fail(detail, text, "no \"]\" after an IPv6 address");
    host++;
    s = host_end + 1;
  } else {
    host_end = s + strcspn(s, ":?");
    s = host_end;
  }
  host_len = (size_t)(host_end - host);
  if (host_len == 0)
    return url_fail(detail, text, "no host");
  if (host_len >= sizeof url.host)
    return url_fail(detail, text, "host name too long");
  memcpy(url.host, host, host_len);
  url.host[host_len] = '\0';
  url.host_is_ip = g_hostname_is_ip_address(url.host);
  if (bracketed ? !url.host_is_ip || !strchr(url.host, ':')
                 : !url.host_is_ip && !valid_dns_name(host, host_len))
    return url_fail(detail, text, bracketed
                                      ? "not an IPv6 address in brackets"
                                      : "not an IP address or host name");
  if (url.host_is_ip && strchr(url.host, ':') && !bracketed)
    return url_fail(detail, text, "an IPv6 address needs brackets");

  url.port = secure ? STUNS_PORT : STUN_PORT;
  if (*s == ':') {
    unsigned long port = 0;
    size_t digits = 0;

    for (s++; g_ascii_isdigit(*s) && digits < 6; s++, digits++)
      port = port * 10 + (unsigned long)(*s - '0');
    if (digits == 0 || digits > 5 || port == 0 || port > 65535)
      return url_fail(detail, text, "bad port");
    url.port = (uint16_t)port;
  }

  url.transport = secure ? P2PSIG_ICE_URL_TLS : P2PSIG_ICE_URL_UDP;
  query = s;
  if (*query == '?') {
    const char *value = query + 1;

    if (url.kind != P2PSIG_ICE_URL_TURN)
      return url_fail(detail, text, "a stun: URL takes no query");
    if (!take_prefix(&value, "transport="))
      return url_fail(detail, text, "the only query is ?transport=udp|tcp");
    if (g_ascii_strcasecmp(value, "tcp") == 0) {
      if (!secure)
        url.transport = P2PSIG_ICE_URL_TCP;
    } else if (g_ascii_strcasecmp(value, "udp") == 0) {
      if (secure)
        return url_fail(detail, text, "turns: over UDP (DTLS) is not "
                                      "supported: use ?transport=tcp");
    } else {
      return url_fail(detail, text, "unknown transport: use udp or tcp");
    }
  } else if (*s != '\0') {
    return url_fail(detail, text, "unexpected text after the host");
  }
  *out = url;
  return 0;
}

/* RFC 8489 section 14.3: a USERNAME is less than 513 bytes; a password as
 * long would be absurd too. */
#define MAX_CREDENTIAL 512

static int
add_url(struct p2psig_ice_servers *out, const char *text,
        const p2psig_ice_server *server, char **detail)
{
  struct p2psig_ice_url url;
  struct p2psig_ice_relay *relay;
  int ret = p2psig__ice_url_parse(text, &url, detail);

  if (ret < 0)
    return ret;
  if (url.kind == P2PSIG_ICE_URL_STUN) {
    if (out->has_stun) {
      out->stun_unused++;
    } else {
      out->has_stun = true;
      out->stun = url;
    }
    return 0;
  }
  if (!server)
    return url_fail(detail, text, "a TURN server needs a username and a "
                                  "credential: give it in ice_server_list");
  if (!server->username || !server->credential)
    return url_fail(detail, text, "a TURN server needs a username and a "
                                  "credential");
  if (strlen(server->username) > MAX_CREDENTIAL ||
      strlen(server->credential) > MAX_CREDENTIAL)
    return url_fail(detail, text, "username or credential over 512 bytes");
  if (out->relay_count == P2PSIG_ICE_MAX_RELAYS)
    return url_fail(detail, text, "more than 8 TURN URLs (libnice's "
                                  "limit)");
  relay = &out->relays[out->relay_count++];
  relay->url = url;
  relay->username = g_strdup(server->username);
  relay->password = g_strdup(server->credential);
  return 0;
}

int
p2psig__ice_servers_parse(const char *const *stun_urls,
                          const p2psig_ice_server *list, size_t count,
                          struct p2psig_ice_servers *out, char **detail)
{
  int ret;

  memset(out, 0, sizeof *out);
  if (detail)
    *detail = NULL;
  for (const char *const *u = stun_urls; u && *u; u++)
    if ((ret = add_url(out, *u, NULL, detail)) < 0)
      return ret;
  if (count > 0 && !list) {
    if (detail)
      *detail = g_strdup("ice_server_count without ice_server_list");
    return P2PSIG_EINVAL;
  }
  for (size_t i = 0; i < count; i++) {
    if (!list[i].urls || !list[i].urls[0]) {
      if (detail)
        *detail = g_strdup_printf("ICE server %zu has no URL", i);
      return P2PSIG_EINVAL;
    }
    for (const char *const *u = list[i].urls; *u; u++)
      if ((ret = add_url(out, *u, &list[i], detail)) < 0)
        return ret;
  }
  return 0;
}

static void
free_secret(char *secret)
{
  if (secret) {
    explicit_bzero(secret, strlen(secret));
    g_free(secret);
  }
}

void
p2psig__ice_relay_clear(struct p2psig_ice_relay *relay)
{
  g_clear_pointer(&relay->username, g_free);
  free_secret(relay->password);
  relay->password = NULL;
}

void
p2psig__ice_servers_clear(struct p2psig_ice_servers *servers)
{
  for (size_t i = 0; i < servers->relay_count; i++)
    p2psig__ice_relay_clear(&servers->relays[i]);
  memset(servers, 0, sizeof *servers);
}
