/* SPDX-License-Identifier: MIT */
/* What the public configuration structs share: copying one by its .size,
 * and the checks of what a configuration names. */
#define G_LOG_DOMAIN "p2psig"

#include "internal.h"

#include <gio/gio.h>
#include <nice/interfaces.h>
#include <string.h>

int
p2psig__config_copy(void *dst, size_t dst_size, const void *src,
                    size_t src_size, const char *type, const char *init,
                    char **detail)
{
  const unsigned char *bytes = src;

  /* A struct cleared with memset and never given its size: the library
   * cannot know which fields the caller's header had. */
  if (src_size < sizeof(size_t)) {
    *detail = g_strdup_printf("%s.size is %zu: initialise it with %s (or "
                              "set .size = sizeof(%s))", type, src_size,
                              init, type);
    return P2PSIG_EINVAL;
  }
  /* A caller built against a newer header: what it set in fields this
   * version does not have cannot be honoured. */
  for (size_t i = dst_size; i < src_size; i++) {
    if (bytes[i] != 0) {
      *detail = g_strdup_printf("%s has fields that libp2psig %s does not "
                                "know (byte %zu of %zu set; this version's "
                                "struct has %zu)", type,
                                P2PSIG_VERSION_STRING, i, src_size,
                                dst_size);
      return P2PSIG_EINVAL;
    }
  }
  memset(dst, 0, dst_size);
  memcpy(dst, src, MIN(src_size, dst_size));
  /* .size is the first field of every config struct. */
  memcpy(dst, &dst_size, sizeof dst_size);
  return 0;
}

bool
p2psig__is_local_address(const char *ip)
{
  g_autoptr(GInetAddress) want = g_inet_address_new_from_string(ip);
  GList *ips;
  bool found = false;

  if (!want)
    return false;
  ips = nice_interfaces_get_local_ips(TRUE);
  for (GList *l = ips; l && !found; l = l->next) {
    g_autoptr(GInetAddress) have = g_inet_address_new_from_string(l->data);

    found = have && g_inet_address_equal(have, want);
  }
  g_list_free_full(ips, g_free);
  return found;
}
