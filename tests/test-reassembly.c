/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of messages read in pieces (lib/reassembly.c): interleaved
 * messages come out whole and apart, and every cap holds.
 */
#include "reassembly.h"

#include <string.h>

static enum p2psig_piece_result
add(struct p2psig_reassembly *r, uint64_t key, const char *text, bool last,
    GBytes **message)
{
  return p2psig__reassembly_add(r, key, (const uint8_t *)text, strlen(text),
                                last, message);
}

static void
assert_message(GBytes *message, const char *text)
{
  g_assert_nonnull(message);
  g_assert_cmpmem(g_bytes_get_data(message, NULL), g_bytes_get_size(message),
                  text, strlen(text));
  g_bytes_unref(message);
}

static void
test_interleaved(void)
{
  struct p2psig_reassembly *r = p2psig__reassembly_new(100, 1000);
  uint64_t a = p2psig__piece_key(1, false, 7);
  uint64_t b = p2psig__piece_key(3, false, 2);
  uint64_t b_unordered = p2psig__piece_key(3, true, 2);
  GBytes *m = NULL;

  g_assert_cmpint(add(r, a, "one ", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, b, "uno ", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, b_unordered, "x", true, &m), ==,
                  P2PSIG_PIECE_MESSAGE);
  assert_message(m, "x");
  g_assert_cmpint(add(r, a, "two", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "one two");
  g_assert_cmpint(add(r, b, "dos", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "uno dos");
  g_assert_cmpuint(p2psig__reassembly_held(r), ==, 0);
  p2psig__reassembly_free(r);
}

static void
test_message_cap(void)
{
  struct p2psig_reassembly *r = p2psig__reassembly_new(8, 1000);
  uint64_t a = p2psig__piece_key(1, false, 0);
  GBytes *m = NULL;

  g_assert_cmpint(add(r, a, "12345", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, a, "6789", false, &m), ==, P2PSIG_PIECE_DROPPED);
  g_assert_cmpint(add(r, a, "more", false, &m), ==, P2PSIG_PIECE_DROPPED);
  g_assert_cmpint(add(r, a, "end", true, &m), ==, P2PSIG_PIECE_DROPPED);
  g_assert_null(m);
  /* The next message on the key starts afresh. */
  g_assert_cmpint(add(r, a, "next", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "next");
  /* A whole message over the cap is dropped too. */
  g_assert_cmpint(add(r, a, "123456789", true, &m), ==, P2PSIG_PIECE_DROPPED);
  g_assert_cmpuint(p2psig__reassembly_held(r), ==, 0);
  p2psig__reassembly_free(r);
}

static void
test_held_cap(void)
{
  /* Room for two entries' bookkeeping (64 each) and a few bytes. */
  struct p2psig_reassembly *r = p2psig__reassembly_new(100, 140);
  uint64_t a = p2psig__piece_key(1, false, 0);
  uint64_t b = p2psig__piece_key(2, false, 0);
  uint64_t c = p2psig__piece_key(3, false, 0);
  GBytes *m = NULL;

  g_assert_cmpint(add(r, a, "aaaaaaaa", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, b, "bb", false, &m), ==, P2PSIG_PIECE_HELD);
  /* b's next piece would take the total over: b is dropped, a kept. */
  g_assert_cmpint(add(r, b, "bbbbbbbbbb", false, &m), ==,
                  P2PSIG_PIECE_DROPPED);
  g_assert_cmpuint(p2psig__reassembly_held(r), <=, 140);
  /* A third message cannot even be tracked: refused. */
  g_assert_cmpint(add(r, c, "c", false, &m), ==, P2PSIG_PIECE_OVERFLOW);
  g_assert_cmpint(add(r, a, "!", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "aaaaaaaa!");
  g_assert_cmpint(add(r, b, "", true, &m), ==, P2PSIG_PIECE_DROPPED);
  g_assert_cmpuint(p2psig__reassembly_held(r), ==, 0);
  p2psig__reassembly_free(r);
}

static void
test_drop_stream(void)
{
  struct p2psig_reassembly *r = p2psig__reassembly_new(100, 1000);
  uint64_t a = p2psig__piece_key(5, false, 1);
  uint64_t a2 = p2psig__piece_key(5, true, 9);
  uint64_t b = p2psig__piece_key(6, false, 1);
  GBytes *m = NULL;

  g_assert_cmpint(add(r, a, "lost", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, a2, "lost too", false, &m), ==, P2PSIG_PIECE_HELD);
  g_assert_cmpint(add(r, b, "kept ", false, &m), ==, P2PSIG_PIECE_HELD);
  p2psig__reassembly_drop_stream(r, 5);
  /* What follows on stream 5 is a message of its own, never the tail of
   * the dropped one. */
  g_assert_cmpint(add(r, a, "new", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "new");
  g_assert_cmpint(add(r, b, "whole", true, &m), ==, P2PSIG_PIECE_MESSAGE);
  assert_message(m, "kept whole");
  g_assert_cmpuint(p2psig__reassembly_held(r), ==, 0);
  p2psig__reassembly_free(r);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/reassembly/interleaved", test_interleaved);
  g_test_add_func("/reassembly/message-cap", test_message_cap);
  g_test_add_func("/reassembly/held-cap", test_held_cap);
  g_test_add_func("/reassembly/drop-stream", test_drop_stream);
  return g_test_run();
}
