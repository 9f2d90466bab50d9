/* SPDX-License-Identifier: MIT */
/*
 * ICE with libnice: one agent, one stream, one component (BUNDLE and
 * rtcp-mux style), trickle.
 */
#ifndef P2PSIG_ICE_H
#define P2PSIG_ICE_H

#include <agent.h>

#include "iceurl.h"
#include "internal.h"
#include "sdp.h"

enum p2psig_ice_state {
  P2PSIG_ICE_NEW = 0,
  P2PSIG_ICE_CHECKING,
  P2PSIG_ICE_CONNECTED,   /* libnice's connected: a pair works */
  P2PSIG_ICE_COMPLETED,   /* libnice's ready: nominated, checks over */
  P2PSIG_ICE_FAILED,
};

/* Upcalls, on the library thread with the lock held (candidates and states
 * may also come from a public call's thread, during p2psig__ice_gather). */
struct p2psig_ice_callbacks {
  void (*on_candidate)(void *data, const char *candidate); /* NULL: done */
  void (*on_state)(void *data, enum p2psig_ice_state state);
  void (*on_receive)(void *data, const uint8_t *buf, size_t len);
};

struct p2psig_ice_options {
  const char *const *local_addresses; /* NULL: every interface */
  uint16_t port_min, port_max;
  bool ice_tcp;                       /* gather and use TCP candidates */
  bool relay_only;                    /* only relay candidates, W3C
                                         iceTransportPolicy "relay" */
  const struct p2psig_ice_servers *servers; /* copied; NULL: none */
  GTlsDatabase *tls_ca;               /* trusted for turns:; NULL: the
                                         system's */
  bool mdns_host_candidates;          /* host addresses hidden behind
                                         mDNS names we answer for */
  int family;                         /* AF_INET or AF_INET6: candidates
                                         of that family only, local and
                                         remote; 0: both */
  struct p2psig_loop *loop;           /* the agent's, and its lock */
};

/* Gathering ends (on_candidate(NULL)) when libnice has heard from every
 * server, or this long after it started, whichever is first: libnice
 * waits minutes for a server that never answers (its STUN retransmissions
 * are ours, raised for lossy links).  Candidates found later are not
 * reported. */
#define P2PSIG_ICE_GATHERING_TIMEOUT_MS 10000

/* Called without the library lock: turns: servers get their local TLS
 * listeners on the library thread. */
struct p2psig_ice *p2psig__ice_new(const struct p2psig_ice_options *options,
                                   const struct p2psig_ice_callbacks *cbs,
                                   void *data, int *error);
/* On the library thread.  libnice goes on releasing TURN allocations on
 * that thread for up to P2PSIG_ICE_CLOSE_TIMEOUT_MS; the token returned
 * (or NULL) tells when it is done: give it to p2psig__ice_closing_wait()
 * or to p2psig__ice_closing_wait(token, 0) to drop it. */
struct p2psig_ice_closing *p2psig__ice_free(struct p2psig_ice *ice);
#define P2PSIG_ICE_CLOSE_TIMEOUT_MS 2500
/* Waits, off the library thread, for the close to finish, at most
 * timeout_ms; drops the token.  Returns whether it finished. */
bool p2psig__ice_closing_wait(struct p2psig_ice_closing *closing,
                              unsigned timeout_ms);
void p2psig__ice_set_controlling(struct p2psig_ice *ice, bool controlling);
/* Local ufrag and pwd, owned by ice. */
const char *p2psig__ice_local_ufrag(const struct p2psig_ice *ice);
const char *p2psig__ice_local_pwd(const struct p2psig_ice *ice);
int p2psig__ice_gather(struct p2psig_ice *ice);
/* ICE restart (RFC 8445 section 9): new local credentials; libnice keeps
 * the selected pair carrying data, keeps its local candidates, forgets the
 * remote ones and the remote credentials, which must be set again. */
int p2psig__ice_restart(struct p2psig_ice *ice);
int p2psig__ice_set_remote_credentials(struct p2psig_ice *ice,
                                       const char *ufrag, const char *pwd);
/* Whether we can use a remote candidate at all (component 1, an IP
 * address or an mDNS name, mdns.h): 0, or P2PSIG_ECANDIDATE with a reason
 * in *detail (g_free). */
int p2psig__ice_candidate_usable(const struct p2psig_candidate *c,
                                 char **detail);
/* Returns 0 or P2PSIG_ECANDIDATE with a reason in *detail (to g_free).  A
 * candidate with an mDNS name is added once the name resolves, with its
 * address (one candidate per address); until then it waits here (0), and
 * it is dropped with a debug line if the name does not resolve.
 * P2PSIG_ELIMIT: P2PSIG_MDNS_MAX_PENDING names are being resolved. */
int p2psig__ice_add_remote_candidate(struct p2psig_ice *ice,
                                     const struct p2psig_candidate *c,
                                     char **detail);
/* How a local relay candidate reaches its TURN server: "udp", "tcp" or
 * "tls"; "" for other candidates. */
const char *p2psig__ice_relay_protocol(const struct p2psig_ice *ice,
                                       const NiceCandidate *local);
/* The selected pair as libnice's candidates (borrowed), if any. */
bool p2psig__ice_selected_pair(struct p2psig_ice *ice, NiceCandidate **local,
                               NiceCandidate **remote);
int p2psig__ice_send(struct p2psig_ice *ice, const uint8_t *buf, size_t len);

#endif
