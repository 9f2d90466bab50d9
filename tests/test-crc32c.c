/* SPDX-License-Identifier: MIT */
/* The SCTP checksum we compute equals usrsctp's own, for every length and
 * alignment (the fast path handles 8 bytes at a time). */
#include <usrsctp.h>

#include "sctp.h"

static void
test_matches_usrsctp(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(42);
  uint8_t buf[2100];

  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)g_rand_int(rand);
  for (size_t offset = 0; offset < 8; offset++)
    for (size_t len = 0; len + offset <= sizeof buf; len += 1 + len / 16)
      g_assert_cmphex(p2psig__crc32c(buf + offset, len), ==,
                      usrsctp_crc32c(buf + offset, len));
}

static void
test_known_value(void)
{
  /* RFC 3720 B.4: 32 bytes of zeros have CRC32c 0x8a9136aa, which
   * usrsctp's convention stores as the bytes aa 36 91 8a. */
  uint8_t zeros[32] = { 0 };
  uint32_t crc = p2psig__crc32c(zeros, sizeof zeros);
  uint8_t bytes[4];

  memcpy(bytes, &crc, 4);
  g_assert_cmphex(bytes[0], ==, 0xaa);
  g_assert_cmphex(bytes[1], ==, 0x36);
  g_assert_cmphex(bytes[2], ==, 0x91);
  g_assert_cmphex(bytes[3], ==, 0x8a);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/crc32c/matches-usrsctp", test_matches_usrsctp);
  g_test_add_func("/crc32c/known-value", test_known_value);
  return g_test_run();
}
