/* SPDX-License-Identifier: MIT */
/*
 * Message interleaving (I-DATA, RFC 8260): with it, a small message sent
 * on one channel right after a 1 MiB message on another arrives before
 * the large one has; without it (either side's
 * disable_message_interleaving), SCTP sends the large message whole
 * first.  Public API only.
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

#define WAIT_MS 20000
#define BIG (1024 * 1024)
#define BIG_COUNT 3

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

/* Position among the answer's messages of the small one; the large ones
 * are checked whole on the way. */
static guint
small_position(struct testutil_side *answer)
{
  guint small = G_MAXUINT, big = 0;

  testutil_lock();
  for (guint i = 0; i < answer->messages->len; i++) {
    struct testutil_message *m = answer->messages->pdata[i];
    gsize len;
    const uint8_t *data = g_bytes_get_data(m->data, &len);

    if (len == 5) {
      g_assert_cmpmem(data, len, "small", 5);
      small = i;
    } else {
      g_assert_cmpuint(len, ==, BIG);
      for (gsize j = 0; j < len; j++)
        if (data[j] != (uint8_t)(j * 7 + big))
          g_error("large message %u corrupt at byte %zu", big, (size_t)j);
      big++;
    }
  }
  g_assert_cmpuint(big, ==, BIG_COUNT);
  testutil_unlock();
  return small;
}

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
  guint position;

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

  for (int i = 0; i < BIG_COUNT; i++) {
    for (size_t j = 0; j < BIG; j++)
      buf[j] = (uint8_t)(j * 7 + i);
    g_assert_cmpint(p2psig_channel_send(big, buf, BIG, P2PSIG_KIND_BINARY),
                    ==, 0);
    if (i == 0)
      g_assert_cmpint(p2psig_channel_send_text(small, "small"), ==, 0);
  }
  TESTUTIL_WAIT(answer.messages->len == BIG_COUNT + 1, WAIT_MS,
                "every message at the answer");
  position = small_position(&answer);
  g_test_message("the small message came %u of %u", position + 1,
                 BIG_COUNT + 1);
  if (expect_ahead)
    g_assert_cmpuint(position, ==, 0); /* ahead of the first large one */
  else
    g_assert_cmpuint(position, >=, 1); /* behind it */

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

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/interleaving/both", test_both);
  g_test_add_func("/interleaving/offer-without", test_offer_without);
  g_test_add_func("/interleaving/answer-without", test_answer_without);
  return g_test_run();
}
