/* SPDX-License-Identifier: MIT */
/*
 * What the one-peer test programs (tests/nat/restart-peer.c,
 * tests/net/lossy-peer.c) share: one lock and condition for everything
 * their callbacks record, a clock, a wait on a predicate, and the state
 * callback that prints what the scripts around them wait for.  Public API
 * only, like the programs.
 */
#ifndef P2PSIG_PEER_PROCESS_H
#define P2PSIG_PEER_PROCESS_H

#include <p2psig/p2psig.h>

#include <pthread.h>
#include <stdbool.h>

extern pthread_mutex_t pp_lock;
extern pthread_cond_t pp_cond;
extern const char *pp_role;        /* "offer" or "answer", for the lines */
extern p2psig_state pp_state;      /* the peer's last state */
extern bool pp_failed;             /* it failed (or closed, when the
                                      program counts that as failure) */
extern bool pp_closed_is_failure;

/* Seconds on the monotonic clock. */
double pp_now_s(void);

/* Waits on pp_cond, with pp_lock, until pred() holds, the peer failed, or
 * the deadline (seconds from now) passed; returns pred(). */
bool pp_wait_until(bool (*pred)(void), int seconds);

/* An on_state callback: prints "ROLE: state NAME at T", records it and
 * wakes the waiters. */
void pp_on_state(p2psig_peer *peer, p2psig_state state, int error, void *ud);

#endif
