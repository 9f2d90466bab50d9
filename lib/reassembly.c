/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of messages that arrive in pieces (see reassembly.h).
 */
#include "reassembly.h"

/* What a held message costs besides its bytes: its entry in the table and
 * the array's header, counted so that empty or dropped entries are
 * bounded too. */
#define ENTRY_COST 64

struct held {
  GByteArray *bytes; /* NULL: dropped, its remaining pieces are skipped */
};

struct p2psig_reassembly {
  GHashTable *messages; /* key (guint64 *) -> struct held * */
  size_t message_max;
  size_t held_max;
  size_t held;          /* bytes of all entries, ENTRY_COST included */
};

static void
held_free(gpointer data)
{
  struct held *h = data;

  if (h->bytes)
    g_byte_array_unref(h->bytes);
  g_free(h);
}

struct p2psig_reassembly *
p2psig__reassembly_new(size_t message_max, size_t held_max)
{
  struct p2psig_reassembly *r = g_new0(struct p2psig_reassembly, 1);

  r->messages = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                      held_free);
  r->message_max = message_max;
  r->held_max = held_max;
  return r;
}

void
p2psig__reassembly_free(struct p2psig_reassembly *r)
{
  if (!r)
    return;
  g_hash_table_unref(r->messages);
  g_free(r);
}

static size_t
cost_of(const struct held *h)
{
  return ENTRY_COST + (h->bytes ? h->bytes->len : 0);
}

/* Drops what the entry holds; the entry stays until its last piece. */
static void
drop(struct p2psig_reassembly *r, struct held *h)
{
  r->held -= cost_of(h);
  g_clear_pointer(&h->bytes, g_byte_array_unref);
  r->held += cost_of(h);
}

static void
forget(struct p2psig_reassembly *r, gint64 key, struct held *h)
{
  r->held -= cost_of(h);
  g_hash_table_remove(r->messages, &key);
}

enum p2psig_piece_result
p2psig__reassembly_add(struct p2psig_reassembly *r, uint64_t key,
                       const uint8_t *buf, size_t len, bool last,
                       GBytes **message)
{
  gint64 k = (gint64)key;
  /* Most messages come whole with nothing held: no lookup for them. */
  struct held *h = g_hash_table_size(r->messages) > 0
                       ? g_hash_table_lookup(r->messages, &k) : NULL;

  *message = NULL;
  if (!h) {
    /* Copied: buf is the loop's shared read buffer. */
    if (last) {
      if (len > r->message_max)
        return P2PSIG_PIECE_DROPPED;
      *message = g_bytes_new(buf, len);
      return P2PSIG_PIECE_MESSAGE;
    }
    if (r->held + ENTRY_COST > r->held_max)
      return P2PSIG_PIECE_OVERFLOW;
    h = g_new0(struct held, 1);
    h->bytes = g_byte_array_new();
    g_hash_table_insert(r->messages, g_memdup2(&k, sizeof k), h);
    r->held += ENTRY_COST;
  }
  if (h->bytes && (h->bytes->len + len > r->message_max ||
                   r->held + len > r->held_max))
    drop(r, h);
  if (!h->bytes) {
    if (last)
      forget(r, k, h);
    return P2PSIG_PIECE_DROPPED;
  }
  g_byte_array_append(h->bytes, buf, (guint)len);
  r->held += len;
  if (!last)
    return P2PSIG_PIECE_HELD;
  r->held -= h->bytes->len;
  *message = g_byte_array_free_to_bytes(g_steal_pointer(&h->bytes));
  forget(r, k, h);
  return P2PSIG_PIECE_MESSAGE;
}

void
p2psig__reassembly_drop_stream(struct p2psig_reassembly *r, uint16_t sid)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init(&iter, r->messages);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    if ((*(gint64 *)key & 0xffff) != sid)
      continue;
    r->held -= cost_of(value);
    g_hash_table_iter_remove(&iter);
  }
}

size_t
p2psig__reassembly_held(const struct p2psig_reassembly *r)
{
  return r->held;
}
