/* SPDX-License-Identifier: MIT */
/* A hostile peer for the tests: see hostile.h. */
#include "hostile.h"

#include <string.h>

#include "dcep.h"
#include "peer-private.h"

#define RETRY_FOR_US (10 * G_USEC_PER_SEC)

int
hostile_send(p2psig_peer *peer, uint16_t sid, uint32_t ppid, const void *buf,
             size_t len)
{
  gint64 deadline = g_get_monotonic_time() + RETRY_FOR_US;
  int ret;

  for (;;) {
    p2psig__lock(peer->loop);
    ret = peer->sctp ? p2psig__sctp_send(peer->sctp, sid, ppid, NULL, buf,
                                         len)
                     : P2PSIG_ESTATE;
    p2psig__unlock(peer->loop);
    if (ret != P2PSIG_EAGAIN || g_get_monotonic_time() > deadline)
      return ret;
    /* The buffer drains as the remote acknowledges: look again soon. */
    g_usleep(1000);
  }
}

int
hostile_send_open(p2psig_peer *peer, uint16_t sid, size_t label_len,
                  size_t protocol_len)
{
  g_autofree char *label = g_malloc(label_len + 1);
  g_autofree char *protocol = g_malloc(protocol_len + 1);
  struct p2psig_dcep_open open = {
    .channel_type = P2PSIG_DCEP_RELIABLE,
    .priority = 256,
    .label = label,
    .label_len = label_len,
    .protocol = protocol,
    .protocol_len = protocol_len,
  };
  size_t cap = 12 + label_len + protocol_len;
  g_autofree uint8_t *buf = g_malloc(cap);
  size_t len;

  for (size_t i = 0; i < label_len; i++)
    label[i] = (char)('a' + i % 26);
  for (size_t i = 0; i < protocol_len; i++)
    protocol[i] = (char)('A' + i % 26);
  len = p2psig__dcep_build_open(&open, buf, cap);
  if (len == 0)
    return P2PSIG_EINVAL;
  return hostile_send(peer, sid, P2PSIG_PPID_DCEP, buf, len);
}

int
hostile_reset(p2psig_peer *peer, uint16_t sid)
{
  int ret;

  p2psig__lock(peer->loop);
  ret = peer->sctp ? p2psig__sctp_reset_stream(peer->sctp, sid)
                   : P2PSIG_ESTATE;
  p2psig__unlock(peer->loop);
  return ret;
}

void
hostile_set_partial_delivery_point(p2psig_peer *peer, uint32_t bytes)
{
  p2psig__lock(peer->loop);
  if (peer->sctp)
    p2psig__sctp_set_partial_delivery_point(peer->sctp, bytes);
  p2psig__unlock(peer->loop);
}

bool
hostile_has_channel(p2psig_peer *peer, uint16_t sid)
{
  bool has;

  p2psig__lock(peer->loop);
  has = g_hash_table_contains(peer->channels.by_sid, GINT_TO_POINTER(sid));
  p2psig__unlock(peer->loop);
  return has;
}

unsigned
hostile_channel_count(p2psig_peer *peer)
{
  unsigned n;

  p2psig__lock(peer->loop);
  n = peer->channels.all->len;
  p2psig__unlock(peer->loop);
  return n;
}

/* Counted from the strings themselves, not from the library's own
 * accounting. */
size_t
hostile_remote_label_bytes(p2psig_peer *peer)
{
  size_t total = 0;

  p2psig__lock(peer->loop);
  for (guint i = 0; i < peer->channels.all->len; i++) {
    const p2psig_channel *channel = peer->channels.all->pdata[i];

    if (channel->remote_opened)
      total += strlen(channel->label) + strlen(channel->protocol);
  }
  p2psig__unlock(peer->loop);
  return total;
}

enum hostile_reset
hostile_reset_state(p2psig_peer *peer, uint16_t sid)
{
  enum hostile_reset state = HOSTILE_RESET_NONE;
  gpointer key = GINT_TO_POINTER(sid);

  p2psig__lock(peer->loop);
  if (g_hash_table_contains(peer->channels.resetting, key))
    state = HOSTILE_RESET_PENDING;
  else if (g_hash_table_contains(peer->channels.last_reset, key))
    state = HOSTILE_RESET_DONE;
  p2psig__unlock(peer->loop);
  return state;
}
