/* SPDX-License-Identifier: MIT */
/*
 * DCEP, the Data Channel Establishment Protocol (RFC 8832): building and
 * parsing its two messages.  Pure functions on byte buffers.
 */
#ifndef P2PSIG_DCEP_H
#define P2PSIG_DCEP_H

#include <stddef.h>
#include <stdint.h>

#define P2PSIG_DCEP_ACK 0x02
#define P2PSIG_DCEP_OPEN 0x03

/* RFC 8831 section 8: payload protocol identifiers */
#define P2PSIG_PPID_DCEP 50
#define P2PSIG_PPID_STRING 51
#define P2PSIG_PPID_BINARY 53
#define P2PSIG_PPID_STRING_EMPTY 56
#define P2PSIG_PPID_BINARY_EMPTY 57

/* RFC 8832 section 5.1 channel types */
#define P2PSIG_DCEP_RELIABLE 0x00
#define P2PSIG_DCEP_PARTIAL_RELIABLE_REXMIT 0x01
#define P2PSIG_DCEP_PARTIAL_RELIABLE_TIMED 0x02
#define P2PSIG_DCEP_UNORDERED_FLAG 0x80

struct p2psig_dcep_open {
  uint8_t channel_type;
  uint16_t priority;
  uint32_t reliability;
  const char *label;      /* points into the parsed buffer: NOT terminated */
  size_t label_len;
  const char *protocol;   /* likewise */
  size_t protocol_len;
};

/* Parses a DATA_CHANNEL_OPEN.  Returns 0, or P2PSIG_EINVAL when buf is too
 * short, is not an OPEN, or its lengths overrun the buffer. */
int p2psig__dcep_parse_open(const uint8_t *buf, size_t len,
                            struct p2psig_dcep_open *out);

/* Writes a DATA_CHANNEL_OPEN into buf.  Returns the number of bytes written
 * (12 + label_len + protocol_len), or 0 when cap is too small or a string is
 * longer than 65535 bytes. */
size_t p2psig__dcep_build_open(const struct p2psig_dcep_open *open,
                               uint8_t *buf, size_t cap);

/* Returns the message type (first byte) or -1 for an empty buffer. */
int p2psig__dcep_message_type(const uint8_t *buf, size_t len);

#endif
