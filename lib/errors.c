/* SPDX-License-Identifier: MIT */
/*
 * Error texts and names, state names, version, and p2psig_free: small
 * static tables and functions with no state.
 */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#include <stdlib.h>

struct error_entry {
  const char *name;
  const char *text;
};

/* Indexed by -code; append only. */
static const struct error_entry errors[] = {
  { "P2PSIG_OK", "success" },
  { "P2PSIG_EINVAL", "invalid argument" },
  { "P2PSIG_ESTATE", "not possible in the current state" },
  { "P2PSIG_ENOMEM", "out of memory" },
  { "P2PSIG_ESDP", "malformed or unusable SDP" },
  { "P2PSIG_ECANDIDATE", "malformed or unusable ICE candidate" },
  { "P2PSIG_EJSON", "malformed signaling message" },
  { "P2PSIG_EFINGERPRINT",
    "remote certificate does not match the SDP fingerprint" },
  { "P2PSIG_ETOOBIG", "message larger than the remote peer accepts" },
  { "P2PSIG_EAGAIN", "send buffer full, try again later" },
  { "P2PSIG_ECLOSED", "closed" },
  { "P2PSIG_ENETWORK", "network error" },
  { "P2PSIG_ETIMEDOUT", "timed out" },
  { "P2PSIG_EDTLS", "DTLS handshake or record failure" },
  { "P2PSIG_ESCTP", "SCTP association failure" },
  { "P2PSIG_EICE", "ICE failed: no working candidate pair" },
  { "P2PSIG_EADDRESS", "malformed address or URL" },
  { "P2PSIG_EINTERNAL", "internal error" },
  { "P2PSIG_EHTTP", "the signaling peer answered with an error" },
  { "P2PSIG_EBUSY", "the channel id is in use" },
  { "P2PSIG_EUNAUTHORIZED", "missing or wrong signaling token" },
  { "P2PSIG_ELIMIT", "limit reached" },
  { "P2PSIG_ECLOSED_BY_REMOTE", "closed by the remote peer" },
  { "P2PSIG_EDESCRIPTORS", "out of file descriptors" },
};

static const struct error_entry *
lookup(int error)
{
  if (error > 0 || (size_t)-error >= G_N_ELEMENTS(errors))
    return NULL;
  return &errors[-error];
}

const char *
p2psig_strerror(int error)
{
  const struct error_entry *e = lookup(error);

  return e ? e->text : "unknown error";
}

const char *
p2psig_error_name(int error)
{
  const struct error_entry *e = lookup(error);

  return e ? e->name : "P2PSIG_E_UNKNOWN";
}

const char *
p2psig_state_name(p2psig_state state)
{
  static const char *const names[] = {
    "new", "connecting", "connected", "disconnected", "failed", "closed",
  };

  if ((unsigned)state >= G_N_ELEMENTS(names))
    return "unknown";
  return names[state];
}

const char *
p2psig_ice_gathering_state_name(p2psig_ice_gathering_state state)
{
  static const char *const names[] = { "new", "gathering", "complete" };

  if ((unsigned)state >= G_N_ELEMENTS(names))
    return "unknown";
  return names[state];
}

const char *
p2psig_ice_connection_state_name(p2psig_ice_connection_state state)
{
  static const char *const names[] = {
    "new", "checking", "connected", "completed", "disconnected", "failed",
    "closed",
  };

  if ((unsigned)state >= G_N_ELEMENTS(names))
    return "unknown";
  return names[state];
}

unsigned int
p2psig_version(void)
{
  return P2PSIG_VERSION_HEX;
}

const char *
p2psig_version_string(void)
{
  return P2PSIG_VERSION_STRING;
}

void
p2psig_free(void *ptr)
{
  g_free(ptr);
}
