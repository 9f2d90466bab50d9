/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ICE candidate strings (lib/sdp.c): parse, then check
 * what a parsed candidate promises and that it formats to a string that
 * parses again to the same fields and formats to the same string.
 *
 * GLib debug lines are dropped; a warning or critical (a g_return_if_fail
 * hit, say) aborts, because network input must never cause one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "internal.h"
#include "sdp.h"


static bool
terminated(const char *s, size_t cap)
{
  return memchr(s, '\0', cap) != NULL;
}

/* What the parser promises about a candidate it accepted. */
static void
check_fields(const struct p2psig_candidate *c)
{
  CHECK(terminated(c->foundation, sizeof c->foundation));
  CHECK(c->foundation[0] != '\0');
  CHECK(c->component >= 1 && c->component <= 256);
  CHECK(c->transport == P2PSIG_TRANSPORT_UDP ||
        c->transport == P2PSIG_TRANSPORT_TCP);
  CHECK(terminated(c->address, sizeof c->address));
  CHECK(c->address[0] != '\0');
  CHECK(strpbrk(c->address, " \t\r\n") == NULL);
  CHECK(c->port != 0);
  CHECK(c->type <= P2PSIG_CANDIDATE_RELAY);
  CHECK(terminated(c->related_address, sizeof c->related_address));
  CHECK(strpbrk(c->related_address, " \t\r\n") == NULL);
  if (c->type == P2PSIG_CANDIDATE_HOST)
    CHECK(c->related_address[0] == '\0' && c->related_port == 0);
  if (c->transport == P2PSIG_TRANSPORT_UDP)
    CHECK(c->tcp_type == P2PSIG_TCP_NONE);
  else
    CHECK(c->tcp_type >= P2PSIG_TCP_ACTIVE && c->tcp_type <= P2PSIG_TCP_SO);
}

/* The format writes "0.0.0.0" for a missing raddr of a non-host type. */
static const char *
related(const struct p2psig_candidate *c)
{
  if (c->type != P2PSIG_CANDIDATE_HOST && c->related_address[0] == '\0')
    return "0.0.0.0";
  return c->related_address;
}

static void
check_same(const struct p2psig_candidate *a, const struct p2psig_candidate *b)
{
  CHECK(strcmp(a->foundation, b->foundation) == 0);
  CHECK(a->component == b->component);
  CHECK(a->transport == b->transport);
  CHECK(a->priority == b->priority);
  CHECK(strcmp(a->address, b->address) == 0);
  CHECK(a->port == b->port);
  CHECK(a->type == b->type);
  CHECK(strcmp(related(a), related(b)) == 0);
  CHECK(a->related_port == b->related_port);
  CHECK(a->tcp_type == b->tcp_type);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct p2psig_candidate c, again;
  char *text, *detail = NULL, *formatted, *reformatted;
  int rc;

  text = g_malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';

  rc = p2psig__candidate_parse(text, &c, &detail);
  if (rc != 0) {
    CHECK(rc == P2PSIG_ECANDIDATE);
    CHECK(detail != NULL && detail[0] != '\0');
    CHECK(strpbrk(detail, "\r\n") == NULL);
    g_free(detail);
    /* Without detail the answer is the same. */
    CHECK(p2psig__candidate_parse(text, &again, NULL) == rc);
    g_free(text);
    return 0;
  }
  CHECK(detail == NULL);
  /* One we cannot use is only ever logged, never formatted. */
  if (c.unsupported) {
    CHECK(c.unsupported[0] != '\0');
    g_free(text);
    return 0;
  }
  check_fields(&c);

  formatted = p2psig__candidate_format(&c);
  CHECK(formatted != NULL);
  CHECK(strncmp(formatted, "candidate:", 10) == 0);
  CHECK(strpbrk(formatted, "\r\n") == NULL);
  rc = p2psig__candidate_parse(formatted, &again, &detail);
  if (rc != 0) {
    fprintf(stderr, "formatted \"%s\" does not parse: %s\n", formatted,
            detail != NULL ? detail : "?");
    abort();
  }
  check_fields(&again);
  check_same(&c, &again);
  reformatted = p2psig__candidate_format(&again);
  CHECK(reformatted != NULL && strcmp(formatted, reformatted) == 0);

  g_free(reformatted);
  g_free(formatted);
  g_free(text);
  return 0;
}
