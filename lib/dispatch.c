/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (see dispatch.h): per-peer serial queues, run on the
 * thread that runs the peer's loop, between its iterations (loop.c).
 *
 * Stopping waits for a running item unless that could deadlock.  A thread
 * inside an item of queue S that stops queue D waits for D's run to end;
 * so does any thread that is in no item.  It must not wait when D's
 * thread waits, directly or through others, for S: the chain of
 * waiting_for from D reaching S.  That chain is read and extended under
 * one wait lock, so two threads that stop each other's queues at once
 * see each other: the second one does not wait.
 */
#define G_LOG_DOMAIN "p2psig"

#include "dispatch.h"

#include "internal.h"

/* A queue's turn runs the items it had when the turn began (what the
 * loop's last iteration brought in, so that delivering keeps up with
 * reading) and at most this many more, which its callbacks caused, before
 * the others ready get their turn and the loop its next iteration. */
#define DISPATCH_BATCH 64

static GMutex wait_lock;
/* The queue whose item the calling thread runs, if any. */
static _Thread_local struct p2psig_dispatch *running_here;

/* Per loop: queues with items and no thread running them, each holding a
 * reference to its owner (scheduled). */
static struct ready_list {
  GMutex lock;
  GQueue queues;
} ready[P2PSIG_MAX_LOOPS];

unsigned
p2psig__dispatch_max_threads(void)
{
  return MAX(8u, 4u * g_get_num_processors());
}

/* Puts a scheduled queue on the ready list, and wakes the loop when the
 * caller is not the thread that runs the list after its iteration. */
static void
make_ready(struct p2psig_dispatch *d)
{
  struct ready_list *list = &ready[p2psig__loop_index(d->loop)];

  g_mutex_lock(&list->lock);
  g_queue_push_tail(&list->queues, d);
  g_mutex_unlock(&list->lock);
  if (!p2psig__loop_is_current(d->loop))
    p2psig__loop_wakeup(d->loop);
}

void
p2psig__dispatch_init(struct p2psig_dispatch *d,
                      const struct p2psig_dispatch_ops *ops, void *owner,
                      struct p2psig_loop *loop)
{
  d->ops = ops;
  d->loop = loop;
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
  /* A thread running the queue takes the new items in this same run. */
  if (!d->scheduled) {
    d->scheduled = true;
    d->ops->ref(d->owner);
    hand = true;
  }
  g_mutex_unlock(&d->mutex);
  if (hand)
    make_ready(d);
}

static void
run_queue(struct p2psig_dispatch *d)
{
  unsigned budget;
  bool again = false, notify;
  void *item;

  g_mutex_lock(&d->mutex);
  budget = d->items.length + DISPATCH_BATCH;
  d->running = true;
  running_here = d;
  while (!d->stopped && (item = g_queue_pop_head(&d->items))) {
    g_mutex_unlock(&d->mutex);
    P2PSIG_ASSERT_UNLOCKED();
    p2psig__loop_callback_begin();
    d->ops->run(d->owner, item);
    p2psig__loop_callback_end();
    P2PSIG_ASSERT_UNLOCKED();
    d->ops->free_item(item);
    g_mutex_lock(&d->mutex);
    if (g_queue_is_empty(&d->items) || d->stopped)
      continue;
    /* The rest waits for the thread that runs the loop now, if it is no
     * longer this one (this callback blocked), or for the turns of the
     * others ready. */
    if (--budget == 0 || !p2psig__loop_is_current(d->loop)) {
      again = true;
      break;
    }
  }
  running_here = NULL;
  d->running = false;
  /* Still scheduled, with the reference it holds. */
  if (!again)
    d->scheduled = false;
  notify = d->notify_stopped;
  d->notify_stopped = false;
  g_cond_broadcast(&d->done);
  g_mutex_unlock(&d->mutex);
  if (again) {
    make_ready(d);
    return;
  }
  if (notify)
    d->ops->stopped(d->owner);
  d->ops->unref(d->owner);
}

bool
p2psig__dispatch_run_ready(struct p2psig_loop *loop)
{
  struct ready_list *list = &ready[p2psig__loop_index(loop)];
  guint turns;
  bool more;

  g_mutex_lock(&list->lock);
  turns = list->queues.length;
  g_mutex_unlock(&list->lock);
  /* Those that became ready during the run wait for the next iteration,
   * so that the loop goes on while callbacks cause more. */
  while (turns-- > 0 && p2psig__loop_is_current(loop)) {
    struct p2psig_dispatch *d;

    g_mutex_lock(&list->lock);
    d = g_queue_pop_head(&list->queues);
    g_mutex_unlock(&list->lock);
    if (!d)
      break;
    run_queue(d);
  }
  g_mutex_lock(&list->lock);
  more = !g_queue_is_empty(&list->queues);
  g_mutex_unlock(&list->lock);
  return more;
}

/* Wait lock held: whether the thread running d waits, through a chain of
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
