/* SPDX-License-Identifier: MIT */
/*
 * mDNS (RFC 6762) for ICE candidates as browsers use it
 * (draft-ietf-mmusic-mdns-ice-candidates): a one-shot resolver for remote
 * "<uuid>.local" host candidates, and a responder for the names that hide
 * our own host addresses.  No Avahi daemon is needed.
 *
 * The message functions are pure (the fuzz target and the unit test call
 * them); the rest runs with the library lock held, its sockets' and
 * timers' sources on the library context.  ice.c owns one struct
 * p2psig_mdns per agent and frees it with the agent, on the library thread:
 * every source checks under the lock that it was not destroyed, so nothing
 * calls back into a freed agent.
 *
 * Limits (each a #define below): at most P2PSIG_MDNS_MAX_PENDING names
 * resolved at a time per peer; a query goes out at 0, 250 ms and 1 s and
 * gives up after P2PSIG_MDNS_TIMEOUT_MS; answers are cached for
 * P2PSIG_MDNS_CACHE_MS (failures too), at most P2PSIG_MDNS_MAX_ENTRIES
 * names; the responder owns at most P2PSIG_MDNS_MAX_LOCAL_NAMES names and
 * sends at most P2PSIG_MDNS_MAX_ANSWERS_PER_S answers a second, a name at
 * most once a second on multicast (RFC 6762 section 6).  Packets are read
 * into a fixed buffer and parsed without allocating.
 */
#ifndef P2PSIG_MDNS_H
#define P2PSIG_MDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define P2PSIG_MDNS_PORT 5353
#define P2PSIG_MDNS_GROUP4 "224.0.0.251"
#define P2PSIG_MDNS_GROUP6 "ff02::fb"

/* Names resolved at a time, per peer (a browser offers one name per local
 * address: a few).  Beyond: the candidate is refused with P2PSIG_ELIMIT. */
#define P2PSIG_MDNS_MAX_PENDING 16
/* Names remembered (pending, resolved or failed), per peer. */
#define P2PSIG_MDNS_MAX_ENTRIES 32
/* A name that gets no answer is given up after this long. */
#define P2PSIG_MDNS_TIMEOUT_MS 3000
/* How long an answer (or a failure) is kept. */
#define P2PSIG_MDNS_CACHE_MS 10000
/* Our own names, per peer: one per local address. */
#define P2PSIG_MDNS_MAX_LOCAL_NAMES 16
/* Answers the responder sends a second, per peer, whatever is asked. */
#define P2PSIG_MDNS_MAX_ANSWERS_PER_S 20
/* Addresses kept of one name: the first A and the first AAAA. */
#define P2PSIG_MDNS_MAX_ADDRESSES 2
/* A label and ".local": 63 + 6, and the NUL. */
#define P2PSIG_MDNS_NAME_SIZE 70
/* TTL of the records we answer with (RFC 6762 section 10: 120 s for host
 * records), and at most 10 s in legacy unicast answers (section 6.7). */
#define P2PSIG_MDNS_TTL 120
#define P2PSIG_MDNS_LEGACY_TTL 10

/* A name browsers would make: one DNS label of 1 to 63 letters, digits or
 * hyphens, then ".local" (any case), nothing else. */
bool p2psig__mdns_name_valid(const char *name);

/* An address of a record, as the wire carries it. */
struct p2psig_mdns_address {
  int family;                /* G_SOCKET_FAMILY_IPV4 or _IPV6 */
  uint8_t bytes[16];         /* 4 or 16 used */
};

/* A one-shot query (RFC 6762 section 5.1) for name's A and, if aaaa,
 * AAAA records.  Returns the length written, 0 if size is too small or the
 * name invalid. */
size_t p2psig__mdns_build_query(uint16_t id, const char *name, bool aaaa,
                                uint8_t *buf, size_t size);

/* Finds the A and AAAA records of name (case-insensitive) in a response,
 * in any section; records with TTL 0 (goodbyes) are skipped.  Stores at
 * most max addresses, at most one of each family, and returns how many;
 * 0 for a packet that is not a response or does not parse. */
size_t p2psig__mdns_parse_response(const uint8_t *buf, size_t len,
                                   const char *name,
                                   struct p2psig_mdns_address *out,
                                   size_t max);

/* A question of a query. */
struct p2psig_mdns_question {
  char name[256];            /* dotted, without the final dot */
  uint16_t type;             /* 1: A, 28: AAAA, 255: ANY */
  bool unicast;              /* the QU bit */
};

/* Reads the questions of a query (not of a response), at most max of them;
 * returns how many, with *id the query's id; 0 if it does not parse. */
size_t p2psig__mdns_parse_query(const uint8_t *buf, size_t len,
                                uint16_t *id,
                                struct p2psig_mdns_question *out,
                                size_t max);

/* An answer with one record: name's address.  A legacy unicast answer
 * (RFC 6762 section 6.7) repeats the question and id, with a TTL of at
 * most 10 s and no cache-flush bit.  Returns the length, 0 if size is too
 * small. */
size_t p2psig__mdns_build_response(uint16_t id, const char *name,
                                   const struct p2psig_mdns_address *addr,
                                   bool legacy_unicast, uint8_t *buf,
                                   size_t size);

/* ---- the resolver and responder of one agent ---- */

struct p2psig_mdns;

/* Called once for each name asked (unless cached), on the library thread
 * with the lock held, never inside p2psig__mdns_resolve; n is 0 when the
 * name did not resolve. */
typedef void (*p2psig_mdns_resolved_cb)(
  void *data, const char *name, const struct p2psig_mdns_address *addrs,
  size_t n);

/* Lock held.  Makes no socket yet. */
struct p2psig_mdns *p2psig__mdns_new(struct p2psig_loop *loop,
                                     p2psig_mdns_resolved_cb cb, void *data);
/* On the library thread, lock held: no callback follows. */
void p2psig__mdns_free(struct p2psig_mdns *m);

/* Lock held.  Starts resolving name (valid): returns 0, and the callback
 * follows; or, from the cache, the number of addresses (stored in
 * out, P2PSIG_MDNS_MAX_ADDRESSES of room) with no callback; or
 * P2PSIG_ECANDIDATE if it failed lately; or P2PSIG_ELIMIT with
 * P2PSIG_MDNS_MAX_PENDING names pending; or P2PSIG_ENETWORK with no
 * socket. */
int p2psig__mdns_resolve(struct p2psig_mdns *m, const char *name,
                         struct p2psig_mdns_address *out);

/* Lock held.  The name hiding local address ip (a random UUID v4 and
 * ".local"), made on first use, when the responder also joins the mDNS
 * group on that address's interface; the responder socket is bound on
 * first use.  NULL past P2PSIG_MDNS_MAX_LOCAL_NAMES or for an address that
 * is not an IP.  Owned by m. */
const char *p2psig__mdns_local_name(struct p2psig_mdns *m, const char *ip);

#endif
