/* SPDX-License-Identifier: MIT */
/*
 * The library loop: one GMainContext shared by every peer of the process,
 * and the recursive lock that guards all library state (see internal.h for
 * the rules).
 *
 * One thread at a time runs the context: the leader.  After each iteration
 * it runs the application's callbacks that the iteration queued
 * (p2psig__dispatch_run_ready), on its own stack with no lock held, so that
 * a message and the send its callback makes cost no thread wake-up.  A
 * watchdog thread samples the leader every WATCH_US while callbacks run:
 * when one has been running for OVERRUN_US, it has blocked, and the
 * watchdog becomes the leader and runs the context itself; a new watchdog
 * starts, and the blocked thread finishes its callback and ends.  The
 * leader holds the context (g_main_context_acquire) except while it runs
 * callbacks, and the watchdog takes over only if it can acquire it: a
 * callback may be inside a call that runs on the context there and then
 * (a p2psig_signaling_new, say), and two threads must never run it.  After IDLE_US
 * without a callback the watchdog sleeps until the next one, so an idle
 * loop never wakes it.
 *
 * Why sampling: arming a timer around each round of callbacks costs two
 * system calls an iteration, which on this project's virtual machines
 * made the echo round trip 20 -> 37 us; waking the watchdog every 1 ms
 * cost some 10 % of the 100-byte message rate (both cores busy).
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "dispatch.h"

/* A callback running this long has blocked: the isolation test wants other
 * peers held up < 5 ms, and this is found at most WATCH_US after it. */
#define OVERRUN_US 1000
#define WATCH_US 2000
#define IDLE_US (100 * 1000)

struct loop_thread {
  /* Bumped as each callback starts and as it ends: odd while one runs. */
  gint marks;
  gint64 started_at;      /* g_get_monotonic_time() of the last start */
};

static GRecMutex library_lock;
static GMainContext *library_context;
/* The thread running the context; changed only by the watchdog. */
static struct loop_thread *leader;
static _Thread_local struct loop_thread *this_thread;
/* How many times the calling thread holds library_lock. */
static _Thread_local unsigned lock_depth;

static GMutex lead_lock;
static GCond watchdog_cond;
static gint watchdog_awake;     /* atomic: sampling, not asleep */
/* Under lead_lock: threads that run or ran the context and have not ended
 * (the leader and those still inside a blocked callback). */
static unsigned loop_threads;

static void apply_timer_slack(void);

/* After a round of callbacks: acquires the context again and returns true
 * while self leads, false once a watchdog took over (it acquired the
 * context then, under lead_lock). */
static bool
lead_again(struct loop_thread *self)
{
  for (;;) {
    bool leading, acquired = false;

    g_mutex_lock(&lead_lock);
    leading = g_atomic_pointer_get(&leader) == self;
    if (leading)
      acquired = g_main_context_acquire(library_context);
    g_mutex_unlock(&lead_lock);
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
  /* The thread that led before may have queued callbacks just before the
   * takeover without waking the context: look at once. */
  bool more = true;

  do {
    apply_timer_slack();
    g_main_context_push_thread_default(library_context);
    g_main_context_iteration(library_context, !more);
    g_main_context_pop_thread_default(library_context);
    /* Released while callbacks run, so that a watchdog can take it. */
    g_main_context_release(library_context);
    more = p2psig__dispatch_run_ready();
  } while (lead_again(self));
}

static void start_watchdog(void);

static gpointer
loop_thread_main(gpointer data)
{
  struct loop_thread *self = data;

  this_thread = self;
  lead(self);
  g_mutex_lock(&lead_lock);
  loop_threads--;
  g_mutex_unlock(&lead_lock);
  g_free(self);
  return NULL;
}

/* lead_lock held.  When the leader's callback has run OVERRUN_US, true;
 * else the time of the next sample in *next; *marks_seen the leader's
 * marks now. */
static bool
leader_blocked(gint *marks_seen, gint64 *next)
{
  struct loop_thread *current = g_atomic_pointer_get(&leader);
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

static gpointer
watchdog_main(gpointer data)
{
  struct loop_thread *self = data;
  gint64 moved_at = g_get_monotonic_time(), next = 0;
  gint last = -1;

  g_mutex_lock(&lead_lock);
  for (;;) {
    gint marks;

    if (!g_atomic_int_get(&watchdog_awake))
      g_cond_wait(&watchdog_cond, &lead_lock);
    else if (next > 0)
      g_cond_wait_until(&watchdog_cond, &lead_lock, next);
    /* The context is not free while the blocked callback is inside a
     * signaling call: the next sample tries again. */
    if (leader_blocked(&marks, &next) &&
        loop_threads < p2psig__dispatch_max_threads() &&
        g_main_context_acquire(library_context))
      break;
    if (marks != last) {
      last = marks;
      moved_at = g_get_monotonic_time();
    } else if (!(marks & 1) && g_get_monotonic_time() - moved_at >= IDLE_US) {
      g_atomic_int_set(&watchdog_awake, 0);
      /* A callback that started as we went to sleep saw us awake. */
      if (g_atomic_int_get(&g_atomic_pointer_get(&leader)->marks) != marks)
        g_atomic_int_set(&watchdog_awake, 1);
    }
  }
  loop_threads++;
  g_atomic_pointer_set(&leader, self);
  g_mutex_unlock(&lead_lock);
  g_debug("a callback blocks the library loop: another thread runs it");
  start_watchdog();
  return loop_thread_main(self);
}

static void
start_watchdog(void)
{
  g_autoptr(GError) error = NULL;
  GThread *thread = g_thread_try_new("p2psig-watch", watchdog_main,
                                     g_new0(struct loop_thread, 1), &error);

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

  __atomic_store_n(&self->started_at, g_get_monotonic_time(),
                   __ATOMIC_RELEASE);
  g_atomic_int_inc(&self->marks);
  if (!g_atomic_int_get(&watchdog_awake)) {
    g_mutex_lock(&lead_lock);
    g_atomic_int_set(&watchdog_awake, 1);
    g_cond_signal(&watchdog_cond);
    g_mutex_unlock(&lead_lock);
  }
}

void
p2psig__loop_callback_end(void)
{
  g_atomic_int_inc(&this_thread->marks);
}

static gpointer
first_thread_main(gpointer data)
{
  g_main_context_acquire(library_context);
  return loop_thread_main(data);
}

static gpointer
start_library_thread(gpointer unused)
{
  struct loop_thread *first = g_new0(struct loop_thread, 1);

  library_context = g_main_context_new();
  loop_threads = 1;
  leader = first;
  g_thread_unref(g_thread_new("p2psig", first_thread_main, first));
  start_watchdog();
  return library_context;
}

GMainContext *
p2psig__loop_context(void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once(&once, start_library_thread, NULL);
}

bool
p2psig__loop_is_current(void)
{
  p2psig__loop_context();
  return this_thread && g_atomic_pointer_get(&leader) == this_thread;
}

bool
p2psig__loop_may_wait(void)
{
  return !p2psig__lock_held() &&
         !g_main_context_is_owner(p2psig__loop_context());
}

void
p2psig__loop_wakeup(void)
{
  g_main_context_wakeup(p2psig__loop_context());
}

void
p2psig__lock(void)
{
  g_rec_mutex_lock(&library_lock);
  lock_depth++;
}

void
p2psig__unlock(void)
{
  g_assert(lock_depth > 0);
  lock_depth--;
  g_rec_mutex_unlock(&library_lock);
}

bool
p2psig__lock_held(void)
{
  return lock_depth > 0;
}

/* Whether the calling thread leads; if so it holds the context until
 * g_main_context_release(), so that no watchdog takes the loop over while
 * it runs loop code inline (from a callback, say). */
static bool
enter_loop(void)
{
  bool entered = false;

  if (!this_thread)
    return false;
  g_mutex_lock(&lead_lock);
  /* The leader gets it: only a watchdog taking over under this lock
   * acquires it otherwise. */
  if (g_atomic_pointer_get(&leader) == this_thread)
    entered = g_main_context_acquire(library_context);
  g_mutex_unlock(&lead_lock);
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
p2psig__loop_run_sync(void (*fn)(void *data), void *data)
{
  struct sync_call call = { .fn = fn, .data = data };

  if (enter_loop()) {
    fn(data);
    g_main_context_release(library_context);
    return;
  }
  /* The library thread may be waiting for the lock. */
  P2PSIG_ASSERT_UNLOCKED();
  g_mutex_init(&call.mutex);
  g_cond_init(&call.cond);
  g_main_context_invoke(p2psig__loop_context(), run_sync_on_loop, &call);
  g_mutex_lock(&call.mutex);
  while (!call.done)
    g_cond_wait(&call.cond, &call.mutex);
  g_mutex_unlock(&call.mutex);
  g_mutex_clear(&call.mutex);
  g_cond_clear(&call.cond);
}

struct locked_call {
  GSourceFunc fn;
  void *data;
  GDestroyNotify destroy;
};

static gboolean
locked_dispatch(gpointer user_data)
{
  struct locked_call *call = user_data;
  gboolean again = G_SOURCE_REMOVE;

  p2psig__lock();
  /* Another thread may have destroyed the source while we waited for the
   * lock; its data may be gone. */
  if (!g_source_is_destroyed(g_main_current_source()))
    again = call->fn(call->data);
  p2psig__unlock();
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
attach_locked(GSource *source, GSourceFunc fn, void *data,
              GDestroyNotify destroy)
{
  struct locked_call *call = g_new(struct locked_call, 1);

  call->fn = fn;
  call->data = data;
  call->destroy = destroy;
  g_source_set_callback(source, locked_dispatch, call, locked_call_free);
  g_source_attach(source, p2psig__loop_context());
  return source;
}

GSource *
p2psig__loop_timeout(unsigned interval_ms, GSourceFunc fn, void *data,
                     GDestroyNotify destroy)
{
  return attach_locked(g_timeout_source_new(interval_ms), fn, data, destroy);
}

GSource *
p2psig__loop_timeout_seconds(unsigned interval_s, GSourceFunc fn, void *data,
                             GDestroyNotify destroy)
{
  return attach_locked(g_timeout_source_new_seconds(interval_s), fn, data,
                       destroy);
}

GSource *
p2psig__loop_idle(GSourceFunc fn, void *data, GDestroyNotify destroy)
{
  GSource *source = g_idle_source_new();

  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  return attach_locked(source, fn, data, destroy);
}

/* Timer slack (Linux): while nothing needs precise timers, the kernel may
 * end the library thread's poll up to 50 ms late, so that the timers of
 * many idle peers (libnice's keepalives, each on a timer of its own) fire
 * in one wake-up instead of one each.  Descriptors still wake it at once.
 * Lock held; takes effect on the library thread. */
#define IDLE_TIMER_SLACK_NS (50 * 1000 * 1000)

static bool coalesce_wanted;   /* SCTP's tick is slow */
static unsigned precise_holds; /* ICE agents running checks */
/* Per thread: each leader sets its own. */
static _Thread_local bool slack_set;

static void
apply_timer_slack(void)
{
  bool want = coalesce_wanted && precise_holds == 0;

  if (want == slack_set || !p2psig__loop_is_current())
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
  coalesce_wanted = coalesce;
  apply_timer_slack();
}

void
p2psig__loop_precise_timers(bool hold)
{
  if (hold)
    precise_holds++;
  else if (precise_holds > 0)
    precise_holds--;
  apply_timer_slack();
}
