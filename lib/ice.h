/* SPDX-License-Identifier: MIT */
/*
 * ICE with libnice: one agent, one stream, one component (BUNDLE and
 * rtcp-mux style), trickle.
 */
#ifndef P2PSIG_ICE_H
#define P2PSIG_ICE_H

#include <agent.h>

#include "internal.h"
#include "sdp.h"

enum p2psig_ice_state {
  P2PSIG_ICE_NEW = 0,
  P2PSIG_ICE_CHECKING,
  P2PSIG_ICE_CONNECTED,
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
  const char *stun_ip;                /* resolved STUN server, or NULL */
  uint16_t stun_port;
  uint16_t port_min, port_max;
  bool ice_tcp;                       /* gather and use TCP candidates */
};

struct p2psig_ice *p2psig__ice_new(const struct p2psig_ice_options *options,
                                   const struct p2psig_ice_callbacks *cbs,
                                   void *data, int *error);
void p2psig__ice_free(struct p2psig_ice *ice);
/* Sets the STUN server if gathering has not started; returns whether it
 * will be used. */
bool p2psig__ice_set_stun_server(struct p2psig_ice *ice, const char *ip,
                                 uint16_t port);
void p2psig__ice_set_controlling(struct p2psig_ice *ice, bool controlling);
/* Local ufrag and pwd, owned by ice. */
const char *p2psig__ice_local_ufrag(const struct p2psig_ice *ice);
const char *p2psig__ice_local_pwd(const struct p2psig_ice *ice);
int p2psig__ice_gather(struct p2psig_ice *ice);
int p2psig__ice_set_remote_credentials(struct p2psig_ice *ice,
                                       const char *ufrag, const char *pwd);
/* Whether we can use a remote candidate at all (UDP, component 1, an IP
 * address): 0, or P2PSIG_ECANDIDATE with a reason in *detail (g_free). */
int p2psig__ice_candidate_usable(const struct p2psig_candidate *c,
                                 char **detail);
/* Returns 0 or P2PSIG_ECANDIDATE with a reason in *detail (to g_free). */
int p2psig__ice_add_remote_candidate(struct p2psig_ice *ice,
                                     const struct p2psig_candidate *c,
                                     char **detail);
/* The selected pair as libnice's candidates (borrowed), if any. */
bool p2psig__ice_selected_pair(struct p2psig_ice *ice, NiceCandidate **local,
                               NiceCandidate **remote);
int p2psig__ice_send(struct p2psig_ice *ice, const uint8_t *buf, size_t len);

#endif
