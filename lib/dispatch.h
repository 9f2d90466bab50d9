/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: the one place that runs the application's callbacks of
 * peers and channels.  Each peer owns a serial queue of items (its
 * events).  A queue that gains items while no thread runs it goes on its
 * loop's ready list once (one wake-up of the loop for a batch, none
 * when it is the loop's own thread that pushes); the thread running the
 * loop runs the ready queues after each iteration, the items of a
 * queue in order, with no library lock held: a bounded batch of each,
 * then the loop's next iteration.  A callback that blocks keeps its
 * thread, and the loop moves on to another (loop.c): the rest of that
 * queue waits for the callback to return.
 *
 * Locks: each queue's mutex is a leaf, taken after the library lock if
 * both are taken; stopping takes a process-wide wait lock before it.
 */
#ifndef P2PSIG_DISPATCH_H
#define P2PSIG_DISPATCH_H

#include <glib.h>
#include <stdbool.h>

struct p2psig_loop;

struct p2psig_dispatch_ops {
  /* Runs one item with no lock held (the callback). */
  void (*run)(void *owner, void *item);
  void (*free_item)(void *item);
  /* The owner's reference, held while the queue is ready or running. */
  void (*ref)(void *owner);
  void (*unref)(void *owner);
  /* Stopped while an item ran that p2psig__dispatch_stop could not wait
   * for: called on that item's thread once it has returned. */
  void (*stopped)(void *owner);
};

struct p2psig_dispatch {
  const struct p2psig_dispatch_ops *ops;
  void *owner;
  struct p2psig_loop *loop;  /* whose thread runs the queue */
  GMutex mutex;
  GCond done;              /* a run ended */
  /* Under mutex: */
  GQueue items;
  bool scheduled;          /* ready, or being run */
  bool running;            /* a thread is inside a run of this queue */
  bool stopped;
  bool notify_stopped;     /* call ops->stopped when the run ends */
  /* Under the wait lock: the queue whose run the thread running this one
   * waits for, inside p2psig__dispatch_stop. */
  struct p2psig_dispatch *waiting_for;
};

/* Callbacks that may block at once before the others wait for one of them
 * (the loop's threads at most; see the header's "Threads and callbacks"). */
unsigned p2psig__dispatch_max_threads(void);

void p2psig__dispatch_init(struct p2psig_dispatch *d,
                           const struct p2psig_dispatch_ops *ops,
                           void *owner, struct p2psig_loop *loop);
/* Once stopped and no longer scheduled (the owner's last reference). */
void p2psig__dispatch_clear(struct p2psig_dispatch *d);
/* Moves every item of *items (left empty) to the end of the queue and
 * sees that the loop runs them; items pushed after a stop are freed. */
void p2psig__dispatch_push(struct p2psig_dispatch *d, GQueue *items);
/* Stops the queue: the items not run yet are freed, no other item starts.
 * Returns true once no item of the queue is running, having waited for
 * one running on another thread if may_wait.  Returns false, without
 * waiting, when one is still running: the caller is inside it, or may not
 * wait, or waiting would deadlock (the thread running the item waits, in
 * a stop of its own, for the caller's run to end); ops->stopped follows
 * once it has returned.  Must be called without the library lock when
 * may_wait. */
bool p2psig__dispatch_stop(struct p2psig_dispatch *d, bool may_wait);
/* On the loop's thread between iterations, with no lock held: runs the
 * loop's queues ready now.  Returns whether some are ready again. */
bool p2psig__dispatch_run_ready(struct p2psig_loop *loop);

#endif
