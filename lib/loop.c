/* SPDX-License-Identifier: MIT */
/*
 * The library loops: P2PSIG loops (by default one per core; see
 * p2psig_set_loop_count), each a GMainContext with a lock of its own that
 * guards the state of the peers pinned to it, and one signaling lock (see
 * internal.h for the rules).
 *
 * One thread at a time runs a loop's context: its leader.  After each
 * iteration it runs the application's callbacks that the iteration queued
 * (p2psig__dispatch_run_ready), on its own stack with no lock held, so that
 * a message and the send its callback makes cost no thread wake-up.  A
 * watchdog thread per loop samples the leader every WATCH_US while
 * callbacks run: when one has been running for OVERRUN_US, it has blocked,
 * and the watchdog becomes the leader and runs the context itself; a new
 * watchdog starts, and the blocked thread finishes its callback and ends.
 * The leader holds the context (g_main_context_acquire) except while it
 * runs callbacks, and the watchdog takes over only if it can acquire it: a
 * callback may be inside a call that runs on the context there and then
 * (a p2psig_signaling_new, say), and two threads must never run it.  After
 * IDLE_US without a callback the watchdog sleeps until the next one, so an
 * idle loop never wakes it.
 *
 * Why sampling: arming a timer around each round of callbacks costs two
 * system calls an iteration, which on this project's virtual machines
 * made the echo round trip 20 -> 37 us; waking the watchdog every 1 ms
 * cost some 10 % of the 100-byte message rate (both cores busy).
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#include <stdlib.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "dispatch.h"

#include <gio/gio.h>

/* A callback running this long has blocked: the isolation test wants other
 * peers held up < 5 ms, and this is found at most WATCH_US after it. */
#define OVERRUN_US 1000
#define WATCH_US 2000
#define IDLE_US (100 * 1000)

/* Not recursive: a thread that takes a lock it holds is a bug, caught by
 * lock_take's assertion.  The only places that may find their lock held
 * are the handlers of libnice's and libsoup's signals, which those
 * libraries emit both from their sources and inside our calls to them:
 * they use p2psig__lock_unless_held() and p2psig__signal_lock_unless_held(). */
struct p2psig_lock {
  GMutex mutex;
  unsigned index; /* into each thread's lock_held */
};

struct loop_thread {
  struct p2psig_loop *loop;
  /* Bumped as each callback starts and as it ends: odd while one runs. */
  gint marks;
  gint64 started_at;      /* g_get_monotonic_time() of the last start */
};

struct p2psig_loop {
  unsigned index;
  GMainContext *context;
  struct p2psig_lock lock;
  /* The thread running the context; changed only by the watchdog. */
  struct loop_thread *leader;
  GMutex lead_lock;
  GCond watchdog_cond;
  gint watchdog_awake;     /* atomic: sampling, not asleep */
  /* Atomic: ICE agents of this loop running checks. */
  gint precise_holds;
};

static GMutex start_lock;
static unsigned requested_count;   /* p2psig_set_loop_count; 0: default */
static struct p2psig_loop *loops;  /* set once, under start_lock */
static unsigned loop_count;
static gint next_loop;             /* round robin of new peers */
static struct p2psig_lock signal_lock = { .index = P2PSIG_MAX_LOOPS };

static _Thread_local struct loop_thread *this_thread;
/* Which locks the calling thread holds (the loops' by their index, the
 * signaling lock last), and how many. */
static _Thread_local bool lock_held[P2PSIG_MAX_LOOPS + 1];
static _Thread_local unsigned lock_total;

/* Threads of all loops that run or ran a context and have not ended (the
 * leaders and those still inside a blocked callback). */
static gint loop_threads;

static gint coalesce_wanted;       /* atomic: SCTP's tick is slow */
/* Per thread: each leader sets its own. */
static _Thread_local bool slack_set;

static void apply_timer_slack(struct p2psig_loop *loop);

/* After a round of callbacks: acquires the context again and returns true
 * while self leads, false once a watchdog took over (it acquired the
 * context then, under lead_lock). */
static bool
lead_again(struct loop_thread *self)
{
  struct p2psig_loop *loop = self->loop;

  for (;;) {
    bool leading, acquired = false;

    g_mutex_lock(&loop->lead_lock);
    leading = g_atomic_pointer_get(&loop->leader) == self;
    if (leading)
      acquired = g_main_context_acquire(loop->context);
    g_mutex_unlock(&loop->lead_lock);
    if (!leading || acquired)
      return leading;
    /* Cannot happen while only a watchdog taking over (under lead_lock)
     * and the leader itself acquire the context; were it to, waiting is
     * better than two threads running it. */
    g_usleep(50);
  }
}

/* Called with the context acquired. */
static void
lead(struct loop_thread *self)
{
  struct p2psig_loop *loop = self->loop;
  /* The thread that led before may have queued callbacks just before the
   * takeover without waking the context: look at once. */
  bool more = true;

  do {
    apply_timer_slack(loop);
    g_main_context_push_thread_default(loop->context);
    g_main_context_iteration(loop->context, !more);
    g_main_context_pop_thread_default(loop->context);
    /* Released while callbacks run, so that a watchdog can take it. */
    g_main_context_release(loop->context);
    more = p2psig__dispatch_run_ready(loop);
  } while (lead_again(self));
}

static void start_watchdog(struct p2psig_loop *loop);

static gpointer
loop_thread_main(gpointer data)
{
  struct loop_thread *self = data;

  this_thread = self;
  lead(self);
  g_atomic_int_add(&loop_threads, -1);
  g_free(self);
  return NULL;
}

/* lead_lock held.  When the leader's callback has run OVERRUN_US, true;
 * else the time of the next sample in *next; *marks_seen the leader's
 * marks now. */
static bool
leader_blocked(struct p2psig_loop *loop, gint *marks_seen, gint64 *next)
{
  struct loop_thread *current = g_atomic_pointer_get(&loop->leader);
  gint marks = g_atomic_int_get(&current->marks);
  gint64 started = __atomic_load_n(&current->started_at, __ATOMIC_ACQUIRE);
  gint64 now = g_get_monotonic_time();

  *marks_seen = marks;
  *next = now + WATCH_US;
  /* started is that callback's if marks did not move meanwhile (the next
   * start is written while marks is even). */
  if (!(marks & 1) || g_atomic_int_get(&current->marks) != marks)
    return false;
  if (now - started >= OVERRUN_US)
    return true;
  *next = started + OVERRUN_US;
  return false;
}

/* Counts one more loop thread unless all loops together have the most
 * allowed. */
static bool
take_thread_slot(void)
{
  gint n = g_atomic_int_get(&loop_threads);

  while (n < (gint)p2psig__dispatch_max_threads()) {
    if (g_atomic_int_compare_and_exchange_full(&loop_threads, n, n + 1, &n))
      return true;
  }
  return false;
}

static gpointer
watchdog_main(gpointer data)
{
  struct loop_thread *self = data;
  struct p2psig_loop *loop = self->loop;
  gint64 moved_at = g_get_monotonic_time(), next = 0;
  gint last = -1;

  g_mutex_lock(&loop->lead_lock);
  for (;;) {
    gint marks;

    if (!g_atomic_int_get(&loop->watchdog_awake))
      g_cond_wait(&loop->watchdog_cond, &loop->lead_lock);
    else if (next > 0)
      g_cond_wait_until(&loop->watchdog_cond, &loop->lead_lock, next);
    /* The context is not free while the blocked callback is inside a
     * signaling call: the next sample tries again. */
    if (leader_blocked(loop, &marks, &next) && take_thread_slot()) {
      if (g_main_context_acquire(loop->context))
        break;
      g_atomic_int_add(&loop_threads, -1);
    }
    if (marks != last) {
      last = marks;
      moved_at = g_get_monotonic_time();
    } else if (!(marks & 1) && g_get_monotonic_time() - moved_at >= IDLE_US) {
      g_atomic_int_set(&loop->watchdog_awake, 0);
      /* A callback that started as we went to sleep saw us awake. */
      if (g_atomic_int_get(&g_atomic_pointer_get(&loop->leader)->marks) !=
          marks)
        g_atomic_int_set(&loop->watchdog_awake, 1);
    }
  }
  g_atomic_pointer_set(&loop->leader, self);
  g_mutex_unlock(&loop->lead_lock);
  g_debug("a callback blocks library loop %u: another thread runs it",
          loop->index);
#ifdef __linux__
  {
    /* Named as the loop it runs now, for ps and perf. */
    char name[16];

    g_snprintf(name, sizeof name, "p2psig-%u", loop->index);
    prctl(PR_SET_NAME, name, 0, 0, 0);
  }
#endif
  start_watchdog(loop);
  return loop_thread_main(self);
}

static struct loop_thread *
loop_thread_new(struct p2psig_loop *loop)
{
  struct loop_thread *thread = g_new0(struct loop_thread, 1);

  thread->loop = loop;
  return thread;
}

static void
start_watchdog(struct p2psig_loop *loop)
{
  g_autoptr(GError) error = NULL;
  GThread *thread = g_thread_try_new("p2psig-watch", watchdog_main,
                                     loop_thread_new(loop), &error);

  /* Without one, a blocking callback holds up the others, as it would
   * with a single library thread. */
  if (!thread)
    g_warning("cannot start the loop's watchdog: %s", error->message);
  else
    g_thread_unref(thread);
}

void
p2psig__loop_callback_begin(void)
{
  struct loop_thread *self = this_thread;
  struct p2psig_loop *loop = self->loop;

  __atomic_store_n(&self->started_at, g_get_monotonic_time(),
                   __ATOMIC_RELEASE);
  g_atomic_int_inc(&self->marks);
  if (!g_atomic_int_get(&loop->watchdog_awake)) {
    g_mutex_lock(&loop->lead_lock);
    g_atomic_int_set(&loop->watchdog_awake, 1);
    g_cond_signal(&loop->watchdog_cond);
    g_mutex_unlock(&loop->lead_lock);
  }
}

void
p2psig__loop_callback_end(void)
{
  g_atomic_int_inc(&this_thread->marks);
}

/* A loop that just had work polls without sleeping for a while before it
 * blocks: on the virtual machines this project runs on, waking a thread
 * that sleeps costs some 50 us, more than a round trip between two loops
 * of one process takes (echo: 21 us on one loop; 110-127 us on two, with
 * no spin).  Only after activity, so that an idle loop never spins. */
#define SPIN_US 50
#define SPIN_AFTER_ACTIVE_US 1000

static _Thread_local gint64 active_at;

static gint
spin_then_poll(GPollFD *fds, guint n, gint timeout)
{
  gint ready;

  if (timeout != 0 &&
      g_get_monotonic_time() - active_at < SPIN_AFTER_ACTIVE_US) {
    gint64 until = g_get_monotonic_time() + SPIN_US;

    do {
      if ((ready = g_poll(fds, n, 0)) != 0)
        goto out;
    } while (g_get_monotonic_time() < until);
  }
  ready = g_poll(fds, n, timeout);
out:
  if (ready > 0)
    active_at = g_get_monotonic_time();
  return ready;
}

static gpointer
first_thread_main(gpointer data)
{
  struct loop_thread *self = data;

  g_main_context_acquire(self->loop->context);
  return loop_thread_main(self);
}

/* P2PSIG_LOOPS, read when no count was set, or one loop per core. */
static unsigned
default_count(void)
{
  const char *env = g_getenv("P2PSIG_LOOPS");

  if (env && *env) {
    char *end;
    unsigned long n = strtoul(env, &end, 10);

    if (*end == '\0' && n >= 1 && n <= P2PSIG_MAX_LOOPS)
      return (unsigned)n;
    g_warning("P2PSIG_LOOPS=%s is not a number from 1 to %d: ignored", env,
              P2PSIG_MAX_LOOPS);
  }
  return MIN(MAX(g_get_num_processors(), 1u), (unsigned)P2PSIG_MAX_LOOPS);
}

static void
start_loops(void)
{
  unsigned count = requested_count ? requested_count : default_count();
  struct p2psig_loop *all = g_new0(struct p2psig_loop, count);

  for (unsigned i = 0; i < count; i++) {
    struct p2psig_loop *loop = &all[i];
    struct loop_thread *first = loop_thread_new(loop);
    g_autofree char *name = g_strdup_printf("p2psig-%u", i);

    loop->index = i;
    loop->lock.index = i;
    g_mutex_init(&loop->lock.mutex);
    g_mutex_init(&loop->lead_lock);
    g_cond_init(&loop->watchdog_cond);
    loop->context = g_main_context_new();
    g_main_context_set_poll_func(loop->context, spin_then_poll);
    loop->leader = first;
    g_atomic_int_inc(&loop_threads);
    g_thread_unref(g_thread_new(name, first_thread_main, first));
    start_watchdog(loop);
  }
  loop_count = count;
  g_atomic_pointer_set(&loops, all);
}

static struct p2psig_loop *
all_loops(void)
{
  struct p2psig_loop *all = g_atomic_pointer_get(&loops);

  if (G_LIKELY(all))
    return all;
  g_mutex_lock(&start_lock);
  if (!loops)
    start_loops();
  g_mutex_unlock(&start_lock);
  return loops;
}

int
p2psig_set_loop_count(unsigned int count)
{
  int ret = 0;

  if (count > P2PSIG_MAX_LOOPS)
    return P2PSIG_EINVAL;
  g_mutex_lock(&start_lock);
  if (!loops)
    requested_count = count;
  else if (count != 0 ? count != loop_count : loop_count != default_count())
    ret = P2PSIG_ESTATE;
  g_mutex_unlock(&start_lock);
  return ret;
}

unsigned
p2psig__loop_count(void)
{
  all_loops();
  return loop_count;
}

unsigned
p2psig__loop_sources(unsigned index)
{
  struct p2psig_loop *loop = &all_loops()[index];
  unsigned n = 0;
  guint newest;

  p2psig__lock(loop);
  newest = p2psig__context_newest_source_id(loop->context);
  for (guint id = 1; id < newest; id++)
    if (g_main_context_find_source_by_id(loop->context, id))
      n++;
  p2psig__unlock(loop);
  return n;
}

unsigned
p2psig__loop_index(const struct p2psig_loop *loop)
{
  return loop->index;
}

struct p2psig_loop *
p2psig__loop_next(void)
{
  struct p2psig_loop *all = all_loops();

  return &all[(unsigned)g_atomic_int_add(&next_loop, 1) % loop_count];
}

GMainContext *
p2psig__loop_context(struct p2psig_loop *loop)
{
  return loop->context;
}

bool
p2psig__loop_is_current(struct p2psig_loop *loop)
{
  return this_thread && this_thread->loop == loop &&
         g_atomic_pointer_get(&loop->leader) == this_thread;
}

bool
p2psig__loop_may_wait(void)
{
  struct p2psig_loop *all = all_loops();

  if (p2psig__lock_held())
    return false;
  for (unsigned i = 0; i < loop_count; i++)
    if (g_main_context_is_owner(all[i].context))
      return false;
  return true;
}

void
p2psig__loop_wakeup(struct p2psig_loop *loop)
{
  g_main_context_wakeup(loop->context);
}

static void
lock_take(struct p2psig_lock *lock)
{
  g_assert(!lock_held[lock->index]);
  g_mutex_lock(&lock->mutex);
  lock_held[lock->index] = true;
  lock_total++;
}

static void
lock_give(struct p2psig_lock *lock)
{
  g_assert(lock_held[lock->index]);
  lock_held[lock->index] = false;
  lock_total--;
  g_mutex_unlock(&lock->mutex);
}

/* The lock order: the signaling lock, then one loop's lock; all loops'
 * only in p2psig__lock_all_loops, with nothing held before. */
void
p2psig__lock(struct p2psig_loop *loop)
{
  /* Another loop's lock held would allow two threads to wait for each
   * other's. */
  g_assert(lock_total == (lock_held[P2PSIG_MAX_LOOPS] ? 1u : 0u));
  lock_take(&loop->lock);
}

bool
p2psig__lock_unless_held(struct p2psig_loop *loop)
{
  if (lock_held[loop->index])
    return false;
  p2psig__lock(loop);
  return true;
}

void
p2psig__unlock_if(struct p2psig_loop *loop, bool took)
{
  if (took)
    p2psig__unlock(loop);
}

void
p2psig__unlock(struct p2psig_loop *loop)
{
  lock_give(&loop->lock);
}

bool
p2psig__loop_locked(const struct p2psig_loop *loop)
{
  return lock_held[loop->index];
}

static bool
lock_try(struct p2psig_lock *lock)
{
  g_assert(!lock_held[lock->index]);
  if (!g_mutex_trylock(&lock->mutex))
    return false;
  lock_held[lock->index] = true;
  lock_total++;
  return true;
}

/* Never waits for a lock while holding another: a loop whose lock is held
 * long (a callback of the application holds none, but a slow call may)
 * holds up only this caller, not the other loops.  Waits for the first
 * lock it could not take, holding nothing, then tries the rest again. */
void
p2psig__lock_all_loops(void)
{
  struct p2psig_loop *all = all_loops();
  unsigned wait_for = loop_count;

  g_assert(lock_total == 0);
  for (;;) {
    unsigned failed = loop_count;

    if (wait_for < loop_count)
      lock_take(&all[wait_for].lock);
    for (unsigned i = 0; i < loop_count && failed == loop_count; i++)
      if (i != wait_for && !lock_try(&all[i].lock))
        failed = i;
    if (failed == loop_count)
      return;
    for (unsigned i = 0; i < failed; i++)
      if (i != wait_for)
        lock_give(&all[i].lock);
    if (wait_for < loop_count)
      lock_give(&all[wait_for].lock);
    wait_for = failed;
  }
}

void
p2psig__unlock_all_loops(void)
{
  for (unsigned i = loop_count; i > 0; i--)
    lock_give(&loops[i - 1].lock);
}

void
p2psig__signal_lock(void)
{
  /* Taken before a loop's lock, never after. */
  g_assert(lock_total == 0);
  lock_take(&signal_lock);
}

bool
p2psig__signal_lock_unless_held(void)
{
  if (lock_held[P2PSIG_MAX_LOOPS])
    return false;
  p2psig__signal_lock();
  return true;
}

void
p2psig__signal_unlock_if(bool took)
{
  if (took)
    p2psig__signal_unlock();
}

void
p2psig__signal_unlock(void)
{
  lock_give(&signal_lock);
}

bool
p2psig__lock_held(void)
{
  return lock_total > 0;
}

/* Whether the calling thread leads loop; if so it holds the context until
 * g_main_context_release(), so that no watchdog takes the loop over while
 * it runs loop code inline (from a callback, say). */
static bool
enter_loop(struct p2psig_loop *loop)
{
  bool entered = false;

  if (!this_thread || this_thread->loop != loop)
    return false;
  g_mutex_lock(&loop->lead_lock);
  /* The leader gets it: only a watchdog taking over under this lock
   * acquires it otherwise. */
  if (g_atomic_pointer_get(&loop->leader) == this_thread)
    entered = g_main_context_acquire(loop->context);
  g_mutex_unlock(&loop->lead_lock);
  return entered;
}

struct sync_call {
  void (*fn)(void *data);
  void *data;
  GMutex mutex;
  GCond cond;
  bool done;
};

static gboolean
run_sync_on_loop(gpointer user_data)
{
  struct sync_call *call = user_data;

  call->fn(call->data);
  g_mutex_lock(&call->mutex);
  call->done = true;
  g_cond_signal(&call->cond);
  g_mutex_unlock(&call->mutex);
  return G_SOURCE_REMOVE;
}

void
p2psig__loop_run_sync(struct p2psig_loop *loop, void (*fn)(void *data),
                      void *data)
{
  struct sync_call call = { .fn = fn, .data = data };

  if (enter_loop(loop)) {
    fn(data);
    g_main_context_release(loop->context);
    return;
  }
  /* The loop's thread may be waiting for the lock. */
  P2PSIG_ASSERT_UNLOCKED();
  g_mutex_init(&call.mutex);
  g_cond_init(&call.cond);
  g_main_context_invoke(loop->context, run_sync_on_loop, &call);
  g_mutex_lock(&call.mutex);
  while (!call.done)
    g_cond_wait(&call.cond, &call.mutex);
  g_mutex_unlock(&call.mutex);
  g_mutex_clear(&call.mutex);
  g_cond_clear(&call.cond);
}

struct locked_call {
  struct p2psig_loop *loop; /* whose lock; NULL: the signaling lock */
  GSourceFunc fn;
  void *data;
  GDestroyNotify destroy;
};

static gboolean
locked_dispatch(gpointer user_data)
{
  struct locked_call *call = user_data;
  gboolean again = G_SOURCE_REMOVE;

  if (call->loop)
    p2psig__lock(call->loop);
  else
    p2psig__signal_lock();
  /* Another thread may have destroyed the source while we waited for the
   * lock; its data may be gone. */
  if (!g_source_is_destroyed(g_main_current_source()))
    again = call->fn(call->data);
  if (call->loop)
    p2psig__unlock(call->loop);
  else
    p2psig__signal_unlock();
  return again;
}

static void
locked_call_free(gpointer user_data)
{
  struct locked_call *call = user_data;

  if (call->destroy)
    call->destroy(call->data);
  g_free(call);
}

static GSource *
attach_locked(struct p2psig_loop *loop, bool signaling, GSource *source,
              GSourceFunc fn, void *data, GDestroyNotify destroy)
{
  struct locked_call *call = g_new(struct locked_call, 1);

  call->loop = signaling ? NULL : loop;
  call->fn = fn;
  call->data = data;
  call->destroy = destroy;
  g_source_set_callback(source, locked_dispatch, call, locked_call_free);
  g_source_attach(source, loop->context);
  return source;
}

GSource *
p2psig__loop_timeout(struct p2psig_loop *loop, unsigned interval_ms,
                     GSourceFunc fn, void *data, GDestroyNotify destroy)
{
  return attach_locked(loop, false, g_timeout_source_new(interval_ms), fn,
                       data, destroy);
}

GSource *
p2psig__loop_timeout_seconds(struct p2psig_loop *loop, unsigned interval_s,
                             GSourceFunc fn, void *data,
                             GDestroyNotify destroy)
{
  return attach_locked(loop, false, g_timeout_source_new_seconds(interval_s),
                       fn, data, destroy);
}

static GSource *
idle_source(void)
{
  GSource *source = g_idle_source_new();

  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  return source;
}

GSource *
p2psig__loop_idle(struct p2psig_loop *loop, GSourceFunc fn, void *data,
                  GDestroyNotify destroy)
{
  return attach_locked(loop, false, idle_source(), fn, data, destroy);
}

GSource *
p2psig__loop_signal_timeout(struct p2psig_loop *loop, unsigned interval_ms,
                            GSourceFunc fn, void *data,
                            GDestroyNotify destroy)
{
  return attach_locked(loop, true, g_timeout_source_new(interval_ms), fn,
                       data, destroy);
}

GSource *
p2psig__loop_signal_idle(struct p2psig_loop *loop, GSourceFunc fn,
                         void *data, GDestroyNotify destroy)
{
  return attach_locked(loop, true, idle_source(), fn, data, destroy);
}

guint
p2psig__context_newest_source_id(GMainContext *context)
{
  /* A source that is never ready (no descriptor, no ready time). */
  static GSourceFuncs never_ready;
  GSource *probe = g_source_new(&never_ready, sizeof(GSource));
  guint id = g_source_attach(probe, context);

  g_source_destroy(probe);
  g_source_unref(probe);
  return id;
}

/* Unblocked sockets.  GLib 2.74 blocks a source while it dispatches it,
 * unless it may recurse: for a source that watches a descriptor that
 * removes the descriptor's poll record from the context's list and puts
 * it back (each a walk of the list, which holds every socket of the
 * loop's peers) and wakes the context twice, so that the next poll
 * returns at once for nothing.  With thousands of peers on a loop that was
 * most of the loop thread's time (doc/overview.md, "Idle cost and scale").
 * Blocking only matters to a nested iteration of the context, and
 * libnice runs none; nothing of ours does.  libnice makes its sockets'
 * sources with g_socket_create_source and names none, so they are known
 * by GSocket's source functions, taken from a source of our own. */
struct unblock_job {
  struct p2psig_loop *loop;
  guint after, upto;
};

static const GSourceFuncs *
socket_source_funcs(void)
{
  static const GSourceFuncs *funcs; /* atomic; set once found */
  const GSourceFuncs *found = g_atomic_pointer_get(&funcs);
  GSocket *socket;
  GSource *source;

  if (found)
    return found;
  /* One descriptor, briefly: none left, and the sockets stay blocked. */
  socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                        G_SOCKET_PROTOCOL_DEFAULT, NULL);
  if (!socket)
    return NULL;
  source = g_socket_create_source(socket, G_IO_IN, NULL);
  found = source->source_funcs;
  g_source_unref(source);
  g_object_unref(socket);
  g_atomic_pointer_set(&funcs, found);
  return found;
}

/* On the loop's thread with its lock: libnice destroys its sources only
 * in our calls into it (which take this lock) or in its callbacks (which
 * run on this thread), so none goes while we look. */
void
p2psig__context_unblock_sockets(GMainContext *context, guint after,
                                guint upto)
{
  const GSourceFuncs *funcs = socket_source_funcs();
  unsigned unblocked = 0;

  for (guint id = after + 1; funcs && id && id <= upto; id++) {
    GSource *s = g_main_context_find_source_by_id(context, id);

    if (s && s->source_funcs == funcs) {
      g_source_set_can_recurse(s, TRUE);
      unblocked++;
    }
  }
  if (unblocked)
    g_debug("%u socket sources dispatched unblocked", unblocked);
}

static gboolean
unblock_sockets_on_loop(gpointer data)
{
  struct unblock_job *job = data;

  p2psig__context_unblock_sockets(job->loop->context, job->after, job->upto);
  return G_SOURCE_REMOVE;
}

void
p2psig__loop_unblock_sockets(struct p2psig_loop *loop, guint after,
                             guint upto)
{
  struct unblock_job *job;

  if (upto <= after)
    return;
  job = g_new(struct unblock_job, 1);
  job->loop = loop;
  job->after = after;
  job->upto = upto;
  g_source_unref(p2psig__loop_idle(loop, unblock_sockets_on_loop, job,
                                   g_free));
}

/* Timer slack (Linux): while nothing needs precise timers, the kernel may
 * end a loop thread's poll up to 50 ms late, so that the timers of many
 * idle peers (libnice's keepalives, each on a timer of its own) fire in
 * one wake-up instead of one each.  Descriptors still wake it at once.
 * Applied by each leader at the start of its iterations. */
#define IDLE_TIMER_SLACK_NS (50 * 1000 * 1000)

static void
apply_timer_slack(struct p2psig_loop *loop)
{
  bool want = g_atomic_int_get(&coalesce_wanted) &&
              g_atomic_int_get(&loop->precise_holds) == 0;

  if (want == slack_set)
    return;
  slack_set = want;
#ifdef __linux__
  /* 0 puts back the thread's default (50 us). */
  prctl(PR_SET_TIMERSLACK, want ? IDLE_TIMER_SLACK_NS : 0, 0, 0, 0);
#endif
}

void
p2psig__loop_coalesce_timers(bool coalesce)
{
  g_atomic_int_set(&coalesce_wanted, coalesce);
}

void
p2psig__loop_precise_timers(struct p2psig_loop *loop, bool hold)
{
  if (hold)
    g_atomic_int_inc(&loop->precise_holds);
  else if (g_atomic_int_get(&loop->precise_holds) > 0)
    g_atomic_int_add(&loop->precise_holds, -1);
  /* Now, when it is the loop's own thread (ICE checks pace at 1 ms). */
  if (p2psig__loop_is_current(loop))
    apply_timer_slack(loop);
  else
    p2psig__loop_wakeup(loop);
}
