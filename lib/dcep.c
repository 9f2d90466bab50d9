/* SPDX-License-Identifier: MIT */
/*
 * DCEP (RFC 8832) messages on byte buffers: the channel layer parses the
 * DATA_CHANNEL_OPEN that a remote peer sends on PPID 50 and builds its own.
 * The buffers come straight from SCTP, so every length in them is checked
 * against the buffer before it is used.  No allocation, no state.
 */
#define G_LOG_DOMAIN "p2psig-channel"

#include "dcep.h"

#include <string.h>

#include "internal.h"

/* RFC 8832 section 5.1: the fixed part of DATA_CHANNEL_OPEN. */
#define OPEN_HEADER_LEN 12

static uint16_t
get16(const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int
p2psig__dcep_parse_open(const uint8_t *buf, size_t len,
                        struct p2psig_dcep_open *out)
{
  size_t label_len, protocol_len;

  if (out == NULL || (buf == NULL && len > 0))
    return P2PSIG_EINVAL;
  if (len < OPEN_HEADER_LEN) {
    g_debug("DCEP message of %" G_GSIZE_FORMAT " bytes is too short", len);
    return P2PSIG_EINVAL;
  }
  if (buf[0] != P2PSIG_DCEP_OPEN) {
    g_debug("DCEP message type 0x%02x is not DATA_CHANNEL_OPEN", buf[0]);
    return P2PSIG_EINVAL;
  }
  label_len = get16(buf + 8);
  protocol_len = get16(buf + 10);
  /* Both lengths are at most 65535: the sum cannot overflow. */
  if (label_len + protocol_len > len - OPEN_HEADER_LEN) {
    g_debug("DATA_CHANNEL_OPEN lengths overrun its %" G_GSIZE_FORMAT
            " bytes", len);
    return P2PSIG_EINVAL;
  }
  /* Bytes after the protocol are tolerated: RFC 8832 gives them no
   * meaning, and refusing would not make the channel any safer. */
  out->channel_type = buf[1];
  out->priority = get16(buf + 2);
  out->reliability = get32(buf + 4);
  out->label = (const char *)buf + OPEN_HEADER_LEN;
  out->label_len = label_len;
  out->protocol = (const char *)buf + OPEN_HEADER_LEN + label_len;
  out->protocol_len = protocol_len;
  return 0;
}

size_t
p2psig__dcep_build_open(const struct p2psig_dcep_open *open, uint8_t *buf,
                        size_t cap)
{
  size_t total;

  if (open == NULL || buf == NULL || open->label_len > UINT16_MAX ||
      open->protocol_len > UINT16_MAX ||
      (open->label == NULL && open->label_len > 0) ||
      (open->protocol == NULL && open->protocol_len > 0))
    return 0;
  total = OPEN_HEADER_LEN + open->label_len + open->protocol_len;
  if (cap < total)
    return 0;
  buf[0] = P2PSIG_DCEP_OPEN;
  buf[1] = open->channel_type;
  put16(buf + 2, open->priority);
  put32(buf + 4, open->reliability);
  put16(buf + 8, (uint16_t)open->label_len);
  put16(buf + 10, (uint16_t)open->protocol_len);
  /* memcpy from NULL is undefined even for 0 bytes. */
  if (open->label_len > 0)
    memcpy(buf + OPEN_HEADER_LEN, open->label, open->label_len);
  if (open->protocol_len > 0)
    memcpy(buf + OPEN_HEADER_LEN + open->label_len, open->protocol,
           open->protocol_len);
  return total;
}

int
p2psig__dcep_message_type(const uint8_t *buf, size_t len)
{
  if (buf == NULL || len == 0)
    return -1;
  return buf[0];
}
