/* SPDX-License-Identifier: MIT */
/*
 * mDNS for ICE (RFC 6762, draft-ietf-mmusic-mdns-ice-candidates): builds
 * and parses the few messages we need, resolves remote "<uuid>.local"
 * names with one-shot queries from an ephemeral port (section 5.1), and
 * answers queries for the names that hide our own host addresses.  ice.c
 * is its only user; see mdns.h for the limits and the threading rules.
 */
#define G_LOG_DOMAIN "p2psig-ice"

#include "mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define TYPE_A 1
#define TYPE_AAAA 28
#define TYPE_ANY 255
#define CLASS_IN 1
#define CACHE_FLUSH 0x8000
/* RFC 6762 section 17: a packet may be up to 9000 bytes. */
#define MAX_PACKET 9000
/* Packets read per wakeup of a socket, so that a flood cannot hold the
 * library thread. */
#define MAX_READS 32
/* Questions of a query we look at. */
#define MAX_QUESTIONS 8
/* Compression pointers and labels followed in one name. */
#define MAX_LABELS 128
#define MAX_SUBNETS 32
#define SUBNETS_REFRESH_US (2 * G_USEC_PER_SEC)

/* ---- messages ---- */

static bool
label_char(char c)
{
  return g_ascii_isalnum(c) || c == '-';
}

bool
p2psig__mdns_name_valid(const char *name)
{
  const char *dot;
  size_t n;

  if (!name)
    return false;
  dot = strchr(name, '.');
  if (!dot)
    return false;
  n = (size_t)(dot - name);
  if (n == 0 || n > 63)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (!label_char(name[i]))
      return false;
  }
  return g_ascii_strcasecmp(dot + 1, "local") == 0;
}

static void
put16(uint8_t *p, unsigned v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static unsigned
get16(const uint8_t *p)
{
  return (unsigned)p[0] << 8 | p[1];
}

/* Writes a valid name in wire form; returns its length, 0 if no room. */
static size_t
put_name(uint8_t *p, size_t size, const char *name)
{
  size_t off = 0;
  const char *s = name;

  while (*s) {
    size_t n = strcspn(s, ".");

    if (n == 0 || n > 63 || off + 1 + n + 1 > size)
      return 0;
    p[off++] = (uint8_t)n;
    memcpy(p + off, s, n);
    off += n;
    s += n;
    if (*s == '.')
      s++;
  }
  if (off + 1 > size)
    return 0;
  p[off++] = 0;
  return off;
}

/* Reads the name at *off into out (dotted, NUL-terminated) and moves *off
 * past it.  A compression pointer must point before the place the last
 * one led to (before the name itself for the first), so the targets
 * strictly decrease and no name can loop; labels with a dot or a NUL in
 * them are refused, since no host name has them. */
static bool
read_name(const uint8_t *buf, size_t len, size_t *off, char out[256])
{
  size_t pos = *off, limit = *off, end = 0, outlen = 0;
  bool jumped = false;

  for (unsigned labels = 0; labels < MAX_LABELS; labels++) {
    unsigned b;

    if (pos >= len)
      return false;
    b = buf[pos];
    if ((b & 0xC0) == 0xC0) {
      size_t target;

      if (pos + 1 >= len)
        return false;
      target = (size_t)(b & 0x3F) << 8 | buf[pos + 1];
      if (!jumped) {
        end = pos + 2;
        jumped = true;
      }
      if (target >= limit)
        return false;
      limit = target;
      pos = target;
      continue;
    }
    if (b & 0xC0)
      return false;
    if (b == 0) {
      out[outlen] = '\0';
      *off = jumped ? end : pos + 1;
      return true;
    }
    if (pos + 1 + b > len || outlen + (outlen ? 1 : 0) + b > 255)
      return false;
    if (memchr(buf + pos + 1, '.', b) || memchr(buf + pos + 1, '\0', b))
      return false;
    if (outlen)
      out[outlen++] = '.';
    memcpy(out + outlen, buf + pos + 1, b);
    outlen += b;
    pos += 1 + b;
  }
  return false;
}

size_t
p2psig__mdns_build_query(uint16_t id, const char *name, bool aaaa,
                         uint8_t *buf, size_t size)
{
  size_t off = 12, n;
  unsigned questions = aaaa ? 2 : 1;

  if (!p2psig__mdns_name_valid(name) || size < 12)
    return 0;
  memset(buf, 0, 12);
  put16(buf, id);
  put16(buf + 4, questions);
  for (unsigned q = 0; q < questions; q++) {
    n = put_name(buf + off, size - off, name);
    if (n == 0 || off + n + 4 > size)
      return 0;
    off += n;
    put16(buf + off, q == 0 ? TYPE_A : TYPE_AAAA);
    put16(buf + off + 2, CLASS_IN); /* QU bit clear: RFC 6762 5.1 */
    off += 4;
  }
  return off;
}

size_t
p2psig__mdns_parse_response(const uint8_t *buf, size_t len,
                            const char *name,
                            struct p2psig_mdns_address *out, size_t max)
{
  char rname[256];
  size_t off = 12, n = 0;
  unsigned questions, records;
  bool have4 = false, have6 = false;

  /* QR set, opcode 0 (RFC 6762 section 18.3), rcode 0 (18.11). */
  if (len < 12 || !(buf[2] & 0x80) || (buf[2] & 0x78) || (buf[3] & 0x0F))
    return 0;
  questions = get16(buf + 4);
  records = get16(buf + 6) + get16(buf + 8) + get16(buf + 10);
  for (unsigned i = 0; i < questions; i++) {
    if (!read_name(buf, len, &off, rname) || off + 4 > len)
      return 0;
    off += 4;
  }
  /* Each record takes 11 bytes at least: the packet bounds the loop. */
  for (unsigned i = 0; i < records && n < max; i++) {
    unsigned type, cls, rdlen;
    uint32_t ttl;

    if (!read_name(buf, len, &off, rname) || off + 10 > len)
      break;
    type = get16(buf + off);
    cls = get16(buf + off + 2);
    ttl = (uint32_t)get16(buf + off + 4) << 16 | get16(buf + off + 6);
    rdlen = get16(buf + off + 8);
    off += 10;
    if (rdlen > len - off)
      break;
    if ((cls & ~CACHE_FLUSH) == CLASS_IN && ttl != 0 &&
        g_ascii_strcasecmp(rname, name) == 0) {
      if (type == TYPE_A && rdlen == 4 && !have4) {
        out[n].family = G_SOCKET_FAMILY_IPV4;
        memset(out[n].bytes, 0, sizeof out[n].bytes);
        memcpy(out[n++].bytes, buf + off, 4);
        have4 = true;
      } else if (type == TYPE_AAAA && rdlen == 16 && !have6) {
        out[n].family = G_SOCKET_FAMILY_IPV6;
        memcpy(out[n++].bytes, buf + off, 16);
        have6 = true;
      }
    }
    off += rdlen;
  }
  return n;
}

size_t
p2psig__mdns_parse_query(const uint8_t *buf, size_t len, uint16_t *id,
                         struct p2psig_mdns_question *out, size_t max)
{
  size_t off = 12, n = 0;
  unsigned questions;

  if (len < 12 || (buf[2] & 0x80) || (buf[2] & 0x78))
    return 0;
  *id = (uint16_t)get16(buf);
  questions = get16(buf + 4);
  for (unsigned i = 0; i < questions && n < max; i++) {
    if (!read_name(buf, len, &off, out[n].name) || off + 4 > len)
      return 0;
    unsigned cls = get16(buf + off + 2) & 0x7FFF;

    out[n].type = (uint16_t)get16(buf + off);
    out[n].unicast = (get16(buf + off + 2) & 0x8000) != 0;
    off += 4;
    if (cls == CLASS_IN || cls == TYPE_ANY)
      n++;
  }
  return n;
}

size_t
p2psig__mdns_build_response(uint16_t id, const char *name,
                            const struct p2psig_mdns_address *addr,
                            bool legacy_unicast, uint8_t *buf, size_t size)
{
  bool v4 = addr->family == G_SOCKET_FAMILY_IPV4;
  unsigned type = v4 ? TYPE_A : TYPE_AAAA, rdlen = v4 ? 4 : 16;
  size_t off = 12, n;

  if (size < 12)
    return 0;
  memset(buf, 0, 12);
  /* Multicast answers carry id 0 (RFC 6762 section 18.1). */
  put16(buf, legacy_unicast ? id : 0);
  put16(buf + 2, 0x8400); /* QR, AA */
  put16(buf + 4, legacy_unicast ? 1 : 0);
  put16(buf + 6, 1);
  if (legacy_unicast) {
    n = put_name(buf + off, size - off, name);
    if (n == 0 || off + n + 4 > size)
      return 0;
    off += n;
    put16(buf + off, type);
    put16(buf + off + 2, CLASS_IN);
    off += 4;
  }
  n = put_name(buf + off, size - off, name);
  if (n == 0 || off + n + 10 + rdlen > size)
    return 0;
  off += n;
  put16(buf + off, type);
  put16(buf + off + 2, legacy_unicast ? CLASS_IN : CLASS_IN | CACHE_FLUSH);
  put16(buf + off + 4, 0);
  put16(buf + off + 6, legacy_unicast ? P2PSIG_MDNS_LEGACY_TTL
                                      : P2PSIG_MDNS_TTL);
  put16(buf + off + 8, rdlen);
  off += 10;
  memcpy(buf + off, addr->bytes, rdlen);
  return off + rdlen;
}

/* ---- state ---- */

enum entry_state { ENTRY_FREE = 0, ENTRY_PENDING, ENTRY_DONE };

struct entry {
  struct p2psig_mdns *m;
  enum entry_state state;
  char name[P2PSIG_MDNS_NAME_SIZE];
  struct p2psig_mdns_address addrs[P2PSIG_MDNS_MAX_ADDRESSES];
  size_t n;
  gint64 expires;         /* ENTRY_DONE: monotonic time */
  unsigned sent;          /* transmissions so far */
  uint16_t id;
  GSource *timer;
};

struct local_name {
  char name[P2PSIG_MDNS_NAME_SIZE];
  char ip[64];
  struct p2psig_mdns_address addr;
  unsigned ifindex;       /* 0: not found among the interfaces */
  gint64 last_multicast;
};

struct subnet {
  int family;
  uint8_t addr[16];
  uint8_t mask[16];
};

struct p2psig_mdns {
  struct p2psig_loop *loop;   /* its agent's */
  p2psig_mdns_resolved_cb cb;
  void *data;
  struct entry entries[P2PSIG_MDNS_MAX_ENTRIES];

  bool query_tried;
  GSocket *query4, *query6;
  GSource *query4_source, *query6_source;

  bool responder_tried;
  GSocket *responder;
  GSource *responder_source;
  struct local_name names[P2PSIG_MDNS_MAX_LOCAL_NAMES];
  size_t name_count;
  gint64 answers_second;  /* the second answers_sent counts in */
  unsigned answers_sent;

  struct subnet subnets[MAX_SUBNETS];
  size_t subnet_count;
  gint64 subnets_at;
};

struct p2psig_mdns *
p2psig__mdns_new(struct p2psig_loop *loop, p2psig_mdns_resolved_cb cb,
                 void *data)
{
  struct p2psig_mdns *m = g_new0(struct p2psig_mdns, 1);

  m->loop = loop;
  m->cb = cb;
  m->data = data;
  for (size_t i = 0; i < P2PSIG_MDNS_MAX_ENTRIES; i++)
    m->entries[i].m = m;
  return m;
}

static void
destroy_source(GSource **source)
{
  if (*source) {
    g_source_destroy(*source);
    g_clear_pointer(source, g_source_unref);
  }
}

void
p2psig__mdns_free(struct p2psig_mdns *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < P2PSIG_MDNS_MAX_ENTRIES; i++)
    destroy_source(&m->entries[i].timer);
  destroy_source(&m->query4_source);
  destroy_source(&m->query6_source);
  destroy_source(&m->responder_source);
  g_clear_object(&m->query4);
  g_clear_object(&m->query6);
  g_clear_object(&m->responder);
  g_free(m);
}

/* ---- the local link ---- */

static void
refresh_subnets(struct p2psig_mdns *m)
{
  struct ifaddrs *ifs, *i;
  gint64 now = g_get_monotonic_time();

  if (m->subnets_at && now - m->subnets_at < SUBNETS_REFRESH_US)
    return;
  m->subnets_at = now;
  m->subnet_count = 0;
  if (getifaddrs(&ifs) < 0)
    return;
  for (i = ifs; i && m->subnet_count < MAX_SUBNETS; i = i->ifa_next) {
    struct subnet *s = &m->subnets[m->subnet_count];

    if (!i->ifa_addr || !i->ifa_netmask || !(i->ifa_flags & IFF_UP))
      continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      s->family = AF_INET;
      memcpy(s->addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
      memcpy(s->mask, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      s->family = AF_INET6;
      memcpy(s->addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
      memcpy(s->mask, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr,
             16);
    } else {
      continue;
    }
    m->subnet_count++;
  }
  freeifaddrs(ifs);
}

/* RFC 6762 section 11: only what comes from the local link counts: sent
 * with TTL 255 (a router would have lowered it), or from an address on
 * one of our subnets. */
static bool
from_local_link(struct p2psig_mdns *m, const struct sockaddr *sa, int ttl)
{
  const uint8_t *a;
  size_t n;

  if (ttl == 255)
    return true;
  if (sa->sa_family == AF_INET) {
    a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    n = 4;
  } else if (sa->sa_family == AF_INET6) {
    a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
      return true;
    n = 16;
  } else {
    return false;
  }
  refresh_subnets(m);
  for (size_t i = 0; i < m->subnet_count; i++) {
    const struct subnet *s = &m->subnets[i];
    size_t k;

    if (s->family != sa->sa_family)
      continue;
    for (k = 0; k < n && ((a[k] ^ s->addr[k]) & s->mask[k]) == 0; k++)
      ;
    if (k == n)
      return true;
  }
  return false;
}

/* ---- sockets ---- */

static void
set_int(GSocket *socket, int level, int name, int value)
{
  if (setsockopt(g_socket_get_fd(socket), level, name, &value,
                 sizeof value) < 0)
    g_debug("mdns: setsockopt %d/%d: %s", level, name, g_strerror(errno));
}

static void receive_all(struct p2psig_mdns *m, GSocket *socket);

/* The sources of our sockets, like p2psig__loop_timeout's: with the lock
 * held, and not once destroyed (p2psig__mdns_free). */
static gboolean
socket_ready(GSocket *socket, GIOCondition condition, gpointer data)
{
  struct p2psig_loop *loop = ((struct p2psig_mdns *)data)->loop;

  p2psig__lock(loop);
  if (!g_source_is_destroyed(g_main_current_source()))
    receive_all(data, socket);
  p2psig__unlock(loop);
  return G_SOURCE_CONTINUE;
}

static GSource *
watch(struct p2psig_mdns *m, GSocket *socket)
{
  GSource *source = g_socket_create_source(socket, G_IO_IN, NULL);

  g_source_set_callback(source, (GSourceFunc)(void (*)(void))socket_ready,
                        m, NULL);
  g_source_attach(source, p2psig__loop_context(m->loop));
  return source;
}

static GSocket *
udp_socket(GSocketFamily family, uint16_t port, bool reuse)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new(family, G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetAddress) any = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  if (!socket) {
    g_debug("mdns: no %s socket: %s",
            family == G_SOCKET_FAMILY_IPV4 ? "IPv4" : "IPv6", error->message);
    return NULL;
  }
  if (family == G_SOCKET_FAMILY_IPV6)
    set_int(socket, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (reuse) {
    /* Other responders (Avahi, other peers) share the port. */
    set_int(socket, SOL_SOCKET, SO_REUSEADDR, 1);
    set_int(socket, SOL_SOCKET, SO_REUSEPORT, 1);
  }
  any = g_inet_address_new_any(family);
  address = g_inet_socket_address_new(any, port);
  if (!g_socket_bind(socket, address, reuse, &error)) {
    g_debug("mdns: cannot bind port %u: %s", port, error->message);
    return NULL;
  }
  /* RFC 6762 section 11: sent with TTL 255, so that receivers can tell
   * the local link from elsewhere. */
  if (family == G_SOCKET_FAMILY_IPV4) {
    set_int(socket, IPPROTO_IP, IP_MULTICAST_TTL, 255);
    set_int(socket, IPPROTO_IP, IP_TTL, 255);
    set_int(socket, IPPROTO_IP, IP_MULTICAST_LOOP, 1);
    set_int(socket, IPPROTO_IP, IP_RECVTTL, 1);
    set_int(socket, IPPROTO_IP, IP_PKTINFO, 1);
  } else {
    set_int(socket, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
    set_int(socket, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
    set_int(socket, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1);
    set_int(socket, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  }
  return g_steal_pointer(&socket);
}

static bool
ensure_query_sockets(struct p2psig_mdns *m)
{
  if (!m->query_tried) {
    m->query_tried = true;
    m->query4 = udp_socket(G_SOCKET_FAMILY_IPV4, 0, false);
    if (m->query4)
      m->query4_source = watch(m, m->query4);
    m->query6 = udp_socket(G_SOCKET_FAMILY_IPV6, 0, false);
    if (m->query6)
      m->query6_source = watch(m, m->query6);
  }
  return m->query4 || m->query6;
}

static bool ensure_responder(struct p2psig_mdns *m);
static void join_group4(struct p2psig_mdns *m, unsigned ifindex,
                        const void *local);

/* Sends buf to the group from fd, out of the interface that the multicast
 * option (IP_MULTICAST_IF or IPV6_MULTICAST_IF, set to ifval) names. */
static bool
send_multicast(int fd, int level, int option, const void *ifval,
               socklen_t ifval_len, const uint8_t *buf, size_t len,
               const void *to, socklen_t to_len)
{
  return setsockopt(fd, level, option, ifval, ifval_len) == 0 &&
         sendto(fd, buf, len, 0, to, to_len) >= 0;
}

/* Sends a query out of every interface that takes multicast: a host may
 * have no multicast route, and the name may live on any of its links.
 * IPv4 queries go twice: from our ephemeral port, which RFC 6762 section
 * 6.7 responders answer by unicast, and from port 5353 on the group, which
 * every responder answers on the group (Chromium's answers no other way),
 * so we join it there. */
static void
send_query(struct p2psig_mdns *m, const struct entry *e)
{
  uint8_t buf[512];
  size_t len = p2psig__mdns_build_query(e->id, e->name, true, buf, sizeof buf);
  struct ifaddrs *ifs, *i;
  struct sockaddr_in to4 = { .sin_family = AF_INET,
                             .sin_port = htons(P2PSIG_MDNS_PORT) };
  struct sockaddr_in6 to6 = { .sin6_family = AF_INET6,
                              .sin6_port = htons(P2PSIG_MDNS_PORT) };
  unsigned sent = 0, v6_done[16];
  size_t v6_count = 0;

  if (len == 0 || getifaddrs(&ifs) < 0)
    return;
  inet_pton(AF_INET, P2PSIG_MDNS_GROUP4, &to4.sin_addr);
  inet_pton(AF_INET6, P2PSIG_MDNS_GROUP6, &to6.sin6_addr);
  for (i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
        !(i->ifa_flags & IFF_MULTICAST))
      continue;
    if (i->ifa_addr->sa_family == AF_INET && m->query4) {
      struct in_addr local = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
      GSocket *from[2] = { m->query4, NULL };

      if (ensure_responder(m)) {
        join_group4(m, if_nametoindex(i->ifa_name), &local);
        from[1] = m->responder;
      }
      for (size_t k = 0; k < G_N_ELEMENTS(from) && from[k]; k++) {
        if (!send_multicast(g_socket_get_fd(from[k]), IPPROTO_IP,
                            IP_MULTICAST_IF, &local, sizeof local, buf, len,
                            &to4, sizeof to4))
          g_debug("mdns: query for %s on %s: %s", e->name, i->ifa_name,
                  g_strerror(errno));
        else
          sent++;
      }
    } else if (i->ifa_addr->sa_family == AF_INET6 && m->query6) {
      unsigned index = if_nametoindex(i->ifa_name);
      size_t k;

      /* Once per interface, whatever its number of addresses. */
      for (k = 0; k < v6_count && v6_done[k] != index; k++)
        ;
      if (index == 0 || k < v6_count || v6_count == G_N_ELEMENTS(v6_done))
        continue;
      v6_done[v6_count++] = index;
      to6.sin6_scope_id = index;
      if (!send_multicast(g_socket_get_fd(m->query6), IPPROTO_IPV6,
                          IPV6_MULTICAST_IF, &index, sizeof index, buf, len,
                          &to6, sizeof to6))
        g_debug("mdns: IPv6 query for %s on %s: %s", e->name, i->ifa_name,
                g_strerror(errno));
      else
        sent++;
    }
  }
  freeifaddrs(ifs);
  g_debug("mdns: query %u for %s sent %u time(s)", e->sent + 1,
          e->name, sent);
}

/* ---- the resolver ---- */

static void
complete(struct entry *e, const struct p2psig_mdns_address *addrs, size_t n)
{
  struct p2psig_mdns *m = e->m;
  char name[P2PSIG_MDNS_NAME_SIZE];

  destroy_source(&e->timer);
  e->state = ENTRY_DONE;
  e->n = n;
  if (n)
    memcpy(e->addrs, addrs, n * sizeof *addrs);
  e->expires = g_get_monotonic_time() +
               (gint64)P2PSIG_MDNS_CACHE_MS * G_TIME_SPAN_MILLISECOND;
  g_strlcpy(name, e->name, sizeof name);
  m->cb(m->data, name, e->addrs, n);
}

/* Transmissions at 0, 250 ms and 1 s; given up at 3 s. */
static const unsigned next_delay_ms[] = { 250, 750,
                                          P2PSIG_MDNS_TIMEOUT_MS - 1000 };

static gboolean
entry_tick(gpointer data)
{
  struct entry *e = data;

  g_clear_pointer(&e->timer, g_source_unref);
  if (e->sent < G_N_ELEMENTS(next_delay_ms)) {
    send_query(e->m, e);
    e->timer = p2psig__loop_timeout(e->m->loop, next_delay_ms[e->sent],
                                    entry_tick, e, NULL);
    e->sent++;
  } else {
    g_debug("mdns: no answer for %s in %d ms", e->name,
            P2PSIG_MDNS_TIMEOUT_MS);
    complete(e, NULL, 0);
  }
  return G_SOURCE_REMOVE;
}

int
p2psig__mdns_resolve(struct p2psig_mdns *m, const char *name,
                     struct p2psig_mdns_address *out)
{
  gint64 now = g_get_monotonic_time();
  struct entry *slot = NULL;
  unsigned pending = 0;

  for (size_t i = 0; i < P2PSIG_MDNS_MAX_ENTRIES; i++) {
    struct entry *e = &m->entries[i];

    if (e->state == ENTRY_DONE && e->expires <= now)
      e->state = ENTRY_FREE;
    if (e->state != ENTRY_FREE && g_ascii_strcasecmp(e->name, name) == 0) {
      if (e->state == ENTRY_PENDING)
        return 0;
      if (e->n == 0)
        return P2PSIG_ECANDIDATE;
      memcpy(out, e->addrs, e->n * sizeof *out);
      return (int)e->n;
    }
    if (e->state == ENTRY_PENDING)
      pending++;
    /* A free slot, else the answer that expires first. */
    if (e->state == ENTRY_FREE && (!slot || slot->state != ENTRY_FREE))
      slot = e;
    else if (e->state == ENTRY_DONE &&
             (!slot || (slot->state == ENTRY_DONE &&
                        e->expires < slot->expires)))
      slot = e;
  }
  if (pending >= P2PSIG_MDNS_MAX_PENDING || !slot)
    return P2PSIG_ELIMIT;
  if (!ensure_query_sockets(m))
    return P2PSIG_ENETWORK;
  memset(slot->name, 0, sizeof slot->name);
  g_strlcpy(slot->name, name, sizeof slot->name);
  slot->state = ENTRY_PENDING;
  slot->n = 0;
  slot->sent = 0;
  slot->id = (uint16_t)g_random_int();
  /* The first query from the library thread too. */
  slot->timer = p2psig__loop_timeout(m->loop, 0, entry_tick, slot, NULL);
  return 0;
}

static void
handle_response(struct p2psig_mdns *m, const uint8_t *buf, size_t len)
{
  for (size_t i = 0; i < P2PSIG_MDNS_MAX_ENTRIES; i++) {
    struct entry *e = &m->entries[i];
    struct p2psig_mdns_address addrs[P2PSIG_MDNS_MAX_ADDRESSES];
    size_t n;

    if (e->state != ENTRY_PENDING)
      continue;
    n = p2psig__mdns_parse_response(buf, len, e->name, addrs,
                                    G_N_ELEMENTS(addrs));
    if (n > 0) {
      g_debug("mdns: %s resolved (%zu address(es))", e->name, n);
      complete(e, addrs, n);
    }
  }
}

/* ---- the responder ---- */

/* The group on the interface of local IPv4 address local; a second
 * address of one interface finds it joined already. */
static void
join_group4(struct p2psig_mdns *m, unsigned ifindex, const void *local)
{
  struct ip_mreqn mreq = { .imr_ifindex = (int)ifindex };

  inet_pton(AF_INET, P2PSIG_MDNS_GROUP4, &mreq.imr_multiaddr);
  memcpy(&mreq.imr_address, local, 4);
  if (setsockopt(g_socket_get_fd(m->responder), IPPROTO_IP,
                 IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0 &&
      errno != EADDRINUSE) {
    char ip[INET_ADDRSTRLEN] = "?";

    inet_ntop(AF_INET, local, ip, sizeof ip);
    g_debug("mdns: cannot join %s on %s: %s", P2PSIG_MDNS_GROUP4, ip,
            g_strerror(errno));
  }
}

static bool
ensure_responder(struct p2psig_mdns *m)
{
  if (!m->responder_tried) {
    m->responder_tried = true;
    m->responder = udp_socket(G_SOCKET_FAMILY_IPV4, P2PSIG_MDNS_PORT, true);
    if (m->responder)
      m->responder_source = watch(m, m->responder);
    else
      g_debug("mdns: no responder: our names will not resolve");
  }
  return m->responder != NULL;
}

static unsigned
interface_of(const struct p2psig_mdns_address *addr)
{
  struct ifaddrs *ifs, *i;
  unsigned index = 0;

  if (getifaddrs(&ifs) < 0)
    return 0;
  for (i = ifs; i && !index; i = i->ifa_next) {
    if (!i->ifa_addr)
      continue;
    if ((addr->family == G_SOCKET_FAMILY_IPV4 &&
         i->ifa_addr->sa_family == AF_INET &&
         memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr->bytes,
                4) == 0) ||
        (addr->family == G_SOCKET_FAMILY_IPV6 &&
         i->ifa_addr->sa_family == AF_INET6 &&
         memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                addr->bytes, 16) == 0))
      index = if_nametoindex(i->ifa_name);
  }
  freeifaddrs(ifs);
  return index;
}

const char *
p2psig__mdns_local_name(struct p2psig_mdns *m, const char *ip)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(ip);
  g_autofree char *uuid = NULL;
  struct local_name *ln;

  if (!inet)
    return NULL;
  for (size_t i = 0; i < m->name_count; i++) {
    if (strcmp(m->names[i].ip, ip) == 0)
      return m->names[i].name;
  }
  if (m->name_count >= P2PSIG_MDNS_MAX_LOCAL_NAMES)
    return NULL;
  ln = &m->names[m->name_count++];
  memset(ln, 0, sizeof *ln);
  uuid = g_uuid_string_random(); /* version 4, lower case */
  g_snprintf(ln->name, sizeof ln->name, "%s.local", uuid);
  g_strlcpy(ln->ip, ip, sizeof ln->ip);
  ln->addr.family = g_inet_address_get_family(inet);
  memcpy(ln->addr.bytes, g_inet_address_to_bytes(inet),
         g_inet_address_get_native_size(inet));
  ln->ifindex = interface_of(&ln->addr);
  if (ensure_responder(m) && ln->addr.family == G_SOCKET_FAMILY_IPV4)
    join_group4(m, ln->ifindex, ln->addr.bytes);
  g_debug("mdns: local address %s is %s", ip, ln->name);
  return ln->name;
}

/* At most P2PSIG_MDNS_MAX_ANSWERS_PER_S answers a second, whatever the
 * queries: we must not become a reflector. */
static bool
may_answer(struct p2psig_mdns *m, gint64 now)
{
  gint64 second = now / G_USEC_PER_SEC;

  if (second != m->answers_second) {
    m->answers_second = second;
    m->answers_sent = 0;
  }
  if (m->answers_sent >= P2PSIG_MDNS_MAX_ANSWERS_PER_S)
    return false;
  m->answers_sent++;
  return true;
}

static void
answer(struct p2psig_mdns *m, struct local_name *ln, uint16_t id,
       const struct p2psig_mdns_question *q, const struct sockaddr_in *from,
       unsigned ifindex)
{
  uint8_t buf[512];
  bool legacy = ntohs(from->sin_port) != P2PSIG_MDNS_PORT;
  bool unicast = legacy || q->unicast;
  struct sockaddr_in to = *from;
  gint64 now = g_get_monotonic_time();
  size_t len;
  int fd = g_socket_get_fd(m->responder);

  /* RFC 6762 section 6: a record goes out on multicast once a second at
   * most. */
  if (!unicast && ln->last_multicast &&
      now - ln->last_multicast < G_USEC_PER_SEC)
    return;
  if (!may_answer(m, now))
    return;
  len = p2psig__mdns_build_response(id, ln->name, &ln->addr, legacy, buf,
                                    sizeof buf);
  if (len == 0)
    return;
  if (!unicast) {
    struct ip_mreqn mreq = { .imr_ifindex = (int)ifindex };

    ln->last_multicast = now;
    to.sin_port = htons(P2PSIG_MDNS_PORT);
    inet_pton(AF_INET, P2PSIG_MDNS_GROUP4, &to.sin_addr);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq);
  }
  if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
    g_debug("mdns: answer for %s: %s", ln->name, g_strerror(errno));
  else
    g_debug("mdns: answered for %s (%s)", ln->name,
            legacy ? "legacy unicast" : unicast ? "unicast" : "multicast");
}

static void
handle_query(struct p2psig_mdns *m, const uint8_t *buf, size_t len,
             const struct sockaddr_in *from, unsigned ifindex)
{
  struct p2psig_mdns_question qs[MAX_QUESTIONS];
  uint16_t id = 0;
  size_t n = p2psig__mdns_parse_query(buf, len, &id, qs, MAX_QUESTIONS);

  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < m->name_count; k++) {
      struct local_name *ln = &m->names[k];
      unsigned want = ln->addr.family == G_SOCKET_FAMILY_IPV4 ? TYPE_A
                                                              : TYPE_AAAA;

      if (g_ascii_strcasecmp(qs[i].name, ln->name) != 0 ||
          (qs[i].type != want && qs[i].type != TYPE_ANY))
        continue;
      /* RFC 6762 section 6.2: an address is given on its own link only
       * (a query from one network learns nothing of the others). */
      if (ln->ifindex && ifindex && ln->ifindex != ifindex) {
        g_debug("mdns: %s asked on another interface: not answered",
                ln->name);
        continue;
      }
      answer(m, ln, id, &qs[i], from, ifindex);
    }
  }
}

static void
receive_all(struct p2psig_mdns *m, GSocket *socket)
{
  static uint8_t buf[MAX_PACKET]; /* the library thread's alone */
  int fd = g_socket_get_fd(socket);

  for (int reads = 0; reads < MAX_READS; reads++) {
    struct sockaddr_storage from;
    union {
      struct cmsghdr align;
      uint8_t bytes[256];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
    struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from,
                          .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.bytes,
                          .msg_controllen = sizeof control.bytes };
    int ttl = -1;
    unsigned ifindex = 0;
    ssize_t len = recvmsg(fd, &msg, MSG_DONTWAIT);

    if (len < 0)
      return;
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
      continue;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
         c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
        memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      else if (c->cmsg_level == IPPROTO_IPV6 &&
               c->cmsg_type == IPV6_HOPLIMIT)
        memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo info;

        memcpy(&info, CMSG_DATA(c), sizeof info);
        ifindex = (unsigned)info.ipi_ifindex;
      }
    }
    if (len < 12 || !from_local_link(m, (struct sockaddr *)&from, ttl))
      continue;
    if (buf[2] & 0x80)
      handle_response(m, buf, (size_t)len);
    else if (socket == m->responder && from.ss_family == AF_INET)
      handle_query(m, buf, (size_t)len, (struct sockaddr_in *)&from,
                   ifindex);
  }
}
