/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests. */
#ifndef P2PSIG_TESTUTIL_H
#define P2PSIG_TESTUTIL_H

#include <glib.h>
#include <stdbool.h>

/* Contents of tests/data/NAME (aborts the test when missing); g_free. */
char *testutil_read_data(const char *name, gsize *len);

/* Waits until check(data) is true, polling the condition every few
 * milliseconds under a deadline; fails the test with what when it passes.
 * For conditions set by library callbacks on the library thread. */
void testutil_wait_for(bool (*check)(void *data), void *data,
                       unsigned timeout_ms, const char *what);

#endif
