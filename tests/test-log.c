/* SPDX-License-Identifier: MIT */
/* The log (lib/log.c): levels, P2PSIG_LOG's domains, the default writer on
 * stderr, libnice at trace only, replacing the handler while another
 * thread logs, and a handler that calls back into the log. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct seen {
  GPtrArray *lines;              /* "DOMAIN LEVEL MESSAGE" */
};

static void
record(p2psig_log_level level, const char *domain, const char *message,
       void *user_data)
{
  struct seen *seen = user_data;

  g_ptr_array_add(seen->lines,
                  g_strdup_printf("%s %d %s", domain, level, message));
}

static void
seen_init(struct seen *seen)
{
  seen->lines = g_ptr_array_new_with_free_func(g_free);
}

static bool
seen_has(const struct seen *seen, const char *line)
{
  for (unsigned i = 0; i < seen->lines->len; i++)
    if (strcmp(g_ptr_array_index(seen->lines, i), line) == 0)
      return true;
  return false;
}

/* Emits one message of each level in two domains. */
static void
emit_all(void)
{
  static const char *const domains[] = { "p2psig-ice", "p2psig-signaling" };

  for (size_t d = 0; d < G_N_ELEMENTS(domains); d++)
    for (int l = P2PSIG_LOG_ERROR; l <= P2PSIG_LOG_TRACE; l++)
      p2psig__log(l, domains[d], "m%d", l);
}

static void
set_env(const char *value)
{
  if (value)
    g_setenv("P2PSIG_LOG", value, TRUE);
  else
    g_unsetenv("P2PSIG_LOG");
  p2psig__log_reset_for_tests();
}

static void
test_levels(void)
{
  struct seen seen;

  set_env(NULL);
  seen_init(&seen);
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &seen);
  emit_all();
  /* The default: errors and warnings only. */
  g_assert_cmpuint(seen.lines->len, ==, 4);
  g_assert_true(seen_has(&seen, "p2psig-ice 1 m1"));
  g_assert_true(seen_has(&seen, "p2psig-signaling 2 m2"));
  g_assert_false(p2psig__log_enabled(P2PSIG_LOG_INFO, "p2psig-ice"));

  g_ptr_array_set_size(seen.lines, 0);
  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, record, &seen);
  emit_all();
  g_assert_cmpuint(seen.lines->len, ==, 8);
  g_assert_true(seen_has(&seen, "p2psig-ice 4 m4"));
  g_assert_false(seen_has(&seen, "p2psig-ice 5 m5"));

  g_ptr_array_set_size(seen.lines, 0);
  p2psig_set_log_handler(P2PSIG_LOG_ERROR, record, &seen);
  emit_all();
  g_assert_cmpuint(seen.lines->len, ==, 2);

  /* The redefined GLib macros land here, under the file's domain (none in
   * this file: "p2psig"). */
  g_ptr_array_set_size(seen.lines, 0);
  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, record, &seen);
  g_debug("via %s", "g_debug");
  g_warning("via g_warning");
  g_assert_true(seen_has(&seen, "p2psig 4 via g_debug"));
  g_assert_true(seen_has(&seen, "p2psig 2 via g_warning"));

  p2psig__log_reset_for_tests();
  g_ptr_array_unref(seen.lines);
}

static void
test_env(void)
{
  struct seen seen;

  seen_init(&seen);
  /* A level alone: every domain, up to that level, over the handler's. */
  set_env("info");
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &seen);
  emit_all();
  g_assert_cmpuint(seen.lines->len, ==, 6);
  g_assert_true(seen_has(&seen, "p2psig-signaling 3 m3"));

  /* Domains, with or without the prefix, narrow info and below; errors and
   * warnings of the others still pass. */
  g_ptr_array_set_size(seen.lines, 0);
  set_env("debug, ice");
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &seen);
  emit_all();
  g_assert_true(seen_has(&seen, "p2psig-ice 4 m4"));
  g_assert_true(seen_has(&seen, "p2psig-ice 3 m3"));
  g_assert_false(seen_has(&seen, "p2psig-signaling 3 m3"));
  g_assert_false(seen_has(&seen, "p2psig-signaling 4 m4"));
  g_assert_true(seen_has(&seen, "p2psig-signaling 2 m2"));
  g_assert_cmpuint(seen.lines->len, ==, 6);

  g_ptr_array_set_size(seen.lines, 0);
  set_env("DEBUG,p2psig-signaling");
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &seen);
  emit_all();
  g_assert_true(seen_has(&seen, "p2psig-signaling 4 m4"));
  g_assert_false(seen_has(&seen, "p2psig-ice 4 m4"));

  /* The application may ask for more than P2PSIG_LOG. */
  g_ptr_array_set_size(seen.lines, 0);
  set_env("error");
  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, record, &seen);
  emit_all();
  g_assert_cmpuint(seen.lines->len, ==, 8);

  /* Empty is unset; an unknown level is ignored (with a warning). */
  const char *const defaults[] = { "", "loud", "ice" };
  for (size_t i = 0; i < G_N_ELEMENTS(defaults); i++) {
    g_ptr_array_set_size(seen.lines, 0);
    set_env(defaults[i]);
    p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &seen);
    emit_all();
    g_assert_cmpuint(seen.lines->len, ==, 4);
  }

  set_env(NULL);
  g_ptr_array_unref(seen.lines);
}

static char *
read_fd(int fd)
{
  char buf[4096];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

  g_assert_cmpint(n, >=, 0);
  buf[n] = '\0';
  return g_strdup(buf);
}

static int
temp_fd(void)
{
  char *path = NULL;
  int fd = g_file_open_tmp("test-log-XXXXXX", &path, NULL);

  g_assert_cmpint(fd, >=, 0);
  unlink(path);
  g_free(path);
  return fd;
}

/* The default writer: one line on stderr, nothing on stdout. */
static void
test_default_stderr(void)
{
  int out = temp_fd(), err = temp_fd();
  int saved_out = dup(1), saved_err = dup(2);

  set_env("debug");
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  p2psig__log(P2PSIG_LOG_DEBUG, "p2psig-ice", "hello %d", 42);
  p2psig__log(P2PSIG_LOG_WARNING, "p2psig-dtls", "careful");
  p2psig__log(P2PSIG_LOG_TRACE, "p2psig-ice", "not at debug");
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  set_env(NULL);

  g_autofree char *o = read_fd(out), *e = read_fd(err);
  close(out);
  close(err);
  g_test_message("stderr: %s", e);
  g_assert_cmpstr(o, ==, "");
  g_assert_true(g_regex_match_simple(
      "^p2psig-ice: debug: \\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d: hello 42\n"
      "p2psig-dtls: warning: \\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d: careful\n$",
      e, 0, 0));
}

/* libnice's log (its g_logv() under its domains) arrives at trace only. */
static void
test_libnice(void)
{
  struct seen seen;

  seen_init(&seen);
  set_env(NULL);
  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, record, &seen);
  g_log("libnice", G_LOG_LEVEL_DEBUG, "agent %d", 1);
  g_assert_cmpuint(seen.lines->len, ==, 0);

  p2psig_set_log_handler(P2PSIG_LOG_TRACE, record, &seen);
  g_log("libnice", G_LOG_LEVEL_DEBUG, "agent %d", 2);
  g_log("libnice-stun", G_LOG_LEVEL_DEBUG, "stun");
  g_assert_true(seen_has(&seen, "libnice 5 agent 2"));
  g_assert_true(seen_has(&seen, "libnice-stun 5 stun"));

  /* And is left alone again below trace. */
  g_ptr_array_set_size(seen.lines, 0);
  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, record, &seen);
  g_log("libnice", G_LOG_LEVEL_DEBUG, "agent %d", 3);
  g_assert_cmpuint(seen.lines->len, ==, 0);

  p2psig__log_reset_for_tests();
  g_ptr_array_unref(seen.lines);
}

struct race {
  gint stop;
  gint count[3];
};

static void
count(p2psig_log_level level, const char *domain, const char *message,
      void *user_data)
{
  g_atomic_int_inc((gint *)user_data);
}

static void *
logger(void *data)
{
  struct race *race = data;

  while (!g_atomic_int_get(&race->stop))
    p2psig__log(P2PSIG_LOG_WARNING, "p2psig-ice", "line");
  return NULL;
}

/* Handlers replaced while another thread logs: each message goes to the
 * handler in force, and a replaced one is never called again. */
static void
test_threads(void)
{
  struct race race = { 0 };

  set_env(NULL);
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, count, &race.count[0]);
  GThread *thread = g_thread_new("logger", logger, &race);
  for (int i = 0; i < 2000; i++) {
    p2psig_set_log_handler(P2PSIG_LOG_WARNING, count, &race.count[i % 2]);
    if (i % 100 == 0)
      p2psig_set_log_handler(P2PSIG_LOG_WARNING, NULL, NULL);
  }
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, count, &race.count[2]);
  int before[2] = { g_atomic_int_get(&race.count[0]),
                    g_atomic_int_get(&race.count[1]) };
  while (g_atomic_int_get(&race.count[2]) < 1000)
    g_thread_yield();
  g_atomic_int_set(&race.stop, 1);
  g_thread_join(thread);
  g_assert_cmpint(g_atomic_int_get(&race.count[0]), ==, before[0]);
  g_assert_cmpint(g_atomic_int_get(&race.count[1]), ==, before[1]);
  p2psig__log_reset_for_tests();
}

static struct seen replaced_seen;

/* Replaces itself, and logs (as a library call it made would) meanwhile. */
static void
replace_self(p2psig_log_level level, const char *domain, const char *message,
             void *user_data)
{
  int *calls = user_data;

  (*calls)++;
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, record, &replaced_seen);
  p2psig__log(P2PSIG_LOG_WARNING, "p2psig-ice", "from the handler");
}

/* The handler runs with the log lock held, which is not recursive: what it
 * calls must neither deadlock nor lose the line it logs. */
static void
test_handler_reenters(void)
{
  int calls = 0;

  set_env(NULL);
  seen_init(&replaced_seen);
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, replace_self, &calls);
  p2psig__log(P2PSIG_LOG_WARNING, "p2psig-ice", "first");
  p2psig__log(P2PSIG_LOG_WARNING, "p2psig-ice", "second");
  g_assert_cmpint(calls, ==, 1);
  /* The nested line went to stderr; the next one to the new handler. */
  g_assert_cmpuint(replaced_seen.lines->len, ==, 1);
  g_assert_true(seen_has(&replaced_seen, "p2psig-ice 2 second"));
  g_ptr_array_unref(replaced_seen.lines);
  p2psig__log_reset_for_tests();
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/log/levels", test_levels);
  g_test_add_func("/log/env", test_env);
  g_test_add_func("/log/default-stderr", test_default_stderr);
  g_test_add_func("/log/libnice", test_libnice);
  g_test_add_func("/log/threads", test_threads);
  g_test_add_func("/log/handler-reenters", test_handler_reenters);
  return g_test_run();
}
