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

struct p2psig_ice {
  NiceAgent *agent;
  guint stream_id;
  struct p2psig_ice_callbacks cbs;
  void *data;
  char *ufrag;
  char *pwd;
  bool gathering_started;
  enum p2psig_ice_state state;
};

#define COMPONENT_ID 1

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

static void
on_new_candidate(NiceAgent *agent, NiceCandidate *nc, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  struct p2psig_candidate c = { 0 };
  g_autofree char *text = NULL;

  g_strlcpy(c.foundation, nc->foundation, sizeof c.foundation);
  c.component = nc->component_id;
  transport_from_nice(nc->transport, &c);
  c.priority = nc->priority;
  nice_address_to_string(&nc->addr, c.address);
  c.port = nice_address_get_port(&nc->addr);
  if (c.tcp_type == P2PSIG_TCP_ACTIVE && c.port == 0)
    c.port = ACTIVE_TCP_PORT;
  c.type = type_from_nice(nc->type);
  if (c.type != P2PSIG_CANDIDATE_HOST) {
    nice_address_to_string(&nc->base_addr, c.related_address);
    c.related_port = nice_address_get_port(&nc->base_addr);
  }
  text = p2psig__candidate_format(&c);
  g_debug("local candidate %s", text);
  p2psig__lock();
  ice->cbs.on_candidate(ice->data, text);
  p2psig__unlock();
}

static void
on_gathering_done(NiceAgent *agent, guint stream_id, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;

  g_debug("gathering done");
  p2psig__lock();
  ice->cbs.on_candidate(ice->data, NULL);
  p2psig__unlock();
}

static void
set_state(struct p2psig_ice *ice, enum p2psig_ice_state state)
{
  if (state == ice->state)
    return;
  ice->state = state;
  ice->cbs.on_state(ice->data, state);
}

static void
on_component_state(NiceAgent *agent, guint stream_id, guint component_id,
                   guint nice_state, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;
  enum p2psig_ice_state state = ice->state;

  g_debug("component state %s",
          nice_component_state_to_string((NiceComponentState)nice_state));
  switch (nice_state) {
  case NICE_COMPONENT_STATE_CONNECTING:
    state = P2PSIG_ICE_CHECKING;
    break;
  case NICE_COMPONENT_STATE_CONNECTED:
  case NICE_COMPONENT_STATE_READY:
    state = P2PSIG_ICE_CONNECTED;
    break;
  case NICE_COMPONENT_STATE_FAILED:
    state = P2PSIG_ICE_FAILED;
    break;
  default:
    break;
  }
  p2psig__lock();
  set_state(ice, state);
  p2psig__unlock();
}

static void
on_receive(NiceAgent *agent, guint stream_id, guint component_id, guint len,
           gchar *buf, gpointer user_data)
{
  struct p2psig_ice *ice = user_data;

  p2psig__lock();
  ice->cbs.on_receive(ice->data, (const uint8_t *)buf, len);
  p2psig__unlock();
}

static void
add_local_address(NiceAgent *agent, const char *ip)
{
  NiceAddress addr;

  if (!nice_address_set_from_string(&addr, ip)) {
    g_debug("ignoring local address %s: not an IP address", ip);
    return;
  }
  nice_agent_add_local_address(agent, &addr);
}

/* libnice leaves loopback out when other interfaces exist; we gather on it
 * too, as browsers do, so that two peers on one host connect over it. */
static void
add_all_local_addresses(NiceAgent *agent)
{
  GList *ips = nice_interfaces_get_local_ips(TRUE);

  for (GList *l = ips; l; l = l->next) {
    const char *ip = l->data;

    /* IPv6 link-local addresses need a scope id the SDP cannot carry. */
    if (g_str_has_prefix(ip, "fe80:"))
      continue;
    add_local_address(agent, ip);
  }
  g_list_free_full(ips, g_free);
}

struct p2psig_ice *
p2psig__ice_new(const struct p2psig_ice_options *options,
                const struct p2psig_ice_callbacks *cbs, void *data,
                int *error)
{
  struct p2psig_ice *ice = g_new0(struct p2psig_ice, 1);

  ice->cbs = *cbs;
  ice->data = data;
  ice->agent = nice_agent_new_full(p2psig__loop_context(),
                                   NICE_COMPATIBILITY_RFC5245,
                                   NICE_AGENT_OPTION_ICE_TRICKLE);
  /* More connectivity-check retransmissions than libnice's 7, so that a
   * lossy link (30 % each way) still finds its pair; a dead pair costs a
   * little longer to give up. */
  /* libnice sends the first check one pacing interval after the pairs
   * form, never at once, and the next ones as far apart: 20 ms by default.
   * Its minimum, 1 ms, starts checks in about 1 ms; a data-channel peer has
   * few pairs, so the check rate stays low. */
  /* ICE-TCP (RFC 6544), as browsers: two peers whose UDP is blocked
   * still meet over TCP. */
  g_object_set(ice->agent, "upnp", FALSE, "ice-tcp", options->ice_tcp,
               "controlling-mode", FALSE, "stun-max-retransmissions", 14,
               "stun-pacing-timer", 1, NULL);
  if (options->stun_ip)
    p2psig__ice_set_stun_server(ice, options->stun_ip, options->stun_port);
  if (options->local_addresses) {
    for (const char *const *a = options->local_addresses; *a; a++)
      add_local_address(ice->agent, *a);
  } else {
    add_all_local_addresses(ice->agent);
  }
  ice->stream_id = nice_agent_add_stream(ice->agent, 1);
  if (ice->stream_id == 0) {
    g_object_unref(ice->agent);
    g_free(ice);
    *error = P2PSIG_EINTERNAL;
    return NULL;
  }
  nice_agent_set_stream_name(ice->agent, ice->stream_id, "application");
  if (options->port_min || options->port_max)
    nice_agent_set_port_range(ice->agent, ice->stream_id, COMPONENT_ID,
                              options->port_min,
                              options->port_max ? options->port_max : 65535);
  nice_agent_get_local_credentials(ice->agent, ice->stream_id, &ice->ufrag,
                                   &ice->pwd);
  g_signal_connect(ice->agent, "new-candidate-full",
                   G_CALLBACK(on_new_candidate), ice);
  g_signal_connect(ice->agent, "candidate-gathering-done",
                   G_CALLBACK(on_gathering_done), ice);
  g_signal_connect(ice->agent, "component-state-changed",
                   G_CALLBACK(on_component_state), ice);
  nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID,
                         p2psig__loop_context(), on_receive, ice);
  return ice;
}

void
p2psig__ice_free(struct p2psig_ice *ice)
{
  if (!ice)
    return;
  g_signal_handlers_disconnect_by_data(ice->agent, ice);
  nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID,
                         p2psig__loop_context(), NULL, NULL);
  nice_agent_remove_stream(ice->agent, ice->stream_id);
  nice_agent_close_async(ice->agent, NULL, NULL);
  g_object_unref(ice->agent);
  g_free(ice->ufrag);
  g_free(ice->pwd);
  g_free(ice);
}

bool
p2psig__ice_set_stun_server(struct p2psig_ice *ice, const char *ip,
                            uint16_t port)
{
  if (ice->gathering_started)
    return false;
  g_object_set(ice->agent, "stun-server", ip, "stun-server-port", (guint)port,
               NULL);
  return true;
}

void
p2psig__ice_set_controlling(struct p2psig_ice *ice, bool controlling)
{
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
  if (ice->gathering_started)
    return 0;
  ice->gathering_started = true;
  if (!nice_agent_gather_candidates(ice->agent, ice->stream_id)) {
    g_debug("gathering failed to start");
    return P2PSIG_ENETWORK;
  }
  return 0;
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
  if (!nice_address_set_from_string(&addr, c->address)) {
    *detail = g_strdup_printf("address %s is not an IP address "
                              "(hostname candidates are not supported)",
                              c->address);
    return P2PSIG_ECANDIDATE;
  }
  return 0;
}

int
p2psig__ice_add_remote_candidate(struct p2psig_ice *ice,
                                 const struct p2psig_candidate *c,
                                 char **detail)
{
  NiceCandidate *nc;
  GSList list = { 0 };
  int added;
  int ret = p2psig__ice_candidate_usable(c, detail);

  if (ret < 0)
    return ret;
  nc = nice_candidate_new(type_to_nice(c->type));
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
  return 0;
}

int
p2psig__ice_send(struct p2psig_ice *ice, const uint8_t *buf, size_t len)
{
  int sent = nice_agent_send(ice->agent, ice->stream_id, COMPONENT_ID,
                             (guint)len, (const gchar *)buf);

  return sent < 0 ? P2PSIG_ENETWORK : 0;
}

bool
p2psig__ice_selected_pair(struct p2psig_ice *ice, NiceCandidate **local,
                          NiceCandidate **remote)
{
  return nice_agent_get_selected_pair(ice->agent, ice->stream_id,
                                      COMPONENT_ID, local, remote);
}
