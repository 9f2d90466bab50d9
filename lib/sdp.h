/* SPDX-License-Identifier: MIT */
/*
 * SDP and ICE candidate strings: building and tolerant parsing.  Pure
 * functions: no state, no I/O, no GLib main loop.
 */
#ifndef P2PSIG_SDP_H
#define P2PSIG_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define P2PSIG_FINGERPRINT_LEN 32 /* SHA-256 */

enum p2psig_setup {
  P2PSIG_SETUP_NONE = 0, /* attribute absent */
  P2PSIG_SETUP_ACTPASS,
  P2PSIG_SETUP_ACTIVE,
  P2PSIG_SETUP_PASSIVE,
};

/* What we need from a remote description's data-channel section. */
struct p2psig_sdp_remote {
  char *ice_ufrag;
  char *ice_pwd;
  bool has_fingerprint;                    /* a sha-256 fingerprint seen */
  uint8_t fingerprint[P2PSIG_FINGERPRINT_LEN];
  enum p2psig_setup setup;
  char *mid;                               /* NULL if absent */
  uint16_t sctp_port;                      /* 5000 when absent */
  uint64_t max_message_size;               /* 0 when absent */
  bool ice_lite;
  bool end_of_candidates;
  GPtrArray *candidates;                   /* "candidate:..." strings
                                              (without "a="), never NULL;
                                              the first
                                              P2PSIG_MAX_REMOTE_CANDIDATES
                                              that parse */
};

/* Parses text (CRLF or LF).  Fills out on success (clear it with
 * p2psig__sdp_remote_clear) and returns 0; returns P2PSIG_ESDP and sets
 * *detail (a one-line reason, to g_free) when it cannot be used: no
 * m=application UDP/DTLS/SCTP (or DTLS/SCTP) section, no ICE credentials, no
 * sha-256 fingerprint.  Session-level ufrag/pwd/fingerprint/setup apply when
 * the media section has none.  Unknown lines are ignored. */
int p2psig__sdp_parse(const char *text, struct p2psig_sdp_remote *out,
                      char **detail);
void p2psig__sdp_remote_clear(struct p2psig_sdp_remote *sdp);

struct p2psig_sdp_local {
  bool offer;
  uint64_t session_id;
  uint64_t session_version;                /* o= version; 0: 2 */
  const char *ice_ufrag;
  const char *ice_pwd;
  const uint8_t *fingerprint;              /* P2PSIG_FINGERPRINT_LEN bytes */
  enum p2psig_setup setup;
  const char *mid;                         /* "0" */
  uint16_t sctp_port;
  uint64_t max_message_size;
  /* Local candidates gathered so far ("candidate:..."), or NULL.  They are
   * trickled too: a remote ignores the copies it already has. */
  const GPtrArray *candidates;
};

/* Builds a complete SDP with CRLF line ends; g_free the result. */
char *p2psig__sdp_build(const struct p2psig_sdp_local *sdp);

enum p2psig_candidate_type {
  P2PSIG_CANDIDATE_HOST = 0,
  P2PSIG_CANDIDATE_SRFLX,
  P2PSIG_CANDIDATE_PRFLX,
  P2PSIG_CANDIDATE_RELAY,
};

enum p2psig_candidate_transport {
  P2PSIG_TRANSPORT_UDP = 0,
  P2PSIG_TRANSPORT_TCP,
};

enum p2psig_tcp_type {
  P2PSIG_TCP_NONE = 0,
  P2PSIG_TCP_ACTIVE,
  P2PSIG_TCP_PASSIVE,
  P2PSIG_TCP_SO,
};

struct p2psig_candidate {
  char foundation[33];                     /* 1..32 ice-chars */
  unsigned component;                      /* 1..256 */
  enum p2psig_candidate_transport transport;
  uint32_t priority;
  char address[256];                       /* IP literal, or a hostname
                                              such as an mDNS "x.local" */
  uint16_t port;
  enum p2psig_candidate_type type;
  char related_address[256];               /* "" if absent */
  uint16_t related_port;
  enum p2psig_tcp_type tcp_type;
  /* Why we cannot use a candidate that parses (RFC 8839's grammar takes any
   * token as a transport or a type), a static string; NULL: understood. */
  const char *unsupported;
};

/* Parses "candidate:..." (an "a=" prefix is accepted, trailing CR/LF and
 * spaces too; unknown extension attributes such as generation, ufrag,
 * network-id are skipped).  A transport, type or tcptype we do not know is
 * not an error: the candidate parses with ->unsupported saying so.  Returns
 * 0, or P2PSIG_ECANDIDATE and a one-line reason in *detail (to g_free) when
 * detail is not NULL. */
int p2psig__candidate_parse(const char *text, struct p2psig_candidate *out,
                            char **detail);

/* Formats as pion does: "candidate:F C udp P ADDR PORT typ host" plus
 * " raddr A rport P" for non-host types and " tcptype T" for TCP.
 * g_free the result. */
char *p2psig__candidate_format(const struct p2psig_candidate *c);

/* Colon-separated upper-case hex, as in a=fingerprint; buf of 96 bytes. */
void p2psig__fingerprint_format(const uint8_t *fp, char buf[96]);

#endif
