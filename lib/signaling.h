/* SPDX-License-Identifier: MIT */
/*
 * The pion-to-pion signaling messages and addresses: pure functions, no
 * I/O, so that they can be tested without a network.  signaling.c uses them
 * for its HTTP server and client.
 */
#ifndef P2PSIG_SIGNALING_H
#define P2PSIG_SIGNALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p2psig/p2psig.h>

/* Largest request body the server reads (413 above it).  An SDP with many
 * candidates is a few KiB. */
#define P2PSIG_SIGNAL_MAX_BODY (64 * 1024)

/* Decodes the body of POST /sdp, pion's webrtc.SessionDescription:
 * {"type":"offer"|"answer","sdp":"..."}.  Other members are ignored; member
 * names match case-insensitively when no exact match exists, as Go's
 * encoding/json does.  Returns 0 and the SDP in *sdp (g_free), or
 * P2PSIG_EJSON and a one-line reason in *detail (g_free) when detail is not
 * NULL: not UTF-8 JSON, not an object, "type" or "sdp" missing or not a
 * string, an empty "sdp", a type other than offer and answer ("pranswer"
 * and "rollback" included). */
int p2psig__signal_decode_sdp(const char *body, size_t len,
                              p2psig_sdp_type *type, char **sdp,
                              char **detail);

/* Encodes {"type":"offer"|"answer","sdp":"..."}; g_free the result.
 * Returns NULL for an unknown type or a NULL sdp. */
char *p2psig__signal_encode_sdp(p2psig_sdp_type type, const char *sdp);

/* Splits "host:port", "[host]:port" (brackets needed around an IPv6
 * address) or ":port" into *host (g_free; NULL for an empty host: all
 * interfaces when listening, this machine when connecting) and *port.  The
 * host is an IP address or a DNS name (letters, digits, '-', '_', '.').
 * Port 0 is accepted only when listen is true.  Returns 0 or
 * P2PSIG_EADDRESS. */
int p2psig__signal_parse_address(const char *address, bool listen,
                                 char **host, uint16_t *port);

#endif
