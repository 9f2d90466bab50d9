/* SPDX-License-Identifier: MIT */
/*
 * What a peer tells about itself, two peers over 127.0.0.1: the ICE
 * gathering and connection states (callbacks, in order, and getters), the
 * local and remote descriptions, and a close by the remote reported as
 * such, promptly (its SCTP ABORT, or a DTLS close_notify alone, forged
 * through the internals).
 */
#include <gio/gio.h>
#include <p2psig/p2psig.h>
#include <string.h>

#include "peer-private.h"
#include "testutil.h"

static void
connect_pair(struct testutil_side *offer, struct testutil_side *answer)
{
  testutil_side_init(offer, "offer", answer, NULL);
  testutil_side_init(answer, "answer", offer, NULL);
  testutil_side_channel(offer, "data", NULL);
  testutil_negotiate(offer, answer, NULL, NULL);
  TESTUTIL_WAIT(offer->opened == 1 && answer->opened == 1, 10000,
                "channels open");
}

/* The position of word in the side's log (lock held), or fails. */
static gssize
log_position(const struct testutil_side *side, const char *word)
{
  g_autofree char *spaced = g_strdup_printf("%s ", word);
  const char *at = strstr(side->log->str, spaced);

  if (!at)
    g_error("%s: no \"%s\" in the log: %s", side->name, word,
            side->log->str);
  return at - side->log->str;
}

static void
test_ice_states(void)
{
  struct testutil_side offer, answer;
  struct testutil_side *sides[] = { &offer, &answer };

  testutil_side_init(&offer, "offer", &answer, NULL);
  testutil_side_init(&answer, "answer", &offer, NULL);
  g_assert_cmpint(p2psig_peer_get_ice_gathering_state(offer.peer), ==,
                  P2PSIG_ICE_GATHERING_NEW);
  g_assert_cmpint(p2psig_peer_get_ice_connection_state(offer.peer), ==,
                  P2PSIG_ICE_CONNECTION_NEW);
  g_assert_cmpint(p2psig_peer_get_ice_gathering_state(NULL), ==,
                  P2PSIG_ICE_GATHERING_NEW);
  g_assert_cmpint(p2psig_peer_get_ice_connection_state(NULL), ==,
                  P2PSIG_ICE_CONNECTION_CLOSED);
  testutil_open_pair(&offer, &answer);
  TESTUTIL_WAIT(offer.gathering_done == 1 && answer.gathering_done == 1,
                12000, "end of candidates");

  for (size_t i = 0; i < G_N_ELEMENTS(sides); i++) {
    struct testutil_side *s = sides[i];
    p2psig_ice_connection_state ice;

    ice = p2psig_peer_get_ice_connection_state(s->peer);
    testutil_lock();
    g_test_message("%s: %s", s->name, s->log->str);
    /* Gathering: gathering before the first candidate, complete just
     * before the end of candidates. */
    g_assert_cmpint(log_position(s, "gathering:gathering"), <,
                    log_position(s, "candidate"));
    g_assert_cmpint(log_position(s, "gathering:complete"), <,
                    log_position(s, "end-of-candidates"));
    g_assert_nonnull(strstr(s->log->str,
                            "gathering:complete end-of-candidates "));
    g_assert_cmpint(s->ice_gathering_state, ==,
                    P2PSIG_ICE_GATHERING_COMPLETE);
    /* ICE: checking, then connected, each before the peer state it
     * brings (W3C order). */
    g_assert_cmpint(log_position(s, "ice:checking"), <,
                    log_position(s, "state:connecting"));
    g_assert_cmpint(log_position(s, "ice:connected"), <,
                    log_position(s, "state:connected"));
    g_assert_true(s->ice_connection_state == P2PSIG_ICE_CONNECTION_CONNECTED ||
                  s->ice_connection_state == P2PSIG_ICE_CONNECTION_COMPLETED);
    testutil_unlock();
    g_assert_true(ice == P2PSIG_ICE_CONNECTION_CONNECTED ||
                  ice == P2PSIG_ICE_CONNECTION_COMPLETED);
    g_assert_cmpint(p2psig_peer_get_ice_gathering_state(s->peer), ==,
                    P2PSIG_ICE_GATHERING_COMPLETE);
  }

  /* Closed: ICE closed, before the peer's closed state. */
  p2psig_peer_close(offer.peer);
  TESTUTIL_WAIT(offer.closed_state_count == 1, 5000, "offer closed");
  testutil_lock();
  g_assert_cmpint(offer.ice_connection_state, ==,
                  P2PSIG_ICE_CONNECTION_CLOSED);
  g_assert_cmpint(log_position(&offer, "ice:closed"), <,
                  log_position(&offer, "state:closed"));
  g_assert_cmpint(offer.state_error, ==, 0);
  testutil_unlock();
  g_assert_cmpint(p2psig_peer_get_ice_connection_state(offer.peer), ==,
                  P2PSIG_ICE_CONNECTION_CLOSED);
  g_assert_cmpstr(p2psig_ice_connection_state_name(
                    P2PSIG_ICE_CONNECTION_COMPLETED), ==, "completed");
  g_assert_cmpstr(p2psig_ice_gathering_state_name(
                    P2PSIG_ICE_GATHERING_GATHERING), ==, "gathering");
  g_assert_cmpstr(p2psig_ice_gathering_state_name(99), ==, "unknown");
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* The remote's p2psig_peer_close() (an SCTP ABORT, then a DTLS
 * close_notify) closes this side within well under a second, channels
 * first, with a reason of its own: not disconnected, nor failed 30 s
 * later. */
static void
test_closed_by_remote(void)
{
  struct testutil_side offer, answer;
  gint64 start, elapsed_ms;
  char *sdp = NULL;

  connect_pair(&offer, &answer);
  start = g_get_monotonic_time();
  p2psig_peer_close(offer.peer);
  TESTUTIL_WAIT(answer.closed_state_count == 1, 5000, "answer closed");
  elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("closed by the remote after %" G_GINT64_FORMAT " ms",
                 elapsed_ms);
  g_assert_cmpint(elapsed_ms, <, 1000);
  testutil_lock();
  g_assert_cmpint(answer.state_error, ==, P2PSIG_ECLOSED_BY_REMOTE);
  g_assert_cmpint(answer.closed, ==, 1);
  g_assert_cmpint(answer.failed_count, ==, 0);
  g_assert_null(strstr(answer.log->str, "state:disconnected"));
  g_assert_cmpint(log_position(&answer, "close"), <,
                  log_position(&answer, "state:closed"));
  g_assert_cmpint(log_position(&answer, "ice:closed"), <,
                  log_position(&answer, "state:closed"));
  /* The side that closed says it closed itself. */
  g_assert_cmpint(offer.state_error, ==, 0);
  testutil_unlock();
  g_assert_cmpint(p2psig_peer_get_state(answer.peer), ==,
                  P2PSIG_STATE_CLOSED);
  /* As after p2psig_peer_close(): nothing more to do on it. */
  g_assert_cmpint(p2psig_peer_create_offer(answer.peer, &sdp), ==,
                  P2PSIG_ECLOSED);
  g_assert_cmpstr(p2psig_error_name(P2PSIG_ECLOSED_BY_REMOTE), ==,
                  "P2PSIG_ECLOSED_BY_REMOTE");
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* A remote that sends only a DTLS close_notify (and keeps its SCTP
 * association) has closed too. */
static void
test_close_notify_alone(void)
{
  struct testutil_side offer, answer;
  gint64 start, elapsed_ms;

  connect_pair(&offer, &answer);
  start = g_get_monotonic_time();
  p2psig__lock(offer.peer->loop);
  p2psig__dtls_shutdown(offer.peer->dtls);
  p2psig__unlock(offer.peer->loop);
  TESTUTIL_WAIT(answer.closed_state_count == 1, 5000, "answer closed");
  elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_assert_cmpint(elapsed_ms, <, 1000);
  testutil_lock();
  g_assert_cmpint(answer.state_error, ==, P2PSIG_ECLOSED_BY_REMOTE);
  g_assert_cmpint(answer.closed, ==, 1);
  testutil_unlock();
  /* The answer answered with its own close_notify: the offer, which
   * only sent one, is closed by the remote now. */
  TESTUTIL_WAIT(offer.closed_state_count == 1, 5000, "offer closed");
  testutil_lock();
  g_assert_cmpint(offer.state_error, ==, P2PSIG_ECLOSED_BY_REMOTE);
  g_assert_cmpint(offer.closed, ==, 1);
  testutil_unlock();
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* The line of sdp that starts with prefix, without its line end; g_free. */
static char *
sdp_line(const char *sdp, const char *prefix)
{
  const char *at = strstr(sdp, prefix);

  g_assert_nonnull(at);
  return g_strndup(at, strcspn(at, "\r\n"));
}

static void
test_descriptions(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL, *sdp = NULL;
  char *restart_sdp = NULL;
  p2psig_sdp_type type = 99;

  testutil_side_init(&offer, "offer", &answer, NULL);
  testutil_side_init(&answer, "answer", &offer, NULL);
  /* Nothing yet: a clear error, and *sdp is NULL. */
  sdp = (char *)"x";
  g_assert_cmpint(p2psig_peer_get_local_description(offer.peer, &type,
                                                    &sdp), ==,
                  P2PSIG_ESTATE);
  g_assert_null(sdp);
  sdp = (char *)"x";
  g_assert_cmpint(p2psig_peer_get_remote_description(offer.peer, NULL,
                                                     &sdp), ==,
                  P2PSIG_ESTATE);
  g_assert_null(sdp);
  g_assert_cmpint(p2psig_peer_get_local_description(offer.peer, NULL,
                                                    NULL), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpint(p2psig_peer_get_remote_description(NULL, NULL, &sdp), ==,
                  P2PSIG_EINVAL);

  testutil_side_channel(&offer, "data", NULL);
  testutil_negotiate(&offer, &answer, &offer_sdp, &answer_sdp);
  /* The remote description is the text as given. */
  g_assert_cmpint(p2psig_peer_get_remote_description(answer.peer, &type,
                                                     &sdp), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_OFFER);
  g_assert_cmpstr(sdp, ==, offer_sdp);
  p2psig_free(sdp);
  g_assert_cmpint(p2psig_peer_get_remote_description(offer.peer, &type,
                                                     &sdp), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_ANSWER);
  g_assert_cmpstr(sdp, ==, answer_sdp);
  p2psig_free(sdp);

  TESTUTIL_WAIT(offer.opened == 1 && answer.opened == 1, 10000,
                "channels open");
  TESTUTIL_WAIT(offer.gathering_done == 1 && answer.gathering_done == 1,
                12000, "end of candidates");
  /* The local description is the one made, with the same o= line, and
   * every candidate gathered since (trickled ones too). */
  g_assert_cmpint(p2psig_peer_get_local_description(offer.peer, &type,
                                                    &sdp), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_OFFER);
  {
    g_autofree char *made = sdp_line(offer_sdp, "o=");
    g_autofree char *now = sdp_line(sdp, "o=");
    g_autofree char *ufrag = sdp_line(offer_sdp, "a=ice-ufrag:");

    g_assert_cmpstr(made, ==, now);
    g_assert_nonnull(strstr(sdp, ufrag));
    g_assert_nonnull(strstr(sdp, "a=setup:actpass"));
  }
  testutil_lock();
  g_assert_cmpuint(offer.candidates->len, >=, 1);
  for (guint i = 0; i < offer.candidates->len; i++) {
    g_autofree char *line = g_strdup_printf("\r\na=%s\r\n",
                                            (char *)offer.candidates->pdata[i]);

    g_assert_nonnull(strstr(sdp, line));
  }
  testutil_unlock();
  p2psig_free(sdp);
  g_assert_cmpint(p2psig_peer_get_local_description(answer.peer, &type,
                                                    &sdp), ==, 0);
  g_assert_cmpint(type, ==, P2PSIG_SDP_ANSWER);
  g_assert_nonnull(strstr(sdp, "a=setup:active"));
  p2psig_free(sdp);

  /* After an ICE restart: the restart's offer, new credentials, the same
   * session and the next version; the answerer's remote is that offer. */
  g_assert_cmpint(p2psig_peer_restart_ice(offer.peer, &restart_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_get_local_description(offer.peer, NULL,
                                                    &sdp), ==, 0);
  {
    g_autofree char *old_ufrag = sdp_line(offer_sdp, "a=ice-ufrag:");
    g_autofree char *new_ufrag = sdp_line(restart_sdp, "a=ice-ufrag:");
    g_autofree char *now_ufrag = sdp_line(sdp, "a=ice-ufrag:");
    g_autofree char *o_first = sdp_line(offer_sdp, "o=");
    g_autofree char *o_restart = sdp_line(restart_sdp, "o=");
    g_auto(GStrv) first = g_strsplit(o_first, " ", -1);
    g_auto(GStrv) second = g_strsplit(o_restart, " ", -1);

    g_assert_cmpstr(old_ufrag, !=, new_ufrag);
    g_assert_cmpstr(now_ufrag, ==, new_ufrag);
    g_assert_cmpstr(first[1], ==, second[1]);
    g_assert_cmpuint(g_ascii_strtoull(second[2], NULL, 10), ==,
                     g_ascii_strtoull(first[2], NULL, 10) + 1);
  }
  p2psig_free(sdp);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, restart_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_get_remote_description(answer.peer, NULL,
                                                     &sdp), ==, 0);
  g_assert_cmpstr(sdp, ==, restart_sdp);
  p2psig_free(sdp);

  /* Still there once closed. */
  p2psig_peer_close(offer.peer);
  TESTUTIL_WAIT(offer.closed_state_count == 1, 5000, "offer closed");
  g_assert_cmpint(p2psig_peer_get_local_description(offer.peer, NULL,
                                                    &sdp), ==, 0);
  g_assert_nonnull(strstr(sdp, "a=fingerprint:sha-256 "));
  p2psig_free(sdp);
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  p2psig_free(restart_sdp);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/peer-state/ice-states", test_ice_states);
  g_test_add_func("/peer-state/closed-by-remote", test_closed_by_remote);
  g_test_add_func("/peer-state/close-notify-alone", test_close_notify_alone);
  g_test_add_func("/peer-state/descriptions", test_descriptions);
  return g_test_run();
}
