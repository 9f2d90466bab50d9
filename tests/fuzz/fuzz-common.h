/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target shares: logging silenced, except that a warning,
 * an error or a GLib critical aborts (network input must never cause one),
 * and a CHECK that aborts with the failed condition.  The library's log
 * goes through its handler (lib/log.c), GLib's own (g_return_if_fail)
 * through the writer.
 */
#ifndef P2PSIG_FUZZ_COMMON_H
#define P2PSIG_FUZZ_COMMON_H

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p2psig/p2psig.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, size_t n_fields,
           void *user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
    /* What it was, for the reproducer's log. */
    for (size_t i = 0; i < n_fields; i++)
      if (strcmp(fields[i].key, "MESSAGE") == 0 ||
          strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
        fprintf(stderr, "%s: %s\n", fields[i].key,
                (const char *)fields[i].value);
    abort();
  }
  return G_LOG_WRITER_HANDLED;
}

static void
log_handler(p2psig_log_level level, const char *domain, const char *message,
            void *user_data)
{
  if (level <= P2PSIG_LOG_WARNING) {
    fprintf(stderr, "%s: %s\n", domain, message);
    abort();
  }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  g_log_set_writer_func(log_writer, NULL, NULL);
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, log_handler, NULL);
  return 0;
}

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond))                                                              \
      fail(__FILE__, __LINE__, #cond);                                                  \
  } while (0)

static G_NORETURN void
fail(const char *file, int line, const char *what)
{
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}

#endif
