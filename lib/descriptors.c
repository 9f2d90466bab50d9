/* SPDX-License-Identifier: MIT */
/* File descriptors left under the process's limit.  GLib aborts the
 * process when it cannot make a main context's wake-up descriptor
 * (g_wakeup_new), and libnice makes a main context for every stream it
 * adds; so the library checks that descriptors are left before it asks
 * libnice for a stream, and reports P2PSIG_EDESCRIPTORS instead.  The
 * check opens and closes them; a lock holds it together with the stream's
 * creation, so that two of our peers cannot both take the last one.  A
 * thread of the application that opens one meanwhile still can: the
 * checks ask for a spare one more than the call needs. */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

static GMutex descriptors_lock;

/* Whether n descriptors could be opened now; false only when the limit
 * stops it (not for another failure, which the call itself will meet). */
static bool
descriptors_left(unsigned n)
{
  int fds[P2PSIG_DESCRIPTORS_PROBE_MAX];
  unsigned opened = 0;
  bool left = true;

  g_assert(n <= G_N_ELEMENTS(fds));
  while (opened < n) {
    int fd = eventfd(0, EFD_CLOEXEC);

    if (fd < 0) {
      left = errno != EMFILE && errno != ENFILE;
      break;
    }
    fds[opened++] = fd;
  }
  while (opened > 0)
    close(fds[--opened]);
  return left;
}

bool
p2psig__descriptors_reserve(unsigned n)
{
  g_mutex_lock(&descriptors_lock);
  if (descriptors_left(n))
    return true;
  g_mutex_unlock(&descriptors_lock);
  g_info("out of file descriptors: fewer than %u left under the process's "
         "limit", n);
  return false;
}

void
p2psig__descriptors_release(void)
{
  g_mutex_unlock(&descriptors_lock);
}

bool
p2psig__descriptors_left(unsigned n)
{
  return p2psig__descriptors_reserve(n) ? (p2psig__descriptors_release(), true)
                                        : false;
}
