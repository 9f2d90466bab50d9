/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for remote descriptions (lib/sdp.c): parse, check what
 * a parsed description promises (credentials of ice-chars, candidates that
 * parse), then build a local description from its fields, as the peer does
 * when it echoes mid and port into an answer, and check that this parses
 * back to the same fields.
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
#include "sdp.h"


static bool
ice_chars(const char *s)
{
  size_t n = strlen(s);

  if (n == 0 || n > 256)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/')
      return false;
  return true;
}

static void
check_remote(const struct p2psig_sdp_remote *r)
{
  CHECK(r->ice_ufrag != NULL && ice_chars(r->ice_ufrag));
  CHECK(r->ice_pwd != NULL && ice_chars(r->ice_pwd));
  CHECK(r->has_fingerprint);
  CHECK(r->setup <= P2PSIG_SETUP_PASSIVE);
  CHECK(r->mid == NULL ||
        (r->mid[0] != '\0' && strlen(r->mid) <= 256 &&
         strpbrk(r->mid, " \t\r\n:") == NULL));
  CHECK(r->sctp_port != 0);
  CHECK(r->candidates != NULL);
  for (guint i = 0; i < r->candidates->len; i++) {
    struct p2psig_candidate c;

    CHECK(p2psig__candidate_parse(g_ptr_array_index(r->candidates, i), &c,
                                  NULL) == 0);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct p2psig_sdp_remote remote, again;
  struct p2psig_sdp_local local;
  char *text, *detail = NULL, *built;
  int rc;

  text = g_malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';

  rc = p2psig__sdp_parse(text, &remote, &detail);
  g_free(text);
  if (rc != 0) {
    CHECK(rc == P2PSIG_ESDP);
    CHECK(detail != NULL && detail[0] != '\0');
    CHECK(strpbrk(detail, "\r\n") == NULL);
    /* A refused description leaves nothing to free behind. */
    CHECK(remote.ice_ufrag == NULL && remote.ice_pwd == NULL &&
          remote.mid == NULL && remote.candidates == NULL);
    g_free(detail);
    p2psig__sdp_remote_clear(&remote);
    return 0;
  }
  CHECK(detail == NULL);
  check_remote(&remote);

  /* Build from the parsed fields: the offer flag from the input, so that
   * both default setups are reached. */
  memset(&local, 0, sizeof local);
  local.offer = size > 0 && (data[size - 1] & 1);
  local.session_id = size;
  local.ice_ufrag = remote.ice_ufrag;
  local.ice_pwd = remote.ice_pwd;
  local.fingerprint = remote.fingerprint;
  local.setup = remote.setup;
  local.mid = remote.mid;
  local.sctp_port = remote.sctp_port;
  local.max_message_size = remote.max_message_size;
  built = p2psig__sdp_build(&local);
  CHECK(built != NULL);

  rc = p2psig__sdp_parse(built, &again, &detail);
  if (rc != 0) {
    fprintf(stderr, "built SDP does not parse: %s\n%s\n",
            detail != NULL ? detail : "?", built);
    abort();
  }
  check_remote(&again);
  CHECK(strcmp(again.ice_ufrag, remote.ice_ufrag) == 0);
  CHECK(strcmp(again.ice_pwd, remote.ice_pwd) == 0);
  CHECK(memcmp(again.fingerprint, remote.fingerprint,
               sizeof remote.fingerprint) == 0);
  if (remote.setup != P2PSIG_SETUP_NONE)
    CHECK(again.setup == remote.setup);
  else
    CHECK(again.setup == (local.offer ? P2PSIG_SETUP_ACTPASS
                                      : P2PSIG_SETUP_ACTIVE));
  CHECK(again.mid != NULL &&
        strcmp(again.mid, remote.mid != NULL ? remote.mid : "0") == 0);
  CHECK(again.sctp_port == remote.sctp_port);
  CHECK(again.max_message_size == remote.max_message_size);
  CHECK(!again.ice_lite && !again.end_of_candidates);
  CHECK(again.candidates->len == 0);

  p2psig__sdp_remote_clear(&again);
  g_free(built);
  p2psig__sdp_remote_clear(&remote);
  /* Clearing twice is harmless. */
  p2psig__sdp_remote_clear(&remote);
  return 0;
}
