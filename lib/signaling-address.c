/* SPDX-License-Identifier: MIT */
/*
 * Where the signaling listens and whom it talks to: the listen and remote
 * addresses of the configuration, the remote's base URL, and whether a
 * browser's Origin is ours (by the Host it connected to) or one the
 * configuration lists.  Pure functions (signaling.h) but the URL, which
 * libsoup checks; the server applies the origin checks (its early
 * handler, CORS headers and preflight).
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <stdlib.h>
#include <string.h>

#include "signaling-private.h"

/* What a host name may hold here: letters, digits, '-', '_' and '.'. */
static bool
is_dns_name(const char *host)
{
  size_t len = strlen(host);

  if (len == 0 || len > 253)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isalnum(host[i]) && host[i] != '-' && host[i] != '_' &&
        host[i] != '.')
      return false;
  return true;
}

/* The host of a Host header or an origin's authority ("h", "h:port",
 * "[v6]:port") names us by address: an IP literal, or localhost. */
static bool
host_is_address(const char *authority)
{
  g_autofree char *host = NULL;
  const char *end;

  if (authority[0] == '[') {
    end = strchr(authority, ']');
    if (!end || (end[1] != '\0' && end[1] != ':'))
      return false;
    host = g_strndup(authority + 1, (size_t)(end - authority - 1));
    return strchr(host, ':') && g_hostname_is_ip_address(host);
  }
  end = strchr(authority, ':');
  host = end ? g_strndup(authority, (size_t)(end - authority))
             : g_strdup(authority);
  return g_ascii_strcasecmp(host, "localhost") == 0 ||
         (!strchr(host, ':') && g_hostname_is_ip_address(host));
}

bool
p2psig__signal_origin_allowed(const char *origin, const char *host, bool tls,
                              const char *const *allowed)
{
  const char *scheme = tls ? "https://" : "http://";
  size_t n = strlen(scheme);

  if (!origin)
    return false;
  for (size_t i = 0; allowed && allowed[i]; i++)
    if (strcmp(allowed[i], "*") == 0 ||
        g_ascii_strcasecmp(allowed[i], origin) == 0)
      return true;
  /* Our own: what the browser connected to, by address.  The Host header
   * of a page fetched through a DNS name says that name, which another
   * site may have pointed at us (DNS rebinding): list such an origin. */
  return host && host[0] && g_ascii_strncasecmp(origin, scheme, n) == 0 &&
         g_ascii_strcasecmp(origin + n, host) == 0 && host_is_address(host);
}

bool
p2psig__signal_valid_origin(const char *text)
{
  g_autofree char *host = NULL;
  const char *authority, *p, *colon;

  if (!text || strlen(text) > P2PSIG_SIGNAL_MAX_ORIGIN_LEN)
    return false;
  if (strcmp(text, "*") == 0)
    return true;
  if (g_str_has_prefix(text, "http://"))
    authority = text + 7;
  else if (g_str_has_prefix(text, "https://"))
    authority = text + 8;
  else
    return false;
  if (authority[0] == '[') {
    const char *end = strchr(authority, ']');

    if (!end)
      return false;
    host = g_strndup(authority + 1, (size_t)(end - authority - 1));
    if (!strchr(host, ':') || !g_hostname_is_ip_address(host))
      return false;
    colon = end[1] == ':' ? end + 1 : NULL;
    if (!colon && end[1] != '\0')
      return false;
  } else {
    colon = strchr(authority, ':');
    host = colon ? g_strndup(authority, (size_t)(colon - authority))
                 : g_strdup(authority);
    if (!is_dns_name(host) && !g_hostname_is_ip_address(host))
      return false;
  }
  if (!colon)
    return true;
  for (p = colon + 1; *p; p++)
    if (!g_ascii_isdigit(*p))
      return false;
  return p - colon > 1 && p - colon <= 6 && atoi(colon + 1) <= 65535;
}

int
p2psig__signal_parse_address(const char *address, bool listen, char **host,
                             uint16_t *port)
{
  const char *colon, *p;
  g_autofree char *name = NULL;
  unsigned long value = 0;

  *host = NULL;
  *port = 0;
  if (!address)
    return P2PSIG_EADDRESS;

  if (address[0] == '[') {
    const char *close = strchr(address, ']');

    if (!close || close[1] != ':')
      return P2PSIG_EADDRESS;
    name = g_strndup(address + 1, (size_t)(close - address - 1));
    if (!g_hostname_is_ip_address(name))
      return P2PSIG_EADDRESS;
    colon = close + 1;
  } else {
    colon = strrchr(address, ':');
    if (!colon)
      return P2PSIG_EADDRESS;
    name = g_strndup(address, (size_t)(colon - address));
    /* An IPv6 address needs brackets: "::1:80" is ambiguous. */
    if (strchr(name, ':'))
      return P2PSIG_EADDRESS;
    if (name[0] != '\0' && !g_hostname_is_ip_address(name) &&
        !is_dns_name(name))
      return P2PSIG_EADDRESS;
  }

  p = colon + 1;
  if (*p == '\0' || strlen(p) > 5)
    return P2PSIG_EADDRESS;
  for (; *p; p++) {
    if (!g_ascii_isdigit(*p))
      return P2PSIG_EADDRESS;
    value = value * 10 + (unsigned long)(*p - '0');
  }
  if (value > 65535 || (value == 0 && !listen))
    return P2PSIG_EADDRESS;

  *port = (uint16_t)value;
  if (name[0] != '\0')
    *host = g_steal_pointer(&name);
  return 0;
}

char *
p2psig__signal_remote_base(const char *scheme, const char *host, uint16_t port)
{
  g_autofree char *base = NULL;
  g_autofree char *probe = NULL;
  g_autoptr(SoupMessage) msg = NULL;

  if (!host) {
    /* ":port", as Go dials it: this machine. */
    base = g_strdup_printf("%s://localhost:%u", scheme, port);
  } else if (strchr(host, ':')) {
    /* IPv6; a zone ("fe80::1%eth0") is written %25 in a URI (RFC 6874). */
    g_auto(GStrv) parts = g_strsplit(host, "%", -1);
    g_autofree char *escaped = g_strjoinv("%25", parts);

    base = g_strdup_printf("%s://[%s]:%u", scheme, escaped, port);
  } else {
    base = g_strdup_printf("%s://%s:%u", scheme, host, port);
  }
  probe = g_strconcat(base, "/sdp", NULL);
  msg = soup_message_new(SOUP_METHOD_POST, probe);
  return msg ? g_steal_pointer(&base) : NULL;
}
