/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <string.h>

char *
testutil_read_data(const char *name, gsize *len)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  g_autofree char *path = g_test_build_filename(G_TEST_DIST, "data", name,
                                                NULL);

  if (!g_file_get_contents(path, &contents, len, &error))
    g_error("cannot read test data %s: %s", path, error->message);
  return contents;
}

void
testutil_wait_for(bool (*check)(void *data), void *data, unsigned timeout_ms,
                  const char *what)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

  while (!check(data)) {
    if (g_get_monotonic_time() > deadline)
      g_error("timed out after %u ms waiting for %s", timeout_ms, what);
    g_usleep(1000);
  }
}

/* ---- sides ---- */

static GMutex lock;
static GCond cond;

void
testutil_lock(void)
{
  g_mutex_lock(&lock);
}

void
testutil_unlock(void)
{
  g_cond_broadcast(&cond);
  g_mutex_unlock(&lock);
}

bool
testutil_wait_until(gint64 deadline)
{
  return g_cond_wait_until(&cond, &lock, deadline);
}

void
testutil_timed_out(unsigned ms, const char *what, const char *expr)
{
  g_mutex_unlock(&lock);
  g_error("timed out after %u ms waiting for %s (%s)", ms, what, expr);
}

void
testutil_message_free(gpointer message)
{
  struct testutil_message *m = message;

  g_bytes_unref(m->data);
  g_free(m);
}

void
testutil_side_check_alive(struct testutil_side *side)
{
  if (side->freed) {
    side->after_free++;
    g_printerr("# %s: callback after p2psig_peer_free\n",
               side->name ? side->name : "a side");
  }
}

void
testutil_on_candidate(p2psig_peer *peer, const char *candidate,
                      void *user_data)
{
  struct testutil_side *side = user_data;
  struct testutil_side *other = side->other;

  testutil_lock();
  testutil_side_check_alive(side);
  g_string_append(side->log, candidate ? "candidate " : "end-of-candidates ");
  if (!candidate) {
    side->gathering_done++;
  } else {
    g_assert_true(g_str_has_prefix(candidate, "candidate:"));
    g_ptr_array_add(side->candidates, g_strdup(candidate));
    /* Under the lock, so that the test thread cannot free the other peer
     * meanwhile (testutil_side_clear).  It holds the candidates that come
     * before its remote description; this tests that too.  The other side
     * may have closed meanwhile: by us (p2psig_peer_close() closes the
     * remote too) while our candidates were on their way, or itself, from
     * a callback of its own that ran on another thread (test-lifetime). */
    if (other && !other->freed && other->peer) {
      int ret = p2psig_peer_add_candidate(other->peer, candidate);

      if (ret != P2PSIG_ECLOSED)
        g_assert_cmpint(ret, ==, 0);
    }
  }
  testutil_unlock();
}

void
testutil_on_state(p2psig_peer *peer, p2psig_state state, int error,
                  void *user_data)
{
  struct testutil_side *side = user_data;

  if (side->name)
    g_test_message("%s: state %s (%s)", side->name, p2psig_state_name(state),
                   p2psig_strerror(error));
  testutil_lock();
  testutil_side_check_alive(side);
  /* States come in order, without repeats. */
  g_assert_cmpint(state, !=, side->state);
  side->state = state;
  side->state_error = error;
  g_string_append_printf(side->log, "state:%s ", p2psig_state_name(state));
  side->connected_count += state == P2PSIG_STATE_CONNECTED;
  side->failed_count += state == P2PSIG_STATE_FAILED;
  side->closed_state_count += state == P2PSIG_STATE_CLOSED;
  testutil_unlock();
}

void
testutil_on_channel(p2psig_peer *peer, p2psig_channel *channel,
                    void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  testutil_side_check_alive(side);
  g_assert_null(side->channel);
  side->channel = channel;
  side->announced++;
  testutil_unlock();
}

void
testutil_on_open(p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;
  bool open = p2psig_channel_is_open(channel);
  int id = p2psig_channel_get_id(channel);

  testutil_lock();
  testutil_side_check_alive(side);
  g_assert_true(side->channel == channel);
  side->opened++;
  testutil_unlock();
  /* Events come after the fact: a channel whose remote has just gone may
   * be closed already, its on_close queued behind this. */
  if (!open)
    g_test_message("%s: closed again before its on_open ran", side->name);
  g_assert_cmpint(id, >=, 0);
  g_assert_cmpint(id, <, 65535);
}

void
testutil_on_close(p2psig_channel *channel, void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  testutil_side_check_alive(side);
  g_assert_true(side->channel == channel);
  side->closed++;
  g_string_append(side->log, "close ");
  testutil_unlock();
}

void
testutil_on_ice_gathering_state(p2psig_peer *peer,
                                p2psig_ice_gathering_state state,
                                void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  testutil_side_check_alive(side);
  /* In order, without repeats. */
  g_assert_cmpint(state, !=, side->ice_gathering_state);
  side->ice_gathering_state = state;
  g_string_append_printf(side->log, "gathering:%s ",
                         p2psig_ice_gathering_state_name(state));
  testutil_unlock();
}

void
testutil_on_ice_connection_state(p2psig_peer *peer,
                                 p2psig_ice_connection_state state,
                                 void *user_data)
{
  struct testutil_side *side = user_data;

  testutil_lock();
  testutil_side_check_alive(side);
  g_assert_cmpint(state, !=, side->ice_connection_state);
  side->ice_connection_state = state;
  g_string_append_printf(side->log, "ice:%s ",
                         p2psig_ice_connection_state_name(state));
  testutil_unlock();
}

void
testutil_on_message(p2psig_channel *channel, const void *data, size_t len,
                    p2psig_kind kind, void *user_data)
{
  struct testutil_side *side = user_data;
  struct testutil_message *m = g_new(struct testutil_message, 1);

  m->kind = kind;
  m->data = g_bytes_new(data, len);
  testutil_lock();
  testutil_side_check_alive(side);
  g_ptr_array_add(side->messages, m);
  testutil_unlock();
}

void
testutil_side_init(struct testutil_side *side, const char *name,
                   struct testutil_side *other, const p2psig_peer_config *cfg)
{
  static const char *const loopback[] = { "127.0.0.1", NULL };
  p2psig_peer_config config = { P2PSIG_PEER_CONFIG_INIT };
  int error = -1;

  if (cfg)
    config = *cfg;
  config.size = sizeof config;
#define DEFAULT(field, value) \
  config.field = config.field ? config.field : (value)
  DEFAULT(local_addresses, loopback);
  DEFAULT(on_candidate, testutil_on_candidate);
  DEFAULT(on_state, testutil_on_state);
  DEFAULT(on_channel, testutil_on_channel);
  DEFAULT(on_open, testutil_on_open);
  DEFAULT(on_close, testutil_on_close);
  DEFAULT(on_message, testutil_on_message);
  DEFAULT(on_ice_gathering_state, testutil_on_ice_gathering_state);
  DEFAULT(on_ice_connection_state, testutil_on_ice_connection_state);
#undef DEFAULT

  memset(side, 0, sizeof *side);
  side->name = name;
  side->other = other;
  side->user = config.user_data;
  side->candidates = g_ptr_array_new_with_free_func(g_free);
  side->messages = g_ptr_array_new_with_free_func(testutil_message_free);
  side->log = g_string_new(NULL);
  config.user_data = side;
  side->peer = p2psig_peer_new(&config, &error);
  g_assert_nonnull(side->peer);
  g_assert_cmpint(error, ==, 0);
}

p2psig_channel *
testutil_side_channel(struct testutil_side *side, const char *label,
                      const p2psig_channel_config *cfg)
{
  int error = -1;
  p2psig_channel *channel = p2psig_peer_create_channel(side->peer, label, cfg,
                                                       &error);

  g_assert_nonnull(channel);
  g_assert_cmpint(error, ==, 0);
  testutil_lock();
  g_assert_null(side->channel);
  side->channel = channel;
  testutil_unlock();
  return channel;
}

void
testutil_negotiate(struct testutil_side *offer, struct testutil_side *answer,
                   char **offer_sdp, char **answer_sdp)
{
  char *o = NULL, *a = NULL;

  g_assert_cmpint(p2psig_peer_create_offer(offer->peer, &o), ==, 0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer->peer, P2PSIG_SDP_OFFER, o), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer->peer, &a), ==, 0);
  /* The answerer takes the DTLS client role: the offerer is the server. */
  g_assert_nonnull(strstr(a, "a=setup:active"));
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer->peer, P2PSIG_SDP_ANSWER, a), ==, 0);
  if (offer_sdp)
    *offer_sdp = o;
  else
    p2psig_free(o);
  if (answer_sdp)
    *answer_sdp = a;
  else
    p2psig_free(a);
}

void
testutil_open_pair(struct testutil_side *offer, struct testutil_side *answer)
{
  testutil_side_channel(offer, "data", NULL);
  testutil_negotiate(offer, answer, NULL, NULL);
  TESTUTIL_WAIT(offer->opened == 1 && answer->opened == 1, 10000,
                "channels open");
  /* Nothing closes them here: open in on_open's wake means open now. */
  g_assert_true(p2psig_channel_is_open(offer->channel));
  g_assert_true(p2psig_channel_is_open(answer->channel));
}

void
testutil_side_clear(struct testutil_side *side)
{
  p2psig_peer *peer;

  /* Out of the other side's reach first (see testutil_on_candidate). */
  testutil_lock();
  peer = side->freed ? NULL : side->peer;
  side->peer = NULL;
  testutil_unlock();
  /* Freed from this thread, the peer is gone when the call returns. */
  p2psig_peer_free(peer);
  testutil_lock();
  side->freed = true;
  g_assert_cmpint(side->after_free, ==, 0);
  testutil_unlock();
  g_ptr_array_unref(side->candidates);
  g_ptr_array_unref(side->messages);
  g_string_free(side->log, TRUE);
}
