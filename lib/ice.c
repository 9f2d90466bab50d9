/* SPDX-License-Identifier: MIT */
/*
 * ICE layer: wraps a libnice agent with one stream of one component.  It
 * hands received datagrams and state changes up to the peer, and sends what
 * DTLS gives it.  libnice runs on the library's main context; it emits its
 * signals and receive callbacks after releasing its own lock, so taking the
 * library lock in them cannot deadlock with a sender holding it.
 */
#define G_LOG_DOMAIN "p2psig-ice"

#include "ice.h"

#include <agent.h>
#include <interfaces.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "mdns.h"
#include "turntls.h"

/* A TURN server as libnice gets it. */
struct relay {
  struct p2psig_ice_relay config;   /* URL and credentials, copied */
  struct p2psig_turn_tls *tunnel;   /* turns: through a local listener */
  bool given;                       /* handed to libnice */
  char ip[INET6_ADDRSTRLEN];        /* as given, for a restart's stream */
};

struct p2psig_ice {
  struct p2psig_loop *loop;         /* its lock guards the agent */
  NiceAgent *agent;
  /* The agent's context, where libnice attaches its timers: its home
   * group's (parking.c), or the loop's when it has none. */
  struct p2psig_park_group *home;
  GMainContext *agent_context;
  /* The newest generation (RFC 8445 section 9): its credentials, checks,
   * candidates and gathering.  An ICE restart makes a new stream, gathered
   * anew (a changed network needs new server-reflexive and relay
   * candidates), while data_stream_id, the previous one, carries the data
   * until the new one connects and replaces it. */
  guint stream_id;
  guint data_stream_id;
  /* The stream whose sockets are parked (parking.c), once READY. */
  struct p2psig_park_group *parked;
  guint parked_stream_id;
  uint16_t port_min, port_max;
  struct p2psig_ice_callbacks cbs;
  void *data;
  char *ufrag;
  char *pwd;
  bool gathering_started;
  bool controlling;
  enum p2psig_ice_state state;

  /* STUN: libnice reads its one server when gathering starts. */
  char *stun_host;                  /* NULL: none */
  uint16_t stun_port;
  char *stun_ip;                    /* once resolved */
  bool stun_failed;                 /* the name does not resolve */
  struct relay relays[P2PSIG_ICE_MAX_RELAYS];
  size_t relay_count;
  /* libnice's TURN preference (its list position) -> our relay, for the
   * relay protocol of a candidate. */
  struct relay *by_preference[P2PSIG_ICE_MAX_RELAYS];
  size_t given_count;
  GCancellable *cancellable;        /* server name lookups */
  unsigned resolving;               /* lookups not done */

  bool nice_gathering_done;         /* since the last server was given */
  bool gathering_done;              /* on_candidate(NULL) sent */
  GSource *gathering_deadline;
  /* hasten_first_check: the stream whose first check was hastened, and
   * the source that looks for its timer (for hasten_stream_id). */
  guint hastened_stream_id;
  guint hasten_stream_id;
  guint hasten_below;  /* the timer's id is below this one */
  guint remote_candidates_stream_id; /* the last stream given one */
  GSource *hasten;

  /* mDNS (mdns.h): remote "<uuid>.local" candidates, and our own names. */
  struct p2psig_mdns *mdns;         /* made on first use */
  bool mdns_hide;                   /* options->mdns_host_candidates */
  int family;                       /* options->family */
  GArray *awaiting;                 /* struct p2psig_candidate whose name
                                       is being resolved */
};

/* Remote candidates waiting for their name: the peer bounds them (each
 * counts against its candidate caps), this only makes it certain. */
#define MAX_RESOLVING (2 * P2PSIG_MAX_REMOTE_CANDIDATES)

#define COMPONENT_ID 1

/* Descriptors that must be left for a stream (its main context's, and a
 * spare) and for gathering (a UDP socket at least, and a spare). */
#define STREAM_DESCRIPTORS 2
#define GATHER_DESCRIPTORS 2

/* Whether an address is of the family the peer was limited to. */
static bool
family_allowed(const struct p2psig_ice *ice, const NiceAddress *addr)
{
  return ice->family == 0 || (int)addr->s.addr.sa_family == ice->family;
}

static const char *
family_name(int family)
{
  return family == AF_INET6 ? "IPv6" : "IPv4";
}

static enum p2psig_candidate_type
type_from_nice(NiceCandidateType type)
{
  switch (type) {
  case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
    return P2PSIG_CANDIDATE_SRFLX;
  case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
    return P2PSIG_CANDIDATE_PRFLX;
  case NICE_CANDIDATE_TYPE_RELAYED:
    return P2PSIG_CANDIDATE_RELAY;
  case NICE_CANDIDATE_TYPE_HOST:
  default:
    return P2PSIG_CANDIDATE_HOST;
  }
}

static NiceCandidateType
type_to_nice(enum p2psig_candidate_type type)
{
  switch (type) {
  case P2PSIG_CANDIDATE_SRFLX:
    return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
  case P2PSIG_CANDIDATE_PRFLX:
    return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
  case P2PSIG_CANDIDATE_RELAY:
    return NICE_CANDIDATE_TYPE_RELAYED;
  case P2PSIG_CANDIDATE_HOST:
  default:
    return NICE_CANDIDATE_TYPE_HOST;
  }
}

/* RFC 6544 section 4.5: an active TCP candidate has no port of its own
 * (libnice says 0); SDP says 9, the discard port. */
#define ACTIVE_TCP_PORT 9

static void
transport_from_nice(NiceCandidateTransport transport,
                    struct p2psig_candidate *c)
{
  c->transport = P2PSIG_TRANSPORT_TCP;
  switch (transport) {
  case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:
    c->tcp_type = P2PSIG_TCP_ACTIVE;
    break;
  case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE:
    c->tcp_type = P2PSIG_TCP_PASSIVE;
    break;
  case NICE_CANDIDATE_TRANSPORT_TCP_SO:
    c->tcp_type = P2PSIG_TCP_SO;
    break;
  case NICE_CANDIDATE_TRANSPORT_UDP:
  default:
    c->transport = P2PSIG_TRANSPORT_UDP;
    c->tcp_type = P2PSIG_TCP_NONE;
    break;
  }
}

static NiceCandidateTransport
transport_to_nice(const struct p2psig_candidate *c)
{
  if (c->transport == P2PSIG_TRANSPORT_UDP)
    return NICE_CANDIDATE_TRANSPORT_UDP;
  switch (c->tcp_type) {
  case P2PSIG_TCP_ACTIVE:
    return NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE;
  case P2PSIG_TCP_SO:
    return NICE_CANDIDATE_TRANSPORT_TCP_SO;
  case P2PSIG_TCP_PASSIVE:
  default:
    return NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE;
  }
}

static struct p2psig_mdns *ensure_mdns(struct p2psig_ice *ice);

/* Lock held.  draft-ietf-mmusic-mdns-ice-candidates section 3.1: a host
 * candidate carries the name of its address, and the related address of
 * the others (our host address, or the srflx one of a relay) is 0.0.0.0
 * port 0, as browsers write it.  False: no name (P2PSIG_MDNS_MAX_LOCAL_NAMES
 * taken), and the candidate must not be reported. */
static bool
hide_host_address(struct p2psig_ice *ice, struct p2psig_candidate *c)
{
  const char *name;

  if (c->type != P2PSIG_CANDIDATE_HOST) {
    g_strlcpy(c->related_address, "0.0.0.0", sizeof c->related_address);
    c->related_port = 0;
    return true;
  }
  name = p2psig__mdns_local_name(ensure_mdns(ice), c->address);
  if (!name)
    return false;
  g_strlcpy(c->address, name, sizeof c->address);
  return true;
}

static void
on_new_candidate(NiceAgent *agent, NiceCandidate *nc, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  struct p2psig_candidate c = { 0 };
  g_autofree char *text = NULL;
  bool took;

  if (nc->stream_id != ice->stream_id)
    return; /* a generation an ICE restart replaced */
  /* Host candidates are of the family already (only its addresses were
   * given); a server may answer with the other one. */
  if (!family_allowed(ice, &nc->addr)) {
    g_debug("local candidate of the other address family dropped: %s only",
            family_name(ice->family));
    return;
  }
  g_strlcpy(c.foundation, nc->foundation, sizeof c.foundation);
  c.component = nc->component_id;
  transport_from_nice(nc->transport, &c);
  c.priority = nc->priority;
  nice_address_to_string(&nc->addr, c.address);
  c.port = nice_address_get_port(&nc->addr);
  if (c.tcp_type == P2PSIG_TCP_ACTIVE && c.port == 0)
    c.port = ACTIVE_TCP_PORT;

  c.type = type_from_nice(nc->type);
  /* libnice derives TCP "srflx" candidates from a UDP mapping with the
   * host's TCP port: no NAT maps that. */
  if (c.transport == P2PSIG_TRANSPORT_TCP && c.type != P2PSIG_CANDIDATE_HOST)
    return;
  if (c.type != P2PSIG_CANDIDATE_HOST) {
    nice_address_to_string(&nc->base_addr, c.related_address);
    c.related_port = nice_address_get_port(&nc->base_addr);
  }
  /* Emitted inside nice_agent_gather_candidates() too. */
  took = p2psig__lock_unless_held(ice->loop);
  if (ice->mdns_hide && !hide_host_address(ice, &c)) {
    g_debug("local %s candidate not reported: no mDNS name for it",
            c.type == P2PSIG_CANDIDATE_HOST ? "host" : "server candidate");
    p2psig__unlock_if(ice->loop, took);
    return;
  }
  text = p2psig__candidate_format(&c);
  if (ice->gathering_done) {
    g_debug("local candidate %s after the end of gathering: not reported",
            text);
  } else {
    g_debug("local candidate %s", text);
    ice->cbs.on_candidate(ice->data, text);
  }
  p2psig__unlock_if(ice->loop, took);
}

static void
stop_gathering_deadline(struct p2psig_ice *ice)
{
  if (ice->gathering_deadline) {
    g_source_destroy(ice->gathering_deadline);
    g_clear_pointer(&ice->gathering_deadline, g_source_unref);
  }
}

/* libnice sends a stream's first check one pacing interval after its
 * first pairs form: inside nice_agent_set_remote_candidates it attaches a
 * timer of that interval (1 ms, its least) named below, and never checks
 * at once.  With the loop's poll in whole milliseconds that is 1-1.5 ms,
 * a third of a setup in one process.  Made due at once, the timer sends
 * the check in the loop's next iteration and then paces as before.  The
 * timer is found by name among the sources attached just before ours.
 * GLib's timeouts keep their expiry in the source's ready time, so
 * setting it is what a timeout's own dispatch does; were the name or that
 * to change, checks would start one interval later, as without this. */
#define NICE_CHECK_TIMER_NAME "Connectivity check schedule"
#define HASTEN_SCAN_IDS 64

static gboolean
hasten_first_check_on_loop(gpointer data)
{
  struct p2psig_ice *ice = data;
  GMainContext *ctx = ice->agent_context;
  guint id = ice->hasten_below;

  g_clear_pointer(&ice->hasten, g_source_unref);
  /* On the loop's thread with its lock: libnice cannot destroy the timer
   * meanwhile (its own callbacks run on this thread, and our calls into
   * the agent hold this lock). */
  for (guint i = 1; i <= HASTEN_SCAN_IDS && i < id; i++) {
    GSource *s = g_main_context_find_source_by_id(ctx, id - i);

    if (s && g_strcmp0(g_source_get_name(s), NICE_CHECK_TIMER_NAME) == 0) {
      g_source_set_ready_time(s, 0);
      ice->hastened_stream_id = ice->hasten_stream_id;
      g_debug("first check sent without waiting for the pacing interval");
      break;
    }
  }
  return G_SOURCE_REMOVE;
}

static void
stop_hastening(struct p2psig_ice *ice)
{
  if (ice->hasten) {
    g_source_destroy(ice->hasten);
    g_clear_pointer(&ice->hasten, g_source_unref);
  }
}

/* Lock held, just after a call that may have formed the stream's first
 * pairs: its remote candidates set, or its gathering started (the answer
 * has the remote's candidates before its own).  The timer is the agent's:
 * at an ICE restart it may still be ticking for the previous generation,
 * and is then not found (the first check leaves at its next tick). */
static void
hasten_first_check(struct p2psig_ice *ice)
{
  /* Pairs need candidates on both sides: until then the timer is not
   * there, and another agent's could be found instead. */
  if (ice->hastened_stream_id == ice->stream_id || !ice->gathering_started ||
      ice->remote_candidates_stream_id != ice->stream_id)
    return;
  /* The timer may be newer than a source already waiting: that one scans
   * below its own id, so it makes way for one attached after the call. */
  stop_hastening(ice);
  ice->hasten_stream_id = ice->stream_id;
  ice->hasten_below = p2psig__context_newest_source_id(ice->agent_context);
  ice->hasten = p2psig__loop_idle(ice->loop, hasten_first_check_on_loop,
                                  ice, NULL);
}

/* Lock held.  Ends gathering once libnice is done and no server name is
 * still being looked up (it would bring a server, and candidates). */
static void
maybe_end_gathering(struct p2psig_ice *ice)
{
  if (ice->gathering_done || !ice->gathering_started ||
      !ice->nice_gathering_done || ice->resolving > 0)
    return;
  ice->gathering_done = true;
  stop_gathering_deadline(ice);
  g_debug("gathering done");
  ice->cbs.on_candidate(ice->data, NULL);
}

static gboolean
gathering_timed_out(gpointer data)
{
  struct p2psig_ice *ice = data;

  g_clear_pointer(&ice->gathering_deadline, g_source_unref);
  g_debug("gathering: %d ms passed, ending it without the servers that did "
          "not answer", P2PSIG_ICE_GATHERING_TIMEOUT_MS);
  ice->nice_gathering_done = true;
  ice->resolving = 0;
  maybe_end_gathering(ice);
  return G_SOURCE_REMOVE;
}

static void
on_gathering_done(NiceAgent *agent, guint stream_id, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  bool took;

  if (stream_id != ice->stream_id)
    return;
  took = p2psig__lock_unless_held(ice->loop);
  ice->nice_gathering_done = true;
  maybe_end_gathering(ice);
  p2psig__unlock_if(ice->loop, took);
}

/* libnice's check timer goes on ticking every pacing interval (1 ms here)
 * for its idle-timeout after the checks end, 5 s by default: 5,000
 * wake-ups a connected peer for nothing.  The grace is for a controlled
 * agent still waiting for its remote to nominate, so a new generation
 * (the first, or an ICE restart's) gets it, and a nominated pair cuts it
 * to libnice's least. */
#define NICE_IDLE_TIMEOUT_MS 5000
#define NICE_IDLE_TIMEOUT_READY_MS 50

static void retire_data_stream(struct p2psig_ice *ice);
static void park(struct p2psig_ice *ice);

static void
set_state(struct p2psig_ice *ice, enum p2psig_ice_state state)
{
  if (state == ice->state)
    return;
  /* Checks pace at 1 ms: no timer slack meanwhile (loop.c). */
  if ((state == P2PSIG_ICE_CHECKING) != (ice->state == P2PSIG_ICE_CHECKING))
    p2psig__loop_precise_timers(ice->loop, state == P2PSIG_ICE_CHECKING);
  ice->state = state;
  ice->cbs.on_state(ice->data, state);
}

static void
on_component_state(NiceAgent *agent, guint stream_id, guint component_id,
                   guint nice_state, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  enum p2psig_ice_state state = ice->state;
  bool took;

  if (stream_id != ice->stream_id)
    return; /* the old generation: it carries data until replaced */
  /* Emitted inside nice_agent_set_remote_candidates() too. */
  took = p2psig__lock_unless_held(ice->loop);
  g_debug("component state %s",
          nice_component_state_to_string((NiceComponentState)nice_state));
  switch (nice_state) {
  case NICE_COMPONENT_STATE_CONNECTING:
    state = P2PSIG_ICE_CHECKING;
    break;
  case NICE_COMPONENT_STATE_CONNECTED:
    state = P2PSIG_ICE_CONNECTED;
    retire_data_stream(ice);
    break;
  case NICE_COMPONENT_STATE_READY:
    g_object_set(agent, "idle-timeout", NICE_IDLE_TIMEOUT_READY_MS, NULL);
    state = P2PSIG_ICE_COMPLETED;
    retire_data_stream(ice);
    park(ice);
    break;
  case NICE_COMPONENT_STATE_FAILED:
    state = P2PSIG_ICE_FAILED;
    break;
  default:
    break;
  }
  set_state(ice, state);
  p2psig__unlock_if(ice->loop, took);
}

/* The kernel's default receive buffer (208 KiB on Linux, counted with its
 * overhead) holds about 90 full datagrams: a burst that arrives while the
 * loop's thread is busy elsewhere overflows it, and what is dropped is
 * lost, among it a remote's last datagrams (its ABORT and close_notify).
 * Asked for at twice the SCTP receive window, which is what the remote may
 * have in flight, since the kernel counts each datagram's buffer (about
 * 2.3 KiB for 1,200 bytes) rather than its bytes.  The kernel caps the
 * request at net.core.rmem_max unless the process may override it
 * (CAP_NET_ADMIN), as quic-go does.  UDP only: on TCP a fixed size would
 * turn the kernel's own tuning off. */
#define ICE_UDP_RECV_BUFFER (4 * 1024 * 1024)

/* The kernel reports twice what was set, its accounting included. */
static gint
recv_buffer_size(GSocket *sock)
{
  gint size = 0;

  g_socket_get_option(sock, SOL_SOCKET, SO_RCVBUF, &size, NULL);
  return size / 2;
}

/* The pair carrying the data changed: size its socket's receive buffer.
 * libnice emits this after releasing its lock. */
static void
on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                 NiceCandidate *local, NiceCandidate *remote,
                 gpointer user_data)
{
  static gsize capped_said;
  GSocket *sock = nice_agent_get_selected_socket(agent, stream_id,
                                                 component_id);
  gint size;

  if (!sock)
    return;
  if (g_socket_get_socket_type(sock) != G_SOCKET_TYPE_DATAGRAM ||
      recv_buffer_size(sock) >= ICE_UDP_RECV_BUFFER) {
    g_object_unref(sock);
    return;
  }
  g_socket_set_option(sock, SOL_SOCKET, SO_RCVBUF, ICE_UDP_RECV_BUFFER,
                      NULL);
#ifdef SO_RCVBUFFORCE
  if (recv_buffer_size(sock) < ICE_UDP_RECV_BUFFER)
    g_socket_set_option(sock, SOL_SOCKET, SO_RCVBUFFORCE,
                        ICE_UDP_RECV_BUFFER, NULL);
#endif
  size = recv_buffer_size(sock);
  if (size < ICE_UDP_RECV_BUFFER && g_once_init_enter(&capped_said)) {
    g_info("UDP receive buffers capped at %d bytes (net.core.rmem_max); "
           "%d wanted, so that a burst is not dropped while a loop is busy",
           size, ICE_UDP_RECV_BUFFER);
    g_once_init_leave(&capped_said, 1);
  }
  g_debug("selected pair's receive buffer: %d bytes", size);
  g_object_unref(sock);
}

static void
on_receive(NiceAgent *agent, guint stream_id, guint component_id, guint len,
           gchar *buf, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  /* Held when a park group runs (parking.c), not on the loop's context. */
  bool took = p2psig__lock_unless_held(ice->loop);

  ice->cbs.on_receive(ice->data, (const uint8_t *)buf, len);
  p2psig__unlock_if(ice->loop, took);
}

/* Returns whether the address was given to libnice. */
static bool
add_local_address(struct p2psig_ice *ice, const char *ip)
{
  NiceAddress addr;

  if (!nice_address_set_from_string(&addr, ip)) {
    g_debug("ignoring local address %s: not an IP address", ip);
    return false;
  }
  if (!family_allowed(ice, &addr))
    return false;
  return nice_agent_add_local_address(ice->agent, &addr);
}

/* Adds the usable addresses of ips (IPv6 link-local ones need a scope id
 * the SDP cannot carry); returns how many. */
static unsigned
add_addresses(struct p2psig_ice *ice, GList *ips)
{
  unsigned added = 0;

  for (GList *l = ips; l; l = l->next) {
    const char *ip = l->data;

    if (!g_str_has_prefix(ip, "fe80:") && add_local_address(ice, ip))
      added++;
  }
  g_list_free_full(ips, g_free);
  return added;
}

/* Loopback only when there is nothing else (of the family asked for), as
 * libnice and browsers do: two peers on one host meet on its other
 * addresses too, and each address costs sockets and, for every TURN
 * server, an allocation. */
static void
add_all_local_addresses(struct p2psig_ice *ice)
{
  if (add_addresses(ice, nice_interfaces_get_local_ips(FALSE)) == 0)
    add_addresses(ice, nice_interfaces_get_local_ips(TRUE));
}

/* ---- STUN and TURN servers ---- */

static NiceRelayType
relay_type(const struct relay *relay)
{
  /* turns: goes as TCP to our local TLS listener. */
  return relay->config.url.transport == P2PSIG_ICE_URL_UDP
           ? NICE_RELAY_TYPE_TURN_UDP
           : NICE_RELAY_TYPE_TURN_TCP;
}

/* Lock held (or before anyone else knows ice).  libnice takes a server
 * given after gathering started at once, and ends gathering again. */
static void
give_relay(struct p2psig_ice *ice, struct relay *relay, const char *ip)
{
  uint16_t port = relay->tunnel ? p2psig__turn_tls_port(relay->tunnel)
                                : relay->config.url.port;

  if (!nice_agent_set_relay_info(ice->agent, ice->stream_id, COMPONENT_ID,
                                 ip, port, relay->config.username,
                                 relay->config.password,
                                 relay_type(relay))) {
    g_debug("libnice refused TURN server %s:%u", ip, port);
    return;
  }
  relay->given = true;
  if (relay->ip != ip)
    g_strlcpy(relay->ip, ip, sizeof relay->ip);
  ice->by_preference[ice->given_count++] = relay;
  if (ice->gathering_started)
    ice->nice_gathering_done = false;
  g_debug("TURN server %s:%u (%s) given as %s:%u", relay->config.url.host,
          relay->config.url.port,
          relay->config.url.transport == P2PSIG_ICE_URL_UDP ? "udp"
          : relay->config.url.transport == P2PSIG_ICE_URL_TCP ? "tcp"
                                                              : "tls",
          ip, port);
}

struct lookup {
  struct p2psig_loop *loop;   /* the agent's */
  struct p2psig_ice *ice;     /* gone once cancellable is cancelled */
  GCancellable *cancellable;
  struct relay *relay;        /* NULL: the STUN server */
};

/* Server names are looked up here rather than by libnice, which logs a
 * warning for a name that does not resolve: not the application's to fix
 * when the network has no DNS. */
static void
looked_up(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree struct lookup *lookup = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source),
                                                      result, &error);
  g_autofree char *ip = addresses
                          ? g_inet_address_to_string(addresses->data)
                          : NULL;
  struct p2psig_ice *ice;

  g_resolver_free_addresses(addresses);
  p2psig__lock(lookup->loop);
  /* ice_free cancels under the lock, on this thread: no race. */
  ice = g_cancellable_is_cancelled(lookup->cancellable) ? NULL : lookup->ice;
  g_object_unref(lookup->cancellable);
  if (!ice) {
    p2psig__unlock(lookup->loop);
    return;
  }
  if (!ip)
    g_debug("cannot resolve %s server %s: %s",
            lookup->relay ? "TURN" : "STUN",
            lookup->relay ? lookup->relay->config.url.host : ice->stun_host,
            error->message);
  if (lookup->relay) {
    if (ip)
      give_relay(ice, lookup->relay, ip);
  } else if (ip) {
    ice->stun_ip = g_steal_pointer(&ip);
    if (ice->gathering_started)
      g_debug("STUN server %s resolved after gathering started: libnice "
              "looks it up itself", ice->stun_host);
  } else {
    ice->stun_failed = true;
  }
  if (ice->resolving > 0)
    ice->resolving--;
  maybe_end_gathering(ice);
  p2psig__unlock(ice->loop);
}

static void
look_up(struct p2psig_ice *ice, const char *host, struct relay *relay)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default();
  struct lookup *lookup = g_new0(struct lookup, 1);

  lookup->loop = ice->loop;
  lookup->ice = ice;
  lookup->cancellable = g_object_ref(ice->cancellable);
  lookup->relay = relay;
  ice->resolving++;
  g_resolver_lookup_by_name_async(resolver, host, ice->cancellable,
                                  looked_up, lookup);
}

struct setup_servers {
  struct p2psig_ice *ice;
  GTlsDatabase *tls_ca;
  int error;
};

/* On the library thread: the lookups and the TLS listeners attach to its
 * context. */
static void
setup_servers(void *data)
{
  struct setup_servers *args = data;
  struct p2psig_ice *ice = args->ice;

  p2psig__lock(ice->loop);
  if (ice->stun_host && !ice->stun_ip)
    look_up(ice, ice->stun_host, NULL);
  for (size_t i = 0; i < ice->relay_count; i++) {
    struct relay *relay = &ice->relays[i];
    const struct p2psig_ice_url *url = &relay->config.url;

    if (url->transport == P2PSIG_ICE_URL_TLS) {
      relay->tunnel = p2psig__turn_tls_new(ice->loop, url->host, url->port,
                                           args->tls_ca);
      if (!relay->tunnel) {
        args->error = P2PSIG_ENETWORK;
        break;
      }
      give_relay(ice, relay, "127.0.0.1");
    } else if (url->host_is_ip) {
      give_relay(ice, relay, url->host);
    } else {
      look_up(ice, url->host, relay);
    }
  }
  p2psig__unlock(ice->loop);
}

static void
copy_servers(struct p2psig_ice *ice, const struct p2psig_ice_servers *servers)
{
  if (!servers)
    return;
  if (servers->has_stun) {
    ice->stun_host = g_strdup(servers->stun.host);
    ice->stun_port = servers->stun.port;
    if (servers->stun.host_is_ip)
      ice->stun_ip = g_strdup(servers->stun.host);
  }
  ice->relay_count = servers->relay_count;
  for (size_t i = 0; i < servers->relay_count; i++) {
    ice->relays[i].config = servers->relays[i];
    ice->relays[i].config.username = g_strdup(servers->relays[i].username);
    ice->relays[i].config.password = g_strdup(servers->relays[i].password);
  }
}

static void
free_servers_on_loop(void *data)
{
  struct p2psig_ice *ice = data;

  for (size_t i = 0; i < ice->relay_count; i++) {
    g_clear_pointer(&ice->relays[i].tunnel, p2psig__turn_tls_free);
    p2psig__ice_relay_clear(&ice->relays[i].config);
  }
  ice->relay_count = 0;
}

const char *
p2psig__ice_relay_protocol(const struct p2psig_ice *ice,
                           const NiceCandidate *local)
{
  /* libnice's local preference holds the TURN server's list position in
   * bits 6 to 8 (RFC 8445 section 5.1.2.1 leaves its layout to us). */
  unsigned preference = (local->priority >> 14) & 7;
  const struct relay *relay;

  if (local->type != NICE_CANDIDATE_TYPE_RELAYED ||
      preference >= ice->given_count)
    return "";
  relay = ice->by_preference[preference];
  switch (relay->config.url.transport) {
  case P2PSIG_ICE_URL_UDP:
    return "udp";
  case P2PSIG_ICE_URL_TCP:
    return "tcp";
  case P2PSIG_ICE_URL_TLS:
    return "tls";
  }
  return "";
}

/* ---- the agent and its streams ---- */

/* A stream of one component, receiving, with the configured ports; 0 if
 * libnice refused.  Its credentials become ours. */
static guint
add_stream(struct p2psig_ice *ice, int *error)
{
  guint id;

  /* The stream's main context (libnice's, for its I/O streams) takes a
   * descriptor, and GLib aborts if it cannot. */
  if (!p2psig__descriptors_reserve(STREAM_DESCRIPTORS)) {
    *error = P2PSIG_EDESCRIPTORS;
    return 0;
  }
  id = nice_agent_add_stream(ice->agent, 1);
  p2psig__descriptors_release();
  if (id == 0) {
    *error = P2PSIG_EINTERNAL;
    return 0;
  }
  g_object_set(ice->agent, "idle-timeout", NICE_IDLE_TIMEOUT_MS, NULL);
  nice_agent_set_stream_name(ice->agent, id, "application");
  if (ice->port_min || ice->port_max)
    nice_agent_set_port_range(ice->agent, id, COMPONENT_ID, ice->port_min,
                              ice->port_max ? ice->port_max : 65535);
  g_clear_pointer(&ice->ufrag, g_free);
  g_clear_pointer(&ice->pwd, g_free);
  nice_agent_get_local_credentials(ice->agent, id, &ice->ufrag, &ice->pwd);
  nice_agent_attach_recv(ice->agent, id, COMPONENT_ID, p2psig__loop_context(ice->loop),
                         on_receive, ice);
  return id;
}

/* The newest stream is done with its checks (no socket comes or goes any
 * more but for ICE-TCP's): its sockets are read through a group of the
 * loop's, so that the loop's own iterations no longer visit them. */
static void
park(struct p2psig_ice *ice)
{
  struct p2psig_park_group *group;

  g_assert(p2psig__loop_locked(ice->loop));
  if (!ice->parked && (group = p2psig__park_join(ice->loop, ice->home))) {
    GMainContext *context = p2psig__park_context(group);
    guint before = p2psig__context_newest_source_id(context);

    ice->parked = group;
    ice->parked_stream_id = ice->stream_id;
    nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID,
                           context, on_receive, ice);
    /* The moved sockets' sources are new ones: unblocked too, or each
     * datagram would wake the group twice more (on its thread: libnice
     * calls this from its state signal). */
    p2psig__context_unblock_sockets(
        context, before, p2psig__context_newest_source_id(context));
    p2psig__park_changed(group);
  }
}

/* After stream id's sources went back to the loop's context, before its
 * sockets close. */
static void
unpark(struct p2psig_ice *ice, guint id)
{
  g_assert(p2psig__loop_locked(ice->loop));
  if (ice->parked && ice->parked_stream_id == id) {
    p2psig__park_leave(ice->parked);
    ice->parked = NULL;
    ice->parked_stream_id = 0;
  }
}

static void
remove_stream(struct p2psig_ice *ice, guint id)
{
  nice_agent_attach_recv(ice->agent, id, COMPONENT_ID, p2psig__loop_context(ice->loop),
                         NULL, NULL);
  unpark(ice, id);
  nice_agent_remove_stream(ice->agent, id);
}

/* The newest generation connected: it carries the data from now on. */
static void
retire_data_stream(struct p2psig_ice *ice)
{
  guint old = ice->data_stream_id;

  if (old == ice->stream_id)
    return;
  ice->data_stream_id = ice->stream_id;
  g_debug("ICE restart: the new generation carries the data");
  remove_stream(ice, old);
}

/* The agent is gone or closing (its home group keeps serving the timers
 * its closing may need). */
static void
leave_home(struct p2psig_ice *ice)
{
  g_assert(p2psig__loop_locked(ice->loop));
  if (!ice->home)
    return;
  p2psig__park_home_leave(ice->home);
  ice->home = NULL;
}

static void
free_on_loop(void *data)
{
  struct p2psig_ice *ice = data;
  struct p2psig_loop *loop = ice->loop;
  struct p2psig_ice_closing *closing;

  p2psig__lock(loop);
  closing = p2psig__ice_free(ice);
  p2psig__unlock(loop);
  p2psig__ice_closing_wait(closing, 0);
}

struct p2psig_ice *
p2psig__ice_new(const struct p2psig_ice_options *options,
                const struct p2psig_ice_callbacks *cbs, void *data,
                int *error)
{
  struct p2psig_ice *ice = g_new0(struct p2psig_ice, 1);
  struct setup_servers setup = { .ice = ice, .tls_ca = options->tls_ca };

  ice->loop = options->loop;
  ice->cbs = *cbs;
  ice->data = data;
  ice->mdns_hide = options->mdns_host_candidates;
  ice->awaiting = g_array_new(FALSE, FALSE, sizeof(struct p2psig_candidate));
  /* libnice reads its log switches with its first agent. */
  p2psig__log_init();
  p2psig__lock(ice->loop);
  ice->home = p2psig__park_home(ice->loop);
  p2psig__unlock(ice->loop);
  ice->agent_context = ice->home ? p2psig__park_context(ice->home)
                                 : p2psig__loop_context(ice->loop);
  ice->agent = nice_agent_new_full(ice->agent_context,
                                   NICE_COMPATIBILITY_RFC5245,
                                   NICE_AGENT_OPTION_ICE_TRICKLE);
  /* More connectivity-check retransmissions than libnice's 7, so that a
   * lossy link (30 % each way) still finds its pair; a dead pair costs a
   * little longer to give up. */
  /* libnice paces checks 20 ms apart by default; its minimum, 1 ms, is
   * used (a data-channel peer has few pairs, so the check rate stays low),
   * and hasten_first_check sends the first one without waiting. */
  /* ICE-TCP (RFC 6544): two peers whose UDP is blocked still meet over
   * TCP (see add_to_nice for how the controlling side takes part). */
  g_object_set(ice->agent, "upnp", FALSE, "ice-tcp", options->ice_tcp,
               "controlling-mode", FALSE, "stun-max-retransmissions", 14,
               "stun-pacing-timer", 1, "force-relay", options->relay_only,
               NULL);
  copy_servers(ice, options->servers);
  ice->family = options->family;
  if (options->local_addresses) {
    for (const char *const *a = options->local_addresses; *a; a++)
      add_local_address(ice, *a);
  } else {
    add_all_local_addresses(ice);
  }
  ice->port_min = options->port_min;
  ice->port_max = options->port_max;
  ice->stream_id = add_stream(ice, error);
  if (ice->stream_id == 0) {
    g_object_unref(ice->agent);
    p2psig__lock(ice->loop);
    leave_home(ice);
    p2psig__unlock(ice->loop);
    p2psig__loop_run_sync(ice->loop, free_servers_on_loop, ice);
    g_free(ice->stun_host);
    g_free(ice->stun_ip);
    g_array_unref(ice->awaiting);
    g_free(ice);
    return NULL;
  }
  ice->data_stream_id = ice->stream_id;
  g_signal_connect(ice->agent, "new-candidate-full",
                   G_CALLBACK(on_new_candidate), ice);
  g_signal_connect(ice->agent, "candidate-gathering-done",
                   G_CALLBACK(on_gathering_done), ice);
  g_signal_connect(ice->agent, "component-state-changed",
                   G_CALLBACK(on_component_state), ice);
  g_signal_connect(ice->agent, "new-selected-pair-full",
                   G_CALLBACK(on_selected_pair), ice);
  ice->cancellable = g_cancellable_new();
  p2psig__loop_run_sync(ice->loop, setup_servers, &setup);
  if (setup.error < 0) {
    p2psig__loop_run_sync(ice->loop, free_on_loop, ice);
    *error = setup.error;
    return NULL;
  }
  return ice;
}

/* ---- closing ---- */

/* libnice releases TURN allocations after the agent is closed, on the
 * library thread (each a REFRESH with a zero lifetime, signed with GnuTLS):
 * a process that exits meanwhile races GnuTLS's destructor (seen: heap
 * corruption at exit, 2 runs in 40).  So a close is a token that the peer
 * may wait for. */
struct p2psig_ice_closing {
  gint refs;
  bool done;
};

static GMutex closing_lock;
static GCond closing_cond;

static void
closing_unref(struct p2psig_ice_closing *closing)
{
  if (closing && g_atomic_int_dec_and_test(&closing->refs))
    g_free(closing);
}

static void
agent_closed(GObject *source, GAsyncResult *result, gpointer data)
{
  struct p2psig_ice_closing *closing = data;

  g_mutex_lock(&closing_lock);
  closing->done = true;
  g_cond_broadcast(&closing_cond);
  g_mutex_unlock(&closing_lock);
  closing_unref(closing);
}

bool
p2psig__ice_closing_wait(struct p2psig_ice_closing *closing,
                         unsigned timeout_ms)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  bool done;

  if (!closing)
    return true;
  g_mutex_lock(&closing_lock);
  while (!closing->done &&
         g_cond_wait_until(&closing_cond, &closing_lock, deadline))
    ;
  done = closing->done;
  g_mutex_unlock(&closing_lock);
  closing_unref(closing);
  return done;
}

struct p2psig_ice_closing *
p2psig__ice_free(struct p2psig_ice *ice)
{
  struct p2psig_ice_closing *closing;

  if (!ice)
    return NULL;
  if (ice->state == P2PSIG_ICE_CHECKING)
    p2psig__loop_precise_timers(ice->loop, false);
  g_cancellable_cancel(ice->cancellable);
  g_clear_object(&ice->cancellable);
  stop_gathering_deadline(ice);
  stop_hastening(ice);
  free_servers_on_loop(ice);
  g_clear_pointer(&ice->mdns, p2psig__mdns_free);
  g_array_unref(ice->awaiting);
  g_free(ice->stun_host);
  g_free(ice->stun_ip);
  g_signal_handlers_disconnect_by_data(ice->agent, ice);
  nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID,
                         p2psig__loop_context(ice->loop), NULL, NULL);
  nice_agent_attach_recv(ice->agent, ice->data_stream_id, COMPONENT_ID,
                         p2psig__loop_context(ice->loop), NULL, NULL);
  unpark(ice, ice->parked_stream_id);
  /* A TURN server that does not answer gets libnice's default 3 tries
   * (2 s), not ours (minutes).  No nice_agent_remove_stream(): it would
   * release the stream's allocations apart, outside the close's callback;
   * the agent's last reference, the close's, frees the stream. */
  g_object_set(ice->agent, "stun-max-retransmissions", 3, NULL);
  closing = g_new0(struct p2psig_ice_closing, 1);
  closing->refs = 2; /* the callback's and the caller's */
  nice_agent_close_async(ice->agent, agent_closed, closing);
  g_object_unref(ice->agent);
  leave_home(ice);
  g_free(ice->ufrag);
  g_free(ice->pwd);
  g_free(ice);
  return closing;
}

void
p2psig__ice_set_controlling(struct p2psig_ice *ice, bool controlling)
{
  ice->controlling = controlling;
  g_object_set(ice->agent, "controlling-mode", (gboolean)controlling, NULL);
}

const char *
p2psig__ice_local_ufrag(const struct p2psig_ice *ice)
{
  return ice->ufrag;
}

const char *
p2psig__ice_local_pwd(const struct p2psig_ice *ice)
{
  return ice->pwd;
}

int
p2psig__ice_gather(struct p2psig_ice *ice)
{
  guint sources_before;

  if (ice->gathering_started)
    return 0;
  /* Its sockets: libnice gathers nothing where it cannot make them, which
   * would be reported as no network. */
  if (!p2psig__descriptors_left(GATHER_DESCRIPTORS))
    return P2PSIG_EDESCRIPTORS;
  /* A STUN name still being looked up goes to libnice as it is: libnice
   * looks it up too and gathers its srflx candidates whenever it answers;
   * host candidates never wait for it. */
  if (ice->stun_ip || (ice->stun_host && !ice->stun_failed))
    g_object_set(ice->agent, "stun-server",
                 ice->stun_ip ? ice->stun_ip : ice->stun_host,
                 "stun-server-port", (guint)ice->stun_port, NULL);
  ice->gathering_started = true;
  ice->gathering_deadline =
    p2psig__loop_timeout(ice->loop, P2PSIG_ICE_GATHERING_TIMEOUT_MS, gathering_timed_out,
                         ice, NULL);
  /* The host candidates' sockets are made and attached inside the call. */
  sources_before =
      p2psig__context_newest_source_id(p2psig__loop_context(ice->loop));
  if (!nice_agent_gather_candidates(ice->agent, ice->stream_id)) {
    g_debug("gathering failed to start");
    stop_gathering_deadline(ice);
    return P2PSIG_ENETWORK;
  }
  p2psig__loop_unblock_sockets(ice->loop, sources_before,
                               p2psig__context_newest_source_id(
                                   p2psig__loop_context(ice->loop)));
  hasten_first_check(ice);
  return 0;
}

int
p2psig__ice_restart(struct p2psig_ice *ice)
{
  guint id;
  int error;

  if (!ice->gathering_started)
    return P2PSIG_ESTATE;
  id = add_stream(ice, &error);
  if (id == 0)
    return error;
  /* A generation that never connected gives way to this one: at most two
   * streams (the data's and the newest) hold sockets. */
  if (ice->stream_id != ice->data_stream_id)
    remove_stream(ice, ice->stream_id);
  ice->stream_id = id;
  ice->given_count = 0;
  for (size_t i = 0; i < ice->relay_count; i++)
    if (ice->relays[i].given)
      give_relay(ice, &ice->relays[i], ice->relays[i].ip);
  stop_gathering_deadline(ice);
  ice->gathering_done = false;
  ice->nice_gathering_done = false;
  ice->gathering_started = false;
  return p2psig__ice_gather(ice);
}

int
p2psig__ice_set_remote_credentials(struct p2psig_ice *ice, const char *ufrag,
                                   const char *pwd)
{
  if (!nice_agent_set_remote_credentials(ice->agent, ice->stream_id, ufrag,
                                         pwd))
    return P2PSIG_ESDP;
  return 0;
}

int
p2psig__ice_candidate_usable(const struct p2psig_candidate *c, char **detail)
{
  NiceAddress addr;

  if (c->unsupported) {
    *detail = g_strdup_printf("%s", c->unsupported);
    return P2PSIG_ECANDIDATE;
  }
  if (c->component != COMPONENT_ID) {
    *detail = g_strdup_printf("component %u: only component 1 is used "
                              "(rtcp-mux)", c->component);
    return P2PSIG_ECANDIDATE;
  }
  /* An mDNS name is resolved once added (p2psig__ice_add_remote_candidate);
   * other names are not: a candidate gives an address, not a lookup. */
  if (!nice_address_set_from_string(&addr, c->address) &&
      !p2psig__mdns_name_valid(c->address)) {
    *detail = g_strdup_printf("address %.64s is neither an IP address nor "
                              "an mDNS name (<label>.local)", c->address);
    return P2PSIG_ECANDIDATE;
  }
  return 0;
}

/* c->address is an IP address. */
static int
add_to_nice(struct p2psig_ice *ice, const struct p2psig_candidate *c,
            char **detail)
{
  NiceCandidate *nc;
  GSList list = { 0 };
  int added;

  /* libnice 0.1.21 gives a controlling agent that learns a remote TCP
   * candidate the regular nomination of RFC 6544 section 8, whose stopping
   * criterion waits for every check in progress (behind a NAT the host
   * pairs never answer, and with our retransmissions that is hours); once
   * checks have begun it drops the candidate instead.  So the controlling
   * side never adds one: the remote's tcp-active candidate connects to our
   * passive one, libnice learns it as peer-reflexive and nominates that
   * pair aggressively, as any other. */
  if (c->transport == P2PSIG_TRANSPORT_TCP && ice->controlling) {
    g_debug("remote candidate %s:%u (tcp) left to the remote to connect "
            "to us: we are controlling", c->address, c->port);
    return 0;
  }
  nc = nice_candidate_new(type_to_nice(c->type));
  nice_address_set_from_string(&nc->addr, c->address);
  if (!family_allowed(ice, &nc->addr)) {
    g_debug("remote candidate %s:%u ignored: %s only", c->address, c->port,
            family_name(ice->family));
    nice_candidate_free(nc);
    return 0;
  }
  nc->stream_id = ice->stream_id;
  nc->component_id = COMPONENT_ID;
  nc->transport = transport_to_nice(c);
  nc->priority = c->priority;
  g_strlcpy(nc->foundation, c->foundation, sizeof nc->foundation);
  nice_address_set_from_string(&nc->addr, c->address);
  nice_address_set_port(&nc->addr, c->port);
  if (c->related_address[0] &&
      nice_address_set_from_string(&nc->base_addr, c->related_address))
    nice_address_set_port(&nc->base_addr, c->related_port);
  list.data = nc;
  added = nice_agent_set_remote_candidates(ice->agent, ice->stream_id,
                                           COMPONENT_ID, &list);
  nice_candidate_free(nc);
  if (added < 0) {
    *detail = g_strdup("libnice refused the candidate");
    return P2PSIG_ECANDIDATE;
  }
  if (added > 0) {
    ice->remote_candidates_stream_id = ice->stream_id;
    hasten_first_check(ice);
  }
  return 0;
}

/* c, its name replaced by the addresses it resolved to (foundation,
 * priority, port and the rest kept). */
static void
add_resolved(struct p2psig_ice *ice, const struct p2psig_candidate *c,
             const struct p2psig_mdns_address *addrs, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    struct p2psig_candidate copy = *c;
    g_autoptr(GInetAddress) inet =
      g_inet_address_new_from_bytes(addrs[i].bytes, addrs[i].family);
    g_autofree char *ip = g_inet_address_to_string(inet);
    g_autofree char *detail = NULL;

    g_strlcpy(copy.address, ip, sizeof copy.address);
    if (add_to_nice(ice, &copy, &detail) < 0)
      g_debug("remote candidate %s (%s):%u ignored: %s", c->address, ip,
              c->port, detail);
    else
      g_debug("remote candidate %s:%u resolved to %s", c->address, c->port,
              ip);
  }
}

/* From the mDNS resolver: lock held, on the library thread. */
static void
name_resolved(void *data, const char *name,
              const struct p2psig_mdns_address *addrs, size_t n)
{
  struct p2psig_ice *ice = data;

  for (guint i = 0; i < ice->awaiting->len;) {
    const struct p2psig_candidate *c =
      &g_array_index(ice->awaiting, struct p2psig_candidate, i);

    if (g_ascii_strcasecmp(c->address, name) != 0) {
      i++;
      continue;
    }
    if (n == 0)
      g_debug("remote candidate %s:%u dropped: the name did not resolve",
              c->address, c->port);
    else
      add_resolved(ice, c, addrs, n);
    g_array_remove_index(ice->awaiting, i);
  }
}

static struct p2psig_mdns *
ensure_mdns(struct p2psig_ice *ice)
{
  if (!ice->mdns)
    ice->mdns = p2psig__mdns_new(ice->loop, name_resolved, ice);
  return ice->mdns;
}

int
p2psig__ice_add_remote_candidate(struct p2psig_ice *ice,
                                 const struct p2psig_candidate *c,
                                 char **detail)
{
  struct p2psig_mdns_address addrs[P2PSIG_MDNS_MAX_ADDRESSES];
  NiceAddress addr;
  int ret = p2psig__ice_candidate_usable(c, detail);

  if (ret < 0)
    return ret;
  if (nice_address_set_from_string(&addr, c->address))
    return add_to_nice(ice, c, detail);
  /* An mDNS name: libnice takes only addresses (libnice-facts 4). */
  if (ice->awaiting->len >= MAX_RESOLVING) {
    *detail = g_strdup_printf("more than %u candidates waiting for their "
                              "mDNS name", (unsigned)MAX_RESOLVING);
    return P2PSIG_ELIMIT;
  }
  ret = p2psig__mdns_resolve(ensure_mdns(ice), c->address, addrs);
  if (ret > 0) {
    add_resolved(ice, c, addrs, (size_t)ret);
    return 0;
  }
  if (ret == P2PSIG_ELIMIT) {
    *detail = g_strdup_printf("more than %u mDNS names being resolved",
                              (unsigned)P2PSIG_MDNS_MAX_PENDING);
    return ret;
  }
  if (ret < 0) {
    *detail = g_strdup_printf("mDNS name %s %s", c->address,
                              ret == P2PSIG_ECANDIDATE
                                ? "did not resolve lately"
                                : "cannot be resolved: no socket");
    return P2PSIG_ECANDIDATE;
  }
  g_debug("remote candidate %s:%u: resolving its mDNS name", c->address,
          c->port);
  g_array_append_val(ice->awaiting, *c);
  return 0;
}

int
p2psig__ice_send(struct p2psig_ice *ice, const uint8_t *buf, size_t len)
{
  int sent = nice_agent_send(ice->agent, ice->data_stream_id, COMPONENT_ID,
                             (guint)len, (const gchar *)buf);

  return sent < 0 ? P2PSIG_ENETWORK : 0;
}

bool
p2psig__ice_selected_pair(struct p2psig_ice *ice, NiceCandidate **local,
                          NiceCandidate **remote)
{
  return nice_agent_get_selected_pair(ice->agent, ice->data_stream_id,
                                      COMPONENT_ID, local, remote);
}
