/* SPDX-License-Identifier: MIT */
/*
 * Data channels: the p2psig_channel_* API, stream ids, DCEP (RFC 8832)
 * open and ack, the payload protocol identifiers of RFC 8831, and closing
 * by stream reset.  Talks down to sctp.c and up through the peer's events.
 */
#define G_LOG_DOMAIN "p2psig-channel"

#include "peer-private.h"

#include <string.h>

#include "dcep.h"

static bool
channel_valid(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC &&
         !channel->peer->freed;
}

p2psig_channel *
p2psig__channel_new(p2psig_peer *peer, const char *label, size_t label_len,
                    const char *protocol, size_t protocol_len)
{
  p2psig_channel *channel = g_new0(p2psig_channel, 1);

  channel->magic = CHANNEL_MAGIC;
  channel->peer = peer;
  channel->label = g_strndup(label, label_len);
  channel->protocol = g_strndup(protocol, protocol_len);
  channel->sid = -1;
  g_ptr_array_add(peer->channels, channel);
  return channel;
}

void
p2psig__channel_free(p2psig_channel *channel)
{
  p2psig_peer *peer = channel->peer;

  if (channel->sid >= 0 &&
      g_hash_table_lookup(peer->channels_by_sid,
                          GINT_TO_POINTER(channel->sid)) == channel)
    g_hash_table_remove(peer->channels_by_sid, GINT_TO_POINTER(channel->sid));
  g_ptr_array_remove_fast(peer->channels, channel);
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

/* The DTLS client opens even stream ids, the server odd ones (RFC 8832
 * section 6). */
static int
allocate_sid(p2psig_peer *peer)
{
  uint16_t max = p2psig__sctp_max_streams(peer->sctp);

  for (int sid = peer->dtls_client ? 0 : 1; sid < max; sid += 2) {
    if (!g_hash_table_contains(peer->channels_by_sid, GINT_TO_POINTER(sid)))
      return sid;
  }
  return -1;
}

static void
mark_closed(p2psig_channel *channel)
{
  if (channel->state == CHANNEL_CLOSED)
    return;
  channel->state = CHANNEL_CLOSED;
  emit_channel_event(channel, EVENT_CLOSE);
}

static void
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
    g_debug("channel '%s': no stream id left", channel->label);
    mark_closed(channel);
    return;
  }
  channel->sid = sid;
  g_hash_table_insert(peer->channels_by_sid, GINT_TO_POINTER(sid), channel);
  ret = p2psig__sctp_send(peer->sctp, (uint16_t)sid, P2PSIG_PPID_DCEP, false,
                          buf, len);
  if (ret < 0) {
    g_debug("channel '%s': DCEP open failed: %s", channel->label,
            p2psig_strerror(ret));
    mark_closed(channel);
    return;
  }
  /* RFC 8832 section 6: the opener may send right away (ordered until the
   * ACK arrives), which is what pion and browsers report as open. */
  channel->state = CHANNEL_OPEN;
  emit_channel_event(channel, EVENT_OPEN);
}

void
p2psig__channels_connected(p2psig_peer *peer)
{
  /* Copy: announce may close channels, which does not remove them, but
   * keep the walk independent of the array anyway. */
  g_autoptr(GPtrArray) list = g_ptr_array_copy(peer->channels, NULL, NULL);

  for (guint i = 0; i < list->len; i++) {
    p2psig_channel *channel = list->pdata[i];

    if (channel->state == CHANNEL_CONNECTING && !channel->remote_opened)
      announce(channel);
  }
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
  if (g_hash_table_contains(peer->channels_by_sid, GINT_TO_POINTER(sid))) {
    g_debug("DCEP open on stream %u, which is in use", sid);
    return;
  }
  channel = p2psig__channel_new(peer, open.label, open.label_len,
                                open.protocol, open.protocol_len);
  channel->sid = sid;
  channel->remote_opened = true;
  channel->channel_type = open.channel_type;
  channel->priority = open.priority;
  channel->reliability = open.reliability;
  g_hash_table_insert(peer->channels_by_sid, GINT_TO_POINTER(sid), channel);
  if (p2psig__sctp_send(peer->sctp, sid, P2PSIG_PPID_DCEP, false, &ack, 1) <
      0)
    g_debug("DCEP ack on stream %u failed", sid);
  channel->state = CHANNEL_OPEN;
  g_debug("remote opened channel '%s' on stream %u", channel->label, sid);
  emit_channel_event(channel, EVENT_CHANNEL);
  emit_channel_event(channel, EVENT_OPEN);
}

void
p2psig__channel_receive(p2psig_peer *peer, uint16_t sid, uint32_t ppid,
                        const uint8_t *buf, size_t len)
{
  p2psig_channel *channel;
  struct event event = { .type = EVENT_MESSAGE };

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
  channel = g_hash_table_lookup(peer->channels_by_sid, GINT_TO_POINTER(sid));
  if (!channel || channel->state != CHANNEL_OPEN) {
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
    break;
  case P2PSIG_PPID_BINARY_EMPTY:
    event.kind = P2PSIG_KIND_BINARY;
    len = 0;
    break;
  default:
    g_debug("message with unknown PPID %u on stream %u", ppid, sid);
    return;
  }
  event.channel = channel;
  /* peer_emit lends this buffer to the callback or copies it. */
  event.message = g_bytes_new_static(len ? buf : (const uint8_t *)"", len);
  p2psig__peer_emit(peer, &event);
  g_bytes_unref(event.message);
}

void
p2psig__channel_remote_reset(p2psig_peer *peer, uint16_t sid)
{
  p2psig_channel *channel = g_hash_table_lookup(peer->channels_by_sid,
                                                GINT_TO_POINTER(sid));

  if (!channel)
    return;
  /* RFC 8831 section 6.7: answer a reset of the remote's outgoing stream
   * by resetting ours. */
  if (channel->state == CHANNEL_OPEN)
    p2psig__sctp_reset_stream(peer->sctp, sid);
  g_hash_table_remove(peer->channels_by_sid, GINT_TO_POINTER(sid));
  mark_closed(channel);
}

void
p2psig__channels_close_all(p2psig_peer *peer)
{
  for (guint i = 0; i < peer->channels->len; i++)
    mark_closed(peer->channels->pdata[i]);
}

p2psig_channel *
p2psig_peer_create_channel(p2psig_peer *peer, const char *label,
                           const p2psig_channel_config *config, int *error)
{
  p2psig_channel *channel = NULL;
  p2psig_channel_config cfg = { 0 };
  int err = 0;

  if (config)
    memcpy(&cfg, config, MIN(config->size, sizeof cfg));
  if (!peer || peer->magic != PEER_MAGIC || !label) {
    err = P2PSIG_EINVAL;
    goto out;
  }
  if (strlen(label) > 65535 ||
      (cfg.protocol && strlen(cfg.protocol) > 65535)) {
    err = P2PSIG_EINVAL;
    goto out;
  }
  p2psig__api_enter();
  p2psig__lock();
  if (peer->freed || peer->closed) {
    err = P2PSIG_ECLOSED;
  } else {
    const char *protocol = cfg.protocol ? cfg.protocol : "";

    channel = p2psig__channel_new(peer, label, strlen(label), protocol,
                                  strlen(protocol));
    channel->channel_type = P2PSIG_DCEP_RELIABLE;
    if (peer->sctp_connected)
      announce(channel);
  }
  p2psig__unlock();
  p2psig__api_leave();

out:
  if (error)
    *error = err;
  return channel;
}

int
p2psig_channel_send(p2psig_channel *channel, const void *data, size_t len,
                    p2psig_kind kind)
{
  p2psig_peer *peer;
  uint32_t ppid;
  static const uint8_t empty = 0;
  int ret;

  if (!channel || (len > 0 && !data) ||
      (kind != P2PSIG_KIND_TEXT && kind != P2PSIG_KIND_BINARY))
    return P2PSIG_EINVAL;
  p2psig__api_enter();
  p2psig__lock();
  if (!channel_valid(channel)) {
    ret = P2PSIG_EINVAL;
    goto out;
  }
  peer = channel->peer;
  if (channel->state == CHANNEL_CONNECTING) {
    ret = P2PSIG_ESTATE;
    goto out;
  }
  if (channel->state != CHANNEL_OPEN) {
    ret = P2PSIG_ECLOSED;
    goto out;
  }
  if (len > peer->remote_max_message_size) {
    ret = P2PSIG_ETOOBIG;
    goto out;
  }
  if (len == 0) {
    ppid = kind == P2PSIG_KIND_TEXT ? P2PSIG_PPID_STRING_EMPTY
                                    : P2PSIG_PPID_BINARY_EMPTY;
    data = &empty;
    len = 1;
  } else {
    ppid = kind == P2PSIG_KIND_TEXT ? P2PSIG_PPID_STRING : P2PSIG_PPID_BINARY;
  }
  ret = p2psig__sctp_send(peer->sctp, (uint16_t)channel->sid, ppid,
                          channel->channel_type & P2PSIG_DCEP_UNORDERED_FLAG,
                          data, len);
out:
  p2psig__unlock();
  p2psig__api_leave();
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

  if (!channel)
    return P2PSIG_EINVAL;
  p2psig__api_enter();
  p2psig__lock();
  if (!channel_valid(channel)) {
    ret = P2PSIG_EINVAL;
  } else if (channel->state == CHANNEL_OPEN) {
    channel->state = CHANNEL_CLOSING;
    if (p2psig__sctp_reset_stream(channel->peer->sctp,
                                  (uint16_t)channel->sid) < 0)
      mark_closed(channel);
  } else if (channel->state == CHANNEL_CONNECTING) {
    mark_closed(channel);
  }
  p2psig__unlock();
  p2psig__api_leave();
  return ret;
}

const char *
p2psig_channel_get_label(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC ? channel->label : NULL;
}

const char *
p2psig_channel_get_protocol(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC ? channel->protocol : NULL;
}

int
p2psig_channel_get_id(const p2psig_channel *channel)
{
  int id;

  if (!channel || channel->magic != CHANNEL_MAGIC)
    return P2PSIG_EINVAL;
  p2psig__lock();
  id = channel->sid;
  p2psig__unlock();
  return id;
}

bool
p2psig_channel_is_open(const p2psig_channel *channel)
{
  bool open;

  if (!channel || channel->magic != CHANNEL_MAGIC)
    return false;
  p2psig__lock();
  open = channel->state == CHANNEL_OPEN;
  p2psig__unlock();
  return open;
}

p2psig_peer *
p2psig_channel_get_peer(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC ? channel->peer : NULL;
}

void
p2psig_channel_set_user_data(p2psig_channel *channel, void *user_data)
{
  if (channel && channel->magic == CHANNEL_MAGIC)
    channel->user_data = user_data;
}

void *
p2psig_channel_get_user_data(const p2psig_channel *channel)
{
  return channel && channel->magic == CHANNEL_MAGIC ? channel->user_data
                                                    : NULL;
}
