/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (see dispatch.h): per-peer serial queues run by a GLib
 * thread pool.
 *
 * Stopping waits for a running item unless that could deadlock.  A worker
 * inside an item of queue S that stops queue D waits for D's run to end;
 * so does any thread that is in no item.  It must not wait when D's
 * worker waits, directly or through others, for S: the chain of
 * waiting_for from D reaching S.  That chain is read and extended under
 * one wait lock, so two workers that stop each other's queues at once
 * see each other: the second one does not wait.
 */
#define G_LOG_DOMAIN "p2psig"

#include "dispatch.h"

#include "internal.h"

/* Items a worker runs from one queue before it puts the queue back at the
 * end of the pool's, if other queues wait there, so that a busy peer does
 * not keep a worker from others. */
#define DISPATCH_BATCH 64

static GThreadPool *pool;
static GMutex wait_lock;
/* The queue whose item the calling thread runs, if any. */
static _Thread_local struct p2psig_dispatch *running_here;

unsigned
p2psig__dispatch_max_workers(void)
{
  return MAX(8u, 4u * g_get_num_processors());
}

static void run_queue(gpointer data, gpointer unused);

static gpointer
make_pool(gpointer unused)
{
  /* Shared (not exclusive): threads start when work is pushed and no
   * worker is idle, up to the cap, and end after they have been idle a
   * while. */
  pool = g_thread_pool_new(run_queue, NULL,
                           (gint)p2psig__dispatch_max_workers(), FALSE,
                           NULL);
  return pool;
}

static GThreadPool *
get_pool(void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once(&once, make_pool, NULL);
}

static void
hand_to_pool(struct p2psig_dispatch *d)
{
  g_autoptr(GError) error = NULL;

  /* On failure to start a thread the queue is still queued, for a worker
   * that exists. */
  if (!g_thread_pool_push(get_pool(), d, &error))
    g_warning("dispatcher: %s", error->message);
}

void
p2psig__dispatch_init(struct p2psig_dispatch *d,
                      const struct p2psig_dispatch_ops *ops, void *owner)
{
  d->ops = ops;
  d->owner = owner;
  g_mutex_init(&d->mutex);
  g_cond_init(&d->done);
  g_queue_init(&d->items);
}

void
p2psig__dispatch_clear(struct p2psig_dispatch *d)
{
  g_queue_clear_full(&d->items, d->ops->free_item);
  g_mutex_clear(&d->mutex);
  g_cond_clear(&d->done);
}

/* Appends every link of from to to, leaving from empty. */
static void
queue_move(GQueue *to, GQueue *from)
{
  if (g_queue_is_empty(from))
    return;
  if (g_queue_is_empty(to)) {
    *to = *from;
  } else {
    to->tail->next = from->head;
    from->head->prev = to->tail;
    to->tail = from->tail;
    to->length += from->length;
  }
  g_queue_init(from);
}

void
p2psig__dispatch_push(struct p2psig_dispatch *d, GQueue *items)
{
  bool hand = false;

  if (g_queue_is_empty(items))
    return;
  g_mutex_lock(&d->mutex);
  if (d->stopped) {
    g_mutex_unlock(&d->mutex);
    g_queue_clear_full(items, d->ops->free_item);
    return;
  }
  queue_move(&d->items, items);
  /* A worker running the queue takes the new items in this same run. */
  if (!d->scheduled) {
    d->scheduled = true;
    d->ops->ref(d->owner);
    hand = true;
  }
  g_mutex_unlock(&d->mutex);
  if (hand)
    hand_to_pool(d);
}

static void
run_queue(gpointer data, gpointer unused)
{
  struct p2psig_dispatch *d = data;
  unsigned batch = 0;
  bool again = false, notify;
  void *item;

  g_mutex_lock(&d->mutex);
  d->running = true;
  running_here = d;
  while (!d->stopped && (item = g_queue_pop_head(&d->items))) {
    g_mutex_unlock(&d->mutex);
    P2PSIG_ASSERT_UNLOCKED();
    d->ops->run(d->owner, item);
    P2PSIG_ASSERT_UNLOCKED();
    d->ops->free_item(item);
    g_mutex_lock(&d->mutex);
    if (++batch < DISPATCH_BATCH || g_queue_is_empty(&d->items) ||
        d->stopped)
      continue;
    batch = 0;
    /* Only when other queues wait for a worker. */
    if (g_thread_pool_unprocessed(pool) > 0) {
      again = true;
      break;
    }
  }
  running_here = NULL;
  d->running = false;
  /* Put back at the end of the pool's queue: still scheduled, with the
   * reference it holds. */
  if (!again)
    d->scheduled = false;
  notify = d->notify_stopped;
  d->notify_stopped = false;
  g_cond_broadcast(&d->done);
  g_mutex_unlock(&d->mutex);
  if (again) {
    hand_to_pool(d);
    return;
  }
  if (notify)
    d->ops->stopped(d->owner);
  d->ops->unref(d->owner);
}

/* Wait lock held: whether the worker running d waits, through a chain of
 * stops, for the run of self. */
static bool
waits_for(const struct p2psig_dispatch *d, const struct p2psig_dispatch *self)
{
  for (const struct p2psig_dispatch *x = d->waiting_for; x;
       x = x->waiting_for)
    if (x == self)
      return true;
  return false;
}

bool
p2psig__dispatch_stop(struct p2psig_dispatch *d, bool may_wait)
{
  struct p2psig_dispatch *self = running_here;
  GQueue dropped;
  bool wait = false, idle = true;

  g_mutex_lock(&wait_lock);
  g_mutex_lock(&d->mutex);
  d->stopped = true;
  dropped = d->items;
  g_queue_init(&d->items);
  if (d->running) {
    if (may_wait && self != d && !waits_for(d, self)) {
      wait = true;
      if (self)
        self->waiting_for = d;
    } else {
      d->notify_stopped = true;
      idle = false;
    }
  }
  g_mutex_unlock(&wait_lock);
  if (wait) {
    P2PSIG_ASSERT_UNLOCKED();
    while (d->running)
      g_cond_wait(&d->done, &d->mutex);
  }
  g_mutex_unlock(&d->mutex);
  if (wait && self) {
    g_mutex_lock(&wait_lock);
    self->waiting_for = NULL;
    g_mutex_unlock(&wait_lock);
  }
  g_queue_clear_full(&dropped, d->ops->free_item);
  return idle;
}
