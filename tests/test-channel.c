/* SPDX-License-Identifier: MIT */
/*
 * Data channels between two peers in one process over 127.0.0.1, through
 * the public API only: channel options, invalid options, negotiated
 * channels, stream ids, large messages, flow control, many channels,
 * closing from inside callbacks and just before the peer, and statistics.
 *
 * Every callback records what it saw under the harness's lock (testutil.h)
 * and wakes the test thread, which waits for the records it needs under a
 * deadline.  The test thread never calls the library while it holds that
 * lock (callbacks run with the library's lock held and then take ours).
 */
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

#define WAIT_MS 10000

struct side;

/* What one side saw of one channel.  Records are never freed before the
 * end of the test, so pointers to them stay valid. */
struct chan {
  struct side *side;
  p2psig_channel *channel; /* NULL once on_close has run */
  char *label;
  char *protocol;
  int id;                  /* as on_open saw it; -1 before */
  bool local;              /* created on this side */
  int channel_events;      /* on_channel */
  int open_events;
  int close_events;
  int low_events;          /* on_buffered_amount_low */
  int message_events;
  GPtrArray *messages;     /* struct testutil_message, when kept */

  /* Sequence-numbered stream (flow control): each message starts with a
   * 64-bit sequence number and the rest is a pattern of it. */
  bool stream;
  uint64_t next_seq;
  uint64_t stream_bytes;
  int stream_errors;
  gulong stream_read_delay_us; /* a slow reader: sleeps after each */
};

/* What to do inside on_message (run without our lock). */
enum hook {
  HOOK_NONE,
  HOOK_CLOSE_CHANNEL, /* on the text "close-me" */
  HOOK_FREE_PEER,     /* on the text "free-me" */
  HOOK_BURST,         /* on the text "burst": send "free-me" and more */
};

#define BURST_AFTER 50

/* A side of the harness with callbacks of its own for channels: it has
 * many, recorded here. */
struct side {
  struct testutil_side base;
  GHashTable *live;        /* p2psig_channel * -> struct chan * */
  GPtrArray *chans;        /* every struct chan, owned */
  int channel_events, open_events, close_events, message_events;
  bool keep_messages;
  enum hook hook;
  int hook_runs;
  int hook_result;
};

/* The side of a callback's user_data. */
static struct side *
side_of(void *user_data)
{
  return ((struct testutil_side *)user_data)->user;
}

static void
chan_free(gpointer p)
{
  struct chan *c = p;

  g_free(c->label);
  g_free(c->protocol);
  g_ptr_array_unref(c->messages);
  g_free(c);
}

/* The record of channel on side; created when new.  Lock held. */
static struct chan *
chan_get(struct side *side, p2psig_channel *channel)
{
  struct chan *c = g_hash_table_lookup(side->live, channel);

  if (c)
    return c;
  c = g_new0(struct chan, 1);
  c->side = side;
  c->channel = channel;
  /* Label and protocol are fixed for the channel's life: reading them
   * takes no library lock. */
  c->label = g_strdup(p2psig_channel_get_label(channel));
  c->protocol = g_strdup(p2psig_channel_get_protocol(channel));
  c->id = -1;
  c->messages = g_ptr_array_new_with_free_func(testutil_message_free);
  g_hash_table_insert(side->live, channel, c);
  g_ptr_array_add(side->chans, c);
  return c;
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  struct chan *c;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  c = chan_get(side, channel);
  c->channel_events++;
  side->channel_events++;
  testutil_unlock();
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  int id = p2psig_channel_get_id(channel);
  bool open = p2psig_channel_is_open(channel);
  struct chan *c;
  bool ending;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  c = chan_get(side, channel);
  c->open_events++;
  c->id = id;
  side->open_events++;
  /* Callbacks run on dispatcher threads: a pair being freed by the test
   * thread may close the channel while this runs. */
  ending = !side->base.peer || (side->base.other && !side->base.other->peer);
  testutil_unlock();
  g_assert_true(open || ending);
  g_assert_cmpint(id, >=, 0);
  g_assert_cmpint(id, <, 65535);
}

static void
on_close(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  struct chan *c;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  c = chan_get(side, channel);
  c->close_events++;
  side->close_events++;
  /* The channel is freed when this returns; its address may be reused. */
  c->channel = NULL;
  g_hash_table_remove(side->live, channel);
  testutil_unlock();
}

static void
on_buffered_amount_low(p2psig_channel *channel, void *user_data)
{
  struct side *side = side_of(user_data);
  struct chan *c;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  c = chan_get(side, channel);
  c->low_events++;
  testutil_unlock();
}

static uint8_t
pattern_byte(uint64_t seed, size_t i)
{
  return (uint8_t)(i * 31 + seed * 7 + (i >> 8) + (i >> 16));
}

static void
fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = pattern_byte(seed, i);
}

static bool
check_pattern(const uint8_t *buf, size_t len, uint64_t seed)
{
  for (size_t i = 0; i < len; i++)
    if (buf[i] != pattern_byte(seed, i))
      return false;
  return true;
}

/* A stream message: sequence number, then the pattern of it. */
static void
check_stream_message(struct chan *c, const uint8_t *data, size_t len)
{
  uint64_t seq;

  if (len < sizeof seq) {
    c->stream_errors++;
    return;
  }
  memcpy(&seq, data, sizeof seq);
  if (seq != c->next_seq) {
    if (c->stream_errors++ < 5)
      g_printerr("# %s '%s': message %" G_GUINT64_FORMAT
                 " where %" G_GUINT64_FORMAT " was due\n",
                 c->side->base.name, c->label, seq, c->next_seq);
  }
  if (!check_pattern(data + sizeof seq, len - sizeof seq, seq)) {
    if (c->stream_errors++ < 5)
      g_printerr("# %s '%s': message %" G_GUINT64_FORMAT " corrupt\n",
                 c->side->base.name, c->label, seq);
  }
  c->next_seq = seq + 1;
  c->stream_bytes += len;
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = side_of(user_data);
  struct chan *c;
  enum hook hook = HOOK_NONE;
  gulong read_delay_us = 0;

  testutil_lock();
  testutil_side_check_alive(&side->base);
  c = chan_get(side, channel);
  c->message_events++;
  side->message_events++;
  if (c->stream) {
    check_stream_message(c, data, len);
    read_delay_us = c->stream_read_delay_us;
  } else if (side->keep_messages) {
    struct testutil_message *m = g_new(struct testutil_message, 1);

    m->kind = kind;
    m->data = g_bytes_new(data, len);
    g_ptr_array_add(c->messages, m);
  }
  if (kind == P2PSIG_KIND_TEXT && side->hook == HOOK_CLOSE_CHANNEL &&
      len == 8 && memcmp(data, "close-me", 8) == 0)
    hook = HOOK_CLOSE_CHANNEL;
  if (kind == P2PSIG_KIND_TEXT && side->hook == HOOK_FREE_PEER &&
      len == 7 && memcmp(data, "free-me", 7) == 0) {
    hook = HOOK_FREE_PEER;
    /* No callback of this peer may run from here on. */
    side->base.freed = true;
  }
  if (kind == P2PSIG_KIND_TEXT && side->hook == HOOK_BURST && len == 5 &&
      memcmp(data, "burst", 5) == 0)
    hook = HOOK_BURST;
  if (hook != HOOK_NONE)
    side->hook_runs++;
  testutil_unlock();

  if (read_delay_us)
    g_usleep(read_delay_us);
  if (hook == HOOK_CLOSE_CHANNEL) {
    int ret = p2psig_channel_close(channel);

    /* Closing twice is harmless; sending on a closing channel fails. */
    if (ret == 0) {
      ret = p2psig_channel_close(channel);
      if (ret == P2PSIG_ECLOSED)
        ret = 0;
    }
    if (ret == 0 && p2psig_channel_send_text(channel, "late") !=
                      P2PSIG_ECLOSED)
      ret = -1000;
    testutil_lock();
    side->hook_result = ret;
    testutil_unlock();
  } else if (hook == HOOK_FREE_PEER) {
    p2psig_channel_config neg = { P2PSIG_CHANNEL_CONFIG_INIT,
                                  .negotiated = true, .id = 100 };
    p2psig_peer *peer = p2psig_channel_get_peer(channel);

    /* A negotiated channel opens at once: its on_open is queued behind
     * this callback, and must not run once the peer is freed. */
    if (!p2psig_peer_create_channel(peer, "queued", &neg, NULL))
      g_printerr("# creating a channel in the callback failed\n");
    p2psig_peer_free(peer);
  } else if (hook == HOOK_BURST) {
    int ret = p2psig_channel_send_text(channel, "free-me");

    /* The remote frees itself on "free-me", and its leaving closes this
     * channel at once, from another thread: the sends behind it may find
     * it closed. */
    for (int i = 0; i < BURST_AFTER && ret == 0; i++) {
      ret = p2psig_channel_send_text(channel, "after");
      if (ret == P2PSIG_ECLOSED)
        ret = 0;
    }
    testutil_lock();
    side->hook_result = ret;
    testutil_unlock();
  }
}

/* Options for the next peers made. */
struct peer_options {
  size_t send_buffer_limit;
  uint16_t sctp_streams;
};

/* Makes side, whose candidates go to other. */
static void
side_init(struct side *side, const char *name, struct side *other,
          const struct peer_options *opts)
{
  p2psig_peer_config cfg = {
    P2PSIG_PEER_CONFIG_INIT,
    .on_channel = on_channel,
    .on_open = on_open,
    .on_close = on_close,
    .on_message = on_message,
    .on_buffered_amount_low = on_buffered_amount_low,
    .user_data = side,
    .send_buffer_limit = opts ? opts->send_buffer_limit : 0,
    .sctp_streams = opts ? opts->sctp_streams : 0,
  };

  side->keep_messages = true;
  side->live = g_hash_table_new(NULL, NULL);
  side->chans = g_ptr_array_new_with_free_func(chan_free);
  testutil_side_init(&side->base, name, &other->base, &cfg);
}

static void
pair_new_with(struct side **offer, struct side **answer,
              const struct peer_options *offer_opts,
              const struct peer_options *answer_opts)
{
  *offer = g_new0(struct side, 1);
  *answer = g_new0(struct side, 1);
  side_init(*offer, "offer", *answer, offer_opts);
  side_init(*answer, "answer", *offer, answer_opts);
}

static void
pair_new(struct side **offer, struct side **answer,
         const struct peer_options *offer_opts)
{
  pair_new_with(offer, answer, offer_opts, NULL);
}

/* Offer, answer, trickled candidates: returns once both are connected. */
static void
pair_connect(struct side *offer, struct side *answer)
{
  testutil_negotiate(&offer->base, &answer->base, NULL, NULL);
  TESTUTIL_WAIT(offer->base.connected_count == 1 &&
                answer->base.connected_count == 1, WAIT_MS,
                "both peers connected");
}

static void
pair_free(struct side *offer, struct side *answer)
{
  testutil_side_clear(&offer->base);
  testutil_side_clear(&answer->base);
  /* Both peers are gone: nothing can come any more. */
  testutil_lock();
  g_assert_cmpint(offer->base.after_free, ==, 0);
  g_assert_cmpint(answer->base.after_free, ==, 0);
  g_assert_cmpint(offer->base.failed_count, ==, 0);
  g_assert_cmpint(answer->base.failed_count, ==, 0);
  testutil_unlock();
  for (struct side **s = (struct side *[]){ offer, answer, NULL }; *s; s++) {
    g_hash_table_unref((*s)->live);
    g_ptr_array_unref((*s)->chans);
    g_free(*s);
  }
}

/* Creates a channel and its record; asserts success. */
static struct chan *
create(struct side *side, const char *label, const p2psig_channel_config *cfg)
{
  int error = -1;
  p2psig_channel *channel = p2psig_peer_create_channel(side->base.peer, label,
                                                       cfg, &error);
  struct chan *c;

  if (!channel)
    g_error("%s: creating channel '%s' failed: %s", side->base.name, label,
            p2psig_error_name(error));
  g_assert_cmpint(error, ==, 0);
  testutil_lock();
  c = chan_get(side, channel);
  c->local = true;
  testutil_unlock();
  return c;
}

/* The channel of a record, or NULL once closed. */
static p2psig_channel *
chan_channel(struct chan *c)
{
  p2psig_channel *channel;

  testutil_lock();
  channel = c->channel;
  testutil_unlock();
  return channel;
}

/* Lock held. */
static struct chan *
find_label(struct side *side, const char *label)
{
  for (guint i = 0; i < side->chans->len; i++) {
    struct chan *c = side->chans->pdata[i];

    if (strcmp(c->label, label) == 0)
      return c;
  }
  return NULL;
}

static bool
remote_open(struct side *side, const char *label)
{
  struct chan *c = find_label(side, label);

  return c && c->open_events == 1;
}

/* Waits until the remote side has the channel with label open. */
static struct chan *
wait_remote(struct side *side, const char *label)
{
  struct chan *c;

  TESTUTIL_WAIT(remote_open(side, label), WAIT_MS, label);
  testutil_lock();
  c = find_label(side, label);
  testutil_unlock();
  return c;
}

static void
send_ok(struct chan *c, const void *data, size_t len, p2psig_kind kind)
{
  int ret = p2psig_channel_send(chan_channel(c), data, len, kind);

  if (ret != 0)
    g_error("%s '%s': send of %zu bytes: %s", c->side->base.name, c->label,
            len, p2psig_error_name(ret));
}

static struct testutil_message *
message_at(struct chan *c, guint i)
{
  struct testutil_message *m;

  testutil_lock();
  g_assert_cmpuint(i, <, c->messages->len);
  m = c->messages->pdata[i];
  testutil_unlock();
  return m;
}

/* ---- /channel/options ---- */

struct option_case {
  const char *label;
  p2psig_channel_config cfg;
  bool after_connect;
};

static void
send_option_messages(struct chan *c, const char *from)
{
  g_autofree char *text = g_strdup_printf("%s on %s", from, c->label);
  uint8_t binary[] = { 0, 1, 2, 255, (uint8_t)strlen(c->label) };

  send_ok(c, text, strlen(text), P2PSIG_KIND_TEXT);
  send_ok(c, binary, sizeof binary, P2PSIG_KIND_BINARY);
  send_ok(c, NULL, 0, P2PSIG_KIND_BINARY);
}

/* Three messages, in any order (unordered channels may reorder). */
static void
check_option_messages(struct chan *c, const char *from)
{
  g_autofree char *text = g_strdup_printf("%s on %s", from, c->label);
  uint8_t binary[] = { 0, 1, 2, 255, (uint8_t)strlen(c->label) };
  bool seen_text = false, seen_binary = false, seen_empty = false;

  testutil_lock();
  g_assert_cmpuint(c->messages->len, ==, 3);
  for (guint i = 0; i < 3; i++) {
    struct testutil_message *m = c->messages->pdata[i];
    gsize len;
    const void *data = g_bytes_get_data(m->data, &len);

    if (m->kind == P2PSIG_KIND_TEXT) {
      g_assert_false(seen_text);
      g_assert_cmpmem(data, len, text, strlen(text));
      seen_text = true;
    } else if (len > 0) {
      g_assert_false(seen_binary);
      g_assert_cmpmem(data, len, binary, sizeof binary);
      seen_binary = true;
    } else {
      g_assert_false(seen_empty);
      seen_empty = true;
    }
  }
  testutil_unlock();
}

static void
test_options(void)
{
  struct option_case cases[] = {
    { .label = "unordered",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .unordered = true } },
    { .label = "rexmit0",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_retransmits = true,
               .max_retransmits = 0 } },
    { .label = "rexmit3",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_retransmits = true,
               .max_retransmits = 3 } },
    { .label = "lifetime100",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_packet_lifetime = true,
               .max_packet_lifetime = 100 } },
    { .label = "chat",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .protocol = "chat" } },
    { .label = "prio1024",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .priority = 1024 } },
    { .label = "unreliable",
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .unordered = true,
               .has_max_retransmits = true, .max_retransmits = 0,
               .protocol = "chat" } },
    { .label = "late-unordered", .after_connect = true,
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .unordered = true } },
    { .label = "late-lifetime", .after_connect = true,
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_packet_lifetime = true,
               .max_packet_lifetime = 100, .protocol = "chat" } },
    { .label = "late-prio", .after_connect = true,
      .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .priority = 1024,
               .has_max_retransmits = true, .max_retransmits = 3 } },
  };
  const size_t n = G_N_ELEMENTS(cases);
  struct chan *local[G_N_ELEMENTS(cases)], *remote[G_N_ELEMENTS(cases)];
  struct side *offer, *answer;

  pair_new(&offer, &answer, NULL);
  for (size_t i = 0; i < n; i++)
    if (!cases[i].after_connect)
      local[i] = create(offer, cases[i].label, &cases[i].cfg);
  pair_connect(offer, answer);
  for (size_t i = 0; i < n; i++)
    if (cases[i].after_connect)
      local[i] = create(offer, cases[i].label, &cases[i].cfg);

  for (size_t i = 0; i < n; i++) {
    const char *protocol = cases[i].cfg.protocol ? cases[i].cfg.protocol : "";

    remote[i] = wait_remote(answer, cases[i].label);
    TESTUTIL_WAIT(local[i]->open_events == 1, WAIT_MS, "local channel open");
    testutil_lock();
    g_assert_cmpint(remote[i]->channel_events, ==, 1);
    g_assert_false(remote[i]->local);
    g_assert_cmpstr(remote[i]->label, ==, cases[i].label);
    g_assert_cmpstr(remote[i]->protocol, ==, protocol);
    g_assert_cmpstr(local[i]->protocol, ==, protocol);
    g_assert_cmpint(remote[i]->id, ==, local[i]->id);
    g_assert_cmpint(local[i]->channel_events, ==, 0);
    testutil_unlock();
  }

  for (size_t i = 0; i < n; i++) {
    send_option_messages(local[i], "offer");
    send_option_messages(remote[i], "answer");
  }
  for (size_t i = 0; i < n; i++) {
    TESTUTIL_WAIT(remote[i]->messages->len >= 3 &&
                  local[i]->messages->len >= 3, WAIT_MS, cases[i].label);
    check_option_messages(remote[i], "offer");
    check_option_messages(local[i], "answer");
  }

  testutil_lock();
  g_assert_cmpint(offer->channel_events, ==, 0);
  g_assert_cmpint(answer->channel_events, ==, (int)n);
  g_assert_cmpint(offer->open_events, ==, (int)n);
  g_assert_cmpint(answer->open_events, ==, (int)n);
  g_assert_cmpint(offer->close_events, ==, 0);
  g_assert_cmpint(answer->close_events, ==, 0);
  testutil_unlock();
  pair_free(offer, answer);
}

/* ---- /channel/invalid ---- */

static void
expect_create_error(struct side *side, const char *label,
                    const p2psig_channel_config *cfg, int expected)
{
  int error = 0;
  p2psig_channel *channel = p2psig_peer_create_channel(side->base.peer, label,
                                                       cfg, &error);

  if (channel || error != expected)
    g_error("%s: creating '%s' gave %p, %s; expected NULL, %s",
            side->base.name, label ? label : "(null)", (void *)channel,
            p2psig_error_name(error), p2psig_error_name(expected));
}

static void
check_invalid(struct side *side, int taken_id)
{
  p2psig_channel_config both = {
    P2PSIG_CHANNEL_CONFIG_INIT,
    .has_max_retransmits = true, .max_retransmits = 3,
    .has_max_packet_lifetime = true, .max_packet_lifetime = 100,
  };
  p2psig_channel_config id_max = { P2PSIG_CHANNEL_CONFIG_INIT,
                                   .negotiated = true, .id = 65535 };
  p2psig_channel_config taken = { P2PSIG_CHANNEL_CONFIG_INIT,
                                  .negotiated = true,
                                  .id = (uint16_t)taken_id };

  expect_create_error(side, "both", &both, P2PSIG_EINVAL);
  both.negotiated = true;
  both.id = 11;
  expect_create_error(side, "both-negotiated", &both, P2PSIG_EINVAL);
  expect_create_error(side, "id-65535", &id_max, P2PSIG_EINVAL);
  expect_create_error(side, "taken", &taken, P2PSIG_EBUSY);
  expect_create_error(side, NULL, NULL, P2PSIG_EINVAL);
}

static void
test_invalid(void)
{
  struct side *offer, *answer;
  p2psig_channel_config neg5 = { P2PSIG_CHANNEL_CONFIG_INIT,
                                 .negotiated = true, .id = 5 };
  p2psig_channel_config beyond = { P2PSIG_CHANNEL_CONFIG_INIT,
                                   .negotiated = true, .id = 60000 };
  struct chan *c5, *dcep, *remote, *marker;
  int dcep_id;

  pair_new(&offer, &answer, NULL);
  /* Before the connection: id 5 is taken by a negotiated channel. */
  c5 = create(offer, "neg5", &neg5);
  check_invalid(offer, 5);
  dcep = create(offer, "dcep", NULL);
  pair_connect(offer, answer);

  remote = wait_remote(answer, "dcep");
  TESTUTIL_WAIT(dcep->open_events == 1 && c5->open_events == 1, WAIT_MS,
                "offer channels open");
  testutil_lock();
  dcep_id = dcep->id;
  g_assert_cmpint(c5->id, ==, 5);
  g_assert_cmpint(dcep_id, !=, 5);
  g_assert_cmpint(remote->id, ==, dcep_id);
  testutil_unlock();

  /* Once connected: taken by a DCEP channel, on both sides, and beyond the
   * association's streams. */
  check_invalid(offer, dcep_id);
  check_invalid(answer, dcep_id);
  check_invalid(offer, 5);
  expect_create_error(offer, "beyond", &beyond, P2PSIG_EINVAL);

  /* Failed calls schedule nothing: a later channel's events come after
   * whatever they could have queued. */
  marker = create(offer, "marker", NULL);
  wait_remote(answer, "marker");
  TESTUTIL_WAIT(marker->open_events == 1, WAIT_MS, "marker open");
  testutil_lock();
  g_assert_cmpint(offer->open_events, ==, 3);
  g_assert_cmpint(offer->close_events, ==, 0);
  g_assert_cmpint(offer->channel_events, ==, 0);
  g_assert_cmpint(answer->channel_events, ==, 2);
  g_assert_cmpint(answer->open_events, ==, 2);
  g_assert_cmpint(answer->close_events, ==, 0);
  g_assert_cmpuint(offer->chans->len, ==, 3);
  testutil_unlock();
  pair_free(offer, answer);
}

/* ---- /channel/negotiated ---- */

static void
negotiated_case(bool after_connect)
{
  p2psig_channel_config neg7 = { P2PSIG_CHANNEL_CONFIG_INIT,
                                 .negotiated = true, .id = 7,
                                 .protocol = "neg" };
  struct side *offer, *answer;
  struct chan *o = NULL, *a = NULL, *other = NULL, *warm = NULL;

  pair_new(&offer, &answer, NULL);
  if (!after_connect) {
    o = create(offer, "seven", &neg7);
    /* A DCEP channel of the offerer (odd ids) must not take id 7. */
    other = create(offer, "dcep", NULL);
  } else {
    warm = create(offer, "warm", NULL);
  }
  pair_connect(offer, answer);
  if (!after_connect) {
    a = create(answer, "seven", &neg7);
  } else {
    /* Wait for the association: the channel is usable on both sides. */
    wait_remote(answer, "warm");
    TESTUTIL_WAIT(warm->open_events == 1, WAIT_MS, "warm open");
    o = create(offer, "seven", &neg7);
    a = create(answer, "seven", &neg7);
  }
  TESTUTIL_WAIT(o->open_events == 1 && a->open_events == 1, WAIT_MS,
                "negotiated channel open on both sides");
  testutil_lock();
  g_assert_cmpint(o->id, ==, 7);
  g_assert_cmpint(a->id, ==, 7);
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_get_id(chan_channel(o)), ==, 7);
  g_assert_cmpint(p2psig_channel_get_id(chan_channel(a)), ==, 7);
  g_assert_cmpstr(p2psig_channel_get_protocol(chan_channel(a)), ==, "neg");

  send_ok(o, "from offer", 10, P2PSIG_KIND_TEXT);
  send_ok(o, "\x01\x02", 2, P2PSIG_KIND_BINARY);
  send_ok(a, "from answer", 11, P2PSIG_KIND_TEXT);
  send_ok(a, "\x03", 1, P2PSIG_KIND_BINARY);
  TESTUTIL_WAIT(o->messages->len >= 2 && a->messages->len >= 2, WAIT_MS,
                "negotiated messages");
  g_assert_cmpint(message_at(a, 0)->kind, ==, P2PSIG_KIND_TEXT);
  g_assert_cmpmem(g_bytes_get_data(message_at(a, 0)->data, NULL),
                  g_bytes_get_size(message_at(a, 0)->data), "from offer", 10);
  g_assert_cmpint(message_at(a, 1)->kind, ==, P2PSIG_KIND_BINARY);
  g_assert_cmpmem(g_bytes_get_data(message_at(a, 1)->data, NULL),
                  g_bytes_get_size(message_at(a, 1)->data), "\x01\x02", 2);
  g_assert_cmpint(message_at(o, 0)->kind, ==, P2PSIG_KIND_TEXT);
  g_assert_cmpmem(g_bytes_get_data(message_at(o, 0)->data, NULL),
                  g_bytes_get_size(message_at(o, 0)->data), "from answer",
                  11);
  g_assert_cmpint(message_at(o, 1)->kind, ==, P2PSIG_KIND_BINARY);

  if (other) {
    struct chan *r = wait_remote(answer, "dcep");

    testutil_lock();
    g_assert_cmpint(other->id, !=, 7);
    g_assert_cmpint(other->id % 2, ==, 1);
    g_assert_cmpint(r->id, ==, other->id);
    testutil_unlock();
  }
  /* No on_channel for the negotiated channel on either side; the DCEP
   * channel, if any, is the only one. */
  testutil_lock();
  g_assert_cmpint(o->channel_events, ==, 0);
  g_assert_cmpint(a->channel_events, ==, 0);
  g_assert_cmpint(offer->channel_events, ==, 0);
  g_assert_cmpint(answer->channel_events, ==, 1);
  g_assert_cmpuint(o->messages->len, ==, 2);
  g_assert_cmpuint(a->messages->len, ==, 2);
  testutil_unlock();
  pair_free(offer, answer);
}

static void
test_negotiated_before(void)
{
  negotiated_case(false);
}

static void
test_negotiated_after(void)
{
  negotiated_case(true);
}

/* ---- /channel/ids ---- */

static void
test_ids(void)
{
  static const char *const offer_labels[] = { "o1", "o2", "o3", "o4" };
  static const char *const answer_labels[] = { "a1", "a2", "a3" };
  struct chan *ol[4], *al[3];
  struct side *offer, *answer;
  GHashTable *ids = g_hash_table_new(NULL, NULL);
  char *offer_sdp = NULL, *answer_sdp = NULL;

  pair_new(&offer, &answer, NULL);
  /* Two before the offer, one by the answerer before the connection is up
   * (the role is known once it answered), the rest once connected. */
  ol[0] = create(offer, "o1", NULL);
  ol[1] = create(offer, "o2", NULL);
  g_assert_cmpint(p2psig_channel_get_id(chan_channel(ol[0])), ==,
                  P2PSIG_CHANNEL_ID_UNASSIGNED);
  g_assert_cmpint(p2psig_peer_create_offer(offer->base.peer, &offer_sdp), ==,
                  0);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    answer->base.peer, P2PSIG_SDP_OFFER, offer_sdp), ==, 0);
  g_assert_cmpint(p2psig_peer_create_answer(answer->base.peer, &answer_sdp),
                  ==, 0);
  g_assert_nonnull(strstr(answer_sdp, "a=setup:active"));
  al[0] = create(answer, "a1", NULL);
  g_assert_cmpint(p2psig_peer_set_remote_description(
                    offer->base.peer, P2PSIG_SDP_ANSWER, answer_sdp), ==, 0);
  p2psig_free(offer_sdp);
  p2psig_free(answer_sdp);
  TESTUTIL_WAIT(offer->base.connected_count == 1 &&
                answer->base.connected_count == 1, WAIT_MS,
                "both peers connected");
  ol[2] = create(offer, "o3", NULL);
  al[1] = create(answer, "a2", NULL);
  ol[3] = create(offer, "o4", NULL);
  al[2] = create(answer, "a3", NULL);

  for (size_t i = 0; i < G_N_ELEMENTS(ol); i++) {
    struct chan *r = wait_remote(answer, offer_labels[i]);

    TESTUTIL_WAIT(ol[i]->open_events == 1, WAIT_MS, offer_labels[i]);
    testutil_lock();
    g_test_message("offer's '%s': id %d", ol[i]->label, ol[i]->id);
    /* The offerer is the DTLS server here: odd ids. */
    g_assert_cmpint(ol[i]->id % 2, ==, 1);
    g_assert_cmpint(r->id, ==, ol[i]->id);
    g_assert_cmpint(r->channel_events, ==, 1);
    g_assert_false(g_hash_table_contains(ids, GINT_TO_POINTER(r->id)));
    g_hash_table_add(ids, GINT_TO_POINTER(r->id));
    testutil_unlock();
  }
  for (size_t i = 0; i < G_N_ELEMENTS(al); i++) {
    struct chan *r = wait_remote(offer, answer_labels[i]);

    TESTUTIL_WAIT(al[i]->open_events == 1, WAIT_MS, answer_labels[i]);
    testutil_lock();
    g_test_message("answer's '%s': id %d", al[i]->label, al[i]->id);
    /* The answerer is the DTLS client: even ids. */
    g_assert_cmpint(al[i]->id % 2, ==, 0);
    g_assert_cmpint(r->id, ==, al[i]->id);
    g_assert_cmpint(r->channel_events, ==, 1);
    g_assert_false(g_hash_table_contains(ids, GINT_TO_POINTER(r->id)));
    g_hash_table_add(ids, GINT_TO_POINTER(r->id));
    testutil_unlock();
  }
  g_assert_cmpint(p2psig_channel_get_id(chan_channel(ol[0])), ==,
                  ol[0]->id);
  g_hash_table_unref(ids);
  pair_free(offer, answer);
}

/* ---- /channel/large ---- */

static void
test_large(void)
{
  static const size_t sizes[] = { 65536, 262144, 1048576 };
  const size_t n = G_N_ELEMENTS(sizes);
  struct side *offer, *answer;
  struct chan *o, *a;
  uint8_t *buf = g_malloc(1048576 + 1);

  pair_new(&offer, &answer, NULL);
  o = create(offer, "large", NULL);
  /* Before the remote description the size is not known. */
  g_assert_cmpuint(p2psig_channel_get_max_message_size(chan_channel(o)), ==,
                   0);
  pair_connect(offer, answer);
  a = wait_remote(answer, "large");
  TESTUTIL_WAIT(o->open_events == 1, WAIT_MS, "large open");
  g_assert_cmpuint(p2psig_channel_get_max_message_size(chan_channel(o)), ==,
                   1048576);
  g_assert_cmpuint(p2psig_channel_get_max_message_size(chan_channel(a)), ==,
                   1048576);

  for (struct chan **from = (struct chan *[]){ o, a, NULL }; *from; from++) {
    struct chan *to = *from == o ? a : o;

    for (size_t i = 0; i < n; i++) {
      fill_pattern(buf, sizes[i], i);
      send_ok(*from, buf, sizes[i], i % 2 ? P2PSIG_KIND_TEXT
                                           : P2PSIG_KIND_BINARY);
    }
    /* One byte over the limit is refused, and nothing is queued. */
    fill_pattern(buf, 1048577, 99);
    g_assert_cmpint(p2psig_channel_send(chan_channel(*from), buf, 1048577,
                                        P2PSIG_KIND_BINARY), ==,
                    P2PSIG_ETOOBIG);
    /* The channel still works afterwards. */
    send_ok(*from, "after", 5, P2PSIG_KIND_TEXT);

    TESTUTIL_WAIT(to->messages->len >= n + 1, 30000, "large messages");
    testutil_lock();
    g_assert_cmpuint(to->messages->len, ==, n + 1);
    testutil_unlock();
    for (size_t i = 0; i < n; i++) {
      struct testutil_message *m = message_at(to, (guint)i);
      gsize len;
      const uint8_t *data = g_bytes_get_data(m->data, &len);

      g_assert_cmpuint(len, ==, sizes[i]);
      g_assert_cmpint(m->kind, ==, i % 2 ? P2PSIG_KIND_TEXT
                                         : P2PSIG_KIND_BINARY);
      g_assert_true(check_pattern(data, len, i));
    }
    g_assert_cmpmem(g_bytes_get_data(message_at(to, (guint)n)->data, NULL),
                    g_bytes_get_size(message_at(to, (guint)n)->data),
                    "after", 5);
  }
  g_assert_cmpuint(p2psig_channel_get_buffered_amount(chan_channel(o)), ==,
                   0);
  g_free(buf);
  pair_free(offer, answer);
}

/* ---- /channel/flow-control ---- */

#define FC_MESSAGE (64 * 1024)
#define FC_TOTAL (32 * 1024 * 1024)
#define FC_LIMIT (1024 * 1024)
#define FC_THRESHOLD (256 * 1024)
#define MAX_SEND_US (1000 * 1000)
#define FC_READ_DELAY_US 1000

struct fc_sender {
  struct chan *c;
  p2psig_channel *channel;
  uint8_t *buf;
  uint64_t seq;
  gint64 max_send_us;
  size_t max_buffered;
  int eagain;
};

/* Sends the next message; returns the library's answer. */
static int
fc_send(struct fc_sender *s)
{
  gint64 start, elapsed;
  size_t buffered;
  int ret;

  memcpy(s->buf, &s->seq, sizeof s->seq);
  fill_pattern(s->buf + sizeof s->seq, FC_MESSAGE - sizeof s->seq, s->seq);
  start = g_get_monotonic_time();
  ret = p2psig_channel_send(s->channel, s->buf, FC_MESSAGE,
                            P2PSIG_KIND_BINARY);
  elapsed = g_get_monotonic_time() - start;
  s->max_send_us = MAX(s->max_send_us, elapsed);
  buffered = p2psig_channel_get_buffered_amount(s->channel);
  s->max_buffered = MAX(s->max_buffered, buffered);
  if (ret == 0)
    s->seq++;
  else if (ret == P2PSIG_EAGAIN)
    s->eagain++;
  else
    g_error("send %" G_GUINT64_FORMAT ": %s", s->seq,
            p2psig_error_name(ret));
  return ret;
}

static void
test_flow_control(void)
{
  const struct peer_options opts = { .send_buffer_limit = FC_LIMIT };
  const uint64_t total_messages = FC_TOTAL / FC_MESSAGE;
  struct fc_sender s = { 0 };
  struct side *offer, *answer;
  struct chan *a;
  p2psig_channel_stats stats = P2PSIG_STATS_INIT(p2psig_channel_stats);
  int low_before;
  int rounds = 0;

  pair_new(&offer, &answer, &opts);
  testutil_lock();
  answer->keep_messages = false;
  testutil_unlock();
  s.c = create(offer, "flow", NULL);
  pair_connect(offer, answer);
  a = wait_remote(answer, "flow");
  TESTUTIL_WAIT(s.c->open_events == 1, WAIT_MS, "flow open");
  testutil_lock();
  a->stream = true;
  /* The answer reads at most 64 MiB/s, slower than the sender writes:
   * its receive window closes and the sender's buffer fills every
   * round, whatever the speed of the path between them. */
  a->stream_read_delay_us = FC_READ_DELAY_US;
  testutil_unlock();
  s.channel = chan_channel(s.c);
  s.buf = g_malloc(FC_MESSAGE);

  /* A tight loop: the limit is reached quickly, and sends fail instead of
   * waiting. */
  while (fc_send(&s) == 0) {
    if (s.seq > 20000)
      g_error("no P2PSIG_EAGAIN after %" G_GUINT64_FORMAT " MiB",
              s.seq / 16);
  }
  g_test_message("first P2PSIG_EAGAIN after %" G_GUINT64_FORMAT
                 " messages, %zu bytes buffered at most, longest send "
                 "%" G_GINT64_FORMAT " us",
                 s.seq, s.max_buffered, s.max_send_us);
  g_assert_cmpuint(s.max_buffered, >, 0);
  g_assert_cmpuint(s.max_buffered, <=, FC_LIMIT);
  /* A send that waited for room would wait for the network; what a send
   * may wait for is the library's lock, which its thread holds while it
   * works through a burst of packets (tens of ms seen). */
  g_assert_cmpint(s.max_send_us, <, MAX_SEND_US);

  /* Then respect flow control: fill up, wait for the low mark, again. */
  g_assert_cmpint(p2psig_channel_set_buffered_amount_low_threshold(
                    s.channel, FC_THRESHOLD), ==, 0);
  testutil_lock();
  low_before = s.c->low_events;
  testutil_unlock();
  TESTUTIL_WAIT(s.c->low_events > low_before, WAIT_MS,
                "on_buffered_amount_low after the first P2PSIG_EAGAIN");
  g_assert_cmpuint(p2psig_channel_get_buffered_amount(s.channel), <=,
                   FC_THRESHOLD);
  while (s.seq < total_messages) {
    testutil_lock();
    low_before = s.c->low_events;
    testutil_unlock();
    while (s.seq < total_messages && fc_send(&s) == 0)
      ;
    if (s.seq < total_messages) {
      rounds++;
      TESTUTIL_WAIT(s.c->low_events > low_before, WAIT_MS,
                    "on_buffered_amount_low");
    }
  }
  g_test_message("%" G_GUINT64_FORMAT " messages sent in %d rounds, %d "
                 "P2PSIG_EAGAIN, %zu bytes buffered at most, longest send "
                 "%" G_GINT64_FORMAT " us",
                 s.seq, rounds, s.eagain, s.max_buffered, s.max_send_us);
  g_assert_cmpint(rounds, >, 0);
  g_assert_cmpuint(s.max_buffered, <=, FC_LIMIT);
  g_assert_cmpint(s.max_send_us, <, MAX_SEND_US);

  TESTUTIL_WAIT(a->next_seq >= total_messages || a->stream_errors > 0, 60000,
                "every message at the answer");
  testutil_lock();
  g_assert_cmpint(a->stream_errors, ==, 0);
  g_assert_cmpuint(a->next_seq, ==, total_messages);
  g_assert_cmpuint(a->stream_bytes, ==, FC_TOTAL);
  g_assert_cmpint(a->message_events, ==, (int)total_messages);
  testutil_unlock();
  g_assert_cmpuint(p2psig_channel_get_buffered_amount(s.channel), ==, 0);
  g_assert_cmpint(p2psig_channel_get_stats(s.channel, &stats), ==, 0);
  g_assert_cmpuint(stats.messages_sent, ==, total_messages);
  g_assert_cmpuint(stats.bytes_sent, ==, FC_TOTAL);
  g_assert_cmpuint(stats.buffered_amount, ==, 0);
  g_free(s.buf);
  pair_free(offer, answer);
}

/* ---- /channel/stream-cap ---- */

/* The answer offers 16 streams, the offer the default: ids stay below 16
 * on both sides (odd for the offer, the DTLS server here, even for the
 * answer), and a ninth channel from one side closes without opening. */
#define CAP_STREAMS 16

static void
test_stream_cap(void)
{
  struct side *offer, *answer;
  struct peer_options small = { .sctp_streams = CAP_STREAMS };
  struct chan *oc[CAP_STREAMS / 2], *ac[CAP_STREAMS / 2];
  int error = 0;

  pair_new_with(&offer, &answer, NULL, &small);
  pair_connect(offer, answer);
  for (int i = 0; i < CAP_STREAMS / 2; i++) {
    g_autofree char *ol = g_strdup_printf("o%d", i);
    g_autofree char *al = g_strdup_printf("a%d", i);

    oc[i] = create(offer, ol, NULL);
    ac[i] = create(answer, al, NULL);
  }
  for (int i = 0; i < CAP_STREAMS / 2; i++) {
    TESTUTIL_WAIT(oc[i]->open_events == 1 && ac[i]->open_events == 1,
                  WAIT_MS, "the channels within the cap open");
    testutil_lock();
    g_assert_cmpint(oc[i]->id, <, CAP_STREAMS);
    g_assert_cmpint(oc[i]->id % 2, ==, 1);
    g_assert_cmpint(ac[i]->id, <, CAP_STREAMS);
    g_assert_cmpint(ac[i]->id % 2, ==, 0);
    testutil_unlock();
  }
  /* One past the cap is refused at once, with no callback: a closed one
   * could be freed (its on_close run on a dispatcher thread) before the
   * caller had it. */
  g_assert_null(p2psig_peer_create_channel(offer->base.peer, "past", NULL,
                                           &error));
  g_assert_cmpint(error, ==, P2PSIG_EBUSY);
  g_assert_null(p2psig_peer_create_channel(answer->base.peer, "past", NULL,
                                           &error));
  g_assert_cmpint(error, ==, P2PSIG_EBUSY);
  testutil_lock();
  g_assert_cmpint(offer->close_events, ==, 0);
  g_assert_cmpint(answer->close_events, ==, 0);
  testutil_unlock();
  pair_free(offer, answer);
}

/* ---- /channel/many ---- */

#define MANY_OFFER 1024
#define MANY_ANSWER 100
#define MANY_TOTAL (MANY_OFFER + MANY_ANSWER)

/* Lock held. */
static bool
all_open_many(struct side *side)
{
  return side->open_events >= MANY_TOTAL;
}

static bool
all_closed_many(struct side *side)
{
  return side->close_events >= MANY_TOTAL;
}

/* Waits until done() holds for both sides; lists what is missing if not. */
static void
wait_many(struct side *offer, struct side *answer,
          bool (*done)(struct side *), const char *what)
{
  gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
  bool open = done == all_open_many;
  int missing = 0;

  testutil_lock();
  while (!(done(offer) && done(answer)) &&
         testutil_wait_until(deadline))
    ;
  if (done(offer) && done(answer)) {
    testutil_unlock();
    return;
  }
  for (struct side **s = (struct side *[]){ offer, answer, NULL }; *s; s++) {
    for (guint i = 0; i < (*s)->chans->len; i++) {
      struct chan *c = (*s)->chans->pdata[i];

      if ((open ? c->open_events : c->close_events) == 0 && missing++ < 10)
        g_printerr("# %s: channel %d '%s' (%s) got no %s (%d on_open, "
                   "%d on_close)\n", (*s)->base.name, c->id, c->label,
                   c->local ? "local" : "remote", what, c->open_events,
                   c->close_events);
    }
  }
  g_printerr("# %s: offer %d of %d channels known, answer %d\n", what,
             offer->chans->len, MANY_TOTAL, answer->chans->len);
  testutil_unlock();
  g_error("%s: offer %d, answer %d of %d each (%d missing)", what,
          open ? offer->open_events : offer->close_events,
          open ? answer->open_events : answer->close_events, MANY_TOTAL,
          missing);
}

static gint
compare_id(gconstpointer a, gconstpointer b)
{
  const struct chan *x = *(struct chan *const *)a;
  const struct chan *y = *(struct chan *const *)b;

  return x->id - y->id;
}

static void
test_many(void)
{
  struct side *offer, *answer;
  g_autoptr(GPtrArray) by_id = g_ptr_array_new();
  GHashTable *answer_ids = g_hash_table_new(NULL, NULL);
  struct chan *reuse, *reuse_remote;
  GHashTable *used = g_hash_table_new(NULL, NULL);
  /* More channels than the default streams allow. */
  struct peer_options opts = { .sctp_streams = 2048 };

  pair_new_with(&offer, &answer, &opts, &opts);
  testutil_lock();
  answer->keep_messages = false;
  offer->keep_messages = false;
  testutil_unlock();
  for (int i = 0; i < MANY_OFFER; i++) {
    g_autofree char *label = g_strdup_printf("o%d", i);

    create(offer, label, NULL);
  }
  pair_connect(offer, answer);
  for (int i = 0; i < MANY_ANSWER; i++) {
    g_autofree char *label = g_strdup_printf("a%d", i);

    create(answer, label, NULL);
  }
  wait_many(offer, answer, all_open_many, "on_open");

  testutil_lock();
  g_assert_cmpint(offer->channel_events, ==, MANY_ANSWER);
  g_assert_cmpint(answer->channel_events, ==, MANY_OFFER);
  g_assert_cmpint(offer->close_events, ==, 0);
  g_assert_cmpint(answer->close_events, ==, 0);
  g_assert_cmpuint(offer->chans->len, ==, MANY_TOTAL);
  g_assert_cmpuint(answer->chans->len, ==, MANY_TOTAL);
  for (guint i = 0; i < answer->chans->len; i++) {
    struct chan *c = answer->chans->pdata[i];

    g_assert_cmpint(c->open_events, ==, 1);
    g_assert_false(g_hash_table_contains(answer_ids, GINT_TO_POINTER(c->id)));
    g_hash_table_insert(answer_ids, GINT_TO_POINTER(c->id), c);
    g_hash_table_add(used, GINT_TO_POINTER(c->id));
  }
  for (guint i = 0; i < offer->chans->len; i++) {
    struct chan *c = offer->chans->pdata[i];
    struct chan *r = g_hash_table_lookup(answer_ids, GINT_TO_POINTER(c->id));

    g_assert_cmpint(c->open_events, ==, 1);
    g_assert_nonnull(r);
    g_assert_cmpstr(r->label, ==, c->label);
    g_assert_cmpint(c->id % 2, ==, c->local ? 1 : 0);
    g_assert_true(c->local != r->local);
    g_ptr_array_add(by_id, c);
  }
  testutil_unlock();
  g_ptr_array_sort(by_id, compare_id);

  /* Close each from one side, alternately. */
  for (guint i = 0; i < by_id->len; i++) {
    struct chan *c = by_id->pdata[i];
    p2psig_channel *channel;
    int ret;

    if (i % 2) {
      testutil_lock();
      c = g_hash_table_lookup(answer_ids, GINT_TO_POINTER(c->id));
      testutil_unlock();
    }
    channel = chan_channel(c);
    g_assert_nonnull(channel);
    ret = p2psig_channel_close(channel);
    if (ret != 0)
      g_error("closing channel %d on the %s: %s", c->id, c->side->base.name,
              p2psig_error_name(ret));
  }
  g_hash_table_unref(answer_ids);
  wait_many(offer, answer, all_closed_many, "on_close");

  /* An id is used again by a new channel, which opens on both sides. */
  reuse = create(offer, "reuse", NULL);
  reuse_remote = wait_remote(answer, "reuse");
  TESTUTIL_WAIT(reuse->open_events == 1, WAIT_MS, "reused channel open");
  testutil_lock();
  g_test_message("new channel got id %d", reuse->id);
  g_assert_true(g_hash_table_contains(used, GINT_TO_POINTER(reuse->id)));
  g_assert_cmpint(reuse_remote->id, ==, reuse->id);
  g_assert_cmpint(reuse_remote->channel_events, ==, 1);
  /* Exactly one on_close per channel on each side, none for the new one
   * (events run in order, so none can still be on the way). */
  for (struct side **s = (struct side *[]){ offer, answer, NULL }; *s; s++) {
    g_assert_cmpint((*s)->close_events, ==, MANY_TOTAL);
    for (guint i = 0; i < (*s)->chans->len; i++) {
      struct chan *c = (*s)->chans->pdata[i];

      g_assert_cmpint(c->close_events, ==,
                      c == reuse || c == reuse_remote ? 0 : 1);
    }
  }
  testutil_unlock();
  send_ok(reuse, "reused", 6, P2PSIG_KIND_TEXT);
  TESTUTIL_WAIT(reuse_remote->message_events == 1, WAIT_MS,
                "message on reused id");
  g_hash_table_unref(used);
  pair_free(offer, answer);
}

/* ---- /channel/close-in-callback ---- */

static void
test_close_in_callback(void)
{
  struct side *offer, *answer;
  struct chan *o, *a, *o2, *a2;

  pair_new(&offer, &answer, NULL);
  testutil_lock();
  answer->hook = HOOK_CLOSE_CHANNEL;
  testutil_unlock();
  o = create(offer, "closer", NULL);
  o2 = create(offer, "bystander", NULL);
  pair_connect(offer, answer);
  a = wait_remote(answer, "closer");
  a2 = wait_remote(answer, "bystander");
  TESTUTIL_WAIT(o->open_events == 1 && o2->open_events == 1, WAIT_MS, "open");

  send_ok(o, "first", 5, P2PSIG_KIND_TEXT);
  send_ok(o, "close-me", 8, P2PSIG_KIND_TEXT);
  TESTUTIL_WAIT(o->close_events == 1 && a->close_events == 1, WAIT_MS,
                "on_close on both sides");
  testutil_lock();
  g_assert_cmpint(answer->hook_runs, ==, 1);
  g_assert_cmpint(answer->hook_result, ==, 0);
  testutil_unlock();
  g_assert_cmpint(p2psig_channel_send_text(chan_channel(o2), "ping"), ==, 0);
  TESTUTIL_WAIT(a2->message_events == 1, WAIT_MS, "bystander still works");
  testutil_lock();
  g_assert_cmpint(o->close_events, ==, 1);
  g_assert_cmpint(a->close_events, ==, 1);
  g_assert_cmpint(a->message_events, ==, 2);
  g_assert_cmpint(offer->close_events, ==, 1);
  g_assert_cmpint(answer->close_events, ==, 1);
  testutil_unlock();
  pair_free(offer, answer);
}

static void
test_free_in_callback(void)
{
  struct side *offer, *answer;
  struct chan *o, *a;
  int messages;

  pair_new(&offer, &answer, NULL);
  testutil_lock();
  answer->hook = HOOK_FREE_PEER;
  offer->hook = HOOK_BURST;
  testutil_unlock();
  o = create(offer, "freer", NULL);
  pair_connect(offer, answer);
  a = wait_remote(answer, "freer");
  TESTUTIL_WAIT(o->open_events == 1, WAIT_MS, "open");

  /* The offer answers "burst" with "free-me" and more messages behind it,
   * from its callback: none of those after "free-me" may reach a callback
   * of the freed answer.  (The test thread does not send on the offer's
   * channel itself: the answer's leaving closes it at any moment.) */
  send_ok(a, "burst", 5, P2PSIG_KIND_TEXT);
  TESTUTIL_WAIT(answer->hook_runs == 1, WAIT_MS, "the answer freed itself");
  /* The freed peer tears its association down: the offer's channel
   * closes. */
  TESTUTIL_WAIT(o->close_events == 1, 15000,
                "offer on_close after the answer left");
  testutil_lock();
  messages = a->message_events;
  g_assert_cmpint(messages, ==, 1);
  g_assert_cmpint(offer->hook_runs, ==, 1);
  g_assert_cmpint(offer->hook_result, ==, 0);
  g_assert_cmpint(answer->base.after_free, ==, 0);
  g_assert_cmpint(a->close_events, ==, 0);
  testutil_unlock();
  pair_free(offer, answer);
}

/* A channel closed just before its peer: still one on_close each. */
static void
test_close_then_peer_close(void)
{
  struct side *offer, *answer;
  struct chan *o[3], *a[3];
  static const char *const labels[] = { "first", "second", "third" };

  pair_new(&offer, &answer, NULL);
  for (int i = 0; i < 3; i++)
    o[i] = create(offer, labels[i], NULL);
  pair_connect(offer, answer);
  for (int i = 0; i < 3; i++) {
    a[i] = wait_remote(answer, labels[i]);
    TESTUTIL_WAIT(o[i]->open_events == 1, WAIT_MS, labels[i]);
  }
  g_assert_cmpint(p2psig_channel_close(chan_channel(o[0])), ==, 0);
  p2psig_peer_close(offer->base.peer);
  TESTUTIL_WAIT(offer->close_events == 3 &&
                offer->base.closed_state_count == 1, WAIT_MS,
                "the offer's channels and the offer closed");
  /* The answer learns from the association's end. */
  TESTUTIL_WAIT(answer->close_events == 3, WAIT_MS,
                "the answer's channels closed");
  /* A last round trip through the offer's event queue: nothing more. */
  p2psig_peer_close(offer->base.peer);
  testutil_lock();
  for (int i = 0; i < 3; i++) {
    g_assert_cmpint(o[i]->close_events, ==, 1);
    g_assert_cmpint(a[i]->close_events, ==, 1);
  }
  g_assert_cmpint(offer->base.closed_state_count, ==, 1);
  testutil_unlock();
  pair_free(offer, answer);

  /* The same before any connection: a channel closed (on_close queued),
   * then its peer, then a round trip through the event queue. */
  pair_new(&offer, &answer, NULL);
  o[0] = create(offer, "early", NULL);
  o[1] = create(offer, "other", NULL);
  g_assert_cmpint(p2psig_channel_close(chan_channel(o[0])), ==, 0);
  p2psig_peer_close(offer->base.peer);
  TESTUTIL_WAIT(offer->close_events >= 2 &&
                offer->base.closed_state_count == 1, WAIT_MS,
                "unconnected channels and peer closed");
  {
    int error = 0;

    g_assert_null(p2psig_peer_create_channel(offer->base.peer, "late", NULL,
                                             &error));
    g_assert_cmpint(error, ==, P2PSIG_ECLOSED);
  }
  testutil_lock();
  g_assert_cmpint(o[0]->close_events, ==, 1);
  g_assert_cmpint(o[1]->close_events, ==, 1);
  g_assert_cmpint(offer->close_events, ==, 2);
  g_assert_cmpint(offer->open_events, ==, 0);
  testutil_unlock();
  pair_free(offer, answer);
}

/* ---- /channel/stats ---- */

static void
check_channel_stats(struct chan *c, uint64_t msent, uint64_t bsent,
                    uint64_t mrecv, uint64_t brecv)
{
  p2psig_channel_stats s = P2PSIG_STATS_INIT(p2psig_channel_stats);

  g_assert_cmpint(p2psig_channel_get_stats(chan_channel(c), &s), ==, 0);
  g_test_message("%s '%s': sent %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                 ", received %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                 c->side->base.name, c->label, s.messages_sent, s.bytes_sent,
                 s.messages_received, s.bytes_received);
  g_assert_cmpuint(s.size, ==, sizeof s);
  g_assert_cmpuint(s.messages_sent, ==, msent);
  g_assert_cmpuint(s.bytes_sent, ==, bsent);
  g_assert_cmpuint(s.messages_received, ==, mrecv);
  g_assert_cmpuint(s.bytes_received, ==, brecv);
  g_assert_cmpuint(s.buffered_amount, ==, 0);
}

static void
check_peer_stats(struct side *side, uint64_t msent, uint64_t bsent,
                 uint64_t mrecv, uint64_t brecv, p2psig_peer_stats *out)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  g_assert_cmpint(p2psig_peer_get_stats(side->base.peer, &s), ==, 0);
  g_test_message("%s: sent %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                 ", received %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                 ", pair %s %s:%u - %s %s:%u, rtt %.1f ms",
                 side->base.name, s.messages_sent, s.bytes_sent,
                 s.messages_received, s.bytes_received, s.local_type,
                 s.local_address, s.local_port, s.remote_type,
                 s.remote_address, s.remote_port, s.rtt_ms);
  g_assert_cmpuint(s.size, ==, sizeof s);
  g_assert_cmpuint(s.messages_sent, ==, msent);
  g_assert_cmpuint(s.bytes_sent, ==, bsent);
  g_assert_cmpuint(s.messages_received, ==, mrecv);
  g_assert_cmpuint(s.bytes_received, ==, brecv);
  g_assert_true(s.has_selected_pair);
  g_assert_cmpstr(s.local_address, ==, "127.0.0.1");
  g_assert_cmpstr(s.remote_address, ==, "127.0.0.1");
  g_assert_cmpstr(s.local_type, ==, "host");
  g_assert_cmpstr(s.remote_type, ==, "host");
  g_assert_cmpuint(s.local_port, >, 0);
  g_assert_cmpuint(s.remote_port, >, 0);
  g_assert_cmpfloat(s.rtt_ms, >=, 0);
  g_assert_cmpfloat(s.rtt_ms, <, 5000);
  *out = s;
}

static void
test_stats(void)
{
  static const uint8_t bin10[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
  struct side *offer, *answer;
  struct chan *o1, *o2, *a1, *a2;
  p2psig_peer_stats os, as;
  p2psig_peer_stats before = P2PSIG_STATS_INIT(p2psig_peer_stats);

  pair_new(&offer, &answer, NULL);
  o1 = create(offer, "one", NULL);
  o2 = create(offer, "two", NULL);
  /* Before anything is connected: zeros, no pair. */
  g_assert_cmpint(p2psig_peer_get_stats(offer->base.peer, &before), ==, 0);
  g_assert_cmpuint(before.messages_sent, ==, 0);
  g_assert_false(before.has_selected_pair);
  pair_connect(offer, answer);
  a1 = wait_remote(answer, "one");
  a2 = wait_remote(answer, "two");
  TESTUTIL_WAIT(o1->open_events == 1 && o2->open_events == 1, WAIT_MS, "open");
  check_channel_stats(o1, 0, 0, 0, 0);

  /* Channel one: offer sends 3 messages (5 + 10 + 0 bytes), the answer 2
   * (7 + 0).  Channel two: offer 1 (100 bytes), answer 1 (3). */
  send_ok(o1, "hello", 5, P2PSIG_KIND_TEXT);
  send_ok(o1, bin10, sizeof bin10, P2PSIG_KIND_BINARY);
  send_ok(o1, NULL, 0, P2PSIG_KIND_TEXT);
  send_ok(a1, "goodbye", 7, P2PSIG_KIND_TEXT);
  send_ok(a1, NULL, 0, P2PSIG_KIND_BINARY);
  {
    uint8_t hundred[100];

    fill_pattern(hundred, sizeof hundred, 1);
    send_ok(o2, hundred, sizeof hundred, P2PSIG_KIND_BINARY);
  }
  send_ok(a2, "abc", 3, P2PSIG_KIND_TEXT);
  TESTUTIL_WAIT(a1->message_events == 3 && o1->message_events == 2 &&
                a2->message_events == 1 && o2->message_events == 1, WAIT_MS,
                "the exchange");

  check_channel_stats(o1, 3, 15, 2, 7);
  check_channel_stats(a1, 2, 7, 3, 15);
  check_channel_stats(o2, 1, 100, 1, 3);
  check_channel_stats(a2, 1, 3, 1, 100);
  check_peer_stats(offer, 4, 115, 3, 10, &os);
  check_peer_stats(answer, 3, 10, 4, 115, &as);
  /* Each end's pair is the other's, mirrored. */
  g_assert_cmpuint(os.local_port, ==, as.remote_port);
  g_assert_cmpuint(os.remote_port, ==, as.local_port);

  /* Peer totals keep what closed channels carried. */
  g_assert_cmpint(p2psig_channel_close(chan_channel(o2)), ==, 0);
  TESTUTIL_WAIT(o2->close_events == 1 && a2->close_events == 1, WAIT_MS,
                "channel two closed");
  check_peer_stats(offer, 4, 115, 3, 10, &os);
  check_peer_stats(answer, 3, 10, 4, 115, &as);
  /* Stats with a size from an older header: only that much is written. */
  {
    p2psig_channel_stats small;

    memset(&small, 0xab, sizeof small);
    small.size = offsetof(p2psig_channel_stats, bytes_sent);
    g_assert_cmpint(p2psig_channel_get_stats(chan_channel(o1), &small), ==,
                    0);
    g_assert_cmpuint(small.messages_sent, ==, 3);
    g_assert_cmpuint(small.bytes_sent, ==, 0xababababababababULL);
  }
  pair_free(offer, answer);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/channel/options", test_options);
  g_test_add_func("/channel/invalid", test_invalid);
  g_test_add_func("/channel/negotiated/before-connect",
                  test_negotiated_before);
  g_test_add_func("/channel/negotiated/after-connect", test_negotiated_after);
  g_test_add_func("/channel/ids", test_ids);
  g_test_add_func("/channel/large", test_large);
  g_test_add_func("/channel/flow-control", test_flow_control);
  g_test_add_func("/channel/many", test_many);
  g_test_add_func("/channel/stream-cap", test_stream_cap);
  g_test_add_func("/channel/close-in-callback/channel-close",
                  test_close_in_callback);
  g_test_add_func("/channel/close-in-callback/peer-free",
                  test_free_in_callback);
  g_test_add_func("/channel/close-then-peer-close",
                  test_close_then_peer_close);
  g_test_add_func("/channel/stats", test_stats);
  return g_test_run();
}
