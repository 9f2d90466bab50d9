/* SPDX-License-Identifier: MIT */
/*
 * A connected pair in one process over 127.0.0.1, where the attacker sends
 * what no well-behaved peer sends (tests/hostile.h): messages over the
 * 1 MiB we accept, a flood of DATA_CHANNEL_OPENs with the longest labels,
 * malformed DCEP, resets of streams no channel uses, data on such streams,
 * unknown payload protocol identifiers, an OPEN on a stream in use (and
 * the OPEN flood once more through the public API of a peer of ours).  After
 * each, the victim must still be connected, must have reported nothing it
 * should not have (no channel, close, message or state), and its channel
 * must still carry messages both ways.
 *
 * The attacker is the offerer, the DTLS server: its streams are odd.
 */
#include <string.h>

#include "dcep.h"
#include "hostile.h"
#include "internal.h"
#include "peer-private.h"
#include "testutil.h"

/* Generous: these are deadlines, hit only on failure, and valgrind
 * runs the oversize messages slowly. */
#define WAIT_MS 60000

/* What one side saw of its channels, under the harness's lock. */
struct rec {
  int channels;           /* on_channel */
  int opens, closes;      /* of every channel */
  p2psig_channel *other;  /* the last one other than side->channel */
};

struct pair {
  struct testutil_side attacker, victim;
  struct rec attacker_rec, victim_rec;
  uint16_t sid;           /* of the one normal channel, "data" */
  int pings;              /* round trips done */
};

static struct rec *
rec_of(struct testutil_side *side)
{
  struct pair *pair = side->user;

  return side == &pair->victim ? &pair->victim_rec : &pair->attacker_rec;
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;
  struct rec *rec = rec_of(side);

  testutil_lock();
  testutil_side_check_alive(side);
  rec->channels++;
  if (!side->channel && strcmp(p2psig_channel_get_label(channel), "data") == 0)
    side->channel = channel;
  else
    rec->other = channel;
  testutil_unlock();
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  testutil_side_check_alive(side);
  rec_of(side)->opens++;
  side->opened += side->channel == channel;
  testutil_unlock();
}

static void
on_close(p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;
  struct rec *rec = rec_of(side);

  testutil_lock();
  testutil_side_check_alive(side);
  rec->closes++;
  side->closed += side->channel == channel;
  if (rec->other == channel)
    rec->other = NULL;
  testutil_unlock();
}

static void
pair_connect(struct pair *pair)
{
  /* Streams up to 2047, past the default 256. */
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .on_channel = on_channel, .on_open = on_open,
                             .on_close = on_close, .user_data = pair,
                             .sctp_streams = 2048 };

  memset(pair, 0, sizeof *pair);
  testutil_side_init(&pair->attacker, "attacker", &pair->victim, &cfg);
  testutil_side_init(&pair->victim, "victim", &pair->attacker, &cfg);
  testutil_side_channel(&pair->attacker, "data", NULL);
  testutil_negotiate(&pair->attacker, &pair->victim, NULL, NULL);
  TESTUTIL_WAIT(pair->attacker.opened == 1 && pair->victim.opened == 1,
                WAIT_MS, "the normal channel open on both sides");
  pair->sid = (uint16_t)p2psig_channel_get_id(pair->attacker.channel);
  g_assert_cmpint(pair->sid % 2, ==, 1);
  g_assert_cmpint(p2psig_channel_get_id(pair->victim.channel), ==, pair->sid);
}

/* The last message side received is text. */
static bool
last_is(struct testutil_side *side, guint count, const char *text)
{
  struct testutil_message *m;

  if (side->messages->len != count)
    return false;
  m = side->messages->pdata[count - 1];
  return m->kind == P2PSIG_KIND_TEXT &&
         g_bytes_get_size(m->data) == strlen(text) &&
         memcmp(g_bytes_get_data(m->data, NULL), text, strlen(text)) == 0;
}

/* The normal channel carries a message each way, and the victim has
 * reported nothing else than extra_messages messages and extra_channels
 * channels since it connected. */
static void
check_alive(struct pair *pair, guint extra_messages, int extra_channels)
{
  guint victim_count = extra_messages + (guint)pair->pings + 1;
  guint attacker_count = (guint)pair->pings + 1;

  g_assert_cmpint(p2psig_channel_send_text(pair->attacker.channel, "ping"),
                  ==, 0);
  TESTUTIL_WAIT(pair->victim.messages->len >= victim_count, WAIT_MS,
                "the victim's ping");
  g_assert_cmpint(p2psig_channel_send_text(pair->victim.channel, "pong"), ==,
                  0);
  TESTUTIL_WAIT(pair->attacker.messages->len >= attacker_count, WAIT_MS,
                "the attacker's pong");
  pair->pings++;

  testutil_lock();
  g_assert_true(last_is(&pair->victim, victim_count, "ping"));
  g_assert_true(last_is(&pair->attacker, attacker_count, "pong"));
  g_assert_cmpint(pair->victim.state, ==, P2PSIG_STATE_CONNECTED);
  g_assert_cmpint(pair->victim.failed_count, ==, 0);
  g_assert_cmpint(pair->attacker.failed_count, ==, 0);
  g_assert_cmpint(pair->victim_rec.channels, ==, 1 + extra_channels);
  g_assert_cmpint(pair->victim.closed, ==, 0);
  g_assert_cmpint(pair->attacker.closed, ==, 0);
  testutil_unlock();
  g_assert_true(p2psig_channel_is_open(pair->victim.channel));
}

static void
pair_clear(struct pair *pair)
{
  testutil_side_clear(&pair->attacker);
  testutil_side_clear(&pair->victim);
}

/* ---- the tests ---- */

/* Messages over P2PSIG_MAX_MESSAGE_SIZE arrive in pieces and are dropped
 * whole; one of exactly that size still arrives.  pieces_from: the
 * victim's partial delivery point, 0 for the library's. */
static void
oversize(uint32_t pieces_from)
{
  struct pair pair;
  size_t max = P2PSIG_MAX_MESSAGE_SIZE;
  g_autofree uint8_t *big = g_malloc(3 * max);
  struct testutil_message *m;

  memset(big, 'x', 3 * max);
  pair_connect(&pair);
  if (pieces_from)
    hostile_set_partial_delivery_point(pair.victim.peer, pieces_from);
  g_assert_cmpint(hostile_send(pair.attacker.peer, pair.sid,
                               P2PSIG_PPID_BINARY, big, max + 1), ==, 0);
  g_assert_cmpint(hostile_send(pair.attacker.peer, pair.sid,
                               P2PSIG_PPID_STRING, big, 3 * max), ==, 0);
  g_assert_cmpint(hostile_send(pair.attacker.peer, pair.sid,
                               P2PSIG_PPID_BINARY, big, max), ==, 0);
  /* And on a stream without a channel. */
  g_assert_cmpint(hostile_send(pair.attacker.peer, 9, P2PSIG_PPID_BINARY,
                               big, 2 * max), ==, 0);
  check_alive(&pair, 1, 0);
  testutil_lock();
  m = pair.victim.messages->pdata[0];
  g_assert_cmpint(m->kind, ==, P2PSIG_KIND_BINARY);
  g_assert_cmpuint(g_bytes_get_size(m->data), ==, max);
  testutil_unlock();
  check_alive(&pair, 1, 0);
  pair_clear(&pair);
}

static void
test_oversize(void)
{
  oversize(0);
}

/* Every piece handed over as it comes: the 2 MiB message on stream 9 is
 * read its 256th time behind the incomplete 1 MiB one, and usrsctp takes
 * nothing more (lib/sctp.c, SCTP_WEDGED_MS).  Stalled every run until the
 * victim widened its window then. */
static void
test_oversize_pieces(void)
{
  oversize(1);
}

struct flood {
  struct pair *pair;
  uint16_t first;
  unsigned count;
};

/* Each OPEN of the flood made a channel or a reset request. */
static bool
flood_seen(void *data)
{
  struct flood *f = data;
  p2psig_peer *victim = f->pair->victim.peer;

  for (unsigned i = 0; i < f->count; i++) {
    uint16_t sid = (uint16_t)(f->first + 2 * i);

    if (!hostile_has_channel(victim, sid) &&
        hostile_reset_state(victim, sid) == HOSTILE_RESET_NONE)
      return false;
  }
  return true;
}

/* Every refused stream's reset went through. */
static bool
flood_reset(void *data)
{
  struct flood *f = data;
  p2psig_peer *victim = f->pair->victim.peer;

  for (unsigned i = 0; i < f->count; i++) {
    uint16_t sid = (uint16_t)(f->first + 2 * i);

    if (!hostile_has_channel(victim, sid) &&
        hostile_reset_state(victim, sid) != HOSTILE_RESET_DONE)
      return false;
  }
  return true;
}

static bool
only_one_channel(void *peer)
{
  return hostile_channel_count(peer) == 1;
}

/* OPENs with 64 KiB labels and protocols: the victim holds at most
 * P2PSIG_MAX_REMOTE_LABEL_BYTES of them, refuses the others by resetting
 * their streams without an ACK, and takes a channel again once the ones it
 * took are closed. */
static void
test_open_flood(void)
{
  struct pair pair;
  struct flood f = { &pair, 101, 64 };
  GArray *taken = g_array_new(FALSE, FALSE, sizeof(uint16_t));
  p2psig_channel *after;
  int error = -1;
  size_t held;

  pair_connect(&pair);
  for (unsigned i = 0; i < f.count; i++)
    g_assert_cmpint(hostile_send_open(pair.attacker.peer,
                                      (uint16_t)(f.first + 2 * i), 65535,
                                      65535), ==, 0);
  testutil_wait_for(flood_seen, &f, WAIT_MS, "every OPEN handled");
  held = hostile_remote_label_bytes(pair.victim.peer);
  g_test_message("%u OPENs of 128 KiB: %zu label bytes held, %u channels",
                 f.count, held, hostile_channel_count(pair.victim.peer));
  g_assert_cmpuint(held, <=, P2PSIG_MAX_REMOTE_LABEL_BYTES);
  for (unsigned i = 0; i < f.count; i++) {
    uint16_t sid = (uint16_t)(f.first + 2 * i);

    if (hostile_has_channel(pair.victim.peer, sid)) {
      g_assert_cmpint(hostile_reset_state(pair.victim.peer, sid), ==,
                      HOSTILE_RESET_NONE);
      g_array_append_val(taken, sid);
    }
  }
  g_assert_cmpuint(taken->len, >=, 1);
  g_assert_cmpuint(taken->len, <=,
                   P2PSIG_MAX_REMOTE_LABEL_BYTES / (2 * 65535));
  testutil_wait_for(flood_reset, &f, WAIT_MS, "refused streams reset");
  TESTUTIL_WAIT(pair.victim_rec.opens == 1 + (int)taken->len, WAIT_MS,
                "the taken channels open");
  check_alive(&pair, 0, (int)taken->len);

  /* Closing the ones taken makes room again. */
  for (guint i = 0; i < taken->len; i++)
    g_assert_cmpint(hostile_reset(pair.attacker.peer,
                                  g_array_index(taken, uint16_t, i)), ==, 0);
  TESTUTIL_WAIT(pair.victim_rec.closes == (int)taken->len, WAIT_MS,
                "the taken channels closed");
  testutil_wait_for(only_one_channel, pair.victim.peer, WAIT_MS,
                    "the taken channels released");
  after = p2psig_peer_create_channel(pair.attacker.peer, "after", NULL,
                                     &error);
  g_assert_nonnull(after);
  TESTUTIL_WAIT(pair.victim_rec.channels == 2 + (int)taken->len &&
                pair.victim_rec.other != NULL, WAIT_MS,
                "the channel after the flood");
  testutil_lock();
  g_assert_cmpstr(p2psig_channel_get_label(pair.victim_rec.other), ==,
                  "after");
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_send_text(after, "after"), ==, 0);
  TESTUTIL_WAIT(pair.victim.messages->len == (guint)pair.pings + 1, WAIT_MS,
                "a message on the channel after the flood");
  testutil_lock();
  g_assert_true(last_is(&pair.victim, (guint)pair.pings + 1, "after"));
  testutil_unlock();
  check_alive(&pair, 1, 1 + (int)taken->len);
  g_array_unref(taken);
  pair_clear(&pair);
}

/* The same through the public API of a peer of ours: its channels with
 * the longest labels and protocols that the victim refuses are closed on
 * its side (on_close), the ones the victim took stay open. */
static void
test_open_flood_api(void)
{
  struct pair pair;
  g_autofree char *label = g_strnfill(65535, 'l');
  g_autofree char *protocol = g_strnfill(65535, 'p');
  p2psig_channel_config cfg = { P2PSIG_CHANNEL_CONFIG_INIT,
                                .protocol = protocol };
  p2psig_channel *channels[8];
  int taken, open = 0;

  pair_connect(&pair);
  for (size_t i = 0; i < G_N_ELEMENTS(channels); i++) {
    channels[i] = p2psig_peer_create_channel(pair.attacker.peer, label, &cfg,
                                             NULL);
    g_assert_nonnull(channels[i]);
    p2psig_channel_ref(channels[i]);
  }
  /* Each channel either closes on the attacker's side or is announced on
   * the victim's. */
  TESTUTIL_WAIT(pair.attacker_rec.closes + pair.victim_rec.channels - 1 ==
                G_N_ELEMENTS(channels), WAIT_MS,
                "every channel refused or taken");
  taken = pair.victim_rec.channels - 1;
  g_test_message("%zu channels of 128 KiB labels: %d taken",
                 G_N_ELEMENTS(channels), taken);
  g_assert_cmpint(taken, >=, 1);
  g_assert_cmpint(taken, <=, P2PSIG_MAX_REMOTE_LABEL_BYTES / (2 * 65535));
  g_assert_cmpuint(hostile_remote_label_bytes(pair.victim.peer), <=,
                   P2PSIG_MAX_REMOTE_LABEL_BYTES);
  for (size_t i = 0; i < G_N_ELEMENTS(channels); i++)
    open += p2psig_channel_is_open(channels[i]);
  g_assert_cmpint(open, ==, taken);
  check_alive(&pair, 0, taken);
  for (size_t i = 0; i < G_N_ELEMENTS(channels); i++)
    p2psig_channel_unref(channels[i]);
  pair_clear(&pair);
}

/* DCEP that does not parse, on the normal channel's stream and others. */
static void
test_malformed_dcep(void)
{
  static const uint8_t header[12] = { P2PSIG_DCEP_OPEN, 0, 1, 0, 0, 0, 0, 0,
                                      0, 4, 0, 0 };
  uint8_t over[12 + 5];
  uint8_t max[12];
  static const uint8_t types[] = { 0x00, 0x01, 0x04, 0x7f, 0xff };
  static const uint8_t ack_more[] = { P2PSIG_DCEP_ACK, 1, 2, 3 };
  struct pair pair;
  uint16_t sids[2];

  pair_connect(&pair);
  sids[0] = pair.sid;
  sids[1] = 201;
  /* A label length past the end, and the largest lengths with nothing. */
  memcpy(over, header, 12);
  over[9] = 100;
  memcpy(over + 12, "label", 5);
  memcpy(max, header, 12);
  max[8] = max[9] = max[10] = max[11] = 0xff;
  for (size_t s = 0; s < G_N_ELEMENTS(sids); s++) {
    p2psig_peer *a = pair.attacker.peer;

    /* Truncated: one byte, then the header but one. */
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, header, 1),
                    ==, 0);
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, header, 11),
                    ==, 0);
    /* The header promises a 4-byte label that is not there. */
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, header, 12),
                    ==, 0);
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, over,
                                 sizeof over), ==, 0);
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, max,
                                 sizeof max), ==, 0);
    for (size_t t = 0; t < G_N_ELEMENTS(types); t++)
      g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, &types[t],
                                   1), ==, 0);
    g_assert_cmpint(hostile_send(a, sids[s], P2PSIG_PPID_DCEP, ack_more,
                                 sizeof ack_more), ==, 0);
  }
  check_alive(&pair, 0, 0);
  g_assert_false(hostile_has_channel(pair.victim.peer, 201));
  g_assert_cmpuint(hostile_channel_count(pair.victim.peer), ==, 1);
  check_alive(&pair, 0, 0);
  pair_clear(&pair);
}

/* Resets of streams no channel uses, of either parity, twice. */
static void
test_reset_unopened(void)
{
  static const uint16_t sids[] = { 2, 5, 7, 200, 1001, 2047 };
  struct pair pair;

  pair_connect(&pair);
  for (int round = 0; round < 2; round++)
    for (size_t i = 0; i < G_N_ELEMENTS(sids); i++)
      g_assert_cmpint(hostile_reset(pair.attacker.peer, sids[i]), ==, 0);
  check_alive(&pair, 0, 0);
  for (size_t i = 0; i < G_N_ELEMENTS(sids); i++)
    g_assert_cmpint(hostile_reset_state(pair.victim.peer, sids[i]), ==,
                    HOSTILE_RESET_NONE);
  check_alive(&pair, 0, 0);
  pair_clear(&pair);
}

/* Messages on streams no channel uses, of every PPID. */
static void
test_data_without_channel(void)
{
  static const uint32_t ppids[] = {
    P2PSIG_PPID_STRING, P2PSIG_PPID_BINARY, P2PSIG_PPID_STRING_EMPTY,
    P2PSIG_PPID_BINARY_EMPTY, 0, 52, 54,
  };
  static const uint16_t sids[] = { 0, 2, 3, 11, 1023, 2047 };
  struct pair pair;

  pair_connect(&pair);
  for (size_t s = 0; s < G_N_ELEMENTS(sids); s++)
    for (size_t p = 0; p < G_N_ELEMENTS(ppids); p++)
      g_assert_cmpint(hostile_send(pair.attacker.peer, sids[s], ppids[p],
                                   "bogus", 5), ==, 0);
  check_alive(&pair, 0, 0);
  g_assert_cmpuint(hostile_channel_count(pair.victim.peer), ==, 1);
  pair_clear(&pair);
}

/* PPIDs that RFC 8831 does not give a data channel, or deprecated ones, on
 * the normal channel: dropped, the channel stays. */
static void
test_unknown_ppid(void)
{
  static const uint32_t ppids[] = { 0, 1, 52, 54, 55, 58, 1000, 0xffffffffu };
  struct pair pair;

  pair_connect(&pair);
  for (size_t p = 0; p < G_N_ELEMENTS(ppids); p++)
    g_assert_cmpint(hostile_send(pair.attacker.peer, pair.sid, ppids[p],
                                 "bogus", 5), ==, 0);
  check_alive(&pair, 0, 0);
  pair_clear(&pair);
}

/* A second OPEN on the normal channel's stream, and one on a stream that a
 * remote OPEN took just before: both ignored, no ACK, nothing closed. */
static void
test_open_in_use(void)
{
  struct pair pair;

  pair_connect(&pair);
  g_assert_cmpint(hostile_send_open(pair.attacker.peer, pair.sid, 4, 0), ==,
                  0);
  g_assert_cmpint(hostile_send_open(pair.attacker.peer, 301, 5, 0), ==, 0);
  g_assert_cmpint(hostile_send_open(pair.attacker.peer, 301, 6, 3), ==, 0);
  TESTUTIL_WAIT(pair.victim_rec.channels == 2, WAIT_MS, "the OPEN on 301");
  check_alive(&pair, 0, 1);
  testutil_lock();
  g_assert_cmpstr(p2psig_channel_get_label(pair.victim_rec.other), ==,
                  "abcde");
  g_assert_cmpint(pair.victim_rec.closes, ==, 0);
  testutil_unlock();
  g_assert_cmpuint(hostile_channel_count(pair.victim.peer), ==, 2);
  check_alive(&pair, 0, 1);
  pair_clear(&pair);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/hostile/oversize", test_oversize);
  g_test_add_func("/hostile/oversize/pieces", test_oversize_pieces);
  g_test_add_func("/hostile/open-flood", test_open_flood);
  g_test_add_func("/hostile/open-flood/api", test_open_flood_api);
  g_test_add_func("/hostile/malformed-dcep", test_malformed_dcep);
  g_test_add_func("/hostile/reset-unopened", test_reset_unopened);
  g_test_add_func("/hostile/data-without-channel",
                  test_data_without_channel);
  g_test_add_func("/hostile/unknown-ppid", test_unknown_ppid);
  g_test_add_func("/hostile/open-in-use", test_open_in_use);
  return g_test_run();
}
