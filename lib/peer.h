/* SPDX-License-Identifier: MIT */
/*
 * The peer's internal face, for the signaling layer: an observer that hears
 * the peer's local candidates on the observer's loop.
 */
#ifndef P2PSIG_PEER_H
#define P2PSIG_PEER_H

#include "internal.h"

struct p2psig_peer_observer {
  /* A local candidate ("candidate:..."), or NULL when gathering is done.
   * Runs on the observer's loop with the signaling lock and the peer's
   * held, from an idle source,
   * in the candidates' order; the application's on_candidate runs on a
   * dispatcher thread meanwhile, in no fixed order with it. */
  void (*on_local_candidate)(void *data, const char *candidate);
};

/* Sets (or with observer NULL, clears) the peer's single observer, which
 * runs on loop. */
void p2psig__peer_set_observer(p2psig_peer *peer,
                               const struct p2psig_peer_observer *observer,
                               void *data, struct p2psig_loop *loop);

/* The loop the peer is pinned to. */
struct p2psig_loop *p2psig__peer_loop(const p2psig_peer *peer);

/* Whether a remote description has been applied; any lock held or none. */
bool p2psig__peer_has_remote_description(const p2psig_peer *peer);

#endif
