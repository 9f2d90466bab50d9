/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the body of POST /sdp (lib/signaling-json.c): decode it
 * as the signaling server does (from a length, not a terminated string),
 * check that a refusal gives a short one-line UTF-8 reason, and that an
 * accepted description encodes to JSON that decodes to the same type and
 * SDP.  The same input is also the response to a one-round-trip poll
 * (GET /candidate): decoded, and what decodes encodes and decodes again
 * to the same candidates.
 *
 * GLib debug lines are dropped; a warning or critical aborts, because
 * network input must never cause one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "internal.h"
#include "signaling.h"


/* signaling-text.c cuts a reason at 240 bytes and appends "...". */
#define MAX_DETAIL (240 + 3)

static void
check_detail(const char *detail)
{
  CHECK(detail != NULL && detail[0] != '\0');
  CHECK(strlen(detail) <= MAX_DETAIL);
  CHECK(g_utf8_validate(detail, -1, NULL));
  for (const char *p = detail; *p; p++)
    CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* The poll's response: {"candidates":[...],"next":N,"complete":b}. */
static void
fuzz_candidates(const uint8_t *data, size_t size)
{
  char **list = NULL, **list2 = NULL, *detail = NULL, *json;
  unsigned next = 0, next2 = 0;
  bool complete = false, complete2 = false;
  int rc = p2psig__signal_decode_candidates((const char *)data, size, &list,
                                            &next, &complete, &detail);

  if (rc != 0) {
    CHECK(rc == P2PSIG_EJSON);
    CHECK(list == NULL);
    check_detail(detail);
    g_free(detail);
    return;
  }
  CHECK(list != NULL && detail == NULL);
  json = p2psig__signal_encode_candidates((const char *const *)list,
                                          g_strv_length(list), next, complete);
  CHECK(p2psig__signal_decode_candidates(json, strlen(json), &list2, &next2,
                                         &complete2, NULL) == 0);
  CHECK(next2 == next && complete2 == complete);
  CHECK(g_strv_length(list2) == g_strv_length(list));
  for (unsigned i = 0; list[i]; i++)
    CHECK(strcmp(list[i], list2[i]) == 0);
  g_free(json);
  g_strfreev(list);
  g_strfreev(list2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  p2psig_sdp_type type = (p2psig_sdp_type)-1, type2 = (p2psig_sdp_type)-1;
  char *sdp = NULL, *sdp2 = NULL, *detail = NULL, *json;
  int rc;

  fuzz_candidates(data, size);
  /* The body is not terminated: the library must read size bytes only
   * (libFuzzer's buffer is an exact-size heap block). */
  rc = p2psig__signal_decode_sdp((const char *)data, size, &type, &sdp,
                                 &detail);
  if (rc != 0) {
    CHECK(rc == P2PSIG_EJSON);
    CHECK(sdp == NULL);
    check_detail(detail);
    g_free(detail);
    return 0;
  }
  CHECK(detail == NULL);
  CHECK(type == P2PSIG_SDP_OFFER || type == P2PSIG_SDP_ANSWER);
  CHECK(sdp != NULL && sdp[0] != '\0');
  CHECK(g_utf8_validate(sdp, -1, NULL));

  json = p2psig__signal_encode_sdp(type, sdp);
  CHECK(json != NULL);
  rc = p2psig__signal_decode_sdp(json, strlen(json), &type2, &sdp2, &detail);
  if (rc != 0) {
    fprintf(stderr, "encoded JSON does not decode: %s\n%s\n",
            detail != NULL ? detail : "?", json);
    abort();
  }
  CHECK(type2 == type);
  CHECK(strcmp(sdp2, sdp) == 0);

  g_free(sdp2);
  g_free(json);
  g_free(sdp);
  return 0;
}
