/* SPDX-License-Identifier: MIT */
/*
 * Two peers in one process over 127.0.0.1, wired to each other through the
 * public API only: offer/answer, trickled candidates (or only those in the
 * descriptions), a channel opened by the offerer, text, binary and empty
 * messages both ways, channel close, peer close.
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

struct message {
  p2psig_kind kind;
  GBytes *data;
};

struct side {
  const char *name;
  p2psig_peer *peer;
  struct side *other;
  GMutex lock;
  p2psig_state state;
  int connected_count;
  int failed_count;
  int closed_state_count;
  int gathering_done;
  bool no_trickle;     /* keep the candidates, do not pass them on */
  GPtrArray *candidates_seen;
  int opened;
  int closed;
  p2psig_channel *channel;
  GPtrArray *messages; /* struct message */
};

static void
message_free(gpointer p)
{
  struct message *m = p;

  g_bytes_unref(m->data);
  g_free(m);
}

static void
on_candidate(p2psig_peer *peer, const char *candidate, void *user_data)
{
  struct side *side = user_data;

  if (!candidate) {
    g_mutex_lock(&side->lock);
    side->gathering_done++;
    g_mutex_unlock(&side->lock);
    return;
  }
  g_assert_true(g_str_has_prefix(candidate, "candidate:"));
  if (side->no_trickle) {
    g_mutex_lock(&side->lock);
    g_ptr_array_add(side->candidates_seen, g_strdup(candidate));
    g_mutex_unlock(&side->lock);
    return;
  }
  /* The other peer holds candidates that come before its remote
   * description; this also tests that. */
  g_assert_cmpint(p2psig_peer_add_candidate(side->other->peer, candidate),
                  ==, 0);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = user_data;

  g_test_message("%s: state %s (%s)", side->name, p2psig_state_name(state),
                 p2psig_strerror(error));
  g_mutex_lock(&side->lock);
  /* States come in order, without repeats. */
  g_assert_cmpint(state, !=, side->state);
  side->state = state;
  side->connected_count += state == P2PSIG_STATE_CONNECTED;
  side->failed_count += state == P2PSIG_STATE_FAILED;
  side->closed_state_count += state == P2PSIG_STATE_CLOSED;
  g_mutex_unlock(&side->lock);
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  g_mutex_lock(&side->lock);
  g_assert_null(side->channel);
  side->channel = channel;
  g_mutex_unlock(&side->lock);
  g_assert_cmpstr(p2psig_channel_get_label(channel), ==, "data");
  g_assert_cmpstr(p2psig_channel_get_protocol(channel), ==, "proto");
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  g_mutex_lock(&side->lock);
  g_assert_true(side->channel == channel);
  side->opened++;
  g_mutex_unlock(&side->lock);
  g_assert_true(p2psig_channel_is_open(channel));
  g_assert_cmpint(p2psig_channel_get_id(channel), >=, 0);
}

static void
on_close(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  g_mutex_lock(&side->lock);
  g_assert_true(side->channel == channel);
  side->closed++;
  g_mutex_unlock(&side->lock);
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = user_data;
  struct message *m = g_new(struct message, 1);

  m->kind = kind;
  m->data = g_bytes_new(data, len);
  g_mutex_lock(&side->lock);
  g_ptr_array_add(side->messages, m);
  g_mutex_unlock(&side->lock);
}

/* ICE servers for the next pair; tests that need them set this. */
static const char *const *test_ice_servers;
/* The next pair passes no candidates on when set. */
static bool test_no_trickle;

static void
side_init(struct side *side, const char *name, struct side *other)
{
  static const char *const loopback[] = { "127.0.0.1", NULL };
  p2psig_peer_config cfg = {
    P2PSIG_PEER_CONFIG_INIT,
    .ice_servers = test_ice_servers,
    .local_addresses = loopback,
    .on_candidate = on_candidate,
    .on_state = on_state,
    .on_channel = on_channel,
    .on_open = on_open,
    .on_close = on_close,
    .on_message = on_message,
    .user_data = side,
  };
  int error = -1;

  memset(side, 0, sizeof *side);
  side->name = name;
  side->other = other;
  g_mutex_init(&side->lock);
  side->messages = g_ptr_array_new_with_free_func(message_free);
  side->no_trickle = test_no_trickle;
  side->candidates_seen = g_ptr_array_new_with_free_func(g_free);
  side->peer = p2psig_peer_new(&cfg, &error);
  g_assert_nonnull(side->peer);
  g_assert_cmpint(error, ==, 0);
}

static void
side_clear(struct side *side)
{
  p2psig_peer_free(side->peer);
  g_ptr_array_unref(side->messages);
  g_ptr_array_unref(side->candidates_seen);
  g_mutex_clear(&side->lock);
}

#define SIDE_CHECK(name, expr)                       \
  static bool name(void *data)                       \
  {                                                  \
    struct side *side = data;                        \
    bool ok;                                         \
    g_mutex_lock(&side->lock);                       \
    ok = (expr);                                     \
    g_mutex_unlock(&side->lock);                     \
    return ok;                                       \
  }

SIDE_CHECK(is_open, side->opened == 1)
SIDE_CHECK(is_closed, side->closed == 1)
SIDE_CHECK(has_three_messages, side->messages->len >= 3)
SIDE_CHECK(is_closed_state, side->closed_state_count == 1)

static void
connect_pair(struct side *offer, struct side *answer)
{
  p2psig_channel_config ccfg = { P2PSIG_CHANNEL_CONFIG_INIT,
                                 .protocol = "proto" };
  char *offer_sdp = NULL, *answer_sdp = NULL;
  int error = -1;

  side_init(offer, "offer", answer);
  side_init(answer, "answer", offer);
  offer->channel = p2psig_peer_create_channel(offer->peer, "data", &ccfg,
                                              &error);
  g_assert_nonnull(offer->channel);
  g_assert_cmpint(error, ==, 0);
  g_assert_cmpint(p2psig_channel_send_text(offer->channel, "early"), ==,
                  P2PSIG_ESTATE);

  g_assert_cmpint(p2psig_peer_create_offer(offer->peer, &offer_sdp), ==, 0);
  g_assert_nonnull(strstr(offer_sdp, "a=setup:actpass"));
  g_assert_cmpint(p2psig_peer_create_offer(offer->peer, &answer_sdp), ==,
                  P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer->peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer->peer, &answer_sdp), ==,
                  0);
  g_assert_nonnull(strstr(answer_sdp, "a=setup:active"));
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer->peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);

  testutil_wait_for(is_open, offer, 10000, "offer channel open");
  testutil_wait_for(is_open, answer, 10000, "answer channel open");
  g_assert_cmpint(offer->connected_count, ==, 1);
  g_assert_cmpint(answer->connected_count, ==, 1);
  /* The offerer is the DTLS server here: it opens odd stream ids. */
  g_assert_cmpint(p2psig_channel_get_id(offer->channel) % 2, ==, 1);
  g_assert_cmpint(p2psig_channel_get_id(offer->channel), ==,
                  p2psig_channel_get_id(answer->channel));
}

static void
send_three(struct side *from)
{
  static const uint8_t binary[] = { 0, 1, 2, 255, 0 };

  g_assert_cmpint(p2psig_channel_send_text(from->channel, from->name), ==,
                  0);
  g_assert_cmpint(p2psig_channel_send(from->channel, binary, sizeof binary,
                                      P2PSIG_KIND_BINARY), ==, 0);
  g_assert_cmpint(p2psig_channel_send(from->channel, NULL, 0,
                                      P2PSIG_KIND_TEXT), ==, 0);
}

static void
check_three(struct side *to)
{
  static const uint8_t binary[] = { 0, 1, 2, 255, 0 };
  struct message *m;
  gsize len;
  const char *data;

  g_assert_cmpuint(to->messages->len, ==, 3);
  m = to->messages->pdata[0];
  data = g_bytes_get_data(m->data, &len);
  g_assert_cmpint(m->kind, ==, P2PSIG_KIND_TEXT);
  g_assert_cmpmem(data, len, to->other->name, strlen(to->other->name));
  m = to->messages->pdata[1];
  data = g_bytes_get_data(m->data, &len);
  g_assert_cmpint(m->kind, ==, P2PSIG_KIND_BINARY);
  g_assert_cmpmem(data, len, binary, sizeof binary);
  m = to->messages->pdata[2];
  g_assert_cmpint(m->kind, ==, P2PSIG_KIND_TEXT);
  g_assert_cmpuint(g_bytes_get_size(m->data), ==, 0);
}

static void
test_exchange(void)
{
  struct side offer, answer;

  connect_pair(&offer, &answer);
  send_three(&offer);
  send_three(&answer);
  testutil_wait_for(has_three_messages, &answer, 5000, "answer messages");
  testutil_wait_for(has_three_messages, &offer, 5000, "offer messages");
  check_three(&answer);
  check_three(&offer);

  /* Closing from one side closes the channel on both. */
  g_assert_cmpint(p2psig_channel_close(offer.channel), ==, 0);
  testutil_wait_for(is_closed, &offer, 5000, "offer on_close");
  testutil_wait_for(is_closed, &answer, 5000, "answer on_close");

  p2psig_peer_close(offer.peer);
  testutil_wait_for(is_closed_state, &offer, 5000, "offer closed state");
  g_assert_cmpint(offer.failed_count, ==, 0);
  g_assert_cmpint(answer.failed_count, ==, 0);
  side_clear(&offer);
  side_clear(&answer);
}

static void
test_peer_close_closes_channels(void)
{
  struct side offer, answer;

  connect_pair(&offer, &answer);
  p2psig_peer_close(answer.peer);
  testutil_wait_for(is_closed, &answer, 5000, "answer on_close");
  testutil_wait_for(is_closed_state, &answer, 5000, "answer closed state");
  /* The far side closed cleanly: the near one sees its channel close
   * promptly (SCTP abort, DTLS close_notify), not after a timeout. */
  testutil_wait_for(is_closed, &offer, 1000, "offer on_close");
  g_assert_cmpint(offer.failed_count, ==, 0);
  /* Sending after close is an error, never a crash. */
  g_assert_cmpint(p2psig_peer_create_offer(answer.peer, &(char *){ NULL }),
                  ==, P2PSIG_ECLOSED);
  side_clear(&offer);
  side_clear(&answer);
}

/* A STUN server that never answers (a closed port on loopback, found by a
 * hostname resolved in the background) must not delay the connection over
 * host candidates. */
static void
test_unreachable_stun(void)
{
  static const char *const servers[] = { "stun:localhost:9",
                                         "stun:127.0.0.1:9", NULL };
  struct side offer, answer;
  gint64 start = g_get_monotonic_time();
  gint64 elapsed_ms;

  test_ice_servers = servers;
  connect_pair(&offer, &answer);
  test_ice_servers = NULL;
  elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("channel open after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint(elapsed_ms, <, 1000);
  side_clear(&offer);
  side_clear(&answer);
}

SIDE_CHECK(is_failed, side->failed_count == 1)
SIDE_CHECK(gathering_reported, side->gathering_done == 1)

/* Each description carries the candidates gathered before it: two peers
 * that pass no candidates on still connect, and what on_candidate reports
 * later is what the description holds. */
static void
test_candidates_in_description(void)
{
  struct side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL;
  struct side *sides[] = { &offer, &answer };

  test_no_trickle = true;
  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  test_no_trickle = false;
  offer.channel = p2psig_peer_create_channel(
    offer.peer, "data",
    &(p2psig_channel_config){ P2PSIG_CHANNEL_CONFIG_INIT, .protocol = "proto" },
    NULL);
  g_assert_cmpint(p2psig_peer_create_offer(offer.peer, &offer_sdp), ==, 0);
  g_assert_nonnull(strstr(offer_sdp, "\r\na=candidate:"));
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer.peer, &answer_sdp), ==,
                  0);
  g_assert_nonnull(strstr(answer_sdp, "\r\na=candidate:"));
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);

  testutil_wait_for(is_open, &offer, 10000, "offer channel open");
  testutil_wait_for(is_open, &answer, 10000, "answer channel open");
  for (size_t i = 0; i < G_N_ELEMENTS(sides); i++) {
    const char *sdp = sides[i] == &offer ? offer_sdp : answer_sdp;

    testutil_wait_for(gathering_reported, sides[i], 5000, "end of candidates");
    g_mutex_lock(&sides[i]->lock);
    g_assert_cmpuint(sides[i]->candidates_seen->len, >=, 1);
    for (guint j = 0; j < sides[i]->candidates_seen->len; j++) {
      g_autofree char *line =
        g_strdup_printf("\r\na=%s\r\n",
                        (char *)sides[i]->candidates_seen->pdata[j]);

      g_assert_nonnull(strstr(sdp, line));
    }
    g_mutex_unlock(&sides[i]->lock);
  }
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  side_clear(&offer);
  side_clear(&answer);
}

/* The offer's copy of the answer's fingerprint is forged: the DTLS
 * handshake completes cryptographically but the certificate does not match,
 * so the offer must fail and deliver nothing. */
static void
test_fingerprint_mismatch(void)
{
  struct side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL;
  char *fp;

  side_init(&offer, "offer", &answer);
  side_init(&answer, "answer", &offer);
  offer.channel = p2psig_peer_create_channel(offer.peer, "data", NULL, NULL);
  g_assert_cmpint(p2psig_peer_create_offer(offer.peer, &offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer.peer, &answer_sdp), ==,
                  0);
  fp = strstr(answer_sdp, "a=fingerprint:sha-256 ");
  g_assert_nonnull(fp);
  fp += strlen("a=fingerprint:sha-256 ");
  fp[0] = fp[0] == 'A' ? 'B' : 'A';
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);

  testutil_wait_for(is_failed, &offer, 10000, "offer failed");
  g_mutex_lock(&offer.lock);
  g_assert_cmpint(offer.connected_count, ==, 0);
  g_assert_cmpint(offer.opened, ==, 0);
  g_mutex_unlock(&offer.lock);
  /* The offer's alert makes the answer fail as well. */
  testutil_wait_for(is_failed, &answer, 10000, "answer failed");
  g_mutex_lock(&answer.lock);
  g_assert_cmpint(answer.opened, ==, 0);
  g_assert_cmpuint(answer.messages->len, ==, 0);
  g_mutex_unlock(&answer.lock);
  side_clear(&offer);
  side_clear(&answer);
}

static void
test_bad_arguments(void)
{
  int error = 0;
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  static const char *const bad_servers[] = { "stun:", NULL };
  char *sdp = NULL;
  p2psig_peer *peer;

  g_assert_null(p2psig_peer_new(NULL, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  cfg.ice_servers = bad_servers;
  g_assert_null(p2psig_peer_new(&cfg, &error));
  g_assert_cmpint(error, ==, P2PSIG_EADDRESS);
  p2psig_peer_free(NULL);

  cfg.ice_servers = NULL;
  peer = p2psig_peer_new(&cfg, &error);
  g_assert_nonnull(peer);
  g_assert_cmpint(p2psig_peer_create_answer(peer, &sdp), ==, P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_peer_set_remote_description(peer, P2PSIG_SDP_OFFER,
                                                     "v=0\r\n"),
                  ==, P2PSIG_ESDP);
  g_assert_cmpint(p2psig_peer_add_candidate(peer, "candidate:bogus"), ==,
                  P2PSIG_ECANDIDATE);
  g_assert_cmpint(p2psig_peer_add_candidate(peer, NULL), ==, P2PSIG_EINVAL);
  p2psig_peer_free(peer);
  g_assert_cmpstr(p2psig_strerror(P2PSIG_ETOOBIG), !=, "unknown error");
  g_assert_cmpstr(p2psig_strerror(-1000), ==, "unknown error");
  g_assert_cmpstr(p2psig_error_name(P2PSIG_EINVAL), ==, "P2PSIG_EINVAL");
  g_assert_cmpstr(p2psig_state_name(P2PSIG_STATE_CONNECTED), ==, "connected");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/peer/exchange", test_exchange);
  g_test_add_func("/peer/close-closes-channels",
                  test_peer_close_closes_channels);
  g_test_add_func("/peer/candidates-in-description",
                  test_candidates_in_description);
  g_test_add_func("/peer/unreachable-stun", test_unreachable_stun);
  g_test_add_func("/peer/fingerprint-mismatch", test_fingerprint_mismatch);
  g_test_add_func("/peer/bad-arguments", test_bad_arguments);
  return g_test_run();
}
