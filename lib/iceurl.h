/* SPDX-License-Identifier: MIT */
/*
 * ICE server URLs (RFC 7064 stun:/stuns:, RFC 7065 turn:/turns: with
 * ?transport=): parsing only, a pure function, so that it can be tested
 * and fuzzed without a network.  peer.c resolves the hosts and hands the
 * servers to the ICE layer.
 */
#ifndef P2PSIG_ICEURL_H
#define P2PSIG_ICEURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p2psig/p2psig.h>

enum p2psig_ice_url_kind {
  P2PSIG_ICE_URL_STUN = 0,
  P2PSIG_ICE_URL_TURN,
};

/* How we reach the server: TURN over UDP, TCP or TLS over TCP (turns:). */
enum p2psig_ice_url_transport {
  P2PSIG_ICE_URL_UDP = 0,
  P2PSIG_ICE_URL_TCP,
  P2PSIG_ICE_URL_TLS,
};

struct p2psig_ice_url {
  enum p2psig_ice_url_kind kind;
  enum p2psig_ice_url_transport transport;
  char host[254];          /* an IP literal (no brackets) or a DNS name */
  bool host_is_ip;
  uint16_t port;           /* the scheme's default when absent */
};

/* Parses a stun:, turn: or turns: URL.  Returns 0, or P2PSIG_EINVAL and a
 * one-line reason in *detail (to g_free; detail may be NULL) for text that
 * is not such a URL or asks for what we cannot do (stuns:, turns: over
 * UDP, an unknown transport). */
int p2psig__ice_url_parse(const char *text, struct p2psig_ice_url *out,
                          char **detail);

/* libnice takes at most 8 TURN servers a component. */
#define P2PSIG_ICE_MAX_RELAYS 8

struct p2psig_ice_relay {
  struct p2psig_ice_url url;   /* a turn: or turns: URL */
  char *username;
  char *password;
};

/* A peer's servers, from the configuration. */
struct p2psig_ice_servers {
  bool has_stun;
  struct p2psig_ice_url stun;  /* the first STUN URL: libnice takes one */
  size_t stun_unused;          /* further STUN URLs, checked only */
  struct p2psig_ice_relay relays[P2PSIG_ICE_MAX_RELAYS];
  size_t relay_count;
};

/* Reads stun_urls (NULL-terminated STUN URLs, or NULL) and the count
 * servers of list (W3C RTCIceServer) into out (clear it with
 * p2psig__ice_servers_clear, also after a failure).  Returns 0, or
 * P2PSIG_EINVAL and a reason in *detail (g_free): a URL that does not
 * parse, a TURN URL without credentials or in stun_urls, more than
 * P2PSIG_ICE_MAX_RELAYS TURN URLs, a server without URLs. */
int p2psig__ice_servers_parse(const char *const *stun_urls,
                              const p2psig_ice_server *list, size_t count,
                              struct p2psig_ice_servers *out, char **detail);
void p2psig__ice_servers_clear(struct p2psig_ice_servers *servers);
/* Frees a relay's credentials (the password wiped first). */
void p2psig__ice_relay_clear(struct p2psig_ice_relay *relay);

#endif
