/* SPDX-License-Identifier: MIT */
/*
 * Data channels: the p2psig_channel_* API, stream ids, DCEP (RFC 8832)
 * open and ack, channel options (ordering, partial reliability, negotiated
 * ids, priority), the payload protocol identifiers of RFC 8831, flow
 * control, and closing by stream reset.  Talks down to sctp.c and up
 * through the peer's events.
 */
#define G_LOG_DOMAIN "p2psig-channel"

#include "peer-private.h"

#include <string.h>

#include "dcep.h"

#define DEFAULT_PRIORITY 256

static bool
channel_known(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC;
}

/* Whether the channel still belongs to a live peer; with the lock held. */
static bool
channel_valid(const p2psig_channel *channel)
{
  return channel_known(channel) && !channel->detached &&
         !channel->peer->freed;
}

p2psig_channel *
p2psig__channel_new(p2psig_peer *peer, const char *label, size_t label_len,
                    const char *protocol, size_t protocol_len)
{
  p2psig_channel *channel = g_new0(p2psig_channel, 1);

  channel->magic = CHANNEL_MAGIC;
  channel->refcount = 1;
  channel->peer = peer;
  channel->loop = peer->loop;
  channel->label = g_strndup(label, label_len);
  channel->protocol = g_strndup(protocol, protocol_len);
  channel->sid = -1;
  channel->priority = DEFAULT_PRIORITY;
  g_queue_init(&channel->pending);
  g_ptr_array_add(peer->channels.all, channel);
  return channel;
}

static void
drop_pending(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;

  g_queue_clear_full(&channel->pending, g_free);
  peer->channels.buffered_total -= channel->buffered_amount;
  channel->buffered_amount = 0;
  if (channel->blocked) {
    g_queue_remove(&peer->channels.blocked, channel);
    channel->blocked = false;
  }
}

static void
release_sid(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;

  if (channel->sid >= 0 &&
      g_hash_table_lookup(peer->channels.by_sid,
                          GINT_TO_POINTER(channel->sid)) == channel)
    g_hash_table_remove(peer->channels.by_sid, GINT_TO_POINTER(channel->sid));
}

void
p2psig__channel_release(p2psig_channel *channel)
{
  drop_pending(channel);
  release_sid(channel);
  g_ptr_array_remove_fast(channel->peer->channels.all, channel);
  channel->detached = true;
  channel->peer = NULL;
  p2psig_channel_unref(channel);
}

void
p2psig__channels_init(struct p2psig_channels *channels, size_t buffer_limit)
{
  channels->all = g_ptr_array_new();
  channels->by_sid = g_hash_table_new(NULL, NULL);
  channels->resetting = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  channels->last_reset = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  g_queue_init(&channels->blocked);
  channels->buffer_limit = buffer_limit ? buffer_limit
                                        : P2PSIG_DEFAULT_SEND_BUFFER_LIMIT;
}

void
p2psig__channels_release_all(p2psig_peer *peer)
{
  while (peer->channels.all->len > 0)
    p2psig__channel_release(peer->channels.all->pdata[0]);
  g_queue_clear(&peer->channels.blocked);
}

void
p2psig__channels_end(struct p2psig_channels *channels)
{
  g_ptr_array_unref(channels->all);
  g_hash_table_unref(channels->by_sid);
  g_hash_table_unref(channels->resetting);
  g_hash_table_unref(channels->last_reset);
}

p2psig_channel *
p2psig_channel_ref(p2psig_channel *channel)
{
  if (channel_known(channel))
    g_atomic_int_inc(&channel->refcount);
  return channel;
}

void
p2psig_channel_unref(p2psig_channel *channel)
{
  if (!channel_known(channel) ||
      !g_atomic_int_dec_and_test(&channel->refcount))
    return;
  channel->magic = 0;
  g_free(channel->label);
  g_free(channel->protocol);
  g_free(channel);
}

static void
emit_channel_event(p2psig_channel *channel, enum event_type type)
{
  struct event event = { .type = type, .channel = channel };

  p2psig__peer_emit(channel->peer, &event);
}

static void
mark_closed(p2psig_channel *channel)
{
  if (channel->state == CHANNEL_CLOSED)
    return;
  if (channel->state == CHANNEL_CLOSING)
    channel->peer->channels.closing--;
  channel->state = CHANNEL_CLOSED;
  drop_pending(channel);
  emit_channel_event(channel, EVENT_CLOSE);
}

/* Derives what SCTP needs from the DCEP channel type (RFC 8832 5.1). */
static void
set_send_options(p2psig_channel *channel)
{
  struct p2psig_sctp_send_options *o = &channel->send_options;

  o->unordered = channel->channel_type & P2PSIG_DCEP_UNORDERED_FLAG;
  switch (channel->channel_type & ~P2PSIG_DCEP_UNORDERED_FLAG) {
  case P2PSIG_DCEP_PARTIAL_RELIABLE_REXMIT:
    o->pr_policy = P2PSIG_SCTP_PR_RTX;
    break;
  case P2PSIG_DCEP_PARTIAL_RELIABLE_TIMED:
    o->pr_policy = P2PSIG_SCTP_PR_TTL;
    break;
  default:
    o->pr_policy = P2PSIG_SCTP_PR_NONE;
    break;
  }
  o->pr_value = o->pr_policy != P2PSIG_SCTP_PR_NONE ? channel->reliability
                                                    : 0;
}

/* A stream we reset rests this long before a new channel takes its id: a
 * repeated reset request (see p2psig__channels_retry_resets) may still be
 * on its way and would close the new channel. */
#define SID_REST_US (3 * G_USEC_PER_SEC)

/* The DTLS client opens even stream ids, the server odd ones (RFC 8832
 * section 6).  Free ids that have rested come first, then the free id that
 * has rested longest. */
static int
allocate_sid(p2psig_peer *peer)
{
  uint16_t max = p2psig__sctp_max_streams(peer->sctp);
  gint64 now = g_get_monotonic_time();
  gint64 oldest = G_MAXINT64;
  int fallback = -1;

  for (int sid = peer->dtls_client ? 0 : 1; sid < max; sid += 2) {
    gpointer key = GINT_TO_POINTER(sid);
    gint64 *reset;

    if (g_hash_table_contains(peer->channels.by_sid, key) ||
        g_hash_table_contains(peer->channels.resetting, key))
      continue;
    reset = g_hash_table_lookup(peer->channels.last_reset, key);
    if (!reset || now - *reset > SID_REST_US)
      return sid;
    if (*reset < oldest) {
      oldest = *reset;
      fallback = sid;
    }
  }
  return fallback;
}

static void
open_negotiated(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;

  if (channel->sid >= p2psig__sctp_max_streams(peer->sctp)) {
    g_debug("negotiated channel '%s': id %d beyond the %u streams",
            channel->label, channel->sid,
            p2psig__sctp_max_streams(peer->sctp));
    mark_closed(channel);
    return;
  }
  p2psig__sctp_set_priority(peer->sctp, (uint16_t)channel->sid,
                            channel->priority);
  channel->state = CHANNEL_OPEN;
  emit_channel_event(channel, EVENT_OPEN);
}

/* DCEP messages go reliably and in order whatever the channel's options
 * (RFC 8832 section 6). */
static const struct p2psig_sctp_send_options *
options_for(const p2psig_channel *channel, uint32_t ppid)
{
  return ppid == P2PSIG_PPID_DCEP ? NULL : &channel->send_options;
}

/* Holds a copy of a message SCTP cannot take now.  Only what counts in the
 * buffered amount is subject to the peer's limit. */
static int
hold(p2psig_channel *channel, uint32_t ppid, const void *data, size_t len,
     size_t counted)
{
  p2psig_peer *peer = channel->peer;
  struct pending_message *m;

  if (counted > 0 &&
      peer->channels.buffered_total + counted > peer->channels.buffer_limit)
    return P2PSIG_EAGAIN;
  m = g_malloc(sizeof *m + len);
  m->ppid = ppid;
  m->len = len;
  m->counted = counted;
  memcpy(m->data, data, len);
  g_queue_push_tail(&channel->pending, m);
  channel->buffered_amount += counted;
  peer->channels.buffered_total += counted;
  if (!channel->blocked) {
    channel->blocked = true;
    g_queue_push_tail(&peer->channels.blocked, channel);
  }
  return 0;
}

/* Sends on the channel's stream, or holds the message when SCTP cannot
 * take it now; messages queue behind held ones, to keep their order. */
static int
send_or_hold(p2psig_channel *channel, uint32_t ppid, const void *data,
             size_t len, size_t counted)
{
  int ret = P2PSIG_EAGAIN;

  if (g_queue_is_empty(&channel->pending))
    ret = p2psig__sctp_send(channel->peer->sctp, (uint16_t)channel->sid, ppid,
                            options_for(channel, ppid), data, len);
  if (ret == P2PSIG_EAGAIN)
    ret = hold(channel, ppid, data, len, counted);
  return ret;
}

/* Gives the channel a stream id and sends its DCEP open; on failure the
 * channel is left as it was, for the caller to close or give back. */
static int
announce(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;
  struct p2psig_dcep_open open = {
    .channel_type = channel->channel_type,
    .priority = channel->priority,
    .reliability = channel->reliability,
    .label = channel->label,
    .label_len = strlen(channel->label),
    .protocol = channel->protocol,
    .protocol_len = strlen(channel->protocol),
  };
  size_t cap = 12 + open.label_len + open.protocol_len;
  g_autofree uint8_t *buf = g_malloc(cap);
  size_t len = p2psig__dcep_build_open(&open, buf, cap);
  int sid = allocate_sid(peer);
  int ret;

  if (sid < 0 || len == 0) {
    g_info("channel '%s': no stream id left (%u negotiated; see "
           "sctp_streams)", channel->label,
           p2psig__sctp_max_streams(peer->sctp));
    return P2PSIG_EBUSY;
  }
  channel->sid = sid;
  g_hash_table_insert(peer->channels.by_sid, GINT_TO_POINTER(sid), channel);
  p2psig__sctp_set_priority(peer->sctp, (uint16_t)sid, channel->priority);
  ret = send_or_hold(channel, P2PSIG_PPID_DCEP, buf, len, 0);
  if (ret < 0) {
    g_debug("channel '%s': DCEP open failed: %s", channel->label,
            p2psig_strerror(ret));
    return ret;
  }
  /* RFC 8832 section 6: the opener may send right away (ordered until the
   * ACK arrives), which is what pion and browsers report as open. */
  channel->state = CHANNEL_OPEN;
  emit_channel_event(channel, EVENT_OPEN);
  return 0;
}

void
p2psig__channels_connected(p2psig_peer *peer)
{
  /* A channel left without an id closes, which keeps it in the array until
   * its on_close has run; walk a copy all the same. */
  g_autoptr(GPtrArray) list = g_ptr_array_copy(peer->channels.all, NULL, NULL);

  for (guint i = 0; i < list->len; i++) {
    p2psig_channel *channel = list->pdata[i];

    if (channel->state != CHANNEL_CONNECTING || channel->remote_opened)
      continue;
    if (channel->negotiated)
      open_negotiated(channel);
    else if (announce(channel) < 0)
      mark_closed(channel);
  }
}

/* What the remote's OPENs make the association hold, over the channels
 * not released yet. */
static size_t
remote_label_bytes(const p2psig_peer *peer)
{
  size_t total = 0;

  for (guint i = 0; i < peer->channels.all->len; i++)
    total += ((const p2psig_channel *)peer->channels.all->pdata[i])
               ->remote_label_bytes;
  return total;
}

static int request_reset(p2psig_peer *peer, uint16_t sid);

/* An OPEN we do not take: no channel, no ACK; resetting our outgoing
 * stream closes the channel on the remote's side (RFC 8831 section 6.7),
 * and its reset of its own then finds no channel here. */
static void
refuse_open(p2psig_peer *peer, uint16_t sid)
{
  if (request_reset(peer, sid) < 0)
    g_debug("stream %u: reset failed", sid);
}

static void
receive_open(p2psig_peer *peer, uint16_t sid, const uint8_t *buf, size_t len)
{
  struct p2psig_dcep_open open;
  p2psig_channel *channel;
  uint8_t ack = P2PSIG_DCEP_ACK;

  if (p2psig__dcep_parse_open(buf, len, &open) < 0) {
    g_debug("malformed DCEP open on stream %u", sid);
    return;
  }
  if (g_hash_table_contains(peer->channels.by_sid, GINT_TO_POINTER(sid))) {
    g_debug("DCEP open on stream %u, which is in use", sid);
    return;
  }
  if (remote_label_bytes(peer) + open.label_len + open.protocol_len >
      P2PSIG_MAX_REMOTE_LABEL_BYTES) {
    g_debug("DCEP open on stream %u refused: labels over %u bytes", sid,
            (unsigned)P2PSIG_MAX_REMOTE_LABEL_BYTES);
    refuse_open(peer, sid);
    return;
  }
  channel = p2psig__channel_new(peer, open.label, open.label_len,
                                open.protocol, open.protocol_len);
  channel->sid = sid;
  channel->remote_opened = true;
  channel->remote_label_bytes = open.label_len + open.protocol_len;
  channel->channel_type = open.channel_type;
  channel->priority = open.priority;
  channel->reliability = open.reliability;
  set_send_options(channel);
  g_hash_table_insert(peer->channels.by_sid, GINT_TO_POINTER(sid), channel);
  p2psig__sctp_set_priority(peer->sctp, sid, channel->priority);
  if (send_or_hold(channel, P2PSIG_PPID_DCEP, &ack, 1, 0) < 0)
    g_debug("DCEP ack on stream %u failed", sid);
  channel->state = CHANNEL_OPEN;
  g_debug("remote opened channel '%s' on stream %u", channel->label, sid);
  emit_channel_event(channel, EVENT_CHANNEL);
  emit_channel_event(channel, EVENT_OPEN);
}

/* The message of empty messages (static: never freed). */
static GBytes *
empty_message(void)
{
  static GBytes *empty;

  /* Loops on two threads may ask at once. */
  if (g_once_init_enter(&empty))
    g_once_init_leave(&empty, g_bytes_new_static("", 0));
  return empty;
}

void
p2psig__channel_receive(p2psig_peer *peer, uint16_t sid, uint32_t ppid,
                        GBytes *message)
{
  p2psig_channel *channel;
  struct event event = { .type = EVENT_MESSAGE, .message = message };
  gsize len;
  const uint8_t *buf = g_bytes_get_data(message, &len);

  if (ppid == P2PSIG_PPID_DCEP) {
    switch (p2psig__dcep_message_type(buf, len)) {
    case P2PSIG_DCEP_OPEN:
      receive_open(peer, sid, buf, len);
      break;
    case P2PSIG_DCEP_ACK:
      g_debug("DCEP ack on stream %u", sid);
      break;
    default:
      g_debug("unknown DCEP message on stream %u", sid);
      break;
    }
    return;
  }
  channel = g_hash_table_lookup(peer->channels.by_sid, GINT_TO_POINTER(sid));
  if (!channel || (channel->state != CHANNEL_OPEN &&
                   channel->state != CHANNEL_CLOSING)) {
    g_debug("message on stream %u, which has no open channel", sid);
    return;
  }
  switch (ppid) {
  case P2PSIG_PPID_STRING:
    event.kind = P2PSIG_KIND_TEXT;
    break;
  case P2PSIG_PPID_BINARY:
    event.kind = P2PSIG_KIND_BINARY;
    break;
  /* Empty messages travel as one byte that is not part of them. */
  case P2PSIG_PPID_STRING_EMPTY:
    event.kind = P2PSIG_KIND_TEXT;
    len = 0;
    event.message = empty_message();
    break;
  case P2PSIG_PPID_BINARY_EMPTY:
    event.kind = P2PSIG_KIND_BINARY;
    len = 0;
    event.message = empty_message();
    break;
  default:
    g_debug("message with unknown PPID %u on stream %u", ppid, sid);
    return;
  }
  channel->messages_received++;
  channel->bytes_received += len;
  peer->messages_received++;
  peer->bytes_received += len;
  event.channel = channel;
  p2psig__peer_emit(peer, &event);
}

/* Resets our outgoing stream: the channel closes once the remote resets
 * its own (RFC 8831 section 6.7). */
/* Resets our outgoing stream sid; the sid stays reserved until the reset
 * went through (p2psig__channel_outgoing_reset). */
static int
request_reset(p2psig_peer *peer, uint16_t sid)
{
  gint64 *since = g_new(gint64, 1);
  gint64 *last = g_new(gint64, 1);

  *since = *last = g_get_monotonic_time();
  g_hash_table_insert(peer->channels.resetting, GINT_TO_POINTER(sid), since);
  g_hash_table_insert(peer->channels.last_reset, GINT_TO_POINTER(sid), last);
  return p2psig__sctp_reset_stream(peer->sctp, sid);
}

static void
start_close(p2psig_channel *channel)
{
  if (channel->state != CHANNEL_CLOSING)
    channel->peer->channels.closing++;
  channel->state = CHANNEL_CLOSING;
  channel->closing_since = g_get_monotonic_time();
  if (request_reset(channel->peer, (uint16_t)channel->sid) < 0)
    mark_closed(channel);
}

void
p2psig__channel_remote_reset(p2psig_peer *peer, uint16_t sid)
{
  p2psig_channel *channel = g_hash_table_lookup(peer->channels.by_sid,
                                                GINT_TO_POINTER(sid));

  if (!channel)
    return;
  /* Answer a reset of the remote's outgoing stream by resetting ours. */
  if (channel->state == CHANNEL_OPEN)
    request_reset(peer, sid);
  /* The id may be used again once both directions are reset. */
  release_sid(channel);
  mark_closed(channel);
}

void
p2psig__channel_outgoing_reset(p2psig_peer *peer, uint16_t sid)
{
  g_hash_table_remove(peer->channels.resetting, GINT_TO_POINTER(sid));
}

/* usrsctp 0.9.5 answers a reset request that arrives while data is in
 * flight with "in progress", and may then never carry it out, while the
 * requester takes a later exchange as success (seen with hundreds of
 * channels closing together).  So: a reset that has not gone through, or a
 * channel still waiting for the remote's reset, after a second, is asked
 * for again; repeating a reset is harmless. */
void
p2psig__channels_retry_resets(p2psig_peer *peer)
{
  gint64 now;
  GHashTableIter iter;
  gpointer key, value;

  /* Called each second for every connected peer: most have nothing. */
  if (peer->channels.closing == 0 &&
      g_hash_table_size(peer->channels.resetting) == 0)
    return;
  now = g_get_monotonic_time();
  for (guint i = 0; i < peer->channels.all->len; i++) {
    p2psig_channel *channel = peer->channels.all->pdata[i];

    if (channel->state == CHANNEL_CLOSING &&
        now - channel->closing_since > G_USEC_PER_SEC &&
        !g_hash_table_contains(peer->channels.resetting,
                               GINT_TO_POINTER(channel->sid))) {
      g_debug("stream %d (%s, %p): still closing, reset again", channel->sid,
              channel->label, (void *)channel);
      channel->closing_since = now;
      request_reset(peer, (uint16_t)channel->sid);
    }
  }

  g_hash_table_iter_init(&iter, peer->channels.resetting);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    gint64 *since = value;

    if (now - *since > G_USEC_PER_SEC) {
      gint64 *last = g_new(gint64, 1);

      g_debug("stream %d: reset again", GPOINTER_TO_INT(key));
      *since = *last = now;
      g_hash_table_insert(peer->channels.last_reset, key, last);
      p2psig__sctp_reset_stream(peer->sctp, (uint16_t)GPOINTER_TO_INT(key));
    }
  }
}

/* mark_closed only queues on_close: the array does not change under the
 * walk. */
void
p2psig__channels_close_all(p2psig_peer *peer)
{
  for (guint i = 0; i < peer->channels.all->len; i++)
    mark_closed(peer->channels.all->pdata[i]);
}

/* Sends what the channel holds, oldest first, until SCTP is full.
 * Returns whether the channel has nothing left. */
static bool
flush_channel(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;
  size_t before = channel->buffered_amount;
  struct pending_message *m;

  while ((m = g_queue_peek_head(&channel->pending))) {
    int ret = p2psig__sctp_send(peer->sctp, (uint16_t)channel->sid, m->ppid,
                                options_for(channel, m->ppid), m->data,
                                m->len);

    if (ret == P2PSIG_EAGAIN)
      break;
    if (ret < 0)
      g_debug("channel '%s': a held message was lost: %s", channel->label,
              p2psig_strerror(ret));
    g_queue_pop_head(&channel->pending);
    channel->buffered_amount -= m->counted;
    peer->channels.buffered_total -= m->counted;
    g_free(m);
  }
  if (before > channel->low_threshold &&
      channel->buffered_amount <= channel->low_threshold)
    emit_channel_event(channel, EVENT_BUFFERED_AMOUNT_LOW);
  if (!g_queue_is_empty(&channel->pending))
    return false;
  if (channel->close_when_flushed && channel->state == CHANNEL_OPEN)
    start_close(channel);
  return true;
}

void
p2psig__channels_flush(p2psig_peer *peer)
{
  p2psig_channel *channel;

  while ((channel = g_queue_peek_head(&peer->channels.blocked))) {
    if (!flush_channel(channel))
      return;
    g_queue_pop_head(&peer->channels.blocked);
    channel->blocked = false;
  }
}

static int
check_config(const p2psig_peer *peer, const p2psig_channel_config *cfg)
{
  if (cfg->has_max_retransmits && cfg->has_max_packet_lifetime)
    return P2PSIG_EINVAL;
  if (cfg->protocol && strlen(cfg->protocol) > 65535)
    return P2PSIG_EINVAL;
  if (!cfg->negotiated)
    return 0;
  if (cfg->id >= 65535 ||
      (peer->sctp_connected &&
       cfg->id >= p2psig__sctp_max_streams(peer->sctp)))
    return P2PSIG_EINVAL;
  if (g_hash_table_contains(peer->channels.by_sid, GINT_TO_POINTER(cfg->id)) ||
      g_hash_table_contains(peer->channels.resetting, GINT_TO_POINTER(cfg->id)))
    return P2PSIG_EBUSY;
  return 0;
}

static void
apply_config(p2psig_channel *channel, const p2psig_channel_config *cfg)
{
  channel->channel_type = cfg->unordered ? P2PSIG_DCEP_UNORDERED_FLAG : 0;
  if (cfg->has_max_retransmits) {
    channel->channel_type |= P2PSIG_DCEP_PARTIAL_RELIABLE_REXMIT;
    channel->reliability = cfg->max_retransmits;
  } else if (cfg->has_max_packet_lifetime) {
    channel->channel_type |= P2PSIG_DCEP_PARTIAL_RELIABLE_TIMED;
    channel->reliability = cfg->max_packet_lifetime;
  }
  channel->priority = cfg->priority ? cfg->priority : DEFAULT_PRIORITY;
  set_send_options(channel);
  if (cfg->negotiated) {
    channel->negotiated = true;
    channel->sid = cfg->id;
    g_hash_table_insert(channel->peer->channels.by_sid,
                        GINT_TO_POINTER(channel->sid), channel);
  }
}

p2psig_channel *
p2psig_peer_create_channel(p2psig_peer *peer, const char *label,
                           const p2psig_channel_config *config, int *error)
{
  p2psig_channel *channel = NULL;
  p2psig_channel_config cfg = { 0 };
  int err = 0;

  if (!peer || peer->magic != PEER_MAGIC || !label ||
      strlen(label) > 65535) {
    err = P2PSIG_EINVAL;
    goto out;
  }
  if (config) {
    g_autofree char *detail = NULL;

    err = p2psig__config_copy(&cfg, sizeof cfg, config, config->size,
                              "p2psig_channel_config",
                              "P2PSIG_CHANNEL_CONFIG_INIT", &detail);
    if (err < 0) {
      g_debug("channel configuration refused: %s", detail);
      goto out;
    }
  }
  p2psig__lock(peer->loop);
  if (peer->freed || peer->closed) {
    err = P2PSIG_ECLOSED;
  } else if ((err = check_config(peer, &cfg)) == 0) {
    const char *protocol = cfg.protocol ? cfg.protocol : "";

    channel = p2psig__channel_new(peer, label, strlen(label), protocol,
                                  strlen(protocol));
    apply_config(channel, &cfg);
    if (peer->sctp_connected) {
      if (channel->negotiated) {
        open_negotiated(channel);
      } else if ((err = announce(channel)) < 0) {
        /* Refused at once, with no callback: the caller never had it. */
        p2psig__channel_release(channel);
        channel = NULL;
      }
    }
  }
  p2psig__unlock(peer->loop);

out:
  if (error)
    *error = err;
  return channel;
}

size_t
p2psig__peer_max_message_size(const p2psig_peer *peer)
{
  if (!peer->remote_set)
    return 0;
  return (size_t)MIN(peer->remote_max_message_size,
                     (uint64_t)P2PSIG_SCTP_MAX_SEND);
}

int
p2psig_channel_send(p2psig_channel *channel, const void *data, size_t len,
                    p2psig_kind kind)
{
  p2psig_peer *peer;
  uint32_t ppid;
  static const uint8_t empty = 0;
  size_t wire_len = len;
  int ret;

  if (!channel_known(channel) || (len > 0 && !data) ||
      (kind != P2PSIG_KIND_TEXT && kind != P2PSIG_KIND_BINARY))
    return P2PSIG_EINVAL;
  p2psig__lock(channel->loop);
  if (!channel_valid(channel)) {
    ret = P2PSIG_ECLOSED;
    goto out;
  }
  peer = channel->peer;
  if (channel->state == CHANNEL_CONNECTING) {
    ret = P2PSIG_ESTATE;
    goto out;
  }
  if (channel->state != CHANNEL_OPEN || channel->close_when_flushed) {
    ret = P2PSIG_ECLOSED;
    goto out;
  }
  if (len > p2psig__peer_max_message_size(peer)) {
    ret = P2PSIG_ETOOBIG;
    goto out;
  }
  if (len == 0) {
    ppid = kind == P2PSIG_KIND_TEXT ? P2PSIG_PPID_STRING_EMPTY
                                    : P2PSIG_PPID_BINARY_EMPTY;
    data = &empty;
    wire_len = 1;
  } else {
    ppid = kind == P2PSIG_KIND_TEXT ? P2PSIG_PPID_STRING : P2PSIG_PPID_BINARY;
  }
  ret = send_or_hold(channel, ppid, data, wire_len, len);
  if (ret == 0) {
    channel->messages_sent++;
    channel->bytes_sent += len;
    peer->messages_sent++;
    peer->bytes_sent += len;
  }
out:
  p2psig__unlock(channel->loop);
  return ret;
}

int
p2psig_channel_send_text(p2psig_channel *channel, const char *text)
{
  if (!text)
    return P2PSIG_EINVAL;
  return p2psig_channel_send(channel, text, strlen(text), P2PSIG_KIND_TEXT);
}

int
p2psig_channel_close(p2psig_channel *channel)
{
  int ret = 0;

  if (!channel_known(channel))
    return P2PSIG_EINVAL;
  p2psig__lock(channel->loop);
  if (!channel_valid(channel)) {
    ret = P2PSIG_ECLOSED;
  } else if (channel->state == CHANNEL_OPEN) {
    /* What was accepted is sent before the stream is reset. */
    if (g_queue_is_empty(&channel->pending))
      start_close(channel);
    else
      channel->close_when_flushed = true;
  } else if (channel->state == CHANNEL_CONNECTING) {
    mark_closed(channel);
  }
  p2psig__unlock(channel->loop);
  return ret;
}

const char *
p2psig_channel_get_label(const p2psig_channel *channel)
{
  return channel_known(channel) ? channel->label : NULL;
}

const char *
p2psig_channel_get_protocol(const p2psig_channel *channel)
{
  return channel_known(channel) ? channel->protocol : NULL;
}

int
p2psig_channel_get_id(const p2psig_channel *channel)
{
  int id;

  if (!channel_known(channel))
    return P2PSIG_EINVAL;
  p2psig__lock(channel->loop);
  id = channel->sid;
  p2psig__unlock(channel->loop);
  /* Not -1, which is P2PSIG_EINVAL: the caller can tell them apart. */
  return id < 0 ? P2PSIG_CHANNEL_ID_UNASSIGNED : id;
}

bool
p2psig_channel_is_open(const p2psig_channel *channel)
{
  bool open;

  if (!channel_known(channel))
    return false;
  p2psig__lock(channel->loop);
  open = channel->state == CHANNEL_OPEN;
  p2psig__unlock(channel->loop);
  return open;
}

p2psig_peer *
p2psig_channel_get_peer(const p2psig_channel *channel)
{
  p2psig_peer *peer;

  if (!channel_known(channel))
    return NULL;
  p2psig__lock(channel->loop);
  peer = channel->peer;
  p2psig__unlock(channel->loop);
  return peer;
}

void
p2psig_channel_set_user_data(p2psig_channel *channel, void *user_data)
{
  if (channel_known(channel))
    channel->user_data = user_data;
}

void *
p2psig_channel_get_user_data(const p2psig_channel *channel)
{
  return channel_known(channel) ? channel->user_data
                                                    : NULL;
}

size_t
p2psig_channel_get_buffered_amount(const p2psig_channel *channel)
{
  size_t amount;

  if (!channel_known(channel))
    return 0;
  p2psig__lock(channel->loop);
  amount = channel->buffered_amount;
  p2psig__unlock(channel->loop);
  return amount;
}

int
p2psig_channel_set_buffered_amount_low_threshold(p2psig_channel *channel,
                                                 size_t threshold)
{
  if (!channel_known(channel))
    return P2PSIG_EINVAL;
  p2psig__lock(channel->loop);
  channel->low_threshold = threshold;
  p2psig__unlock(channel->loop);
  return 0;
}

size_t
p2psig_channel_get_max_message_size(const p2psig_channel *channel)
{
  size_t max;

  if (!channel_known(channel))
    return 0;
  p2psig__lock(channel->loop);
  max = channel->detached ? 0 : p2psig__peer_max_message_size(channel->peer);
  p2psig__unlock(channel->loop);
  return max;
}

int
p2psig_channel_get_stats(const p2psig_channel *channel,
                         p2psig_channel_stats *stats)
{
  p2psig_channel_stats s = { 0 };

  if (!channel_known(channel) || !stats ||
      stats->size < sizeof(size_t))
    return P2PSIG_EINVAL;
  p2psig__lock(channel->loop);
  s.size = MIN(stats->size, sizeof s);
  s.messages_sent = channel->messages_sent;
  s.bytes_sent = channel->bytes_sent;
  s.messages_received = channel->messages_received;
  s.bytes_received = channel->bytes_received;
  s.buffered_amount = channel->buffered_amount;
  p2psig__unlock(channel->loop);
  memcpy(stats, &s, s.size);
  return 0;
}
