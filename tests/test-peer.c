/* SPDX-License-Identifier: MIT */
/*
 * Two peers in one process over 127.0.0.1, wired to each other through the
 * public API only: offer/answer, trickled candidates (or only those in the
 * descriptions), a channel opened by the offerer, text, binary and empty
 * messages both ways, channel close, peer close.
 */
#include <dirent.h>
#include <gio/gio.h>
#include <p2psig/p2psig.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "testutil.h"

/* Every channel here is the offer's "data", with protocol "proto". */
static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  g_assert_cmpstr(p2psig_channel_get_label(channel), ==, "data");
  g_assert_cmpstr(p2psig_channel_get_protocol(channel), ==, "proto");
  testutil_on_channel(peer, channel, user_data);
}

/* The configuration of every peer; tests that need ICE servers set them. */
static p2psig_peer_config config = { P2PSIG_PEER_CONFIG_INIT,
                                     .on_channel = on_channel };

static void
connect_pair(struct testutil_side *offer, struct testutil_side *answer)
{
  p2psig_channel_config ccfg = { P2PSIG_CHANNEL_CONFIG_INIT,
                                 .protocol = "proto" };
  char *offer_sdp = NULL, *answer_sdp = NULL;

  testutil_side_init(offer, "offer", answer, &config);
  testutil_side_init(answer, "answer", offer, &config);
  testutil_side_channel(offer, "data", &ccfg);
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

  TESTUTIL_WAIT(offer->opened == 1, 10000, "offer channel open");
  TESTUTIL_WAIT(answer->opened == 1, 10000, "answer channel open");
  g_assert_cmpint(offer->connected_count, ==, 1);
  g_assert_cmpint(answer->connected_count, ==, 1);
  /* The offerer is the DTLS server here: it opens odd stream ids. */
  g_assert_cmpint(p2psig_channel_get_id(offer->channel) % 2, ==, 1);
  g_assert_cmpint(p2psig_channel_get_id(offer->channel), ==,
                  p2psig_channel_get_id(answer->channel));
}

static void
send_three(struct testutil_side *from)
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
check_three(struct testutil_side *to)
{
  static const uint8_t binary[] = { 0, 1, 2, 255, 0 };
  struct testutil_message *m;
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
  struct testutil_side offer, answer;

  connect_pair(&offer, &answer);
  send_three(&offer);
  send_three(&answer);
  TESTUTIL_WAIT(answer.messages->len >= 3, 5000, "answer messages");
  TESTUTIL_WAIT(offer.messages->len >= 3, 5000, "offer messages");
  check_three(&answer);
  check_three(&offer);

  /* Closing from one side closes the channel on both. */
  g_assert_cmpint(p2psig_channel_close(offer.channel), ==, 0);
  TESTUTIL_WAIT(offer.closed == 1, 5000, "offer on_close");
  TESTUTIL_WAIT(answer.closed == 1, 5000, "answer on_close");

  p2psig_peer_close(offer.peer);
  TESTUTIL_WAIT(offer.closed_state_count == 1, 5000, "offer closed state");
  g_assert_cmpint(offer.failed_count, ==, 0);
  g_assert_cmpint(answer.failed_count, ==, 0);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

static void
test_peer_close_closes_channels(void)
{
  struct testutil_side offer, answer;

  connect_pair(&offer, &answer);
  p2psig_peer_close(answer.peer);
  TESTUTIL_WAIT(answer.closed == 1, 5000, "answer on_close");
  TESTUTIL_WAIT(answer.closed_state_count == 1, 5000,
                "answer closed state");
  /* The far side closed cleanly: the near one sees its channel close
   * promptly (SCTP abort, DTLS close_notify), not after a timeout. */
  TESTUTIL_WAIT(offer.closed == 1, 1000, "offer on_close");
  g_assert_cmpint(offer.failed_count, ==, 0);
  /* Sending after close is an error, never a crash. */
  g_assert_cmpint(p2psig_peer_create_offer(answer.peer, &(char *){ NULL }),
                  ==, P2PSIG_ECLOSED);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* A STUN server that never answers (a closed port on loopback, found by a
 * hostname resolved in the background) must not delay the connection over
 * host candidates. */
static void
test_unreachable_stun(void)
{
  static const char *const servers[] = { "stun:localhost:9",
                                         "stun:127.0.0.1:9", NULL };
  struct testutil_side offer, answer;
  gint64 start = g_get_monotonic_time();
  gint64 elapsed_ms;

  config.ice_servers = servers;
  connect_pair(&offer, &answer);
  config.ice_servers = NULL;
  elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("channel open after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint(elapsed_ms, <, 1000);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* Each description carries the candidates gathered before it: two peers
 * that pass no candidates on still connect, and what on_candidate reports
 * later is what the description holds. */
/* libnice waits one pacing interval before a stream's first check; the
 * library makes that timer due at once (lib/ice.c, hasten_first_check).
 * It finds the timer by name: this fails if libnice or GLib change so
 * that it no longer does, on either side. */
static int hastened;

static void
count_hastened(p2psig_log_level level, const char *domain,
               const char *message, void *user_data)
{
  if (strcmp(message, "first check sent without waiting for the pacing "
                      "interval") == 0)
    g_atomic_int_inc(&hastened);
}

static void
test_first_check_at_once(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL;

  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, count_hastened, NULL);
  testutil_side_init(&offer, "offer", NULL, &config);
  testutil_side_init(&answer, "answer", NULL, &config);
  testutil_side_channel(&offer, "data",
                        &(p2psig_channel_config){ P2PSIG_CHANNEL_CONFIG_INIT,
                                                  .protocol = "proto" });
  testutil_negotiate(&offer, &answer, &offer_sdp, &answer_sdp);
  TESTUTIL_WAIT(offer.opened == 1, 10000, "offer channel open");
  TESTUTIL_WAIT(answer.opened == 1, 10000, "answer channel open");
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, NULL, NULL);
  g_assert_cmpint(g_atomic_int_get(&hastened), ==, 2);
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* GLib blocks a socket's source each time it dispatches it, at a cost
 * that grows with the loop's sockets; the library lets libnice's sockets
 * go unblocked (lib/loop.c), finding them by GSocket's source functions:
 * after gathering, from an idle on the loop (which finds nothing when the
 * stream has parked first), and at once when they park (new sources in
 * the group's context).  So each side logs once or twice; this fails if
 * neither finds any. */
static int unblocking_jobs;

static void
count_unblocked(p2psig_log_level level, const char *domain,
                const char *message, void *user_data)
{
  unsigned n;

  if (sscanf(message, "%u socket sources dispatched unblocked", &n) == 1 &&
      n > 0)
    g_atomic_int_inc(&unblocking_jobs);
}

static void
test_sockets_unblocked(void)
{
  struct testutil_side offer, answer;

  p2psig_set_log_handler(P2PSIG_LOG_DEBUG, count_unblocked, NULL);
  connect_pair(&offer, &answer);
  p2psig_set_log_handler(P2PSIG_LOG_WARNING, NULL, NULL);
  g_assert_cmpint(g_atomic_int_get(&unblocking_jobs), >=, 2);
  g_assert_cmpint(g_atomic_int_get(&unblocking_jobs), <=, 4);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

static unsigned
parked_now(void)
{
  unsigned now, joined;

  p2psig__park_counts(&now, &joined);
  return now;
}

static unsigned
parked_ever(void)
{
  unsigned now, joined;

  p2psig__park_counts(&now, &joined);
  return joined;
}

/* The counts change under a loop's lock with nothing to wake a waiter (a
 * log handler that took the tests' lock to do so deadlocked: the handler
 * runs under the loop's lock, and testutil_on_candidate holds the tests'
 * lock while it calls into the library), so these are polled. */
struct park_wait {
  unsigned now, ever;
};

static bool
parked_as(void *data)
{
  const struct park_wait *w = data;

  return parked_now() == w->now && (w->ever == 0 || parked_ever() == w->ever);
}

static void
wait_parked(unsigned now, unsigned ever, unsigned ms, const char *what)
{
  struct park_wait w = { now, ever };

  testutil_wait_for(parked_as, &w, ms, what);
}

/* Once its checks are over, a peer's sockets are read apart from its
 * loop's context (lib/parking.c): messages flow both ways so, and an ICE
 * restart's new stream parks in its turn; freed peers leave. */
static void
test_parked(void)
{
  struct testutil_side offer, answer;
  unsigned ever = parked_ever();
  char *offer_sdp = NULL, *answer_sdp = NULL;

  g_assert_cmpuint(parked_now(), ==, 0);
  connect_pair(&offer, &answer);
  wait_parked(2, 0, 10000, "both streams parked");
  send_three(&offer);
  send_three(&answer);
  TESTUTIL_WAIT(answer.messages->len >= 3 && offer.messages->len >= 3, 5000,
                "messages through parked sockets");
  testutil_lock();
  check_three(&answer);
  check_three(&offer);
  testutil_unlock();

  g_assert_cmpint(p2psig_peer_restart_ice(offer.peer, &offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer.peer, &answer_sdp), ==,
                  0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);
  wait_parked(2, ever + 4, 10000,
              "the restart's streams parked, the old ones left");
  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "after"), ==, 0);
  TESTUTIL_WAIT(answer.messages->len == 4, 5000, "a message after");
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
  wait_parked(0, 0, 5000, "freed peers no longer parked");
}

/* Every source on every loop's context. */
static unsigned
loop_sources(void)
{
  unsigned n = 0;

  for (unsigned i = 0; i < p2psig__loop_count(); i++)
    n += p2psig__loop_sources(i);
  return n;
}

#define GROUPED_PAIRS 8

/* libnice keeps a timer for each agent as long as it lives (its
 * keepalive); an agent lives in its park group's context, so connected
 * peers add none to the loops' contexts, whose every iteration would visit
 * them (before: one a peer).  The first pair brings what a loop gains
 * once (the epoll source, a group's timer, the liveness tick); the others
 * may bring a new group's timer. */
static void
test_timers_in_groups(void)
{
  struct testutil_side offer[GROUPED_PAIRS], answer[GROUPED_PAIRS];
  unsigned before, after;

  connect_pair(&offer[0], &answer[0]);
  wait_parked(2, 0, 10000, "the first pair's streams parked");
  before = loop_sources();
  for (int i = 1; i < GROUPED_PAIRS; i++)
    connect_pair(&offer[i], &answer[i]);
  wait_parked(2 * GROUPED_PAIRS, 0, 10000, "every stream parked");
  after = loop_sources();
  g_test_message("sources on the loops' contexts: %u with 2 connected "
                 "peers, %u with %d", before, after, 2 * GROUPED_PAIRS);
  g_assert_cmpuint(after, <=, before + p2psig__loop_count());
  for (int i = 0; i < GROUPED_PAIRS; i++) {
    testutil_side_clear(&offer[i]);
    testutil_side_clear(&answer[i]);
  }
  wait_parked(0, 0, 5000, "freed peers no longer parked");
}

/* How many descriptors are open now (inherited ones may be numbered
 * high: the limit bounds the numbers of new ones, so it is set from the
 * count). */
static int
open_fds(void)
{
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  g_assert_nonnull(dir);
  while ((e = readdir(dir)))
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n;
}

/* Peers made until the process's descriptor limit stops them: each call
 * succeeds or fails with P2PSIG_EDESCRIPTORS, and nothing aborts (GLib
 * aborts a process that cannot make a main context's wake-up descriptor,
 * and libnice makes one per stream: before the check, peer 19 here). */
static void
test_out_of_descriptors(void)
{
  static const char *const loopback[] = { "127.0.0.1", NULL };
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .local_addresses = loopback,
                             .disable_ice_tcp = true };
  p2psig_peer *peers[64] = { 0 };
  struct rlimit saved, low;
  int refused = 0, made = 0, error;
  char *sdp = NULL;

  g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = (rlim_t)open_fds() + 40;
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
  for (size_t i = 0; i < G_N_ELEMENTS(peers); i++) {
    error = 1;
    peers[i] = p2psig_peer_new(&cfg, &error);
    if (!peers[i]) {
      g_assert_cmpint(error, ==, P2PSIG_EDESCRIPTORS);
      refused++;
      continue;
    }
    error = p2psig_peer_create_offer(peers[i], &sdp);
    if (error < 0) {
      g_assert_cmpint(error, ==, P2PSIG_EDESCRIPTORS);
      refused++;
      continue;
    }
    p2psig_free(sdp);
    made++;
  }
  g_assert_cmpint(made, >, 0);
  g_assert_cmpint(refused, >, 0);
  for (size_t i = 0; i < G_N_ELEMENTS(peers); i++)
    p2psig_peer_free(peers[i]);
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_cmpstr(p2psig_strerror(P2PSIG_EDESCRIPTORS), ==,
                  "out of file descriptors");
  g_assert_cmpstr(p2psig_error_name(P2PSIG_EDESCRIPTORS), ==,
                  "P2PSIG_EDESCRIPTORS");
}

static void
test_candidates_in_description(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL;
  struct testutil_side *sides[] = { &offer, &answer };

  /* No other side: candidates are kept, not passed on. */
  testutil_side_init(&offer, "offer", NULL, &config);
  testutil_side_init(&answer, "answer", NULL, &config);
  testutil_side_channel(&offer, "data",
                        &(p2psig_channel_config){ P2PSIG_CHANNEL_CONFIG_INIT,
                                                  .protocol = "proto" });
  testutil_negotiate(&offer, &answer, &offer_sdp, &answer_sdp);
  g_assert_nonnull(strstr(offer_sdp, "\r\na=candidate:"));
  g_assert_nonnull(strstr(answer_sdp, "\r\na=candidate:"));

  TESTUTIL_WAIT(offer.opened == 1, 10000, "offer channel open");
  TESTUTIL_WAIT(answer.opened == 1, 10000, "answer channel open");
  for (size_t i = 0; i < G_N_ELEMENTS(sides); i++) {
    const char *sdp = sides[i] == &offer ? offer_sdp : answer_sdp;

    TESTUTIL_WAIT(sides[i]->gathering_done == 1, 5000, "end of candidates");
    testutil_lock();
    g_assert_cmpuint(sides[i]->candidates->len, >=, 1);
    for (guint j = 0; j < sides[i]->candidates->len; j++) {
      g_autofree char *line =
        g_strdup_printf("\r\na=%s\r\n",
                        (char *)sides[i]->candidates->pdata[j]);

      g_assert_nonnull(strstr(sdp, line));
    }
    testutil_unlock();
  }
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* The offer's copy of the answer's fingerprint is forged: the DTLS
 * handshake completes cryptographically but the certificate does not match,
 * so the offer must fail and deliver nothing. */
static void
test_fingerprint_mismatch(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL;
  char *fp;

  testutil_side_init(&offer, "offer", &answer, &config);
  testutil_side_init(&answer, "answer", &offer, &config);
  testutil_side_channel(&offer, "data", NULL);
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

  TESTUTIL_WAIT(offer.failed_count == 1, 10000, "offer failed");
  testutil_lock();
  g_assert_cmpint(offer.connected_count, ==, 0);
  g_assert_cmpint(offer.opened, ==, 0);
  testutil_unlock();
  /* The offer's alert makes the answer fail as well. */
  TESTUTIL_WAIT(answer.failed_count == 1, 10000, "answer failed");
  testutil_lock();
  g_assert_cmpint(answer.opened, ==, 0);
  g_assert_cmpuint(answer.messages->len, ==, 0);
  testutil_unlock();
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
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
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
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

/* Returns the a=ice-ufrag value of sdp (g_free). */
static char *
sdp_ufrag(const char *sdp)
{
  const char *p = strstr(sdp, "a=ice-ufrag:");

  g_assert_nonnull(p);
  p += strlen("a=ice-ufrag:");
  return g_strndup(p, strcspn(p, "\r\n"));
}

/* ICE restart mid-stream: new credentials on both sides, the connection
 * stays up, and 2000 numbered messages sent across it arrive once each,
 * in order.  A second offer that is not a restart is still refused. */
static void
test_ice_restart(void)
{
  struct testutil_side offer, answer;
  char *offer_sdp = NULL, *answer_sdp = NULL, *first = NULL;
  g_autofree char *new_ufrag = NULL, *new_answer_ufrag = NULL;
  const int total = 2000;

  connect_pair(&offer, &answer);
  /* Not a restart: the same description again. */
  g_assert_cmpint(p2psig_peer_restart_ice(answer.peer, &first), ==,
                  P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_peer_restart_ice(offer.peer, &first), ==, 0);
  g_assert_cmpint(p2psig_peer_restart_ice(offer.peer, &offer_sdp), ==,
                  P2PSIG_ESTATE); /* one at a time */

  for (int i = 0; i < total; i++) {
    char text[16];

    g_snprintf(text, sizeof text, "%d", i);
    g_assert_cmpint(p2psig_channel_send_text(offer.channel, text), ==, 0);
    if (i == total / 4) {
      /* The restart's offer and answer cross while messages flow. */
      g_assert_cmpint(p2psig_peer_set_remote_description(
                        answer.peer, P2PSIG_SDP_OFFER, first), ==, 0);
      g_assert_cmpint(p2psig_peer_create_answer(answer.peer, &answer_sdp),
                      ==, 0);
      g_assert_cmpint(p2psig_peer_set_remote_description(
                        offer.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);
      /* Once is enough: the same answer again is no restart. */
      g_assert_cmpint(p2psig_peer_set_remote_description(
                        offer.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==,
                      P2PSIG_ESTATE);
      g_assert_cmpint(p2psig_peer_set_remote_description(
                        answer.peer, P2PSIG_SDP_OFFER, first), ==,
                      P2PSIG_ESTATE);
    }
  }
  TESTUTIL_WAIT(answer.messages->len == (guint)total, 20000,
                "every message across the restart");
  testutil_lock();
  for (int i = 0; i < total; i++) {
    struct testutil_message *m = answer.messages->pdata[i];
    g_autofree char *want = g_strdup_printf("%d", i);
    gsize len;
    const char *data = g_bytes_get_data(m->data, &len);

    g_assert_cmpmem(data, len, want, strlen(want));
  }
  g_assert_cmpint(offer.connected_count, ==, 1);
  g_assert_cmpint(answer.connected_count, ==, 1);
  g_assert_cmpint(offer.state, ==, P2PSIG_STATE_CONNECTED);
  g_assert_cmpint(answer.state, ==, P2PSIG_STATE_CONNECTED);
  testutil_unlock();
  /* New credentials on both sides. */
  new_ufrag = sdp_ufrag(first);
  new_answer_ufrag = sdp_ufrag(answer_sdp);
  g_assert_cmpstr(new_ufrag, !=, new_answer_ufrag);
  g_assert_nonnull(strstr(first, "a=candidate:"));
  g_assert_nonnull(strstr(answer_sdp, "a=candidate:"));
  g_assert_nonnull(strstr(answer_sdp, "a=setup:active"));
  p2psig_free(first);
  p2psig_free(answer_sdp);
  /* The new pair works: a message each way after the restart. */
  send_three(&answer);
  TESTUTIL_WAIT(offer.messages->len == 3, 10000, "messages back");
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
}

/* Configurations p2psig_peer_new cannot honour fail with P2PSIG_EINVAL;
 * the W3C-style server list with STUN, TURN and TURN over TLS is taken. */
static void
test_ice_config(void)
{
  static const char *const stun[] = { "stun:198.18.0.1", NULL };
  static const char *const turn[] = { "turn:198.18.0.1?transport=tcp",
                                      "turns:turn.example.org", NULL };
  static const char *const turn_in_old_list[] = { "turn:198.18.0.1", NULL };
  static const char *const unsupported[] = { "stuns:198.18.0.1", NULL };
  static const char *const nine[] = {
    "turn:198.18.0.1:1", "turn:198.18.0.1:2", "turn:198.18.0.1:3",
    "turn:198.18.0.1:4", "turn:198.18.0.1:5", "turn:198.18.0.1:6",
    "turn:198.18.0.1:7", "turn:198.18.0.1:8", "turn:198.18.0.1:9", NULL,
  };
  static const char *const bad_local[] = { "127.0.0.1", "127.0.0.l", NULL };
  /* An IP address, but of no interface here (TEST-NET-2). */
  static const char *const foreign_local[] = { "198.51.100.7", NULL };
  static const char *const no_local[] = { NULL };
  p2psig_ice_server good[] = {
    { .urls = stun },
    { .urls = turn, .username = "user", .credential = "secret" },
  };
  p2psig_ice_server no_credential[] = { { .urls = turn, .username = "u" } };
  p2psig_ice_server no_urls[] = { { .urls = NULL } };
  p2psig_ice_server too_many[] = {
    { .urls = nine, .username = "u", .credential = "p" },
  };
  struct {
    const char *what;
    p2psig_peer_config cfg;
  } bad[] = {
    { "turn: in ice_servers", { P2PSIG_PEER_CONFIG_INIT,
                                .ice_servers = turn_in_old_list } },
    { "stuns:", { P2PSIG_PEER_CONFIG_INIT, .ice_servers = unsupported } },
    { "no credential", { P2PSIG_PEER_CONFIG_INIT,
                         .ice_server_list = no_credential,
                         .ice_server_count = 1 } },
    { "no urls", { P2PSIG_PEER_CONFIG_INIT, .ice_server_list = no_urls,
                   .ice_server_count = 1 } },
    { "count without list", { P2PSIG_PEER_CONFIG_INIT,
                              .ice_server_count = 1 } },
    { "nine TURN URLs", { P2PSIG_PEER_CONFIG_INIT,
                          .ice_server_list = too_many,
                          .ice_server_count = 1 } },
    { "port range", { P2PSIG_PEER_CONFIG_INIT, .port_min = 50001,
                      .port_max = 50000 } },
    { "local address", { P2PSIG_PEER_CONFIG_INIT,
                         .local_addresses = bad_local } },
    { "foreign local address", { P2PSIG_PEER_CONFIG_INIT,
                                 .local_addresses = foreign_local } },
    { "empty local addresses", { P2PSIG_PEER_CONFIG_INIT,
                                 .local_addresses = no_local } },
    { "size 0", { .size = 0 } },
    { "policy", { P2PSIG_PEER_CONFIG_INIT, .ice_transport_policy = 7 } },
    { "CA file", { P2PSIG_PEER_CONFIG_INIT, .ice_server_list = good,
                   .ice_server_count = 2,
                   .ice_tls_ca = "/nonexistent/ca.pem" } },
  };
  p2psig_peer_config ok = { P2PSIG_PEER_CONFIG_INIT,
                            .ice_server_list = good,
                            .ice_server_count = G_N_ELEMENTS(good),
                            .ice_transport_policy =
                              P2PSIG_ICE_TRANSPORT_RELAY };
  p2psig_peer *peer;
  int error = 0;

  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("%s", bad[i].what);
    error = 0;
    g_assert_null(p2psig_peer_new(&bad[i].cfg, &error));
    g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  }
  peer = p2psig_peer_new(&ok, &error);
  g_assert_nonnull(peer);
  g_assert_cmpint(error, ==, 0);
  p2psig_peer_free(peer);
}

/* The .size rule of the config structs: 0 (memset and nothing more) and
 * fields past this version's struct are refused; the sizes of older
 * headers are taken. */
static void
test_config_size(void)
{
  struct {
    p2psig_peer_config cfg;
    uint64_t newer_field;
  } newer = { { P2PSIG_PEER_CONFIG_INIT }, 0 };
  struct {
    p2psig_channel_config cfg;
    uint64_t newer_field;
  } newer_channel = { { P2PSIG_CHANNEL_CONFIG_INIT }, 1 };
  p2psig_peer_config zeroed;
  p2psig_channel_config channel_zeroed;
  p2psig_signaling_config signaling_zeroed;
  static const char *const lo[] = { "127.0.0.1", NULL };
  p2psig_peer_config older = { P2PSIG_PEER_CONFIG_INIT,
                               .local_addresses = lo };
  p2psig_peer *peer;
  int error = 0;

  memset(&zeroed, 0, sizeof zeroed);
  g_assert_null(p2psig_peer_new(&zeroed, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);

  /* A newer header's struct with its new field left zero is fine ... */
  newer.cfg.size = sizeof newer;
  peer = p2psig_peer_new(&newer.cfg, &error);
  g_assert_nonnull(peer);
  p2psig_peer_free(peer);
  /* ... set, it cannot be honoured. */
  newer.newer_field = 1;
  error = 0;
  g_assert_null(p2psig_peer_new(&newer.cfg, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);

  /* 0.1's struct ended with on_message's user_data. */
  older.size = offsetof(p2psig_peer_config, on_buffered_amount_low);
  peer = p2psig_peer_new(&older, &error);
  g_assert_nonnull(peer);

  memset(&channel_zeroed, 0, sizeof channel_zeroed);
  channel_zeroed.unordered = true;
  error = 0;
  g_assert_null(p2psig_peer_create_channel(peer, "c", &channel_zeroed,
                                           &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  newer_channel.cfg.size = sizeof newer_channel;
  error = 0;
  g_assert_null(p2psig_peer_create_channel(peer, "c", &newer_channel.cfg,
                                           &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  g_assert_nonnull(p2psig_peer_create_channel(peer, "c", NULL, &error));

  memset(&signaling_zeroed, 0, sizeof signaling_zeroed);
  signaling_zeroed.listen_address = "127.0.0.1:0";
  error = 0;
  g_assert_null(p2psig_signaling_new(peer, &signaling_zeroed, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  p2psig_peer_free(peer);
}

/* A STUN server that never answers ends gathering after the library's
 * bound, not libnice's (minutes with our retransmissions). */
static void
test_gathering_bound(void)
{
  g_autoptr(GSocket) silent = g_socket_new(G_SOCKET_FAMILY_IPV4,
                                           G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  const char *servers[2] = { NULL, NULL };
  struct testutil_side side;
  p2psig_peer_config cfg = config;
  char *sdp = NULL;
  gint64 start, elapsed_ms;

  /* Bound and never read: no ICMP error comes back, as from a server
   * that drops everything. */
  g_assert_true(g_socket_bind(silent, any, FALSE, NULL));
  bound = g_socket_get_local_address(silent, NULL);
  url = g_strdup_printf("stun:127.0.0.1:%u",
                        g_inet_socket_address_get_port(
                          G_INET_SOCKET_ADDRESS(bound)));
  servers[0] = url;
  cfg.ice_servers = servers;
  testutil_side_init(&side, "gatherer", NULL, &cfg);
  start = g_get_monotonic_time();
  g_assert_cmpint(p2psig_peer_create_offer(side.peer, &sdp), ==, 0);
  p2psig_free(sdp);
  TESTUTIL_WAIT(side.gathering_done == 1, 15000, "end of candidates");
  elapsed_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("gathering ended after %" G_GINT64_FORMAT " ms",
                 elapsed_ms);
  g_assert_cmpint(elapsed_ms, >=, 9000);
  g_assert_cmpint(elapsed_ms, <, 12000);
  testutil_side_clear(&side);
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
  g_test_add_func("/peer/first-check-at-once", test_first_check_at_once);
  g_test_add_func("/peer/sockets-unblocked", test_sockets_unblocked);
  g_test_add_func("/peer/parked", test_parked);
  g_test_add_func("/peer/timers-in-groups", test_timers_in_groups);
  g_test_add_func("/peer/out-of-descriptors", test_out_of_descriptors);
  g_test_add_func("/peer/unreachable-stun", test_unreachable_stun);
  g_test_add_func("/peer/fingerprint-mismatch", test_fingerprint_mismatch);
  g_test_add_func("/peer/bad-arguments", test_bad_arguments);
  g_test_add_func("/peer/ice-config", test_ice_config);
  g_test_add_func("/peer/config-size", test_config_size);
  g_test_add_func("/peer/ice-restart", test_ice_restart);
  g_test_add_func("/peer/gathering-bound", test_gathering_bound);
  return g_test_run();
}
