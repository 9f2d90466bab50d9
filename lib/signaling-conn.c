/* SPDX-License-Identifier: MIT */
/*
 * The server's connections, from listen to close.  libsoup 3.2 has no
 * limit on connections and no timeout on a server's connection: a client
 * that connects and sends nothing, or a header byte a second, or starts a
 * TLS handshake and stops, holds a descriptor for as long as it likes, and
 * enough of them lock everybody out.  So we listen and accept the
 * connections ourselves, do the TLS handshake ourselves, and hand the
 * stream to libsoup (soup_server_accept_iostream()) through the head
 * filter (signaling-head-filter.c); each connection has a timer for its
 * state, which libsoup's signals advance, and there are at most
 * limits.max_connections of them.  A server without listeners of its own
 * also closes every connection after its response, which libsoup before
 * 3.3 fails to do for an idle keep-alive connection that the client
 * closes (GNOME/libsoup commit d20c6601).  What the requests say is
 * signaling-server.c's.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "signaling-private.h"

/* After a failed accept (out of descriptors, say): the listening socket
 * stays readable, so accepting again at once would spin. */
#define ACCEPT_RETRY_MS 100
#define LISTEN_BACKLOG 128
/* A conn waiting in a long-poll gets the wait and this much more. */
#define POLL_SLACK_MS 5000

/* Where a server connection is: what it must do before its timer fires. */
enum conn_state {
  CONN_HANDSHAKE,              /* our TLS handshake */
  CONN_HEADERS,                /* libsoup waits for the request headers */
  CONN_REQUEST,                /* headers in: body, handler, response */
  CONN_IDLE,                   /* a kept-alive connection between requests */
  CONN_POLL,                   /* a GET /candidate waiting for a candidate */
};

/* A connection the server accepted, from accept to close. */
struct conn {
  struct p2psig_signaling *sig;
  GSocketConnection *tcp;
  GIOStream *stream;           /* tcp, or TLS over it */
  GIOStream *soup_stream;      /* stream, through the head filter: libsoup's */
  GSocketAddress *local;
  /* Our own object, handed to libsoup with the stream: its messages give
   * it back (soup_server_message_get_remote_address()), which tells their
   * connection; libsoup 3.2 has no other public link. */
  GSocketAddress *remote;
  GSource *readable;           /* TLS: waiting for the client's hello */
  GCancellable *handshake;     /* while our TLS handshake runs */
  bool closing;                /* closed during the handshake: its
                                  completion frees it */
  enum conn_state state;
  unsigned requests;           /* started on it */
  GSource *timer;              /* the state's timeout */
};

static void accept_next(struct p2psig_signaling *sig);

static const char *
state_name(enum conn_state state)
{
  switch (state) {
  case CONN_HANDSHAKE:
    return "TLS handshake";
  case CONN_HEADERS:
    return "request headers";
  case CONN_REQUEST:
    return "request";
  case CONN_IDLE:
    return "idle";
  case CONN_POLL:
    return "long-poll";
  }
  return "?";
}

static unsigned
state_timeout_ms(const struct p2psig_signaling *sig, enum conn_state state)
{
  switch (state) {
  case CONN_HANDSHAKE:
    return sig->limits.handshake_timeout_ms;
  case CONN_HEADERS:
    return sig->limits.header_timeout_ms;
  case CONN_REQUEST:
    return sig->limits.request_timeout_ms;
  case CONN_IDLE:
    return sig->limits.idle_timeout_ms;
  case CONN_POLL:
    return sig->limits.poll_wait_ms + POLL_SLACK_MS;
  }
  return 0;
}

static void
conn_free(struct conn *conn)
{
  if (conn->timer) {
    g_source_destroy(conn->timer);
    g_source_unref(conn->timer);
  }
  if (conn->readable) {
    g_source_destroy(conn->readable);
    g_source_unref(conn->readable);
  }
  g_clear_object(&conn->handshake);
  g_clear_object(&conn->soup_stream);
  g_clear_object(&conn->stream);
  g_clear_object(&conn->tcp);
  g_clear_object(&conn->local);
  g_clear_object(&conn->remote);
  g_free(conn);
}

/* Closed, by libsoup after its response or by the client.  Our handshake
 * closes nothing by itself. */
static bool
conn_gone(const struct conn *conn)
{
  return conn->soup_stream && g_io_stream_is_closed(conn->soup_stream);
}

/* Closes a connection and forgets it.  The socket is shut down, not
 * closed: whoever reads it (libsoup, or our handshake) sees its end at once
 * and lets the stream go, which closes the descriptor, and no source polls
 * a descriptor number that may be reused meanwhile. */
static void
conn_close(struct conn *conn, const char *why)
{
  struct p2psig_signaling *sig = conn->sig;

  g_debug("closing a connection in %s: %s", state_name(conn->state), why);
  g_queue_remove(&sig->conns, conn);
  g_socket_shutdown(g_socket_connection_get_socket(conn->tcp), TRUE, TRUE,
                    NULL);
  if (conn->handshake) {
    if (conn->timer) {
      g_source_destroy(conn->timer);
      g_clear_pointer(&conn->timer, g_source_unref);
    }
    conn->closing = true;
    g_cancellable_cancel(conn->handshake); /* handshake_done() frees it */
  } else {
    conn_free(conn);
  }
}

static void
prune(struct p2psig_signaling *sig)
{
  GList *next;

  for (GList *l = sig->conns.head; l; l = next) {
    struct conn *conn = l->data;

    next = l->next;
    if (conn_gone(conn)) {
      g_queue_delete_link(&sig->conns, l);
      conn_free(conn);
    }
  }
}

static gboolean
prune_cb(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->prune_source, g_source_unref);
  prune(sig);
  return G_SOURCE_REMOVE;
}

static gboolean
conn_timeout(void *data)
{
  struct conn *conn = data;
  g_autofree char *why = NULL;

  g_clear_pointer(&conn->timer, g_source_unref);
  if (conn_gone(conn)) {
    g_queue_remove(&conn->sig->conns, conn);
    conn_free(conn);
  } else {
    why = g_strdup_printf("not done within %u ms",
                          state_timeout_ms(conn->sig, conn->state));
    conn_close(conn, why);
  }
  return G_SOURCE_REMOVE;
}

static void
conn_set_state(struct conn *conn, enum conn_state state)
{
  conn->state = state;
  if (conn->timer) {
    g_source_destroy(conn->timer);
    g_source_unref(conn->timer);
  }
  conn->timer = p2psig__loop_signal_timeout(conn->sig->loop,
                                            state_timeout_ms(conn->sig, state),
                                     conn_timeout, conn, NULL);
}

/* The connection of a message of libsoup's; NULL once we closed it. */
static struct conn *
find_conn(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address(msg);

  for (GList *l = sig->conns.head; l; l = l->next)
    if (((struct conn *)l->data)->remote == remote)
      return l->data;
  return NULL;
}

/* Makes room for one more connection: the oldest that is not in the middle
 * of a request goes first (an attacker's idle, slow or half-open ones
 * are older than an honest request, which takes milliseconds), else the
 * oldest of all. */
static void
make_room(struct p2psig_signaling *sig)
{
  struct conn *victim = NULL;

  prune(sig);
  if (sig->conns.length < sig->limits.max_connections)
    return;
  for (GList *l = sig->conns.head; l && !victim; l = l->next) {
    enum conn_state state = ((struct conn *)l->data)->state;

    if (state != CONN_REQUEST && state != CONN_POLL)
      victim = l->data;
  }
  conn_close(victim ? victim : g_queue_peek_head(&sig->conns),
             "too many connections: the oldest makes room");
}

static void
hand_to_soup(struct conn *conn)
{
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;

  conn->soup_stream = p2psig__signal_filtered_stream_new(conn->stream);
  /* Before: libsoup announces the connection's first message at once. */
  conn_set_state(conn, CONN_HEADERS);
  if (!soup_server_accept_iostream(sig->server, conn->soup_stream,
                                   conn->local, conn->remote, &error))
    conn_close(conn, error->message);
}

static void
handshake_done(GObject *source, GAsyncResult *result, void *data)
{
  struct conn *conn = data;
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;
  bool ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source),
                                              result, &error);

  p2psig__signal_lock();
  g_clear_object(&conn->handshake);
  if (conn->closing) {
    conn_free(conn);
  } else if (!ok) {
    conn_close(conn, error->message);
  } else {
    hand_to_soup(conn);
  }
  p2psig__signal_unref(sig);
  p2psig__signal_unlock();
}

/* Starts the handshake once the client has sent its first bytes, making
 * room among the running handshakes first.  Even the TLS connection waits
 * for them: GnuTLS takes milliseconds to set one up, which a flood of
 * connections that never send a byte would cost. */
static gboolean
client_hello(GSocket *socket, GIOCondition condition, void *data)
{
  static const char *const protocols[] = {"http/1.1", "http/1.0", NULL};
  struct conn *conn = data;
  struct p2psig_signaling *sig = conn->sig;
  g_autoptr(GError) error = NULL;
  struct conn *oldest = NULL;
  unsigned running = 0;

  (void)socket;
  (void)condition;
  p2psig__signal_lock();
  g_clear_pointer(&conn->readable, g_source_unref);
  conn->stream = g_tls_server_connection_new(G_IO_STREAM(conn->tcp),
                                             sig->certificate, &error);
  if (!conn->stream) {
    conn_close(conn, error->message);
    goto out;
  }
  /* As libsoup sets its own: clients rarely send close_notify, and no
   * HTTP/2. */
  g_tls_connection_set_require_close_notify(G_TLS_CONNECTION(conn->stream),
                                            FALSE);
  g_tls_connection_set_advertised_protocols(G_TLS_CONNECTION(conn->stream),
                                            protocols);

  for (GList *l = sig->conns.head; l; l = l->next) {
    struct conn *c = l->data;

    if (c->handshake) {
      running++;
      oldest = oldest ? oldest : c;
    }
  }
  if (running >= P2PSIG_SIGNAL_MAX_HANDSHAKES)
    conn_close(oldest, "too many TLS handshakes at once: the oldest "
                       "makes room");

  conn->handshake = g_cancellable_new();
  sig->refs++;
  g_tls_connection_handshake_async(G_TLS_CONNECTION(conn->stream),
                                   G_PRIORITY_DEFAULT, conn->handshake,
                                   handshake_done, conn);
out:
  p2psig__signal_unlock();
  return G_SOURCE_REMOVE;
}

static void
start_tls(struct conn *conn)
{
  conn_set_state(conn, CONN_HANDSHAKE);
  conn->readable = g_socket_create_source(
      g_socket_connection_get_socket(conn->tcp), G_IO_IN, NULL);
  g_source_set_callback(conn->readable, G_SOURCE_FUNC(client_hello), conn,
                        NULL);
  g_source_attach(conn->readable, p2psig__loop_context(conn->sig->loop));
}

/* Takes tcp. */
static void
conn_add(struct p2psig_signaling *sig, GSocketConnection *tcp)
{
  struct conn *conn = g_new0(struct conn, 1);

  make_room(sig);
  conn->sig = sig;
  conn->tcp = tcp;
  conn->state = CONN_HEADERS;
  conn->local = g_socket_connection_get_local_address(tcp, NULL);
  conn->remote = g_socket_connection_get_remote_address(tcp, NULL);
  g_queue_push_tail(&sig->conns, conn);
  if (!conn->local || !conn->remote) {
    conn_close(conn, "the client is gone already");
    return;
  }
  /* As libsoup does: a response goes out in one piece, now. */
  g_socket_set_option(g_socket_connection_get_socket(tcp), IPPROTO_TCP,
                      TCP_NODELAY, TRUE, NULL);
  if (sig->certificate) {
    start_tls(conn);
  } else {
    conn->stream = g_object_ref(G_IO_STREAM(tcp));
    hand_to_soup(conn);
  }
}

static gboolean
accept_again(void *data)
{
  struct p2psig_signaling *sig = data;

  g_clear_pointer(&sig->accept_retry, g_source_unref);
  accept_next(sig);
  return G_SOURCE_REMOVE;
}

static void
accepted(GObject *source, GAsyncResult *result, void *data)
{
  struct p2psig_signaling *sig = data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *tcp = g_socket_listener_accept_finish(
      G_SOCKET_LISTENER(source), result, NULL, &error);

  p2psig__signal_lock();
  if (sig->closed) {
    g_clear_object(&tcp);
  } else if (!tcp) {
    g_debug("cannot accept a connection: %s", error->message);
    sig->accept_retry = p2psig__loop_signal_timeout(sig->loop, ACCEPT_RETRY_MS, accept_again,
                                             sig, NULL);
  } else {
    conn_add(sig, tcp);
    accept_next(sig);
  }
  p2psig__signal_unref(sig);
  p2psig__signal_unlock();
}

static void
accept_next(struct p2psig_signaling *sig)
{
  sig->refs++;
  g_socket_listener_accept_async(sig->listener, sig->accept_cancellable,
                                 accepted, sig);
}

/* The headers are in (the early handler runs next, if libsoup found
 * nothing wrong with them). */
static void
got_headers(SoupServerMessage *msg, void *data)
{
  struct p2psig_signaling *sig = data;
  struct conn *conn;
  bool took;

  took = p2psig__signal_lock_unless_held();
  if (!sig->closed && (conn = find_conn(sig, msg)))
    conn_set_state(conn, CONN_REQUEST);
  p2psig__signal_unlock_if(took);
}

/* Every message: the response closes its connection (no listener of
 * libsoup's would keep it anyway), and its connection's state follows. */
void
p2psig__signal_request_started(SoupServer *server, SoupServerMessage *msg,
                               void *data)
{
  struct p2psig_signaling *sig = data;
  struct conn *conn;
  bool took;

  (void)server;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                               "Connection", "close");
  took = p2psig__signal_lock_unless_held();
  /* The first is announced as the connection is handed over: it waits
   * for its headers already. */
  if (!sig->closed && (conn = find_conn(sig, msg)) && conn->requests++ > 0)
    conn_set_state(conn, CONN_IDLE);
  sig->refs++;
  g_signal_connect_data(msg, "got-headers", G_CALLBACK(got_headers), sig,
                        p2psig__signal_closure_unref, 0);
  p2psig__signal_unlock_if(took);
}

/* Answered or aborted: libsoup closes the connection next.  A long-poll
 * whose connection went is forgotten. */
void
p2psig__signal_request_ended(SoupServer *server, SoupServerMessage *msg,
                             void *data)
{
  struct p2psig_signaling *sig = data;
  bool took;

  (void)server;
  took = p2psig__signal_lock_unless_held();
  if (!sig->closed)
    p2psig__signal_poll_forget(sig, msg);
  if (!sig->closed && !sig->prune_source)
    sig->prune_source = p2psig__loop_signal_idle(sig->loop, prune_cb, sig,
                                                 NULL);
  p2psig__signal_unlock_if(took);
}

void
p2psig__signal_conn_poll(struct p2psig_signaling *sig, SoupServerMessage *msg)
{
  struct conn *conn = find_conn(sig, msg);

  if (conn)
    conn_set_state(conn, CONN_POLL);
}

void
p2psig__signal_accept_start(struct p2psig_signaling *sig)
{
  sig->accept_cancellable = g_cancellable_new();
  accept_next(sig);
}

void
p2psig__signal_conns_stop(struct p2psig_signaling *sig)
{
  struct conn *conn;

  /* The pending accept completes later and finds sig->closed. */
  if (sig->listener) {
    g_cancellable_cancel(sig->accept_cancellable);
    g_socket_listener_close(sig->listener);
    g_clear_object(&sig->listener);
    g_clear_object(&sig->accept_cancellable);
  }
  if (sig->accept_retry) {
    g_source_destroy(sig->accept_retry);
    g_clear_pointer(&sig->accept_retry, g_source_unref);
  }
  /* Disconnecting closes the connections libsoup has: no handler runs
   * after this.  Then ours, handshakes included. */
  if (sig->server)
    soup_server_disconnect(sig->server);
  g_clear_object(&sig->server);
  while ((conn = g_queue_peek_head(&sig->conns)))
    conn_close(conn, "signaling freed");
  if (sig->prune_source) {
    g_source_destroy(sig->prune_source);
    g_clear_pointer(&sig->prune_source, g_source_unref);
  }
  g_clear_object(&sig->certificate);
}

/* -------------------------------------------------------------------- */
/* Listening                                                       */

/* Makes error "cannot listen on ADDRESS: REASON", with GIO's own wording
 * of the address taken out when it is there, leaving the system's words
 * for why ("Address already in use"). */
static void
name_listen_error(GInetAddress *addr, uint16_t port, GError *error)
{
  g_autofree char *host = g_inet_address_to_string(addr);
  g_autofree char *where =
      g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6
          ? g_strdup_printf("[%s]:%u", host, port)
          : g_strdup_printf("%s:%u", host, port);
  g_autofree char *prefix = g_strconcat(where, ": ", NULL);
  const char *why = strstr(error->message, prefix);
  char *message = g_strdup_printf("cannot listen on %s: %s", where,
                                  why ? why + strlen(prefix)
                                      : error->message);

  g_free(error->message);
  error->message = message;
}

/* A listening socket on addr:port, as libsoup's own listeners make them
 * (IPv6 sockets IPv6 only); its port in *bound. */
static GSocket *
listen_socket_named(GInetAddress *addr, uint16_t port, uint16_t *bound,
                    GError **error)
{
  GSocketFamily family = g_inet_address_get_family(addr);
  g_autoptr(GSocketAddress) want = g_inet_socket_address_new(addr, port);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocket) socket = g_socket_new(family, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, error);

  if (!socket)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  /* GIO's default of 10 drops an honest SYN, for a second, under a burst
   * of connections that we would have accepted and evicted. */
  g_socket_set_listen_backlog(socket, LISTEN_BACKLOG);
  if (!g_socket_bind(socket, want, TRUE, error) ||
      !g_socket_listen(socket, error) ||
      !(local = g_socket_get_local_address(socket, error)))
    return NULL;
  *bound = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  return g_steal_pointer(&socket);
}

/* listen_socket_named(), its error naming the address. */
static GSocket *
listen_socket(GInetAddress *addr, uint16_t port, uint16_t *bound,
              GError **error)
{
  GError *local = NULL;
  GSocket *socket = listen_socket_named(addr, port, bound, &local);

  if (!socket) {
    name_listen_error(addr, port, local);
    g_propagate_error(error, local);
  }
  return socket;
}

/* soup_server_listen_all() and soup_server_listen_local() of libsoup 3.2:
 * IPv4, then IPv6 on the same port, which may be missing; with port 0, a
 * port taken on the IPv6 side makes it try again. */
static bool
listen_pair(struct p2psig_signaling *sig, GInetAddress *v4, GInetAddress *v6,
            uint16_t port, GError **error)
{
  for (unsigned attempt = 0;; attempt++) {
    g_autoptr(GSocket) s4 = NULL;
    g_autoptr(GSocket) s6 = NULL;
    g_autoptr(GError) error6 = NULL;
    uint16_t bound = 0, bound6 = 0;

    if (!(s4 = listen_socket(v4, port, &bound, error)))
      return false;
    s6 = listen_socket(v6, bound, &bound6, &error6);
    if (!s6 && !g_error_matches(error6, G_IO_ERROR,
                                G_IO_ERROR_NOT_SUPPORTED)) {
      if (port == 0 && attempt < 16 &&
          g_error_matches(error6, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        continue;
      g_propagate_error(error, g_steal_pointer(&error6));
      return false;
    }
    if (!g_socket_listener_add_socket(sig->listener, s4, NULL, error) ||
        (s6 && !g_socket_listener_add_socket(sig->listener, s6, NULL, error)))
      return false;
    sig->port = bound;
    return true;
  }
}

bool
p2psig__signal_listen(struct p2psig_signaling *sig, const struct new_args *args,
                      GError **error)
{
  g_autoptr(GInetAddress) v4 = NULL;
  g_autoptr(GInetAddress) v6 = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (!args->listen_host) {
    v4 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
    v6 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV6);
  } else if (g_ascii_strcasecmp(args->listen_host, "localhost") == 0) {
    v4 = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    v6 = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV6);
  }
  if (v4)
    return listen_pair(sig, v4, v6, args->listen_port, error);
  socket = listen_socket(args->listen_addr, args->listen_port, &sig->port,
                         error);
  return socket &&
         g_socket_listener_add_socket(sig->listener, socket, NULL, error);
}
