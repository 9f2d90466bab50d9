/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the signaling server's whole request path: the
 * input is a raw HTTP request, written as it is over a loopback TCP
 * connection to real p2psig_signaling servers (lib/signaling*.c, their
 * connection limits, libsoup's parser, the early handler, the body
 * handlers, the peer behind them), then the response is read until the
 * server closes.  Method, path, query, headers and body are all in the
 * bytes the fuzzer mutates.
 *
 * Four servers get every input: an answer role without a token (with a
 * page and a CORS origin), an answer role requiring the token
 * "fuzz-token", an offer role that has posted its offer (to 127.0.0.1:9,
 * where nobody listens: it keeps retrying), and an answer role in a
 * one-round-trip session whose id is SESSION (so that the polls, the
 * session's candidates and its ICE restarts are reached; its poll wait is
 * 100 ms).  A server whose peer took a remote description is made again,
 * with a new peer, so that the next input meets the same state; the
 * one-round-trip one is kept, its session with it.
 *
 * Checks: the server answers within the read timeout or closes without a
 * response; a response is HTTP/1.x with a status; a text/plain reason is
 * one line.  GLib warnings and criticals abort (fuzz-common.h), and so do
 * AddressSanitizer's findings anywhere in the process.
 */
#include <gio/gio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "internal.h"
#include "peer.h"
#include "signaling.h"

#define TOKEN "fuzz-token"
#define READ_TIMEOUT_S 8 /* longer than the server's own timeouts */
#define SESSION "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"

enum { OPEN_ANSWER, TOKEN_ANSWER, STARTED_OFFER, ORT_ANSWER, N_SERVERS };

struct server {
  p2psig_peer *peer;
  p2psig_signaling *sig;
  uint16_t port;
  p2psig_peer *offerer;     /* ORT_ANSWER: the session's offer */
};

static struct server servers[N_SERVERS];

static void send_one(uint16_t port, const uint8_t *data, size_t size);

/* ORT_ANSWER's session: an offer of a real peer, in one round trip. */
static void
start_session(struct server *s)
{
  p2psig_channel_config ccfg = {P2PSIG_CHANNEL_CONFIG_INIT};
  g_autofree char *json = NULL;
  g_autofree char *request = NULL;
  char *sdp = NULL;
  int error = 0;

  s->offerer = p2psig_peer_new(&(p2psig_peer_config){
      P2PSIG_PEER_CONFIG_INIT,
      .local_addresses = (const char *const[]){"127.0.0.1", NULL}}, &error);
  CHECK(s->offerer != NULL);
  CHECK(p2psig_peer_create_channel(s->offerer, "data", &ccfg, NULL) != NULL);
  CHECK(p2psig_peer_create_offer(s->offerer, &sdp) == 0);
  json = p2psig__signal_encode_sdp(P2PSIG_SDP_OFFER, sdp);
  p2psig_free(sdp);
  request = g_strdup_printf("POST /sdp?mode=one-round-trip HTTP/1.1\r\n"
                            "Host: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n"
                            "%s", strlen(json), json);
  send_one(s->port, (const uint8_t *)request, strlen(request));
  CHECK(p2psig__peer_has_remote_description(s->peer));
}

static void
server_make(struct server *s, int which)
{
  static const char *const loopback[] = {"127.0.0.1", NULL};
  p2psig_peer_config pcfg = {
    P2PSIG_PEER_CONFIG_INIT,
    .local_addresses = loopback,
  };
  p2psig_signaling_config scfg = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = which == STARTED_OFFER ? P2PSIG_ROLE_OFFER : P2PSIG_ROLE_ANSWER,
    .listen_address = "127.0.0.1:0",
    .remote_address = "127.0.0.1:9",
    .token = which == TOKEN_ANSWER ? TOKEN : NULL,
    .cors_origins = which == OPEN_ANSWER
                        ? (const char *const[]){"https://app.example", NULL}
                        : NULL,
    .page = which == OPEN_ANSWER ? "<!DOCTYPE html><title>fuzz</title>" : NULL,
  };
  int error = 0;

  s->peer = p2psig_peer_new(&pcfg, &error);
  CHECK(s->peer != NULL);
  if (which == STARTED_OFFER) {
    p2psig_channel_config ccfg = {P2PSIG_CHANNEL_CONFIG_INIT};

    CHECK(p2psig_peer_create_channel(s->peer, "data", &ccfg, NULL) != NULL);
  }
  s->sig = p2psig_signaling_new(s->peer, &scfg, &error);
  CHECK(s->sig != NULL);
  s->port = p2psig_signaling_get_port(s->sig);
  CHECK(s->port != 0);
  if (which == STARTED_OFFER)
    CHECK(p2psig_signaling_start(s->sig) == 0);
  if (which == ORT_ANSWER)
    start_session(s);
}

static void
server_clear(struct server *s)
{
  p2psig_signaling_free(s->sig);
  p2psig_peer_free(s->peer);
  p2psig_peer_free(s->offerer);
  memset(s, 0, sizeof *s);
}

/* What a response promises: a status line, and our reasons one line. */
static void
check_response(const char *in, size_t len)
{
  const char *end, *body, *type;

  if (len == 0)
    return; /* closed without a response: an incomplete request */
  CHECK(len >= 12);
  CHECK(strncmp(in, "HTTP/1.", 7) == 0);
  CHECK(g_ascii_isdigit(in[9]) && g_ascii_isdigit(in[10]) &&
        g_ascii_isdigit(in[11]));
  end = g_strstr_len(in, (gssize)len, "\r\n\r\n");
  CHECK(end != NULL);
  body = end + 4;
  type = g_strstr_len(in, end - in, "\r\nContent-Type: text/plain");
  if (type && body < in + len) {
    const char *nl = memchr(body, '\n', (size_t)(in + len - body));

    CHECK(nl == in + len - 1);
    CHECK(memchr(body, '\r', (size_t)(nl - body)) == NULL);
    CHECK(nl - body <= 240 + 3);
  }
}

static void
send_one(uint16_t port, const uint8_t *data, size_t size)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, port);
  g_autoptr(GError) error = NULL;
  GByteArray *in = g_byte_array_new();
  size_t sent = 0;
  char buf[4096];
  gssize n;

  socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                        G_SOCKET_PROTOCOL_TCP, &error);
  CHECK(socket != NULL);
  g_socket_set_timeout(socket, READ_TIMEOUT_S);
  CHECK(g_socket_connect(socket, addr, NULL, &error));
  /* The server may refuse and close before it has read everything. */
  while (sent < size &&
         (n = g_socket_send(socket, (const char *)data + sent, size - sent,
                            NULL, NULL)) > 0)
    sent += (size_t)n;
  g_socket_shutdown(socket, FALSE, TRUE, NULL);
  while ((n = g_socket_receive(socket, buf, sizeof buf, NULL, &error)) > 0)
    g_byte_array_append(in, (const guint8 *)buf, (guint)n);
  /* A reset is a close; a timeout is a hang. */
  CHECK(!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_byte_array_append(in, (const guint8 *)"", 1);
  check_response((const char *)in->data, in->len - 1);
  g_byte_array_unref(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static bool ready;

  /* Here rather than in LLVMFuzzerInitialize(), which fuzz-common.h has. */
  if (!ready) {
    p2psig__signal_limits.poll_wait_ms = 100;
    p2psig__signal_limits.fixed_session = SESSION;
    for (int i = 0; i < N_SERVERS; i++)
      server_make(&servers[i], i);
    ready = true;
  }
  for (int i = 0; i < N_SERVERS; i++) {
    send_one(servers[i].port, data, size);
    if (i != ORT_ANSWER &&
        p2psig__peer_has_remote_description(servers[i].peer)) {
      server_clear(&servers[i]);
      server_make(&servers[i], i);
    }
  }
  return 0;
}
