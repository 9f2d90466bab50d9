/* SPDX-License-Identifier: MIT */
/*
 * What the offer and answer tools print of what a remote peer sends:
 * pion's lines byte for byte for its 15-letter messages, and remote labels
 * and messages shortened and with control bytes escaped, so that a peer
 * cannot write terminal escapes.  Links tools/common.c.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "testutil.h"

static struct tool tool = { .name = "test", .opt.interval = 5 };

static void
test_shown(void)
{
  char buf[TOOL_SHOWN_SIZE];
  char in[TOOL_SHOWN_MAX + 100];
  g_autofree char *as = g_strnfill(TOOL_SHOWN_MAX, 'a');
  g_autofree char *dots = g_strconcat(as, "...", NULL);

  g_assert_cmpstr(tool_shown("ABCDEFGHIJKLMNO", 15, buf), ==,
                  "ABCDEFGHIJKLMNO");
  g_assert_cmpstr(tool_shown("", 0, buf), ==, "");
  g_assert_cmpstr(tool_shown(NULL, 0, buf), ==, "");
  g_assert_cmpstr(tool_shown("\x1b[2J\x07ok\\\n\0\x7f\x9b\xff", 13, buf),
                  ==, "\\x1b[2J\\x07ok\\x5c\\x0a\\x00\\x7f\\x9b\\xff");
  memset(in, 'a', sizeof in);
  g_assert_cmpstr(tool_shown(in, TOOL_SHOWN_MAX, buf), ==, as);
  g_assert_cmpstr(tool_shown(in, TOOL_SHOWN_MAX + 1, buf), ==, dots);
  g_assert_cmpstr(tool_shown(in, sizeof in, buf), ==, dots);
  /* The worst case fills the buffer exactly. */
  memset(in, 0x1b, sizeof in);
  tool_shown(in, sizeof in, buf);
  g_assert_cmpuint(strlen(buf), ==, TOOL_SHOWN_SIZE - 1);
}

/* What fn printed on stdout (the TAP stream, set aside meanwhile). */
static char *
capture(void (*fn)(p2psig_channel *channel, const char *text),
        p2psig_channel *channel, const char *text)
{
  FILE *file = tmpfile();
  int saved;
  char *out;
  long size;

  g_assert_nonnull(file);
  fflush(stdout);
  saved = dup(STDOUT_FILENO);
  g_assert_cmpint(dup2(fileno(file), STDOUT_FILENO), >=, 0);
  fn(channel, text);
  fflush(stdout);
  g_assert_cmpint(dup2(saved, STDOUT_FILENO), >=, 0);
  close(saved);
  size = ftell(file);
  g_assert_cmpint(size, >=, 0);
  out = g_malloc0((size_t)size + 1);
  rewind(file);
  g_assert_cmpuint(fread(out, 1, (size_t)size, file), ==, (size_t)size);
  fclose(file);
  return out;
}

static void
print_message(p2psig_channel *channel, const char *text)
{
  tool_on_message(channel, text, strlen(text), P2PSIG_KIND_TEXT, &tool);
}

static void
print_open(p2psig_channel *channel, const char *unused)
{
  tool_on_open(channel, &tool);
}

static void
test_printed(void)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer *peer = p2psig_peer_new(&cfg, NULL);
  p2psig_channel *data, *evil;
  g_autofree char *label = g_strdup_printf("\x1b]0;owned\x07%0300d", 0);
  g_autofree char *zeros = g_strnfill(TOOL_SHOWN_MAX - 10, '0');
  g_autofree char *expect = NULL;
  char *out;

  g_assert_nonnull(peer);
  data = p2psig_peer_create_channel(peer, "data", NULL, NULL);
  evil = p2psig_peer_create_channel(peer, label, NULL, NULL);
  g_assert_nonnull(data);
  g_assert_nonnull(evil);

  /* pion's lines, byte for byte. */
  out = capture(print_message, data, "ABCDEFGHIJKLMNO");
  g_assert_cmpstr(out, ==,
                  "Message from DataChannel 'data': 'ABCDEFGHIJKLMNO'\n");
  g_free(out);
  /* Not connected: no stream id yet, P2PSIG_CHANNEL_ID_UNASSIGNED. */
  out = capture(print_open, data, NULL);
  g_assert_cmpstr(out, ==,
                  "Data channel 'data'-'65535' open. Random messages will now "
                  "be sent to any connected DataChannels every 5 seconds\n");
  g_free(out);

  out = capture(print_message, evil, "\x1b[2J\x1b[31mred\r\n");
  expect = g_strdup_printf("Message from DataChannel "
                           "'\\x1b]0;owned\\x07%s...': "
                           "'\\x1b[2J\\x1b[31mred\\x0d\\x0a'\n", zeros);
  g_assert_cmpstr(out, ==, expect);
  g_free(out);
  g_free(expect);
  out = capture(print_open, evil, NULL);
  expect = g_strdup_printf("Data channel '\\x1b]0;owned\\x07%s...'-'65535' "
                           "open. Random messages will now be sent to any "
                           "connected DataChannels every 5 seconds\n",
                           zeros);
  g_assert_cmpstr(out, ==, expect);
  g_free(out);

  p2psig_channel_unref(tool.channel);
  tool.channel = NULL;
  p2psig_peer_free(peer);
}

int
main(int argc, char **argv)
{
  /* Blocks the signals the callbacks raise to wake the tool's main
   * thread, before the library's thread exists to inherit the mask. */
  tool_init(&tool);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tools/shown", test_shown);
  g_test_add_func("/tools/printed", test_printed);
  return g_test_run();
}
