/* SPDX-License-Identifier: MIT */
/*
 * Shared internals: the library thread and its main context, the library
 * lock, and the error helpers every layer uses.
 *
 * Locking: one lock guards all library state.  Public functions take it on
 * entry; the library thread takes it around every event it handles.  The
 * application's callbacks of peers and channels never run with it: the
 * dispatcher (dispatch.h) runs them between the loop's iterations, and a
 * callback takes it again through the public functions it calls.  Never wait for the
 * library thread, nor for a callback (p2psig__dispatch_stop), while
 * holding it; a dispatcher queue's own mutex is taken after it, never the
 * other way round.
 *
 * The lock is still recursive, for two paths that take it again: libnice
 * emits some signals (new candidates during gathering, component states)
 * from inside the agent calls we make under the lock, and their handlers
 * lock; and the signaling layer calls the peer's public functions from its
 * handlers, which hold the lock (its own application callbacks run with
 * it released).  Debug builds count the depth, and assert it is zero
 * where the rules above want the lock free.
 */
#ifndef P2PSIG_INTERNAL_H
#define P2PSIG_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include <p2psig/p2psig.h>

#include "log.h"

#define P2PSIG_SCTP_PORT 5000
/* What we accept and advertise in a=max-message-size.  Reassembly holds at
 * most one message of an association at a time (SCTP delivers one partial
 * message at a time), so this bounds receive memory. */
#define P2PSIG_MAX_MESSAGE_SIZE (1024 * 1024)
/* Remote ICE candidates a peer takes from p2psig_peer_add_candidate
 * (trickled, held or applied), and at most as many again from the remote
 * description.  Browsers gather fewer than 20 (a host candidate a
 * interface and address family, a server-reflexive and a relayed one a
 * server), pion a few more on a host with many interfaces; 100 leaves room
 * for those, while each candidate costs libnice a pair a local candidate
 * and checks: 30,000 of them stall the library thread for seconds. */
#define P2PSIG_MAX_REMOTE_CANDIDATES 100
/* RFC 8841 section 6: a remote SDP without a=max-message-size means this. */
#define P2PSIG_DEFAULT_REMOTE_MAX_MESSAGE_SIZE 65536

/* config.c */
/* Copies a public config struct of src_size bytes (its .size) into dst,
 * dst_size bytes, zero-filled: P2PSIG_EINVAL with a reason in *detail for a
 * size too small to be set (a struct cleared with memset), or for non-zero
 * bytes past dst_size (fields of a newer header that this version cannot
 * honour).  type and init name the struct and its INIT macro for the
 * reason.  dst's .size becomes dst_size. */
int p2psig__config_copy(void *dst, size_t dst_size, const void *src,
                        size_t src_size, const char *type, const char *init,
                        char **detail);
/* Whether ip (an IP address in text) is one of this host's. */
bool p2psig__is_local_address(const char *ip);

/* loop.c */
GMainContext *p2psig__loop_context(void);
/* Whether the calling thread runs the library loop now (in an iteration,
 * or running callbacks between two). */
bool p2psig__loop_is_current(void);
/* Whether the caller may wait for a callback on another thread, which may
 * be waiting for the lock or for the loop: not with the lock held, nor
 * while running the loop's context (a signaling callback).  A peer's
 * callback on the loop's thread may: the loop moves on meanwhile. */
bool p2psig__loop_may_wait(void);
/* Ends the loop's wait for sources (work was queued for it). */
void p2psig__loop_wakeup(void);
/* Around each application callback the loop's thread runs, so that one
 * that blocks gets the loop moved to another thread. */
void p2psig__loop_callback_begin(void);
void p2psig__loop_callback_end(void);
void p2psig__lock(void);
void p2psig__unlock(void);
/* Whether the calling thread holds the lock. */
bool p2psig__lock_held(void);
#ifndef NDEBUG
#define P2PSIG_ASSERT_UNLOCKED() g_assert(!p2psig__lock_held())
#else
#define P2PSIG_ASSERT_UNLOCKED() ((void)0)
#endif
/* Runs fn(data) on the library loop and waits for it; runs it at once when
 * the caller leads the loop (holding the loop's context meanwhile, so that
 * the loop does not move).  Elsewhere the caller must not hold the lock. */
void p2psig__loop_run_sync(void (*fn)(void *data), void *data);
/* Attaches a source to the library context that calls fn with the lock held;
 * returns the source (one reference, owned by the caller). */
GSource *p2psig__loop_timeout(unsigned interval_ms, GSourceFunc fn,
                              void *data, GDestroyNotify destroy);
/* The same in whole seconds: GLib fires every seconds-timer of the process
 * in the same wake-up. */
GSource *p2psig__loop_timeout_seconds(unsigned interval_s, GSourceFunc fn,
                                      void *data, GDestroyNotify destroy);
GSource *p2psig__loop_idle(GSourceFunc fn, void *data, GDestroyNotify destroy);
/* Let the library thread's timers fire late (by up to 50 ms), to coalesce
 * idle wake-ups, or not; precise_timers holds that off while set (ICE
 * checks pace at 1 ms).  Lock held. */
void p2psig__loop_coalesce_timers(bool coalesce);
void p2psig__loop_precise_timers(bool hold);

#endif
