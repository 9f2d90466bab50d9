/* SPDX-License-Identifier: MIT */
/*
 * Parking: the sockets of a connected ICE stream leave their loop's
 * context for a small one (a group), which the loop polls through one
 * epoll descriptor.
 *
 * Why: on each wake-up GLib visits every source of a context and poll()s
 * every descriptor, so a loop of thousands of peers paid for all of them
 * on every datagram and every timer (doc/overview.md, "Idle cost and
 * scale").  Parked, a wake-up costs the groups that have something to
 * read: epoll_wait, then one iteration of each such group's context.
 *
 * A group is also the home of up to PARK_GROUP_SIZE ICE agents: each
 * agent's context, where libnice keeps its timers (one keepalive timer an
 * agent for as long as it lives, the checks' pacing timer while checking),
 * so that a loop's iteration visits a timer per group, not one per peer.
 * The group's next timeout, read after each of its iterations, is the
 * ready time of one source on the loop's context (the group's timer).
 * Its agents' streams park in it (libnice's socket sources for them,
 * moved with nice_agent_attach_recv) once connected.  A group costs one
 * descriptor, its context's wake-up; each loop that parks anything holds
 * an epoll descriptor.  Groups live as long as the process.  Their contexts poll
 * "ownerless", so that a source libnice attaches to one from elsewhere
 * (its queued-input idle, a TCP socket it accepts) wakes the group through
 * its wake-up descriptor, which is in the epoll set too.  The set of a
 * group is brought up to date after each of its iterations and each park
 * and leave, all under the loop's lock.  Without epoll (not Linux), or
 * when descriptors run out, streams stay on the loop's context.
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#ifdef __linux__
#include <errno.h>
#include <glib-unix.h>
#include <sys/epoll.h>
#include <unistd.h>
#endif

/* Agents a group is home to, and streams parked in a group without one.
 * Small enough that a group's iteration (prepare, poll and check over its
 * sources) costs a few microseconds; large enough that the descriptors
 * groups take stay a small share (1/128 a peer). */
#define PARK_GROUP_SIZE 128
/* Groups served per epoll round; the rest wait for the next. */
#define PARK_EVENTS 256

struct p2psig_park_group {
  struct p2psig_loop *loop;
  GMainContext *context;
  unsigned members;       /* streams parked here */
  unsigned agents;        /* agents whose context this is */
  GArray *watched;        /* GPollFD registered with epoll, sorted by fd */
  GArray *polled;         /* the same as the context's query gave them */
  GSource *timer;         /* on the loop's context: the next timeout */
  guint index;            /* in its loop's groups */
  GArray *fired;          /* struct epoll_event epoll reported this round */
  bool ready;             /* in this round's list */
};

/* For the tests: streams parked now, and joins ever. */
static gint parked_now, joins;

void
p2psig__park_counts(unsigned *now, unsigned *joined)
{
  *now = (unsigned)g_atomic_int_get(&parked_now);
  *joined = (unsigned)g_atomic_int_get(&joins);
}

#ifdef __linux__

struct parking {
  enum { PARKING_UNTRIED, PARKING_ON, PARKING_OFF } state;
  int epfd;
  GSource *source;
  GPtrArray *groups;
  GPtrArray *round;       /* groups with something to read */
};

/* Each under its loop's lock. */
static struct parking parkings[P2PSIG_MAX_LOOPS];

static int
compare_fds(gconstpointer a, gconstpointer b)
{
  const GPollFD *x = a, *y = b;

  return (x->fd > y->fd) - (x->fd < y->fd);
}

/* What epoll says about a descriptor of a group: the group's index and
 * the descriptor. */
static uint64_t
event_key(const struct p2psig_park_group *group, int fd)
{
  return (uint64_t)group->index << 32 | (uint32_t)fd;
}

static void
watch(int epfd, int op, const GPollFD *fd, struct p2psig_park_group *group)
{
  struct epoll_event event = { .events = fd->events,
                               .data.u64 = event_key(group, fd->fd) };

  /* GLib's G_IO_* are poll()'s bits, which epoll shares on Linux.  A
   * descriptor already closed has left the set by itself (EBADF, ENOENT). */
  if (epoll_ctl(epfd, op, fd->fd, &event) < 0 && errno != EBADF &&
      errno != ENOENT && errno != EEXIST)
    g_warning("epoll_ctl on descriptor %d: %s", fd->fd, g_strerror(errno));
}

/* The group's poll records as query gives them (GPollFD, fd and events
 * alike): the same as last time is the common case, with no diff. */
static bool
same_fds(const GArray *old, const GPollFD *now, gint n)
{
  if (old->len != (guint)n)
    return false;
  for (gint i = 0; i < n; i++) {
    const GPollFD *o = &g_array_index(old, GPollFD, i);

    if (o->fd != now[i].fd || o->events != now[i].events)
      return false;
  }
  return true;
}

/* Brings the epoll set from what was registered (sorted) to now. */
static void
diff_fds(struct p2psig_park_group *group, GPollFD *now, gint n)
{
  int epfd = parkings[p2psig__loop_index(group->loop)].epfd;
  GArray *old = group->watched;
  g_autofree GPollFD *sorted = g_memdup2(now, (gsize)n * sizeof *now);
  guint i = 0, j = 0;

  qsort(sorted, (size_t)n, sizeof *sorted, compare_fds);
  while (i < old->len || j < (guint)n) {
    GPollFD *o = i < old->len ? &g_array_index(old, GPollFD, i) : NULL;
    GPollFD *m = j < (guint)n ? &sorted[j] : NULL;

    if (o && (!m || o->fd < m->fd)) {
      watch(epfd, EPOLL_CTL_DEL, o, group);
      i++;
    } else if (m && (!o || m->fd < o->fd)) {
      watch(epfd, EPOLL_CTL_ADD, m, group);
      j++;
    } else {
      if (o->events != m->events)
        watch(epfd, EPOLL_CTL_MOD, m, group);
      i++;
      j++;
    }
  }
  g_array_set_size(old, 0);
  g_array_append_vals(old, sorted, (guint)n);
}

/* Registers what the group's context polls now and forgets what it no
 * longer does, and sets the group's timer to its next timeout.
 * prepared_at: when the context's last prepare ran, with nothing attached
 * to it since but by that iteration's dispatch; 0 if unknown.  The loop's
 * lock held, the group's context acquired. */
static void
sync_group(struct p2psig_park_group *group, gint64 prepared_at)
{
  GPollFD stack[2 * PARK_GROUP_SIZE + 1];
  GPollFD *now = stack;
  gint timeout, n, max_priority;

  /* The timeout query gives is the one the last prepare computed.  A
   * timer the dispatch after it added woke the group (its contexts poll
   * ownerless), so comes with the next run; but one it ran is still
   * counted due (0), and asks for a fresh prepare. */
  n = g_main_context_query(group->context, G_MAXINT, &timeout, now,
                           G_N_ELEMENTS(stack));
  if (prepared_at == 0 || timeout == 0) {
    prepared_at = g_get_monotonic_time();
    g_main_context_prepare(group->context, &max_priority);
    n = g_main_context_query(group->context, G_MAXINT, &timeout, now,
                             G_N_ELEMENTS(stack));
  }
  if (n > (gint)G_N_ELEMENTS(stack)) {
    now = g_new(GPollFD, n);
    n = g_main_context_query(group->context, G_MAXINT, &timeout, now, n);
  }
  g_source_set_ready_time(group->timer,
                          timeout < 0 ? -1
                                      : prepared_at + (gint64)timeout * 1000);
  if (!same_fds(group->polled, now, n)) {
    diff_fds(group, now, n);
    g_array_set_size(group->polled, 0);
    g_array_append_vals(group->polled, now, (guint)n);
  }
  if (now != stack)
    g_free(now);
}

/* The descriptors of the group being iterated that epoll reported ready,
 * for its poll function; NULL outside run_group. */
static _Thread_local GArray *group_fired;

/* A group's poll function: its iterations never block, and what is ready
 * is what epoll just said (level-triggered: a descriptor it left out this
 * round comes in the next), so no poll() of every socket of the group. */
static gint
poll_fired(GPollFD *fds, guint nfds, gint timeout)
{
  GArray *fired = group_fired;
  gint ready = 0;

  if (!fired || timeout != 0)
    return g_poll(fds, nfds, timeout); /* cannot be: see run_group */
  for (guint i = 0; i < nfds; i++) {
    fds[i].revents = 0;
    for (guint j = 0; j < fired->len; j++) {
      const struct epoll_event *e =
          &g_array_index(fired, struct epoll_event, j);

      /* GLib's G_IO_* are poll()'s bits, which epoll shares on Linux. */
      if ((int)(uint32_t)e->data.u64 == fds[i].fd) {
        fds[i].revents = (gushort)(e->events &
            ((guint)fds[i].events | G_IO_ERR | G_IO_HUP | G_IO_NVAL));
        break;
      }
    }
    if (fds[i].revents)
      ready++;
  }
  return ready;
}

/* One iteration of the group's context: its ready sockets are read (the
 * receive callbacks run, taking the loop's lock again) and its due timers
 * run. */
static void
run_group(struct p2psig_park_group *group)
{
  gint64 prepared_at;

  if (!g_main_context_acquire(group->context))
    return; /* cannot be: only holders of the loop's lock acquire it */
  prepared_at = g_get_monotonic_time();
  group_fired = group->fired;
  g_main_context_iteration(group->context, FALSE);
  group_fired = NULL;
  g_array_set_size(group->fired, 0);
  sync_group(group, prepared_at);
  g_main_context_release(group->context);
}

/* A group's timer: a source on the loop's context that is only ever
 * ready at its ready time. */
static gboolean
group_timer_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
  struct p2psig_park_group *group = data;

  p2psig__lock(group->loop);
  run_group(group);
  p2psig__unlock(group->loop);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs group_timer_funcs = {
  .dispatch = group_timer_dispatch,
};

static gboolean
on_ready(gint fd, GIOCondition condition, gpointer data)
{
  struct p2psig_loop *loop = data;
  struct parking *p = &parkings[p2psig__loop_index(loop)];
  struct epoll_event events[PARK_EVENTS];
  int n;

  p2psig__lock(loop);
  n = epoll_wait(p->epfd, events, PARK_EVENTS, 0);
  for (int i = 0; i < n; i++) {
    struct p2psig_park_group *group =
        g_ptr_array_index(p->groups, (guint)(events[i].data.u64 >> 32));

    g_array_append_val(group->fired, events[i]);
    if (!group->ready) {
      group->ready = true;
      g_ptr_array_add(p->round, group);
    }
  }
  for (guint i = 0; i < p->round->len; i++) {
    struct p2psig_park_group *group = g_ptr_array_index(p->round, i);

    group->ready = false;
    run_group(group);
  }
  g_ptr_array_set_size(p->round, 0);
  p2psig__unlock(loop);
  return G_SOURCE_CONTINUE;
}

/* The loop's epoll descriptor and its source; false if there is none. */
static bool
start_parking(struct p2psig_loop *loop, struct parking *p)
{
  if (p->state != PARKING_UNTRIED)
    return p->state == PARKING_ON;
  if (!p2psig__descriptors_reserve(1))
    return false; /* tried again on the next park */
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p2psig__descriptors_release();
  if (p->epfd < 0) {
    g_warning("epoll_create1: %s: connected peers stay on the loop's "
              "context", g_strerror(errno));
    p->state = PARKING_OFF;
    return false;
  }
  p->state = PARKING_ON;
  p->groups = g_ptr_array_new();
  p->round = g_ptr_array_new();
  p->source = g_unix_fd_source_new(p->epfd, G_IO_IN);
  g_source_set_callback(p->source, G_SOURCE_FUNC(on_ready), loop, NULL);
  g_source_attach(p->source, p2psig__loop_context(loop));
  return true;
}

static struct p2psig_park_group *
new_group(struct p2psig_loop *loop, struct parking *p)
{
  struct p2psig_park_group *group;

  /* The context's wake-up is an eventfd; GLib aborts without one. */
  if (!p2psig__descriptors_reserve(1))
    return NULL;
  group = g_new0(struct p2psig_park_group, 1);
  group->loop = loop;
  group->context =
      g_main_context_new_with_flags(G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING);
  p2psig__descriptors_release();
  g_main_context_set_poll_func(group->context, poll_fired);
  group->watched = g_array_new(FALSE, FALSE, sizeof(GPollFD));
  group->polled = g_array_new(FALSE, FALSE, sizeof(GPollFD));
  group->fired = g_array_new(FALSE, FALSE, sizeof(struct epoll_event));
  group->index = p->groups->len;
  group->timer = g_source_new(&group_timer_funcs, sizeof(GSource));
  g_source_set_name(group->timer, "p2psig park group timer");
  g_source_set_callback(group->timer, NULL, group, NULL);
  g_source_attach(group->timer, p2psig__loop_context(loop));
  g_ptr_array_add(p->groups, group);
  /* Its wake-up in the set from the start: an agent's first timer wakes
   * the group through it. */
  p2psig__park_changed(group);
  return group;
}

static struct p2psig_park_group *
joined(struct p2psig_park_group *group)
{
  group->members++;
  g_atomic_int_inc(&joins);
  g_debug("parked: %d streams now",
          g_atomic_int_add(&parked_now, 1) + 1);
  return group;
}

/* A group of the loop whose count (members or agents) is below
 * PARK_GROUP_SIZE, or a new one; NULL if none can be had. */
static struct p2psig_park_group *
group_with_room(struct p2psig_loop *loop,
                unsigned (*count)(const struct p2psig_park_group *))
{
  struct parking *p = &parkings[p2psig__loop_index(loop)];

  g_assert(p2psig__loop_locked(loop));
  if (!start_parking(loop, p))
    return NULL;
  for (guint i = 0; i < p->groups->len; i++) {
    struct p2psig_park_group *group = g_ptr_array_index(p->groups, i);

    if (count(group) < PARK_GROUP_SIZE)
      return group;
  }
  return new_group(loop, p);
}

static unsigned
members_of(const struct p2psig_park_group *group)
{
  return group->members;
}

static unsigned
agents_of(const struct p2psig_park_group *group)
{
  return group->agents;
}

struct p2psig_park_group *
p2psig__park_join(struct p2psig_loop *loop, struct p2psig_park_group *home)
{
  struct p2psig_park_group *group =
      home ? home : group_with_room(loop, members_of);

  return group ? joined(group) : NULL;
}

struct p2psig_park_group *
p2psig__park_home(struct p2psig_loop *loop)
{
  struct p2psig_park_group *group = group_with_room(loop, agents_of);

  if (group)
    group->agents++;
  return group;
}

void
p2psig__park_home_leave(struct p2psig_park_group *group)
{
  g_assert(p2psig__loop_locked(group->loop));
  g_assert(group->agents > 0);
  group->agents--;
}

void
p2psig__park_changed(struct p2psig_park_group *group)
{
  g_assert(p2psig__loop_locked(group->loop));
  if (g_main_context_acquire(group->context)) {
    sync_group(group, 0);
    g_main_context_release(group->context);
  }
}

void
p2psig__park_leave(struct p2psig_park_group *group)
{
  g_assert(group->members > 0);
  group->members--;
  p2psig__park_changed(group);
  g_debug("parked: %d streams now", g_atomic_int_add(&parked_now, -1) - 1);
}

GMainContext *
p2psig__park_context(struct p2psig_park_group *group)
{
  return group->context;
}

#else /* no epoll: nothing parks */

struct p2psig_park_group *
p2psig__park_join(struct p2psig_loop *loop, struct p2psig_park_group *home)
{
  return NULL;
}

struct p2psig_park_group *
p2psig__park_home(struct p2psig_loop *loop)
{
  return NULL;
}

void
p2psig__park_home_leave(struct p2psig_park_group *group)
{
}

void
p2psig__park_changed(struct p2psig_park_group *group)
{
}

void
p2psig__park_leave(struct p2psig_park_group *group)
{
}

GMainContext *
p2psig__park_context(struct p2psig_park_group *group)
{
  return NULL;
}

#endif
