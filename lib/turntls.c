/* SPDX-License-Identifier: MIT */
/*
 * TURN over TLS: a listener on 127.0.0.1 whose every connection is spliced
 * to a TLS connection to the TURN server (see turntls.h for why).  All of
 * it runs on the library thread's main context; a connection holds no
 * pointer to its tunnel once the tunnel is freed.
 */
#define G_LOG_DOMAIN "p2psig-ice"

#include "turntls.h"

#include "internal.h"

struct p2psig_turn_tls {
  struct p2psig_loop *loop;   /* runs on it, under its lock */
  GSocketService *service;
  uint16_t port;
  char *host;
  uint16_t server_port;
  GTlsDatabase *ca;
  GList *connections;         /* struct connection */
  unsigned count;
};

struct connection {
  struct p2psig_loop *loop;       /* the tunnel's */
  struct p2psig_turn_tls *tunnel; /* NULL once the tunnel is freed */
  GSocketConnection *local;
  GSocketClient *client;
  GCancellable *cancellable;
  GSource *deadline;          /* until the TLS handshake is done */
};

static void
stop_deadline(struct connection *c)
{
  if (c->deadline) {
    g_source_destroy(c->deadline);
    g_clear_pointer(&c->deadline, g_source_unref);
  }
}

static void
connection_free(struct connection *c)
{
  stop_deadline(c);
  if (c->tunnel) {
    c->tunnel->connections = g_list_remove(c->tunnel->connections, c);
    c->tunnel->count--;
  }
  g_object_unref(c->cancellable);
  g_clear_object(&c->client);
  g_io_stream_close(G_IO_STREAM(c->local), NULL, NULL);
  g_object_unref(c->local);
  g_free(c);
}

static void
spliced(GObject *source, GAsyncResult *result, gpointer data)
{
  struct connection *c = data;
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_splice_finish(result, &error) &&
      !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug("TURN over TLS: tunnel closed: %s", error->message);
  struct p2psig_loop *loop = c->loop;

  p2psig__lock(loop);
  connection_free(c);
  p2psig__unlock(loop);
}

/* The server's certificate is checked against the tunnel's CAs. */
static void
client_event(GSocketClient *client, GSocketClientEvent event,
             GSocketConnectable *connectable, GIOStream *connection,
             gpointer data)
{
  GTlsDatabase *ca = data;

  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING)
    g_tls_connection_set_database(G_TLS_CONNECTION(connection), ca);
}

static void
connected(GObject *source, GAsyncResult *result, gpointer data)
{
  struct connection *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) remote =
    g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source), result,
                                           &error);

  struct p2psig_loop *loop = c->loop;

  p2psig__lock(loop);
  stop_deadline(c);
  if (!remote || !c->tunnel) {
    /* A configuration to fix (the CA, the name) or a server down: say so
     * once a connection, at info level. */
    if (error && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_info("TURN over TLS to %s:%u failed: %s",
             c->tunnel ? c->tunnel->host : "?",
             c->tunnel ? c->tunnel->server_port : 0, error->message);
    connection_free(c);
  } else {
    g_io_stream_splice_async(G_IO_STREAM(c->local), G_IO_STREAM(remote),
                             G_IO_STREAM_SPLICE_CLOSE_STREAM1 |
                               G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                             G_PRIORITY_DEFAULT, c->cancellable, spliced, c);
  }
  p2psig__unlock(loop);
}

static gboolean
connect_timed_out(gpointer data)
{
  struct connection *c = data;

  g_clear_pointer(&c->deadline, g_source_unref);
  g_debug("TURN over TLS: no connection within %d s", 
          P2PSIG_TURN_TLS_TIMEOUT_S);
  g_cancellable_cancel(c->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
incoming(GSocketService *service, GSocketConnection *local,
         GObject *source_object, gpointer data)
{
  struct p2psig_turn_tls *tunnel = data;
  struct connection *c;

  p2psig__lock(tunnel->loop);
  if (tunnel->count >= P2PSIG_TURN_TLS_MAX_CONNECTIONS) {
    g_debug("TURN over TLS: %u connections already, one refused",
            tunnel->count);
    g_io_stream_close(G_IO_STREAM(local), NULL, NULL);
    p2psig__unlock(tunnel->loop);
    return TRUE;
  }
  c = g_new0(struct connection, 1);
  c->loop = tunnel->loop;
  c->tunnel = tunnel;
  c->local = g_object_ref(local);
  c->cancellable = g_cancellable_new();
  c->client = g_socket_client_new();
  g_socket_client_set_tls(c->client, TRUE);
  /* The server, not a web site: no proxy. */
  g_socket_client_set_enable_proxy(c->client, FALSE);
  if (tunnel->ca)
    g_signal_connect_data(c->client, "event", G_CALLBACK(client_event),
                          g_object_ref(tunnel->ca),
                          (GClosureNotify)(void (*)(void))g_object_unref, 0);
  /* A deadline on connecting only: an allocation may then be quiet for
   * minutes between refreshes. */
  c->deadline = p2psig__loop_timeout(tunnel->loop,
                                     P2PSIG_TURN_TLS_TIMEOUT_S * 1000,
                                     connect_timed_out, c, NULL);
  tunnel->connections = g_list_prepend(tunnel->connections, c);
  tunnel->count++;
  g_socket_client_connect_to_host_async(c->client, tunnel->host,
                                        tunnel->server_port, c->cancellable,
                                        connected, c);
  p2psig__unlock(tunnel->loop);
  return TRUE;
}

struct p2psig_turn_tls *
p2psig__turn_tls_new(struct p2psig_loop *loop, const char *host,
                     uint16_t port, GTlsDatabase *ca)
{
  struct p2psig_turn_tls *tunnel = g_new0(struct p2psig_turn_tls, 1);
  g_autoptr(GInetAddress) loopback =
    g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert(p2psig__loop_is_current(loop));
  tunnel->loop = loop;
  tunnel->host = g_strdup(host);
  tunnel->server_port = port;
  tunnel->ca = ca ? g_object_ref(ca) : NULL;
  /* On the library thread, whose context is the thread default: the
   * service's sources and the async calls below attach there. */
  tunnel->service = g_socket_service_new();
  if (!g_socket_listener_add_address(G_SOCKET_LISTENER(tunnel->service),
                                     address, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_TCP, NULL, &bound,
                                     &error)) {
    g_debug("TURN over TLS: cannot listen on 127.0.0.1: %s", error->message);
    p2psig__turn_tls_free(tunnel);
    return NULL;
  }
  tunnel->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_signal_connect(tunnel->service, "incoming", G_CALLBACK(incoming), tunnel);
  g_socket_service_start(tunnel->service);
  g_debug("TURN over TLS to %s:%u through 127.0.0.1:%u", host, port,
          tunnel->port);
  return tunnel;
}

uint16_t
p2psig__turn_tls_port(const struct p2psig_turn_tls *tunnel)
{
  return tunnel->port;
}

void
p2psig__turn_tls_free(struct p2psig_turn_tls *tunnel)
{
  if (!tunnel)
    return;
  g_assert(p2psig__loop_is_current(tunnel->loop));
  if (tunnel->service) {
    g_signal_handlers_disconnect_by_data(tunnel->service, tunnel);
    g_socket_service_stop(tunnel->service);
    g_socket_listener_close(G_SOCKET_LISTENER(tunnel->service));
    g_object_unref(tunnel->service);
  }
  /* Each finishes later, cancelled, and frees itself. */
  for (GList *l = tunnel->connections; l; l = l->next) {
    struct connection *c = l->data;

    c->tunnel = NULL;
    g_cancellable_cancel(c->cancellable);
  }
  g_list_free(tunnel->connections);
  g_clear_object(&tunnel->ca);
  g_free(tunnel->host);
  g_free(tunnel);
}
