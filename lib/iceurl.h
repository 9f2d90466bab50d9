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
#include <stdint.h>

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

#endif
