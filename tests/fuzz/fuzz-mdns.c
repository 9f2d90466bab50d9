/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the mDNS messages (lib/mdns.c): the bytes are a UDP
 * payload from port 5353, parsed as a response (for a fixed name, and for
 * the names the packet's own questions hold) and as a query.  Results must
 * stay in their bounds; a question with a valid .local name must come back
 * from an answer we build for it.
 *
 * GLib debug lines are dropped; a warning or critical aborts.
 */
#include <gio/gio.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "internal.h"
#include "mdns.h"

static void
check_addresses(const struct p2psig_mdns_address *a, size_t n, size_t max)
{
  CHECK(n <= max);
  for (size_t i = 0; i < n; i++)
    CHECK(a[i].family == G_SOCKET_FAMILY_IPV4 ||
          a[i].family == G_SOCKET_FAMILY_IPV6);
  if (n == 2)
    CHECK(a[0].family != a[1].family);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct p2psig_mdns_address addrs[P2PSIG_MDNS_MAX_ADDRESSES];
  struct p2psig_mdns_question qs[4];
  uint16_t id = 0;
  size_t n, nq;

  n = p2psig__mdns_parse_response(data, size,
                                  "0a1b2c3d-4e5f-4789-abcd-ef0123456789.local",
                                  addrs, G_N_ELEMENTS(addrs));
  check_addresses(addrs, n, G_N_ELEMENTS(addrs));
  n = p2psig__mdns_parse_response(data, size, "a.local", addrs, 1);
  check_addresses(addrs, n, 1);

  nq = p2psig__mdns_parse_query(data, size, &id, qs, G_N_ELEMENTS(qs));
  CHECK(nq <= G_N_ELEMENTS(qs));
  for (size_t i = 0; i < nq; i++) {
    uint8_t buf[600];
    struct p2psig_mdns_address a = { .family = G_SOCKET_FAMILY_IPV4,
                                     .bytes = { 198, 18, 0, 1 } };
    size_t len;

    CHECK(memchr(qs[i].name, '\0', sizeof qs[i].name) != NULL);
    CHECK(strlen(qs[i].name) <= 255);
    if (!p2psig__mdns_name_valid(qs[i].name))
      continue;
    for (int legacy = 0; legacy < 2; legacy++) {
      len = p2psig__mdns_build_response(id, qs[i].name, &a, legacy, buf,
                                        sizeof buf);
      CHECK(len > 0 && len <= sizeof buf);
      n = p2psig__mdns_parse_response(buf, len, qs[i].name, addrs,
                                      G_N_ELEMENTS(addrs));
      CHECK(n == 1 && memcmp(addrs[0].bytes, a.bytes, 4) == 0);
    }
    len = p2psig__mdns_build_query(id, qs[i].name, true, buf, sizeof buf);
    CHECK(len > 0);
  }
  return 0;
}
