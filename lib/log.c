/* SPDX-License-Identifier: MIT */
/*
 * The log: level and domain filter, the application's handler or the
 * default stderr writer, and libnice's log at the trace level.
 *
 * Never a process-wide GLib log writer or default handler: those belong to
 * the application.  libnice logs through g_logv() under its own domains; at
 * the trace level handlers for those domains only (g_log_set_handler()) bring
 * its lines here.
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#include <nice/debug.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Guards everything below.  Held while the handler runs, so that lines are
 * not interleaved and a replaced handler is not running once
 * p2psig_set_log_handler() returns.  Not recursive: the thread running the
 * handler, which may call p2psig_set_log_handler(), holds it already
 * (in_handler), and what it logs meanwhile goes to stderr. */
static GMutex lock;
static _Thread_local bool in_handler;
static int env_read;             /* atomic: P2PSIG_LOG was read */
static int env_level;            /* P2PSIG_LOG's level; 0: unset */
static char **env_domains;       /* its domains; NULL: all */
static int app_level = P2PSIG_LOG_WARNING;
static p2psig_log_cb handler;
static void *handler_data;
/* The more verbose of app_level and env_level: read without the lock to
 * drop a message before it is formatted. */
static int effective_level = P2PSIG_LOG_WARNING;

static const char *const nice_domains[] = {
  "libnice", "libnice-stun", "libnice-socket", "libnice-random",
  "libnice-pseudotcp", "libnice-pseudotcp-verbose",
};
static unsigned nice_handlers[G_N_ELEMENTS(nice_domains)];
static bool nice_state_set, nice_on;

static const char *const level_names[] = {
  [P2PSIG_LOG_ERROR] = "error", [P2PSIG_LOG_WARNING] = "warning",
  [P2PSIG_LOG_INFO] = "info", [P2PSIG_LOG_DEBUG] = "debug",
  [P2PSIG_LOG_TRACE] = "trace",
};

static int
parse_level(const char *s)
{
  for (int l = P2PSIG_LOG_ERROR; l <= P2PSIG_LOG_TRACE; l++)
    if (g_ascii_strcasecmp(s, level_names[l]) == 0)
      return l;
  return 0;
}

/* P2PSIG_LOG=LEVEL[,DOMAIN...]. */
static void
read_env_locked(void)
{
  const char *v = g_getenv("P2PSIG_LOG");

  g_atomic_int_set(&env_read, 1);
  env_level = 0;
  g_clear_pointer(&env_domains, g_strfreev);
  if (!v || !*v)
    return;

  char **tokens = g_strsplit(v, ",", -1);
  env_level = parse_level(g_strstrip(tokens[0]));
  if (!env_level) {
    /* Not through p2psig__log: the filter is what is being set up. */
    fprintf(stderr, "p2psig: warning: P2PSIG_LOG=%s: the level must be one "
            "of error, warning, info, debug, trace; ignored\n", v);
    g_strfreev(tokens);
    return;
  }
  GPtrArray *domains = g_ptr_array_new();
  for (int i = 1; tokens[i]; i++)
    if (*g_strstrip(tokens[i]))
      g_ptr_array_add(domains, g_strdup(tokens[i]));
  g_strfreev(tokens);
  if (domains->len == 0) {
    g_ptr_array_free(domains, TRUE);
    return;
  }
  g_ptr_array_add(domains, NULL);
  env_domains = (char **)g_ptr_array_free(domains, FALSE);
}

/* A P2PSIG_LOG domain names "p2psig-NAME" or "NAME" itself; "libnice"
 * stands for all of libnice's domains. */
static bool
domain_listed_locked(const char *domain)
{
  if (!env_domains)
    return true;
  for (char **d = env_domains; *d; d++) {
    if (strcmp(domain, *d) == 0)
      return true;
    if (g_str_has_prefix(domain, "p2psig-") && strcmp(domain + 7, *d) == 0)
      return true;
    if (strcmp(*d, "libnice") == 0 && g_str_has_prefix(domain, "libnice"))
      return true;
  }
  return false;
}

static void
nice_log(const char *domain, GLogLevelFlags flags, const char *message,
         void *data)
{
  p2psig_log_level level = P2PSIG_LOG_TRACE;

  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    level = P2PSIG_LOG_ERROR;
  else if (flags & G_LOG_LEVEL_WARNING)
    level = P2PSIG_LOG_WARNING;
  p2psig__log(level, domain ? domain : "libnice", "%s", message);
}

/* libnice logs (its debug switch on, our handlers on its domains) at the
 * trace level only.  Switching its debug off also overrides what
 * NICE_DEBUG or G_MESSAGES_DEBUG would enable: GLib's default handler
 * would print those lines on stdout. */
static void
apply_nice_locked(void)
{
  bool on = effective_level >= P2PSIG_LOG_TRACE;

  if (nice_state_set && on == nice_on)
    return;
  nice_state_set = true;
  nice_on = on;
  for (size_t i = 0; i < G_N_ELEMENTS(nice_domains); i++) {
    if (on)
      nice_handlers[i] = g_log_set_handler(nice_domains[i],
          G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
          nice_log, NULL);
    else if (nice_handlers[i])
      g_log_remove_handler(nice_domains[i], nice_handlers[i]);
    if (!on)
      nice_handlers[i] = 0;
  }
  if (on)
    nice_debug_enable(TRUE);
  else
    nice_debug_disable(TRUE);
}

static void
update_locked(void)
{
  if (!env_read)
    read_env_locked();
  g_atomic_int_set(&effective_level, MAX(app_level, env_level));
  apply_nice_locked();
}

/* Takes the lock unless the calling thread runs the handler (and holds
 * it); true if it took it. */
static bool
log_lock(void)
{
  if (in_handler)
    return false;
  g_mutex_lock(&lock);
  return true;
}

static void
log_unlock(bool took)
{
  if (took)
    g_mutex_unlock(&lock);
}

void
p2psig__log_init(void)
{
  bool took = log_lock();
  if (!env_read)
    update_locked();
  log_unlock(took);
}

void
p2psig__log_reset_for_tests(void)
{
  bool took = log_lock();
  handler = NULL;
  handler_data = NULL;
  app_level = P2PSIG_LOG_WARNING;
  g_atomic_int_set(&env_read, 0);
  update_locked();
  log_unlock(took);
}

void
p2psig_set_log_handler(p2psig_log_level level, p2psig_log_cb cb,
                       void *user_data)
{
  bool took = log_lock();
  app_level = CLAMP((int)level, P2PSIG_LOG_ERROR, P2PSIG_LOG_TRACE);
  handler = cb;
  handler_data = user_data;
  update_locked();
  log_unlock(took);
}

static bool
enabled_locked(p2psig_log_level level, const char *domain)
{
  if (!env_read)
    update_locked();
  if ((int)level > g_atomic_int_get(&effective_level))
    return false;
  /* The domain list narrows the chatty levels; errors and warnings of
   * every domain pass. */
  return level <= P2PSIG_LOG_WARNING || domain_listed_locked(domain);
}

bool
p2psig__log_enabled(p2psig_log_level level, const char *domain)
{
  if (!domain)
    domain = "p2psig";
  if (g_atomic_int_get(&env_read) &&
      (int)level > g_atomic_int_get(&effective_level))
    return false;
  bool took = log_lock();
  bool enabled = enabled_locked(level, domain);
  log_unlock(took);
  return enabled;
}

/* "p2psig-ice: debug: 12:34:56.789: text", one write. */
static void
write_stderr(p2psig_log_level level, const char *domain, const char *message)
{
  gint64 now = g_get_real_time();
  time_t seconds = (time_t)(now / G_USEC_PER_SEC);
  struct tm tm;
  char stamp[32] = "";

  if (localtime_r(&seconds, &tm))
    snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(now % G_USEC_PER_SEC / 1000));
  char *line = g_strdup_printf("%s: %s: %s: %s\n", domain, level_names[level],
                               stamp, message);
  fputs(line, stderr);
  g_free(line);
}

void
p2psig__log(p2psig_log_level level, const char *domain, const char *format,
            ...)
{
  va_list args;

  if (level < P2PSIG_LOG_ERROR || level > P2PSIG_LOG_TRACE)
    level = P2PSIG_LOG_ERROR;
  if (!domain)                   /* a file without G_LOG_DOMAIN */
    domain = "p2psig";
  /* Unlocked first look: most debug lines are dropped here, unformatted. */
  if (g_atomic_int_get(&env_read) &&
      (int)level > g_atomic_int_get(&effective_level))
    return;
  bool took = log_lock();
  if (enabled_locked(level, domain)) {
    va_start(args, format);
    char *message = g_strdup_vprintf(format, args);
    va_end(args);
    if (handler && !in_handler) {
      in_handler = true;
      handler(level, domain, message, handler_data);
      in_handler = false;
    } else {
      write_stderr(level, domain, message);
    }
    g_free(message);
  }
  log_unlock(took);
}
