/* SPDX-License-Identifier: MIT */
/*
 * Shared internals: the library loops and their locks, and the error
 * helpers every layer uses.
 *
 * Loops and locking: the library runs P2PSIG loops (loop.c), each a main
 * context with a thread and a lock of its own.  A peer is pinned to one
 * loop when it is made: everything it owns (ICE agent, DTLS, SCTP
 * association, channels, timers) runs on that loop's context and is
 * guarded by that loop's lock, so that peers on different loops never
 * wait for each other.  Public functions of a peer or a channel take its
 * loop's lock on entry; the loop's thread takes it around every event it
 * handles.  The signaling layer has one lock of its own, taken before the
 * lock of the peer it drives, never after: a thread holds at most one
 * loop's lock, but for usrsctp's timers, which take all of them in order
 * (sctp.c).  The application's callbacks of peers and channels never run
 * with a lock: the dispatcher (dispatch.h) runs them between the loop's
 * iterations, and a callback takes the lock again through the public
 * functions it calls.  Never wait for a loop, nor for a callback
 * (p2psig__dispatch_stop), while holding a lock; a dispatcher queue's own
 * mutex is taken after them, never the other way round.
 *
 * The locks are still recursive, for two paths that take them again:
 * libnice emits some signals (new candidates during gathering, component
 * states) from inside the agent calls we make under the lock, and their
 * handlers lock; and the signaling layer calls the peer's public
 * functions from its handlers.  Each thread counts its depth in each
 * lock; debug builds assert the order above, and that no lock is held
 * where the rules above want them free.
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
/* What a peer's channels may hold of messages not yet taken by SCTP, by
 * default (p2psig_peer_config's send_buffer_limit). */
#define P2PSIG_DEFAULT_SEND_BUFFER_LIMIT (16 * 1024 * 1024)
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

/* descriptors.c */
#define P2PSIG_DESCRIPTORS_PROBE_MAX 8
/* Whether n file descriptors (at most P2PSIG_DESCRIPTORS_PROBE_MAX) are
 * left under the process's limit; if so, holds the descriptors lock until
 * p2psig__descriptors_release(), around the call that takes them.  A leaf
 * lock: nothing else is taken under it. */
bool p2psig__descriptors_reserve(unsigned n);
void p2psig__descriptors_release(void);
/* The check alone, for a call that need not exclude others. */
bool p2psig__descriptors_left(unsigned n);

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

/* parking.c: a connected stream's sockets polled apart, in a group of
 * its loop's (see there).  The loop's lock held for each. */
struct p2psig_loop;
struct p2psig_park_group;
/* A stream joins its agent's home group if it has one, else a group with
 * room; NULL: none (stay put). */
struct p2psig_park_group *p2psig__park_join(struct p2psig_loop *loop,
                                            struct p2psig_park_group *home);
/* A group with room for an agent's context, counting the agent in; NULL:
 * none (the agent lives on the loop's context).  Groups outlive their
 * agents, whose closing may still need their timers. */
struct p2psig_park_group *p2psig__park_home(struct p2psig_loop *loop);
void p2psig__park_home_leave(struct p2psig_park_group *group);
/* The context to give nice_agent_attach_recv. */
GMainContext *p2psig__park_context(struct p2psig_park_group *group);
/* After moving sources to or from the group's context. */
void p2psig__park_changed(struct p2psig_park_group *group);
/* The caller's sources have left (call after moving them). */
void p2psig__park_leave(struct p2psig_park_group *group);
/* Streams parked now, and how many times one was, in the process. */
void p2psig__park_counts(unsigned *now, unsigned *joined);

/* loop.c */
/* The most loops a process may run (p2psig_set_loop_count). */
#define P2PSIG_MAX_LOOPS 64
struct p2psig_loop;
/* How many loops run (starting them on the first call). */
unsigned p2psig__loop_count(void);
/* For the tests: how many sources loop index's context holds now. */
unsigned p2psig__loop_sources(unsigned index);
unsigned p2psig__loop_index(const struct p2psig_loop *loop);
/* The loop for a new peer: each in turn. */
struct p2psig_loop *p2psig__loop_next(void);
GMainContext *p2psig__loop_context(struct p2psig_loop *loop);
/* Whether the calling thread runs loop now (in an iteration, or running
 * callbacks between two). */
bool p2psig__loop_is_current(struct p2psig_loop *loop);
/* Whether the caller may wait for a callback on another thread, which may
 * be waiting for a lock or for a loop: not with a lock held, nor while
 * running a loop's context (a signaling callback).  A peer's callback on a
 * loop's thread may: the loop moves on meanwhile. */
bool p2psig__loop_may_wait(void);
/* Ends the loop's wait for sources (work was queued for it). */
void p2psig__loop_wakeup(struct p2psig_loop *loop);
/* Around each application callback a loop's thread runs, so that one
 * that blocks gets the loop moved to another thread. */
void p2psig__loop_callback_begin(void);
void p2psig__loop_callback_end(void);
/* The lock of a loop: it guards the peers pinned to the loop (and all
 * they own).  A thread holds at most one loop's lock, taken after the
 * signaling lock if it holds that.  Not recursive. */
void p2psig__lock(struct p2psig_loop *loop);
void p2psig__unlock(struct p2psig_loop *loop);
/* For a handler of libnice's signals only (emitted from the agent's
 * sources, without the lock, and inside our calls to the agent, with it):
 * takes the lock unless the caller holds it; true if it took it. */
bool p2psig__lock_unless_held(struct p2psig_loop *loop);
void p2psig__unlock_if(struct p2psig_loop *loop, bool took);
/* Whether the calling thread holds loop's lock. */
bool p2psig__loop_locked(const struct p2psig_loop *loop);
/* Every loop's lock, in order (usrsctp's timers, which reach every
 * association); with no lock held before. */
void p2psig__lock_all_loops(void);
void p2psig__unlock_all_loops(void);
/* The signaling lock: guards every p2psig_signaling; taken before a
 * loop's lock. */
void p2psig__signal_lock(void);
void p2psig__signal_unlock(void);
/* The same for libsoup's signals, emitted from its sources and inside our
 * calls to it. */
bool p2psig__signal_lock_unless_held(void);
void p2psig__signal_unlock_if(bool took);
/* Whether the calling thread holds any of the library's locks. */
bool p2psig__lock_held(void);
#ifndef NDEBUG
#define P2PSIG_ASSERT_UNLOCKED() g_assert(!p2psig__lock_held())
#else
#define P2PSIG_ASSERT_UNLOCKED() ((void)0)
#endif
/* Runs fn(data) on the loop and waits for it; runs it at once when the
 * caller leads the loop (holding the loop's context meanwhile, so that the
 * loop does not move).  Elsewhere the caller must not hold a lock. */
void p2psig__loop_run_sync(struct p2psig_loop *loop, void (*fn)(void *data),
                           void *data);
/* Attaches a source to the loop's context that calls fn with the loop's
 * lock held; returns the source (one reference, owned by the caller). */
GSource *p2psig__loop_timeout(struct p2psig_loop *loop, unsigned interval_ms,
                              GSourceFunc fn, void *data,
                              GDestroyNotify destroy);
/* The same in whole seconds: GLib fires every seconds-timer of a context
 * in the same wake-up. */
GSource *p2psig__loop_timeout_seconds(struct p2psig_loop *loop,
                                      unsigned interval_s, GSourceFunc fn,
                                      void *data, GDestroyNotify destroy);
GSource *p2psig__loop_idle(struct p2psig_loop *loop, GSourceFunc fn,
                           void *data, GDestroyNotify destroy);
/* The same with the signaling lock held instead. */
GSource *p2psig__loop_signal_timeout(struct p2psig_loop *loop,
                                     unsigned interval_ms, GSourceFunc fn,
                                     void *data, GDestroyNotify destroy);
GSource *p2psig__loop_signal_idle(struct p2psig_loop *loop, GSourceFunc fn,
                                  void *data, GDestroyNotify destroy);
/* GLib numbers a context's sources in the order they are attached: the
 * id of the context's newest source (for the ranges below). */
guint p2psig__context_newest_source_id(GMainContext *context);
/* Lets the sockets' sources attached to context with ids in (after, upto]
 * be dispatched without GLib blocking them, which costs two walks of the
 * context's descriptor list and a wake-up of the context each time
 * (lib/loop.c).  Only for sources that no nested iteration of the context
 * dispatches (libnice's), and only where none of them can go meanwhile:
 * on the loop's thread, under its lock. */
void p2psig__context_unblock_sockets(GMainContext *context, guint after,
                                     guint upto);
/* The same for the loop's own context, done from the loop's thread,
 * soon. */
void p2psig__loop_unblock_sockets(struct p2psig_loop *loop, guint after,
                                  guint upto);
/* Let the loops' timers fire late (by up to 50 ms), to coalesce idle
 * wake-ups, or not; precise_timers holds that off on one loop while set
 * (ICE checks pace at 1 ms).  Each loop applies it at its next iteration. */
void p2psig__loop_coalesce_timers(bool coalesce);
void p2psig__loop_precise_timers(struct p2psig_loop *loop, bool hold);

#endif
