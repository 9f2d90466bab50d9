/* SPDX-License-Identifier: MIT */
/*
 * What a remote peer may make a peer hold through its signaling: remote ICE
 * candidates, trickled (p2psig_peer_add_candidate) or in the remote
 * description.  Floods of distinct, duplicate and huge candidates, before
 * and after the remote description, stay within P2PSIG_MAX_REMOTE_CANDIDATES,
 * and two real peers still connect promptly while one of them is flooded.
 *
 * Reads the peer's internals (peer-private.h) to see what it holds.
 */
#include <libsoup/soup.h>
#include <string.h>

#include "peer-private.h"
#include "sdp.h"
#include "testutil.h"

#define FLOOD 10000

/* A distinct, usable candidate for each n; extra bytes of unknown extension
 * attributes make it long (the parser skips them). */
static char *
flood_candidate(unsigned n, size_t extra)
{
  GString *s = g_string_new(NULL);

  g_string_printf(s, "candidate:%u 1 udp 2130706431 10.%u.%u.%u %u typ host",
                  n, (n >> 16) & 255, (n >> 8) & 255, n & 255,
                  1024 + n % 60000);
  if (extra > 0) {
    g_string_append(s, " x-pad ");
    while (extra-- > 0)
      g_string_append_c(s, 'a' + (char)(extra % 26));
  }
  return g_string_free(s, FALSE);
}

struct held {
  guint pending;
  guint keys;
  unsigned trickled;
  guint sdp_texts;
};

static struct held
held_by(p2psig_peer *peer)
{
  struct held h;

  p2psig__lock(peer->loop);
  h.pending = peer->pending_candidates->len;
  h.keys = g_hash_table_size(peer->remote_candidate_keys);
  h.trickled = peer->trickled_candidates;
  h.sdp_texts = peer->remote.candidates->len;
  p2psig__unlock(peer->loop);
  return h;
}

/* Adds n distinct candidates from first, each followed by a copy of an
 * earlier one; returns how many were taken (0) and checks that the others
 * got P2PSIG_ELIMIT and every copy 0. */
static unsigned
flood(p2psig_peer *peer, unsigned first, unsigned n, size_t extra)
{
  unsigned taken = 0;
  gint64 start = g_get_monotonic_time();

  for (unsigned i = 0; i < n; i++) {
    g_autofree char *c = flood_candidate(first + i, extra);
    g_autofree char *copy = flood_candidate(first + i / 2, extra);
    int rc = p2psig_peer_add_candidate(peer, c);

    g_assert_true(rc == 0 || rc == P2PSIG_ELIMIT);
    taken += rc == 0;
    /* A copy of one taken is ignored, a copy of one refused refused. */
    rc = p2psig_peer_add_candidate(peer, copy);
    g_assert_true(rc == 0 || rc == P2PSIG_ELIMIT);
  }
  g_test_message("%u candidates (%zu bytes more each) and as many copies "
                 "in %.0f ms: %u taken", n, extra,
                 (g_get_monotonic_time() - start) / 1000.0, taken);
  return taken;
}

static void
test_trickled(void)
{
  struct testutil_side offer, answer, late;
  char *offer_sdp = NULL;
  struct held h;
  g_autofree char *c0 = flood_candidate(0, 0);
  g_autofree char *c99 = flood_candidate(99, 0);

  testutil_side_init(&offer, NULL, NULL, NULL);
  testutil_side_init(&answer, NULL, NULL, NULL);
  testutil_side_init(&late, NULL, NULL, NULL);

  /* Before the remote description: held, parsed, the first 100 only. */
  g_assert_cmpuint(flood(answer.peer, 0, FLOOD, 0), ==,
                   P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpint(p2psig_peer_add_candidate(answer.peer, c0), ==, 0);
  h = held_by(answer.peer);
  g_assert_cmpuint(h.pending, ==, P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(h.keys, ==, P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(h.trickled, ==, P2PSIG_MAX_REMOTE_CANDIDATES);
  /* Huge ones cost no more than small ones: nothing new is taken. */
  g_assert_cmpuint(flood(answer.peer, FLOOD, 200, 64 * 1024), ==, 0);
  g_assert_cmpuint(held_by(answer.peer).pending, ==,
                   P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpint(p2psig_peer_add_candidate(answer.peer, c99), ==, 0);
  g_assert_cmpstr(p2psig_error_name(P2PSIG_ELIMIT), ==, "P2PSIG_ELIMIT");
  g_assert_cmpstr(p2psig_strerror(P2PSIG_ELIMIT), ==, "limit reached");

  /* The description applies them and the held copies go. */
  g_assert_cmpint(p2psig_peer_create_offer(offer.peer, &offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  h = held_by(answer.peer);
  g_assert_cmpuint(h.pending, ==, 0);
  g_assert_cmpuint(h.sdp_texts, ==, 0);
  g_assert_cmpuint(h.keys, <=, 2 * P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(h.keys, >, P2PSIG_MAX_REMOTE_CANDIDATES); /* + offer's */

  /* After it: still the same limit, copies still ignored. */
  g_assert_cmpuint(flood(answer.peer, 2 * FLOOD, FLOOD, 0), ==, 0);
  g_assert_cmpint(p2psig_peer_add_candidate(answer.peer, c0), ==, 0);
  g_assert_cmpuint(held_by(answer.peer).keys, ==, h.keys);

  /* A peer flooded only after its remote description: the first 100 go to
   * libnice, at once and promptly, the others are refused. */
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    late.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpuint(flood(late.peer, 0, FLOOD, 0), ==,
                   P2PSIG_MAX_REMOTE_CANDIDATES);
  h = held_by(late.peer);
  g_assert_cmpuint(h.pending, ==, 0);
  g_assert_cmpuint(h.trickled, ==, P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(h.keys, <=, 2 * P2PSIG_MAX_REMOTE_CANDIDATES);

  p2psig_free(offer_sdp);
  testutil_side_clear(&late);
  testutil_side_clear(&answer);
  testutil_side_clear(&offer);
}

/* Adds FLOOD candidate lines to the media section of sdp. */
static char *
sdp_with_candidates(const char *sdp, unsigned first)
{
  GString *s = g_string_new(sdp);

  for (unsigned i = 0; i < FLOOD; i++) {
    g_autofree char *c = flood_candidate(first + i, 0);

    g_string_append_printf(s, "a=%s\r\n", c);
  }
  return g_string_free(s, FALSE);
}

/* The public API takes an SDP of any size: its candidates are bounded too,
 * and trickled copies of them cost nothing. */
static void
test_in_description(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL;
  g_autofree char *big = NULL;
  g_autofree char *c5 = flood_candidate(5, 0);
  struct p2psig_sdp_remote remote;
  g_autofree char *detail = NULL;
  struct held h;

  testutil_side_init(&offer, NULL, NULL, NULL);
  testutil_side_init(&answer, NULL, NULL, NULL);
  g_assert_cmpint(p2psig_peer_create_offer(offer.peer, &offer_sdp), ==, 0);
  big = sdp_with_candidates(offer_sdp, 0);

  g_assert_cmpint(p2psig__sdp_parse(big, &remote, &detail), ==, 0);
  g_assert_cmpuint(remote.candidates->len, ==, P2PSIG_MAX_REMOTE_CANDIDATES);
  p2psig__sdp_remote_clear(&remote);

  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, big), ==, 0);
  h = held_by(answer.peer);
  g_assert_cmpuint(h.keys, <=, P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(h.sdp_texts, ==, 0);
  /* A copy of one the description carried is not counted. */
  g_assert_cmpint(p2psig_peer_add_candidate(answer.peer, c5), ==, 0);
  g_assert_cmpuint(held_by(answer.peer).trickled, ==, 0);
  g_assert_cmpuint(flood(answer.peer, FLOOD, FLOOD, 0), ==,
                   P2PSIG_MAX_REMOTE_CANDIDATES);

  p2psig_free(offer_sdp);
  testutil_side_clear(&answer);
  testutil_side_clear(&offer);
}

/* ---- a real pair, one of them flooded meanwhile ---- */

struct flooder {
  p2psig_peer *peer;
  gint stop;
  unsigned calls, taken, refused;
};

static gpointer
flood_thread(gpointer data)
{
  struct flooder *f = data;

  for (unsigned n = 0; !g_atomic_int_get(&f->stop); n++) {
    g_autofree char *c = flood_candidate(n & 1 ? n : n / 4, 0);
    int rc = p2psig_peer_add_candidate(f->peer, c);

    g_assert_true(rc == 0 || rc == P2PSIG_ELIMIT);
    f->calls++;
    f->taken += rc == 0;
    f->refused += rc == P2PSIG_ELIMIT;
  }
  return NULL;
}

/* The offer trickles to the flooded answer, whose limit the flood may have
 * reached: its host candidates are in its offer all the same. */
static void
on_candidate_to_flooded(p2psig_peer *peer, const char *candidate,
                        void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  if (!candidate) {
    side->gathering_done++;
  } else if (side->other && !side->other->freed && side->other->peer) {
    int rc = p2psig_peer_add_candidate(side->other->peer, candidate);

    g_assert_true(rc == 0 || rc == P2PSIG_ELIMIT);
  }
  testutil_unlock();
}

static void
test_connect_while_flooded(void)
{
  struct testutil_side offer, answer;
  p2psig_peer_config offer_cfg = { P2PSIG_PEER_CONFIG_INIT,
                                   .on_candidate = on_candidate_to_flooded };
  struct flooder f = { 0 };
  GThread *thread;
  gint64 start, took;

  testutil_side_init(&offer, "offer", &answer, &offer_cfg);
  testutil_side_init(&answer, "answer", &offer, NULL);
  testutil_side_channel(&offer, "data", NULL);
  f.peer = answer.peer;
  thread = g_thread_new("flood", flood_thread, &f);
  /* Let the flood reach the limit before the description arrives. */
  while (held_by(answer.peer).trickled < P2PSIG_MAX_REMOTE_CANDIDATES)
    g_thread_yield();

  start = g_get_monotonic_time();
  testutil_negotiate(&offer, &answer, NULL, NULL);
  TESTUTIL_WAIT(offer.opened == 1 && answer.opened == 1, 10000,
                "channel open on both sides");
  took = g_get_monotonic_time() - start;
  g_atomic_int_set(&f.stop, 1);
  g_thread_join(thread);
  g_test_message("connected in %.0f ms while %u candidates were added "
                 "(%u taken, %u refused)", took / 1000.0, f.calls, f.taken,
                 f.refused);
  g_assert_cmpint(took, <, 3 * G_USEC_PER_SEC);
  g_assert_cmpuint(f.taken, >=, P2PSIG_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(f.refused, >, 0);
  g_assert_cmpuint(held_by(answer.peer).keys, <=,
                   2 * P2PSIG_MAX_REMOTE_CANDIDATES);

  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "hello"), ==, 0);
  TESTUTIL_WAIT(answer.messages->len == 1, 5000, "message");
  g_assert_cmpint(answer.failed_count, ==, 0);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* ---- through the signaling ---- */

static unsigned
post_candidate(uint16_t port, const char *candidate, char **body)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options("timeout",
                                                                 10, NULL);
  g_autofree char *uri = g_strdup_printf("http://127.0.0.1:%u/candidate",
                                         port);
  g_autoptr(SoupMessage) msg = soup_message_new("POST", uri);
  g_autoptr(GBytes) request = g_bytes_new(candidate, strlen(candidate));
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GError) error = NULL;

  soup_session_set_proxy_resolver(session, NULL);
  soup_message_set_request_body_from_bytes(msg, "text/plain", request);
  response = soup_session_send_and_read(session, msg, NULL, &error);
  g_assert_no_error(error);
  if (body)
    *body = g_strndup(g_bytes_get_data(response, NULL),
                      g_bytes_get_size(response));
  return soup_message_get_status(msg);
}

/* POST /candidate past the limit is answered 413 with a reason; a copy of
 * one taken is still 200. */
static void
test_signaling(void)
{
  struct testutil_side answer;
  p2psig_signaling_config config = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_ANSWER,
    .listen_address = "127.0.0.1:0",
    .remote_address = "127.0.0.1:9",
  };
  p2psig_signaling *sig;
  g_autofree char *body = NULL;
  g_autofree char *c0 = flood_candidate(0, 0);
  g_autofree char *over = flood_candidate(P2PSIG_MAX_REMOTE_CANDIDATES, 0);
  uint16_t port;
  int error = -1;

  testutil_side_init(&answer, NULL, NULL, NULL);
  sig = p2psig_signaling_new(answer.peer, &config, &error);
  g_assert_nonnull(sig);
  port = p2psig_signaling_get_port(sig);
  for (unsigned i = 0; i < P2PSIG_MAX_REMOTE_CANDIDATES; i++) {
    g_autofree char *c = flood_candidate(i, 0);

    g_assert_cmpuint(post_candidate(port, c, NULL), ==, 200);
  }
  g_assert_cmpuint(post_candidate(port, over, &body), ==, 413);
  g_assert_nonnull(strstr(body, "too many candidates"));
  g_assert_cmpuint(post_candidate(port, c0, NULL), ==, 200);
  g_assert_cmpuint(held_by(answer.peer).pending, ==,
                   P2PSIG_MAX_REMOTE_CANDIDATES);
  p2psig_signaling_free(sig);
  testutil_side_clear(&answer);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/limits/candidates/trickled", test_trickled);
  g_test_add_func("/limits/candidates/in-description", test_in_description);
  g_test_add_func("/limits/candidates/connect-while-flooded",
                  test_connect_while_flooded);
  g_test_add_func("/limits/candidates/signaling", test_signaling);
  return g_test_run();
}
