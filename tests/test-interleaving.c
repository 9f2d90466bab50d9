/* SPDX-License-Identifier: MIT */
/*
 * Message interleaving (I-DATA, RFC 8260): with it, a small message sent
 * on one channel right after a 1 MiB message on another can arrive before
 * the large one has; without it (either side's
 * disable_message_interleaving), SCTP sends the large message whole
 * first, always.  /interleaving/many-channels: large messages on many
 * channels at once, their pieces mixed, all arrive (the receive window
 * once filled with pieces of messages none of which was complete, and
 * stayed shut).  Public API only.
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

#define WAIT_MS 20000
#define BIG (1024 * 1024)
#define ROUNDS 5

struct counts {
  int announced, opened;
};

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;
  struct counts *counts = side->user;

  testutil_lock();
  counts->announced++;
  testutil_unlock();
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;
  struct counts *counts = side->user;

  testutil_lock();
  counts->opened++;
  testutil_unlock();
}

static void
on_close(p2psig_channel *channel, void *user_data)
{
}

/* Checks what the answer has: rounds pairs of a large message and the
 * small one, each whole; returns in how many rounds the small message came
 * before the large one sent just ahead of it. */
static int
small_ahead(struct testutil_side *answer)
{
  int ahead = 0, big = 0;
  bool small_seen = false;

  testutil_lock();
  g_assert_cmpuint(answer->messages->len, ==, 2 * ROUNDS);
  for (guint i = 0; i < answer->messages->len; i++) {
    struct testutil_message *m = answer->messages->pdata[i];
    gsize len;
    const uint8_t *data = g_bytes_get_data(m->data, &len);

    if (len == 5) {
      g_assert_cmpmem(data, len, "small", 5);
      g_assert_false(small_seen);
      small_seen = true;
      if (i % 2 == 0)
        ahead++;
    } else {
      g_assert_cmpuint(len, ==, BIG);
      for (gsize j = 0; j < len; j++)
        if (data[j] != (uint8_t)(j * 7 + big))
          g_error("large message %d corrupt at byte %zu", big, (size_t)j);
      big++;
    }
    if (i % 2 == 1) {
      /* A round is over: both of its messages came. */
      g_assert_true(small_seen);
      g_assert_cmpint(big, ==, (int)(i + 1) / 2);
      small_seen = false;
    }
  }
  testutil_unlock();
  return ahead;
}

/* Each round sends a 1 MiB message on "big" and right after it a small one
 * on "small", and waits for both.  Without interleaving the small one
 * always comes second: SCTP's first chunks of the large message go out
 * inside the send call, and a message once started is sent whole.  With
 * it, the small one goes between the large one's chunks, unless the large
 * one has all but gone by the time the small one is sent (a test thread
 * descheduled for a few milliseconds): so it must come first in at least
 * one round of several, which it does in nearly all. */
static void
run(bool offer_interleaves, bool answer_interleaves, bool expect_ahead)
{
  struct counts offer_counts = { 0 }, answer_counts = { 0 };
  p2psig_peer_config ocfg = {
    P2PSIG_PEER_CONFIG_INIT, .on_channel = on_channel, .on_open = on_open,
    .on_close = on_close, .user_data = &offer_counts,
    .disable_message_interleaving = !offer_interleaves,
  };
  p2psig_peer_config acfg = ocfg;
  struct testutil_side offer = { 0 }, answer = { 0 };
  p2psig_channel *big, *small;
  uint8_t *buf = g_malloc(BIG);
  int ahead;

  acfg.user_data = &answer_counts;
  acfg.disable_message_interleaving = !answer_interleaves;
  testutil_side_init(&offer, "offer", &answer, &ocfg);
  testutil_side_init(&answer, "answer", &offer, &acfg);
  big = p2psig_peer_create_channel(offer.peer, "big", NULL, NULL);
  small = p2psig_peer_create_channel(offer.peer, "small", NULL, NULL);
  g_assert_nonnull(big);
  g_assert_nonnull(small);
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer_counts.opened == 2 && answer_counts.opened == 2,
                WAIT_MS, "both channels open on both sides");

  for (int round = 0; round < ROUNDS; round++) {
    for (size_t j = 0; j < BIG; j++)
      buf[j] = (uint8_t)(j * 7 + round);
    g_assert_cmpint(p2psig_channel_send(big, buf, BIG, P2PSIG_KIND_BINARY),
                    ==, 0);
    g_assert_cmpint(p2psig_channel_send_text(small, "small"), ==, 0);
    TESTUTIL_WAIT(answer.messages->len == 2 * (guint)(round + 1), WAIT_MS,
                  "both messages of the round at the answer");
  }
  ahead = small_ahead(&answer);
  g_test_message("the small message came first in %d of %d rounds", ahead,
                 ROUNDS);
  if (expect_ahead)
    g_assert_cmpint(ahead, >=, 1);
  else
    g_assert_cmpint(ahead, ==, 0);

  g_free(buf);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

static void
test_both(void)
{
  run(true, true, true);
}

static void
test_offer_without(void)
{
  run(false, true, false);
}

static void
test_answer_without(void)
{
  run(true, false, false);
}

#define MANY_CHANNELS 48
#define MANY_SIZE (160 * 1024)

/* MANY_CHANNELS channels each send a MANY_SIZE message at the same time:
 * with I-DATA their pieces arrive mixed, and every message must come. */
static void
test_many_channels(void)
{
  struct counts offer_counts = { 0 }, answer_counts = { 0 };
  p2psig_peer_config ocfg = {
    P2PSIG_PEER_CONFIG_INIT, .on_channel = on_channel, .on_open = on_open,
    .on_close = on_close, .user_data = &offer_counts,
  };
  p2psig_peer_config acfg = ocfg;
  struct testutil_side offer = { 0 }, answer = { 0 };
  p2psig_channel *channels[MANY_CHANNELS];
  uint8_t *buf = g_malloc(MANY_SIZE);

  acfg.user_data = &answer_counts;
  testutil_side_init(&offer, "offer", &answer, &ocfg);
  testutil_side_init(&answer, "answer", &offer, &acfg);
  for (int i = 0; i < MANY_CHANNELS; i++) {
    g_autofree char *label = g_strdup_printf("c%d", i);

    channels[i] = p2psig_peer_create_channel(offer.peer, label, NULL, NULL);
    g_assert_nonnull(channels[i]);
  }
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer_counts.opened == MANY_CHANNELS &&
                    answer_counts.opened == MANY_CHANNELS,
                WAIT_MS, "every channel open on both sides");
  for (int i = 0; i < MANY_CHANNELS; i++) {
    memset(buf, 'a' + i % 26, MANY_SIZE);
    g_assert_cmpint(p2psig_channel_send(channels[i], buf, MANY_SIZE,
                                        P2PSIG_KIND_BINARY), ==, 0);
  }
  TESTUTIL_WAIT(answer.messages->len == MANY_CHANNELS, WAIT_MS,
                "every message at the answer");
  testutil_lock();
  for (guint i = 0; i < answer.messages->len; i++) {
    struct testutil_message *m = answer.messages->pdata[i];

    g_assert_cmpuint(g_bytes_get_size(m->data), ==, MANY_SIZE);
  }
  testutil_unlock();
  g_free(buf);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/interleaving/both", test_both);
  g_test_add_func("/interleaving/offer-without", test_offer_without);
  g_test_add_func("/interleaving/answer-without", test_answer_without);
  g_test_add_func("/interleaving/many-channels", test_many_channels);
  return g_test_run();
}
