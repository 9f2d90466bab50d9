/* SPDX-License-Identifier: MIT */
/*
 * TURN over TLS (turns:) for the ICE layer.  libnice 0.1.21's "TLS" relay
 * type sends plain TCP in its RFC 5245 mode (only its Google and Microsoft
 * modes wrap the socket, and not in TLS), so a turns: server gets a local
 * listener instead: libnice talks TURN over TCP to 127.0.0.1:port, and
 * each connection it makes there is carried to the server in TLS, with the
 * server's certificate verified.
 */
#ifndef P2PSIG_TURNTLS_H
#define P2PSIG_TURNTLS_H

#include <gio/gio.h>
#include <stdint.h>

#include "internal.h"

/* Connections a tunnel carries at once: libnice opens one a local address
 * (two with ICE-TCP); more is someone else on this host. */
#define P2PSIG_TURN_TLS_MAX_CONNECTIONS 32
/* Seconds to connect and finish the TLS handshake, and of silence on a
 * tunnel's way to the server before it is given up (a TURN allocation
 * sends a refresh well within this). */
#define P2PSIG_TURN_TLS_TIMEOUT_S 15

struct p2psig_turn_tls;

/* Listens on 127.0.0.1 (a free port) for the TURN server host:port; ca:
 * the certificates trusted for it, NULL for the system's store.  Runs on
 * loop, with its lock held.  Returns NULL (and logs why) on failure. */
struct p2psig_turn_tls *p2psig__turn_tls_new(struct p2psig_loop *loop,
                                             const char *host, uint16_t port,
                                             GTlsDatabase *ca);
uint16_t p2psig__turn_tls_port(const struct p2psig_turn_tls *tunnel);
/* Closes the listener and every connection; on its loop. */
void p2psig__turn_tls_free(struct p2psig_turn_tls *tunnel);

#endif
