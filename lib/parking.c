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
 * A group holds up to PARK_GROUP_SIZE streams (libnice's socket sources
 * for them, moved with nice_agent_attach_recv) and costs one descriptor,
 * its context's wake-up; each loop that parks anything holds an epoll
 * descriptor.  Groups live as long as the process.  Their contexts poll
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

/* Small enough that a group's iteration (prepare, poll and check over its
 * sources) costs a few microseconds; large enough that the descriptors
 * groups take stay a small share (1/128 a peer). */
#define PARK_GROUP_SIZE 128
/* Groups served per epoll round; the rest wait for the next. */
#define PARK_EVENTS 256

struct p2psig_park_group {
  struct p2psig_loop *loop;
  GMainContext *context;
  unsigned members;       /* streams parked here */
  GArray *watched;        /* GPollFD registered with epoll, sorted by fd */
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

static void
watch(int epfd, int op, const GPollFD *fd, struct p2psig_park_group *group)
{
  struct epoll_event event = { .events = fd->events, .data.ptr = group };

  /* GLib's G_IO_* are poll()'s bits, which epoll shares on Linux.  A
   * descriptor already closed has left the set by itself (EBADF, ENOENT). */
  if (epoll_ctl(epfd, op, fd->fd, &event) < 0 && errno != EBADF &&
      errno != ENOENT && errno != EEXIST)
    g_warning("epoll_ctl on descriptor %d: %s", fd->fd, g_strerror(errno));
}

/* Registers what the group's context polls now and forgets what it no
 * longer does.  The loop's lock held. */
static void
sync_group(struct p2psig_park_group *group)
{
  int epfd = parkings[p2psig__loop_index(group->loop)].epfd;
  GPollFD stack[2 * PARK_GROUP_SIZE + 1];
  GPollFD *now = stack;
  gint timeout, n;
  guint i = 0, j = 0;
  GArray *old = group->watched;

  n = g_main_context_query(group->context, G_MAXINT, &timeout, now,
                           G_N_ELEMENTS(stack));
  if (n > (gint)G_N_ELEMENTS(stack)) {
    now = g_new(GPollFD, n);
    n = g_main_context_query(group->context, G_MAXINT, &timeout, now, n);
  }
  qsort(now, (size_t)n, sizeof *now, compare_fds);
  while (i < old->len || j < (guint)n) {
    GPollFD *o = i < old->len ? &g_array_index(old, GPollFD, i) : NULL;
    GPollFD *m = j < (guint)n ? &now[j] : NULL;

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
  g_array_append_vals(old, now, (guint)n);
  if (now != stack)
    g_free(now);
}

/* One iteration of the group's context: its ready sockets are read (the
 * receive callbacks run, taking the loop's lock again). */
static void
run_group(struct p2psig_park_group *group)
{
  if (!g_main_context_acquire(group->context))
    return; /* cannot be: only holders of the loop's lock acquire it */
  g_main_context_iteration(group->context, FALSE);
  sync_group(group);
  g_main_context_release(group->context);
}

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
    struct p2psig_park_group *group = events[i].data.ptr;

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
  group->watched = g_array_new(FALSE, FALSE, sizeof(GPollFD));
  g_ptr_array_add(p->groups, group);
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

struct p2psig_park_group *
p2psig__park_join(struct p2psig_loop *loop)
{
  struct parking *p = &parkings[p2psig__loop_index(loop)];

  g_assert(p2psig__loop_locked(loop));
  if (!start_parking(loop, p))
    return NULL;
  for (guint i = 0; i < p->groups->len; i++) {
    struct p2psig_park_group *group = g_ptr_array_index(p->groups, i);

    if (group->members < PARK_GROUP_SIZE)
      return joined(group);
  }
  struct p2psig_park_group *group = new_group(loop, p);

  return group ? joined(group) : NULL;
}

void
p2psig__park_changed(struct p2psig_park_group *group)
{
  g_assert(p2psig__loop_locked(group->loop));
  if (g_main_context_acquire(group->context)) {
    sync_group(group);
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
p2psig__park_join(struct p2psig_loop *loop)
{
  return NULL;
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
