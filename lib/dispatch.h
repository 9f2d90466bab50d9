/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: the one place that runs the application's callbacks of
 * peers and channels.  Each peer owns a serial queue of items (its
 * events); a process-wide pool of worker threads runs the queues, one
 * worker a queue at a time, the items of a queue in order, with no library
 * lock held.  A queue that gains items while no worker runs it is handed
 * to the pool once (one wake-up for a batch); a worker runs it until it
 * is empty, or for a bounded batch before it lets other queues go first.
 *
 * Locks: each queue's mutex is a leaf, taken after the library lock if
 * both are taken; stopping takes a process-wide wait lock before it.
 */
#ifndef P2PSIG_DISPATCH_H
#define P2PSIG_DISPATCH_H

#include <glib.h>
#include <stdbool.h>

struct p2psig_dispatch_ops {
  /* Runs one item on a worker, with no lock held (the callback). */
  void (*run)(void *owner, void *item);
  void (*free_item)(void *item);
  /* The owner's reference, held while the queue is with the pool. */
  void (*ref)(void *owner);
  void (*unref)(void *owner);
  /* Stopped while an item ran that p2psig__dispatch_stop could not wait
   * for: called on the worker once that item has returned. */
  void (*stopped)(void *owner);
};

struct p2psig_dispatch {
  const struct p2psig_dispatch_ops *ops;
  void *owner;
  GMutex mutex;
  GCond done;              /* a run ended */
  /* Under mutex: */
  GQueue items;
  bool scheduled;          /* with the pool, or being run */
  bool running;            /* a worker is inside a run of this queue */
  bool stopped;
  bool notify_stopped;     /* call ops->stopped when the run ends */
  /* Under the wait lock: the queue whose run the worker running this one
   * waits for, inside p2psig__dispatch_stop. */
  struct p2psig_dispatch *waiting_for;
};

/* Workers at most, started as needed: enough that a few callbacks that
 * block do not hold up other peers' (see the header's "Threads and
 * callbacks"). */
unsigned p2psig__dispatch_max_workers(void);

void p2psig__dispatch_init(struct p2psig_dispatch *d,
                           const struct p2psig_dispatch_ops *ops,
                           void *owner);
/* Once stopped and no longer with the pool (the owner's last reference). */
void p2psig__dispatch_clear(struct p2psig_dispatch *d);
/* Moves every item of *items (left empty) to the end of the queue and
 * sees that a worker runs them; items pushed after a stop are freed. */
void p2psig__dispatch_push(struct p2psig_dispatch *d, GQueue *items);
/* Stops the queue: the items not run yet are freed, no other item starts.
 * Returns true once no item of the queue is running, having waited for
 * one running on another worker if may_wait.  Returns false, without
 * waiting, when one is still running: the caller is inside it, or may not
 * wait, or waiting would deadlock (the worker running the item waits, in
 * a stop of its own, for the caller's run to end); ops->stopped follows
 * once it has returned.  Must be called without the library lock when
 * may_wait. */
bool p2psig__dispatch_stop(struct p2psig_dispatch *d, bool may_wait);

#endif
