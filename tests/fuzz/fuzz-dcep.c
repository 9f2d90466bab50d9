/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for DCEP messages (lib/dcep.c): the bytes are what SCTP
 * would hand the channel layer on PPID 50.  A DATA_CHANNEL_OPEN that parses
 * must point inside the buffer, rebuild to the same bytes (up to its end:
 * trailing bytes are tolerated) and parse again to the same fields; the
 * builder must refuse a buffer one byte short.
 *
 * GLib debug lines are dropped; a warning or critical aborts, because
 * network input must never cause one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcep.h"
#include "fuzz-common.h"
#include "internal.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct p2psig_dcep_open open, again;
  const char *end = (const char *)data + size;
  uint8_t *built;
  size_t total, n;
  int type;

  type = p2psig__dcep_message_type(data, size);
  CHECK(size == 0 ? type == -1 : type == data[0]);

  if (p2psig__dcep_parse_open(data, size, &open) != 0)
    return 0;
  CHECK(size >= 12 && data[0] == P2PSIG_DCEP_OPEN);
  CHECK(open.label == (const char *)data + 12);
  CHECK(open.label_len <= UINT16_MAX && open.protocol_len <= UINT16_MAX);
  CHECK(open.protocol == open.label + open.label_len);
  CHECK(open.protocol_len <= (size_t)(end - open.protocol));

  total = 12 + open.label_len + open.protocol_len;
  /* Exact-size heap blocks: a write past the end is an ASan error. */
  built = g_malloc(total);
  CHECK(p2psig__dcep_build_open(&open, built, total - 1) == 0);
  n = p2psig__dcep_build_open(&open, built, total);
  CHECK(n == total);
  CHECK(memcmp(built, data, total) == 0);

  CHECK(p2psig__dcep_parse_open(built, n, &again) == 0);
  CHECK(again.channel_type == open.channel_type);
  CHECK(again.priority == open.priority);
  CHECK(again.reliability == open.reliability);
  CHECK(again.label_len == open.label_len);
  CHECK(again.protocol_len == open.protocol_len);
  CHECK(memcmp(again.label, open.label, open.label_len) == 0);
  CHECK(memcmp(again.protocol, open.protocol, open.protocol_len) == 0);
  /* Nothing is left after the protocol of a message we built. */
  CHECK(again.protocol + again.protocol_len == (const char *)built + n);
  /* And one byte short, the lengths overrun. */
  CHECK(p2psig__dcep_parse_open(built, n - 1, &again) != 0);
  g_free(built);
  return 0;
}
