/* SPDX-License-Identifier: MIT */
/*
 * The library's log: every message goes through p2psig__log(), which
 * filters by the level and domains in force (p2psig_set_log_handler(),
 * P2PSIG_LOG) and hands the formatted line to the application's handler or
 * writes it to stderr.  GLib's logging is not used for our messages: its
 * default writer prints debug and info on stdout (into the tools' output),
 * and its global writer belongs to the application.
 *
 * Included by internal.h after glib.h, so that the g_debug() ... calls of
 * every file of lib/, under the file's G_LOG_DOMAIN, land here.
 */
#ifndef P2PSIG_LOG_H
#define P2PSIG_LOG_H

#include <glib.h>
#include <stdbool.h>

#include <p2psig/p2psig.h>

void p2psig__log(p2psig_log_level level, const char *domain,
                 const char *format, ...) G_GNUC_PRINTF(3, 4);
/* Whether a message of level and domain would be delivered: to skip work
 * done only for a log line. */
bool p2psig__log_enabled(p2psig_log_level level, const char *domain);
/* Reads P2PSIG_LOG (once) and puts libnice's logging in line with the
 * level; called before the first agent is made, as libnice reads its own
 * switches then. */
void p2psig__log_init(void);
/* Tests: forget the handler and read P2PSIG_LOG again. */
void p2psig__log_reset_for_tests(void);

#undef g_critical
#undef g_warning
#undef g_message
#undef g_info
#undef g_debug
#define g_critical(...) p2psig__log(P2PSIG_LOG_ERROR, G_LOG_DOMAIN, __VA_ARGS__)
#define g_warning(...) p2psig__log(P2PSIG_LOG_WARNING, G_LOG_DOMAIN, __VA_ARGS__)
#define g_message(...) p2psig__log(P2PSIG_LOG_INFO, G_LOG_DOMAIN, __VA_ARGS__)
#define g_info(...) p2psig__log(P2PSIG_LOG_INFO, G_LOG_DOMAIN, __VA_ARGS__)
#define g_debug(...) p2psig__log(P2PSIG_LOG_DEBUG, G_LOG_DOMAIN, __VA_ARGS__)

#endif
