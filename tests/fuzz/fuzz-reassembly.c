/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the reassembly of messages read in pieces
 * (lib/reassembly.c), which a remote drives through the pieces and the
 * interleaving it sends.  The input is a list of operations, each a
 * header of three bytes: the message (stream 0-7, unordered, sequence
 * 0-3), flags (bit 0: the piece ends its message; bit 1: drop the
 * stream's pieces instead) and a length, then that many bytes.  A model
 * of what each message has had since it began checks every result: a
 * whole message equals its pieces, nothing is held past the cap, and a
 * dropped message never comes out cut short.
 */
#include "fuzz-common.h"
#include "reassembly.h"

#define MESSAGE_MAX 300
#define HELD_MAX 1000
#define KEYS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct p2psig_reassembly *r =
      p2psig__reassembly_new(MESSAGE_MAX, HELD_MAX);
  GByteArray *model[KEYS];
  bool dropped[KEYS] = { false };

  for (int i = 0; i < KEYS; i++)
    model[i] = g_byte_array_new();
  while (size >= 3) {
    unsigned which = data[0] % KEYS;
    uint16_t sid = which & 7;
    uint64_t key = p2psig__piece_key(sid, which & 8, (uint16_t)(which >> 4));
    uint8_t flags = data[1];
    bool last = flags & 1;
    size_t len = MIN((size_t)data[2], size - 3);
    const uint8_t *piece = data + 3;
    GBytes *message = NULL;

    data += 3 + len;
    size -= 3 + len;
    if (flags & 2) {
      p2psig__reassembly_drop_stream(r, sid);
      for (unsigned k = 0; k < KEYS; k++)
        if ((k & 7) == sid) {
          g_byte_array_set_size(model[k], 0);
          dropped[k] = false;
        }
      continue;
    }
    switch (p2psig__reassembly_add(r, key, piece, len, last, &message)) {
    case P2PSIG_PIECE_HELD:
      CHECK(!last && !dropped[which]);
      g_byte_array_append(model[which], piece, (guint)len);
      CHECK(model[which]->len <= MESSAGE_MAX);
      break;
    case P2PSIG_PIECE_MESSAGE:
      CHECK(last && !dropped[which] && message);
      g_byte_array_append(model[which], piece, (guint)len);
      CHECK(g_bytes_get_size(message) == model[which]->len);
      CHECK(model[which]->len == 0 ||
            memcmp(g_bytes_get_data(message, NULL), model[which]->data,
                   model[which]->len) == 0);
      g_bytes_unref(message);
      g_byte_array_set_size(model[which], 0);
      break;
    case P2PSIG_PIECE_DROPPED:
      CHECK(!message);
      g_byte_array_set_size(model[which], 0);
      dropped[which] = !last;
      break;
    case P2PSIG_PIECE_OVERFLOW:
      /* Refused before it began: only a first piece can be. */
      CHECK(!message && !last && model[which]->len == 0 && !dropped[which]);
      break;
    }
    CHECK(p2psig__reassembly_held(r) <= HELD_MAX);
  }
  p2psig__reassembly_free(r);
  for (int i = 0; i < KEYS; i++)
    g_byte_array_unref(model[i]);
  return 0;
}
