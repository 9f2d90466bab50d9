/* SPDX-License-Identifier: MIT */
/*
 * Untrusted text made fit for a report: what the remote sent (a path, an
 * origin, a candidate, json-glib's quote of a body) goes into on_error,
 * on_status and debug lines, which must stay one short printable line
 * whatever it holds.  Pure functions, used by every file of the
 * signaling.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <string.h>

#include "signaling-private.h"

/* A printable, bounded excerpt of untrusted text for a one-line message. */
char *
p2psig__signal_excerpt(const char *text, size_t max)
{
  GString *out = g_string_new(NULL);

  for (size_t i = 0; text && text[i]; i++) {
    if (i == max) {
      g_string_append(out, "...");
      break;
    }
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c >= 0x7f)
      g_string_append_printf(out, "\\x%02x", c);
    else
      g_string_append_c(out, (char)c);
  }
  return g_string_free(out, FALSE);
}

#define MAX_LINE 240 /* bytes of a reason, before the "..." */

/* Whether a character would break or garble a log line: C0 and C1 controls
 * (line breaks among them), DEL, and Unicode's line and paragraph
 * separators. */
static bool
breaks_line(gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

/* A copy of text made one short line of UTF-8: what is not UTF-8 becomes
 * U+FFFD (json-glib's messages quote input that need not be UTF-8 once its
 * escapes are decoded), characters that break lines become spaces, and a
 * text longer than MAX_LINE bytes is cut at a character boundary, "..."
 * appended.  A new string, never an edit in place: the "..." may need room
 * that the text does not have. */
char *
p2psig__signal_one_line(const char *text)
{
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  GString *out = g_string_sized_new(MIN(strlen(valid), MAX_LINE) + 4);

  for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
    const char *next = g_utf8_next_char(p);

    if ((size_t)(next - valid) > MAX_LINE) {
      g_string_append(out, "...");
      break;
    }
    if (breaks_line(g_utf8_get_char(p)))
      g_string_append_c(out, ' ');
    else
      g_string_append_len(out, p, next - p);
  }
  return g_string_free(out, FALSE);
}
