/* SPDX-License-Identifier: MIT */
/*
 * DCEP messages (lib/dcep.c): the RFC 8832 DATA_CHANNEL_OPEN layout byte
 * for byte, build/parse round trips, and hostile buffers (truncated, with
 * lengths that overrun, random) placed in exact-size heap blocks so that
 * ASan catches any read past their end.
 */
#include <string.h>

#include "dcep.h"
#include "internal.h"

/* An OPEN for a reliable, ordered channel "data" without protocol, as the
 * RFC 8832 section 5.1 layout gives it. */
static const uint8_t open_data[] = {
  0x03,                   /* DATA_CHANNEL_OPEN */
  0x00,                   /* DATA_CHANNEL_RELIABLE */
  0x00, 0x00,             /* priority */
  0x00, 0x00, 0x00, 0x00, /* reliability parameter */
  0x00, 0x04,             /* label length */
  0x00, 0x00,             /* protocol length */
  'd', 'a', 't', 'a',
};

/* Every field set, in network byte order, to catch a swapped byte. */
static const uint8_t open_full[] = {
  0x03, 0x82, 0x01, 0x00, 0x00, 0x00, 0x01, 0xf4, 0x00, 0x03, 0x00, 0x05,
  'c', 'h', 't', 'j', 's', 'o', 'n', '1',
};

/* Exact-size heap copy, so reading one byte too far is an ASan error. */
static uint8_t *
heap_copy(const uint8_t *buf, size_t len)
{
  uint8_t *copy = g_malloc(len > 0 ? len : 1);

  if (len > 0)
    memcpy(copy, buf, len);
  return copy;
}

static void
test_parse_data(void)
{
  struct p2psig_dcep_open open;
  uint8_t *buf = heap_copy(open_data, sizeof open_data);

  g_assert_cmpint(p2psig__dcep_parse_open(buf, sizeof open_data, &open), ==,
                  0);
  g_assert_cmpuint(open.channel_type, ==, P2PSIG_DCEP_RELIABLE);
  g_assert_cmpuint(open.priority, ==, 0);
  g_assert_cmpuint(open.reliability, ==, 0);
  g_assert_cmpmem(open.label, open.label_len, "data", 4);
  g_assert_cmpuint(open.protocol_len, ==, 0);
  /* The strings point into the buffer: no copy. */
  g_assert_true((const uint8_t *)open.label == buf + 12);
  g_free(buf);
}

static void
test_parse_fields(void)
{
  struct p2psig_dcep_open open;
  uint8_t *buf = heap_copy(open_full, sizeof open_full);

  g_assert_cmpint(p2psig__dcep_parse_open(buf, sizeof open_full, &open), ==,
                  0);
  g_assert_cmpuint(open.channel_type, ==,
                   P2PSIG_DCEP_UNORDERED_FLAG |
                       P2PSIG_DCEP_PARTIAL_RELIABLE_TIMED);
  g_assert_cmpuint(open.priority, ==, 256);
  g_assert_cmpuint(open.reliability, ==, 500);
  g_assert_cmpmem(open.label, open.label_len, "cht", 3);
  g_assert_cmpmem(open.protocol, open.protocol_len, "json1", 5);
  g_free(buf);
}

static void
test_build_bytes(void)
{
  struct p2psig_dcep_open open = {
    .channel_type = P2PSIG_DCEP_UNORDERED_FLAG |
                    P2PSIG_DCEP_PARTIAL_RELIABLE_TIMED,
    .priority = 256,
    .reliability = 500,
    .label = "cht",
    .label_len = 3,
    .protocol = "json1",
    .protocol_len = 5,
  };
  uint8_t buf[64];

  memset(buf, 0xee, sizeof buf);
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, sizeof buf), ==,
                   sizeof open_full);
  g_assert_cmpmem(buf, sizeof open_full, open_full, sizeof open_full);
  /* Nothing written past the message. */
  g_assert_cmpuint(buf[sizeof open_full], ==, 0xee);
}

static void
test_build_exact_cap(void)
{
  struct p2psig_dcep_open open = {
    .label = "data",
    .label_len = 4,
  };
  uint8_t *buf = g_malloc(sizeof open_data);

  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, sizeof open_data - 1),
                   ==, 0);
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, sizeof open_data), ==,
                   sizeof open_data);
  g_assert_cmpmem(buf, sizeof open_data, open_data, sizeof open_data);
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, 0), ==, 0);
  g_free(buf);
}

static void
test_build_empty(void)
{
  /* NULL strings are fine when their length is 0. */
  struct p2psig_dcep_open open = { 0 };
  struct p2psig_dcep_open parsed;
  uint8_t buf[12];

  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, sizeof buf), ==, 12);
  g_assert_cmpint(p2psig__dcep_parse_open(buf, sizeof buf, &parsed), ==, 0);
  g_assert_cmpuint(parsed.label_len, ==, 0);
  g_assert_cmpuint(parsed.protocol_len, ==, 0);
}

static void
test_build_invalid(void)
{
  static char big[65536];
  struct p2psig_dcep_open open = { 0 };
  uint8_t *buf = g_malloc(2 * sizeof big + 12);

  g_assert_cmpuint(p2psig__dcep_build_open(NULL, buf, 12), ==, 0);
  g_assert_cmpuint(p2psig__dcep_build_open(&open, NULL, 12), ==, 0);
  open.label_len = 1;
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, 64), ==, 0);
  open.label = big;
  open.label_len = sizeof big;
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, 2 * sizeof big + 12),
                   ==, 0);
  open.label_len = 0;
  open.protocol_len = 3;
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, 64), ==, 0);
  open.protocol = big;
  open.protocol_len = sizeof big;
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, 2 * sizeof big + 12),
                   ==, 0);
  g_free(buf);
}

/* The largest message: both strings 65535 bytes. */
static void
test_roundtrip_max(void)
{
  size_t n = 65535, total = 12 + 2 * n;
  char *label = g_malloc(n);
  char *protocol = g_malloc(n);
  uint8_t *buf = g_malloc(total);
  struct p2psig_dcep_open open = {
    .channel_type = P2PSIG_DCEP_PARTIAL_RELIABLE_REXMIT,
    .priority = 0xffff,
    .reliability = 0xffffffffu,
    .label = label,
    .label_len = n,
    .protocol = protocol,
    .protocol_len = n,
  };
  struct p2psig_dcep_open parsed;

  memset(label, 'l', n);
  memset(protocol, 'p', n);
  g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, total), ==, total);
  g_assert_cmpint(p2psig__dcep_parse_open(buf, total, &parsed), ==, 0);
  g_assert_cmpuint(parsed.channel_type, ==, open.channel_type);
  g_assert_cmpuint(parsed.priority, ==, 0xffff);
  g_assert_cmpuint(parsed.reliability, ==, 0xffffffffu);
  g_assert_cmpmem(parsed.label, parsed.label_len, label, n);
  g_assert_cmpmem(parsed.protocol, parsed.protocol_len, protocol, n);
  g_assert_cmpint(p2psig__dcep_parse_open(buf, total - 1, &parsed), ==,
                  P2PSIG_EINVAL);
  g_free(label);
  g_free(protocol);
  g_free(buf);
}

static void
test_roundtrip_random(void)
{
  GRand *rand = g_rand_new_with_seed(8832);

  for (int round = 0; round < 2000; round++) {
    size_t label_len = (size_t)g_rand_int_range(rand, 0, 40);
    size_t protocol_len = (size_t)g_rand_int_range(rand, 0, 40);
    char label[40], protocol[40];
    struct p2psig_dcep_open open = {
      .channel_type = (uint8_t)g_rand_int_range(rand, 0, 256),
      .priority = (uint16_t)g_rand_int_range(rand, 0, 65536),
      .reliability = g_rand_int(rand),
      .label = label,
      .label_len = label_len,
      .protocol = protocol,
      .protocol_len = protocol_len,
    };
    struct p2psig_dcep_open parsed;
    size_t total = 12 + label_len + protocol_len;
    uint8_t *buf = g_malloc(total);

    for (size_t i = 0; i < sizeof label; i++) {
      label[i] = (char)g_rand_int_range(rand, 0, 256);
      protocol[i] = (char)g_rand_int_range(rand, 0, 256);
    }
    g_assert_cmpuint(p2psig__dcep_build_open(&open, buf, total), ==, total);
    g_assert_cmpint(p2psig__dcep_message_type(buf, total), ==,
                    P2PSIG_DCEP_OPEN);
    g_assert_cmpint(p2psig__dcep_parse_open(buf, total, &parsed), ==, 0);
    g_assert_cmpuint(parsed.channel_type, ==, open.channel_type);
    g_assert_cmpuint(parsed.priority, ==, open.priority);
    g_assert_cmpuint(parsed.reliability, ==, open.reliability);
    g_assert_cmpmem(parsed.label, parsed.label_len, label, label_len);
    g_assert_cmpmem(parsed.protocol, parsed.protocol_len, protocol,
                    protocol_len);
    g_free(buf);
  }
  g_rand_free(rand);
}

/* Every strict prefix of a valid OPEN is refused. */
static void
test_parse_truncated(void)
{
  const uint8_t *samples[] = { open_data, open_full };
  size_t sizes[] = { sizeof open_data, sizeof open_full };

  for (size_t s = 0; s < G_N_ELEMENTS(samples); s++) {
    for (size_t len = 0; len < sizes[s]; len++) {
      struct p2psig_dcep_open open;
      uint8_t *buf = heap_copy(samples[s], len);

      g_assert_cmpint(p2psig__dcep_parse_open(buf, len, &open), ==,
                      P2PSIG_EINVAL);
      g_free(buf);
    }
  }
}

static void
test_parse_overrun(void)
{
  struct p2psig_dcep_open open;
  uint8_t buf[sizeof open_data];
  uint8_t *copy;

  /* Label length one too many. */
  memcpy(buf, open_data, sizeof buf);
  buf[9] = 5;
  copy = heap_copy(buf, sizeof buf);
  g_assert_cmpint(p2psig__dcep_parse_open(copy, sizeof buf, &open), ==,
                  P2PSIG_EINVAL);
  g_free(copy);

  /* Protocol length running past the end. */
  memcpy(buf, open_data, sizeof buf);
  buf[11] = 1;
  copy = heap_copy(buf, sizeof buf);
  g_assert_cmpint(p2psig__dcep_parse_open(copy, sizeof buf, &open), ==,
                  P2PSIG_EINVAL);
  g_free(copy);

  /* Both at their maximum in a short buffer. */
  memcpy(buf, open_data, sizeof buf);
  buf[8] = buf[9] = buf[10] = buf[11] = 0xff;
  copy = heap_copy(buf, sizeof buf);
  g_assert_cmpint(p2psig__dcep_parse_open(copy, sizeof buf, &open), ==,
                  P2PSIG_EINVAL);
  g_free(copy);
}

static void
test_parse_not_open(void)
{
  static const uint8_t ack[] = { P2PSIG_DCEP_ACK };
  struct p2psig_dcep_open open;
  uint8_t buf[sizeof open_data];

  g_assert_cmpint(p2psig__dcep_parse_open(ack, sizeof ack, &open), ==,
                  P2PSIG_EINVAL);
  for (unsigned type = 0; type < 256; type++) {
    if (type == P2PSIG_DCEP_OPEN)
      continue;
    memcpy(buf, open_data, sizeof buf);
    buf[0] = (uint8_t)type;
    g_assert_cmpint(p2psig__dcep_parse_open(buf, sizeof buf, &open), ==,
                    P2PSIG_EINVAL);
  }
}

static void
test_parse_invalid_args(void)
{
  struct p2psig_dcep_open open;

  g_assert_cmpint(p2psig__dcep_parse_open(NULL, 0, &open), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpint(p2psig__dcep_parse_open(NULL, 16, &open), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpint(p2psig__dcep_parse_open(open_data, sizeof open_data, NULL),
                  ==, P2PSIG_EINVAL);
}

/* RFC 8832 gives bytes after the protocol no meaning: tolerated. */
static void
test_parse_trailing(void)
{
  uint8_t buf[sizeof open_data + 3];
  struct p2psig_dcep_open open;

  memcpy(buf, open_data, sizeof open_data);
  memset(buf + sizeof open_data, 0, 3);
  g_assert_cmpint(p2psig__dcep_parse_open(buf, sizeof buf, &open), ==, 0);
  g_assert_cmpmem(open.label, open.label_len, "data", 4);
}

static void
test_message_type(void)
{
  static const uint8_t ack[] = { P2PSIG_DCEP_ACK };

  g_assert_cmpint(p2psig__dcep_message_type(NULL, 0), ==, -1);
  g_assert_cmpint(p2psig__dcep_message_type(ack, 0), ==, -1);
  g_assert_cmpint(p2psig__dcep_message_type(NULL, 5), ==, -1);
  g_assert_cmpint(p2psig__dcep_message_type(ack, sizeof ack), ==,
                  P2PSIG_DCEP_ACK);
  g_assert_cmpint(p2psig__dcep_message_type(open_data, sizeof open_data), ==,
                  P2PSIG_DCEP_OPEN);
}

/* Random buffers, mostly OPENs with random lengths: parse answers 0 only
 * when the strings lie inside the buffer. */
static void
test_robustness_random(void)
{
  GRand *rand = g_rand_new_with_seed(0xdcef);
  unsigned accepted = 0;
  gboolean debug = g_log_get_debug_enabled();

  /* GLib's test mode prints debug messages: one per refused buffer. */
  g_log_set_debug_enabled(FALSE);
  for (int round = 0; round < 20000; round++) {
    size_t len = (size_t)g_rand_int_range(rand, 0, 64);
    uint8_t *buf = g_malloc(len > 0 ? len : 1);
    struct p2psig_dcep_open open;

    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)g_rand_int_range(rand, 0, 256);
    if (len > 0 && g_rand_boolean(rand))
      buf[0] = P2PSIG_DCEP_OPEN;
    /* Small lengths, so that some fit. */
    if (len >= 12 && g_rand_boolean(rand)) {
      buf[8] = buf[10] = 0;
      buf[9] = (uint8_t)g_rand_int_range(rand, 0, 32);
      buf[11] = (uint8_t)g_rand_int_range(rand, 0, 32);
    }
    if (p2psig__dcep_parse_open(buf, len, &open) == 0) {
      const uint8_t *end = buf + len;

      accepted++;
      g_assert_cmpuint(len, >=, 12);
      g_assert_true((const uint8_t *)open.label + open.label_len <= end);
      g_assert_true((const uint8_t *)open.protocol + open.protocol_len <=
                    end);
      /* Touch every byte, so ASan would see a bad pointer. */
      for (size_t i = 0; i < open.label_len; i++)
        (void)*(volatile const char *)&open.label[i];
      for (size_t i = 0; i < open.protocol_len; i++)
        (void)*(volatile const char *)&open.protocol[i];
    }
    g_free(buf);
  }
  g_log_set_debug_enabled(debug);
  g_test_message("random buffers: %u accepted", accepted);
  g_assert_cmpuint(accepted, >, 0);
  g_rand_free(rand);
}

int
main(int argc, char *argv[])
{
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/dcep/parse/data", test_parse_data);
  g_test_add_func("/dcep/parse/fields", test_parse_fields);
  g_test_add_func("/dcep/parse/truncated", test_parse_truncated);
  g_test_add_func("/dcep/parse/overrun", test_parse_overrun);
  g_test_add_func("/dcep/parse/not-open", test_parse_not_open);
  g_test_add_func("/dcep/parse/invalid-args", test_parse_invalid_args);
  g_test_add_func("/dcep/parse/trailing-bytes", test_parse_trailing);
  g_test_add_func("/dcep/build/bytes", test_build_bytes);
  g_test_add_func("/dcep/build/exact-cap", test_build_exact_cap);
  g_test_add_func("/dcep/build/empty", test_build_empty);
  g_test_add_func("/dcep/build/invalid", test_build_invalid);
  g_test_add_func("/dcep/roundtrip/max", test_roundtrip_max);
  g_test_add_func("/dcep/roundtrip/random", test_roundtrip_random);
  g_test_add_func("/dcep/message-type", test_message_type);
  g_test_add_func("/dcep/robustness/random", test_robustness_random);
  return g_test_run();
}
