/* SPDX-License-Identifier: MIT */
#include "testutil.h"

char *
testutil_read_data(const char *name, gsize *len)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", name,
                                                NULL);

  if (!g_file_get_contents(path, &contents, len, &error))
    g_error("cannot read test data %s: %s", path, error->message);
  return contents;
}

void
testutil_wait_for(bool (*check)(void *data), void *data, unsigned timeout_ms,
                  const char *what)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

  while (!check(data)) {
    if (g_get_monotonic_time() > deadline)
      g_error("timed out after %u ms waiting for %s", timeout_ms, what);
    g_usleep(1000);
  }
}
