/* SPDX-License-Identifier: MIT */
/*
 * The library thread: one GMainContext, run by a thread started with the
 * first peer and shared by every peer of the process, and the recursive lock
 * that guards all library state (see internal.h for the rules).
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

static GRecMutex library_lock;
static GMainContext *library_context;
static GThread *library_thread;
/* How many times the calling thread holds library_lock. */
static _Thread_local unsigned lock_depth;

static gpointer
library_thread_main(gpointer data)
{
  GMainContext *context = data;

  g_main_context_push_thread_default(context);
  for (;;)
    g_main_context_iteration(context, TRUE);
  return NULL;
}

static gpointer
start_library_thread(gpointer unused)
{
  library_context = g_main_context_new();
  library_thread = g_thread_new("p2psig", library_thread_main,
                                library_context);
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
  return g_thread_self() == library_thread;
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

  if (p2psig__loop_is_current()) {
    fn(data);
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
static bool slack_set;

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
