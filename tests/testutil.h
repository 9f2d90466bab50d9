/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests. */
#ifndef P2PSIG_TESTUTIL_H
#define P2PSIG_TESTUTIL_H

#include <glib.h>
#include <p2psig/p2psig.h>
#include <stdbool.h>

/* Contents of tests/data/NAME (aborts the test when missing); g_free. */
char *testutil_read_data(const char *name, gsize *len);

/* Waits until check(data) is true, polling the condition every few
 * milliseconds under a deadline; fails the test with what when it passes.
 * For conditions set by library callbacks on the library thread. */
void testutil_wait_for(bool (*check)(void *data), void *data,
                       unsigned timeout_ms, const char *what);

/* ---- Sides: peers over 127.0.0.1 and what their callbacks saw ----
 *
 * What callbacks record is guarded by one lock for every side, so that a
 * condition may span both peers of a pair.  Callbacks run on the library's
 * thread and take it there: the test thread never calls the library while
 * it holds it. */

void testutil_lock(void);
/* Unlocks and wakes TESTUTIL_WAIT, to look at the records again. */
void testutil_unlock(void);
/* Lock held: waits for the next testutil_unlock() elsewhere, or for the
 * monotonic deadline; false once it has passed. */
bool testutil_wait_until(gint64 deadline);
/* Lock held: unlocks and fails the test. */
G_NORETURN void testutil_timed_out(unsigned ms, const char *what,
                                   const char *expr);

/* Waits until expr holds, evaluated under the lock after each record;
 * expr must not call the library. */
#define TESTUTIL_WAIT(expr, ms, what)                                    \
  do {                                                                   \
    gint64 testutil_deadline_ =                                          \
      g_get_monotonic_time() + (gint64)(ms) * 1000;                      \
    testutil_lock();                                                     \
    while (!(expr))                                                      \
      if (!testutil_wait_until(testutil_deadline_) && !(expr))           \
        testutil_timed_out((ms), (what), #expr);                         \
    testutil_unlock();                                                   \
  } while (0)

struct testutil_message {
  p2psig_kind kind;
  GBytes *data;
};

void testutil_message_free(gpointer message);

struct testutil_side {
  const char *name;            /* for the log; NULL: states not logged */
  p2psig_peer *peer;
  struct testutil_side *other; /* given our candidates; NULL: nobody */
  void *user;                  /* the configuration's user_data */

  /* Under the lock: */
  p2psig_state state;
  int state_error;             /* the error of the last on_state */
  int connected_count, failed_count, closed_state_count;
  GString *log;                /* the events in order, each a word and a
                                  space: "state:connected", "ice:checking",
                                  "gathering:complete", "candidate",
                                  "end-of-candidates", "close" */
  p2psig_ice_gathering_state ice_gathering_state; /* last reported */
  p2psig_ice_connection_state ice_connection_state;
  GPtrArray *candidates;       /* char *, as on_candidate had them */
  int gathering_done;          /* on_candidate(NULL) */
  p2psig_channel *channel;     /* the side's one channel: made with
                                  testutil_side_channel(), or announced */
  int announced, opened, closed; /* on_channel, on_open, on_close */
  GPtrArray *messages;         /* struct testutil_message */
  bool freed;                  /* the peer is freed: no callback after */
  int after_free;              /* callbacks that came after all */
};

/* Makes side's peer, on 127.0.0.1 unless cfg says otherwise.  cfg (may be
 * NULL) is the rest of the configuration: callbacks it sets replace the
 * testutil_on_* ones below, and may call them to record as well; its
 * user_data goes to side->user, since every callback gets the side. */
void testutil_side_init(struct testutil_side *side, const char *name,
                        struct testutil_side *other,
                        const p2psig_peer_config *cfg);
/* Creates side's one channel and records it.  Not a negotiated one after
 * the connection: it could open before it is recorded. */
p2psig_channel *testutil_side_channel(struct testutil_side *side,
                                      const char *label,
                                      const p2psig_channel_config *cfg);
/* Offer, answer, each applied on the other side; the answerer takes the
 * DTLS client role.  The descriptions go to *offer_sdp and *answer_sdp
 * (p2psig_free) when these are not NULL. */
void testutil_negotiate(struct testutil_side *offer,
                        struct testutil_side *answer, char **offer_sdp,
                        char **answer_sdp);
/* The usual start: a channel "data" on the offer, negotiated, and open on
 * both sides (waits up to 10 s). */
void testutil_open_pair(struct testutil_side *offer,
                        struct testutil_side *answer);
/* Frees the peer unless freed already, checks that no callback came after
 * that, and frees the records. */
void testutil_side_clear(struct testutil_side *side);
/* Lock held: called by each callback; one once side->freed is counted. */
void testutil_side_check_alive(struct testutil_side *side);

/* The callbacks that record; user_data is the side. */
void testutil_on_candidate(p2psig_peer *peer, const char *candidate,
                           void *user_data);
void testutil_on_state(p2psig_peer *peer, p2psig_state state, int error,
                       void *user_data);
void testutil_on_channel(p2psig_peer *peer, p2psig_channel *channel,
                         void *user_data);
void testutil_on_open(p2psig_channel *channel, void *user_data);
void testutil_on_close(p2psig_channel *channel, void *user_data);
void testutil_on_message(p2psig_channel *channel, const void *data,
                         size_t len, p2psig_kind kind, void *user_data);
void testutil_on_ice_gathering_state(p2psig_peer *peer,
                                     p2psig_ice_gathering_state state,
                                     void *user_data);
void testutil_on_ice_connection_state(p2psig_peer *peer,
                                      p2psig_ice_connection_state state,
                                      void *user_data);

#endif
