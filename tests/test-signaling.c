/* SPDX-License-Identifier: MIT */
/*
 * The pion-to-pion signaling server and client (lib/signaling*.c) over
 * 127.0.0.1 with real peers: every kind of bad request gets its status, a
 * one-line text/plain reason and one on_error report, and leaves the server
 * working; an offer-role and an answer-role object then connect their peers
 * and a message passes both ways; an offer started before the answer
 * listens gets through by retrying; addresses, arguments and freeing with
 * requests pending.  Access control: without the token, or with a wrong
 * one, a request gets 401 before its body is read; with it, and over HTTPS
 * with certificates made here, the exchange works; a remote certificate
 * that is not trusted fails the POST once, reported, not retried.
 */
#include <p2psig/p2psig.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "signaling.h"
#include "testutil.h"

#define TIMEOUT_MS 20000

/* A peer (its channel, states and messages recorded by the harness) and
 * its signaling object. */
struct side {
  struct testutil_side base;
  p2psig_signaling *sig;    /* under the lock */
  int errors;               /* on_error calls, and the last one's: */
  int last_error;
  char *last_message;
  int retries, finals, served; /* on_status calls of each kind */
  unsigned first_retry_ms;  /* the first retry's delay */
  char *first_retry_url;
  p2psig_signaling_status last_final; /* its url and reason: */
  char *last_final_url;
  bool free_sig_on_connect; /* free the signaling inside on_state */
  bool probe_lock;          /* on_error: can another thread call in? */
  struct probe *probe;      /* ... its probe, joined by the test */
  bool lock_free;           /* ... it could, while on_error ran */
  unsigned block_ms;        /* on_error: block this long */
  bool blocking;            /* ... it has started to */
};

/* Another thread's call into the library (which takes its lock), made
 * from inside a callback. */
struct probe {
  p2psig_peer *peer;
  GThread *thread;
  GMutex mutex;
  GCond cond;
  bool done;
};

static gpointer
probe_main(gpointer data)
{
  struct probe *probe = data;

  (void)p2psig_peer_get_state(probe->peer);
  g_mutex_lock(&probe->mutex);
  probe->done = true;
  g_cond_signal(&probe->cond);
  g_mutex_unlock(&probe->mutex);
  return NULL;
}

/* Starts a probe and waits up to 2 s for its call to return: it cannot
 * while the calling callback runs with the library's lock.  The thread
 * is joined later, by probe_free, outside the callback. */
static struct probe *
probe_start(p2psig_peer *peer, bool *returned)
{
  struct probe *probe = g_new0(struct probe, 1);
  gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

  probe->peer = peer;
  g_mutex_init(&probe->mutex);
  g_cond_init(&probe->cond);
  probe->thread = g_thread_new("probe", probe_main, probe);
  g_mutex_lock(&probe->mutex);
  while (!probe->done &&
         g_cond_wait_until(&probe->cond, &probe->mutex, deadline))
    ;
  *returned = probe->done;
  g_mutex_unlock(&probe->mutex);
  return probe;
}

static void
probe_free(struct probe *probe)
{
  g_thread_join(probe->thread);
  g_mutex_clear(&probe->mutex);
  g_cond_clear(&probe->cond);
  g_free(probe);
}

/* ---- callbacks, on the library thread ---- */

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = ((struct testutil_side *)user_data)->user;
  p2psig_signaling *sig = NULL;

  testutil_on_state(peer, state, error, user_data);
  testutil_lock();
  if (state == P2PSIG_STATE_CONNECTED && side->free_sig_on_connect) {
    sig = side->sig;
    side->sig = NULL;
  }
  testutil_unlock();
  /* Freeing from inside a peer callback must work. */
  if (sig)
    p2psig_signaling_free(sig);
}

static void
on_error(p2psig_signaling *sig, int error, const char *message,
         void *user_data)
{
  struct side *side = user_data;

  g_test_message("%s: on_error %s: %s", side->base.name,
                 p2psig_error_name(error), message);
  if (side->probe_lock && !side->probe) {
    bool returned;
    struct probe *probe = probe_start(side->base.peer, &returned);

    testutil_lock();
    side->probe = probe;
    side->lock_free = returned;
    testutil_unlock();
  }
  testutil_lock();
  side->errors++;
  side->last_error = error;
  g_free(side->last_message);
  side->last_message = g_strdup(message);
  side->blocking = side->block_ms > 0;
  testutil_unlock();
  if (side->block_ms)
    g_usleep(side->block_ms * 1000);
}

static void
on_status(p2psig_signaling *sig, const p2psig_signaling_status *status,
          void *user_data)
{
  struct side *side = user_data;

  g_test_message("%s: on_status final %d served %d HTTP %u retry %u ms %s: "
                 "%s", side->base.name, status->final, status->served,
                 status->http_status, status->retry_in_ms, status->url,
                 status->reason);
  g_assert_cmpuint(status->size, >=, sizeof *status);
  g_assert_nonnull(status->reason);
  g_assert_nonnull(status->url);
  testutil_lock();
  if (status->served) {
    side->served++;
  } else if (status->final) {
    side->finals++;
    side->last_final = *status;
    g_free(side->last_final_url);
    side->last_final_url = g_strdup(status->url);
    side->last_final.url = side->last_final.reason = NULL;
  } else {
    g_assert_cmpuint(status->retry_in_ms, >, 0);
    if (side->retries++ == 0) {
      side->first_retry_ms = status->retry_in_ms;
      side->first_retry_url = g_strdup(status->url);
    }
  }
  testutil_unlock();
}

/* ---- sides ---- */

/* Makes a side whose peer has no other side: the signaling passes the
 * candidates. */
static void
side_init(struct side *side, const char *name, bool with_channel)
{
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .on_state = on_state,
    .user_data = side,
  };

  memset(side, 0, sizeof *side);
  testutil_side_init(&side->base, name, NULL, &config);
  if (with_channel)
    testutil_side_channel(&side->base, "data", NULL);
}

/* The access-control fields of a side's signaling config. */
struct security {
  const char *token;
  const char *certificate, *key; /* serve HTTPS */
  const char *ca;                /* trusted for the remote */
  bool remote;                   /* the remote serves HTTPS */
};

static void
side_listen_secure(struct side *side, p2psig_role role, const char *listen,
                   const char *remote, const struct security *sec)
{
  static const struct security none;
  p2psig_signaling_config config = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = role,
    .listen_address = listen,
    .remote_address = remote,
    .on_error = on_error,
    .on_status = on_status,
    .user_data = side,
  };
  int error = 0;

  if (!sec)
    sec = &none;
  config.token = sec->token;
  config.tls_certificate = sec->certificate;
  config.tls_key = sec->key;
  config.tls_ca = sec->ca;
  config.tls_remote = sec->remote;
  p2psig_signaling *sig = p2psig_signaling_new(side->base.peer, &config,
                                               &error);

  g_assert_cmpint(error, ==, 0);
  g_assert_nonnull(sig);
  g_assert_cmpuint(p2psig_signaling_get_port(sig), !=, 0);
  testutil_lock();
  side->sig = sig;
  testutil_unlock();
}

static void
side_listen(struct side *side, p2psig_role role, const char *listen,
            const char *remote)
{
  side_listen_secure(side, role, listen, remote, NULL);
}

static uint16_t
side_port(struct side *side)
{
  return p2psig_signaling_get_port(side->sig);
}

static void
side_clear(struct side *side)
{
  testutil_lock();
  p2psig_signaling *sig = side->sig;
  side->sig = NULL;
  testutil_unlock();

  p2psig_signaling_free(sig);
  testutil_side_clear(&side->base);
  g_free(side->last_message);
  g_free(side->first_retry_url);
  g_free(side->last_final_url);
}

static int
side_errors(struct side *side)
{
  int n;

  testutil_lock();
  n = side->errors;
  testutil_unlock();
  return n;
}

/* Lock held. */
static bool
has_text(struct side *side, const char *text)
{
  g_autoptr(GBytes) want = g_bytes_new_static(text, strlen(text));
  GPtrArray *messages = side->base.messages;
  bool found = false;

  for (unsigned i = 0; i < messages->len; i++) {
    struct testutil_message *m = messages->pdata[i];

    found |= g_bytes_equal(m->data, want);
  }
  return found;
}

/* Lock held. */
static bool
side_ready(struct side *side)
{
  return side->base.state == P2PSIG_STATE_CONNECTED && side->base.opened == 1;
}

/* Waits until both are connected with the channel open, then passes a
 * message each way. */
static void
check_connected(struct side *offer, struct side *answer, const char *tag)
{
  g_autofree char *to_answer = g_strdup_printf("from offer %s", tag);
  g_autofree char *to_offer = g_strdup_printf("from answer %s", tag);

  TESTUTIL_WAIT(side_ready(offer), TIMEOUT_MS, "offer connected, open");
  TESTUTIL_WAIT(side_ready(answer), TIMEOUT_MS, "answer connected, open");
  g_assert_cmpint(answer->base.announced, ==, 1);
  g_assert_cmpint(offer->base.announced, ==, 0);

  g_assert_cmpint(p2psig_channel_send_text(offer->base.channel, to_answer),
                  ==, 0);
  g_assert_cmpint(p2psig_channel_send_text(answer->base.channel, to_offer),
                  ==, 0);
  TESTUTIL_WAIT(has_text(answer, to_answer), TIMEOUT_MS, "message to answer");
  TESTUTIL_WAIT(has_text(offer, to_offer), TIMEOUT_MS, "message to offer");
}

/* ---- HTTP clients ---- */

static SoupSession *
http_session(void)
{
  SoupSession *session = soup_session_new_with_options("timeout", 10, NULL);

  soup_session_set_proxy_resolver(session, NULL);
  return session;
}

/* Sends a request with libsoup to base and path ("http://127.0.0.1:PORT",
 * or https trusting ca when not NULL), with an Authorization header when
 * authorization is not NULL.  Returns the status with the body in *body and
 * the response headers in *headers (unref), or 0 with *error set when no
 * response came. */
static unsigned
http_send(const char *base, GTlsDatabase *ca, const char *authorization,
          const char *method, const char *path, const char *data, gssize len,
          char **body, SoupMessageHeaders **headers, GError **error)
{
  g_autoptr(SoupSession) session = http_session();
  g_autofree char *uri = g_strconcat(base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
  g_autoptr(GBytes) bytes = NULL;
  gsize n = 0;
  const char *p;

  g_assert_nonnull(msg);
  if (ca)
    soup_session_set_tls_database(session, ca);
  if (authorization)
    soup_message_headers_replace(soup_message_get_request_headers(msg),
                                 "Authorization", authorization);
  if (data) {
    g_autoptr(GBytes) request = g_bytes_new_static(
        data, len < 0 ? strlen(data) : (size_t)len);

    soup_message_set_request_body_from_bytes(
        msg, "application/json; charset=utf-8", request);
  }
  bytes = soup_session_send_and_read(session, msg, NULL, error);
  if (!bytes)
    return 0;
  p = g_bytes_get_data(bytes, &n);
  if (body)
    *body = g_strndup(p ? p : "", n);
  if (headers)
    *headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
  /* Each response closes its connection (libsoup < 3.3 leaks idle ones). */
  g_assert_true(soup_message_headers_header_equals(
      soup_message_get_response_headers(msg), "Connection", "close"));
  return soup_message_get_status(msg);
}

/* Sends a request to http://127.0.0.1:port; returns the status, the body in
 * *body. */
static unsigned
http_request(uint16_t port, const char *method, const char *path,
             const char *data, gssize len, char **body, char **allow)
{
  g_autofree char *base = g_strdup_printf("http://127.0.0.1:%u", port);
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers = NULL;
  unsigned status = http_send(base, NULL, NULL, method, path, data, len, body,
                              &headers, &error);

  g_assert_no_error(error);
  if (allow)
    *allow = g_strdup(soup_message_headers_get_one(headers, "Allow"));
  soup_message_headers_unref(headers);
  return status;
}

/* Writes head, count times chunk, then tail on a plain socket and reads
 * the response until the server closes; returns the status. */
static unsigned
raw_request(uint16_t port, const char *head, const char *chunk, size_t count,
            const char *tail, char **body)
{
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) in = g_byte_array_new();
  GOutputStream *out;
  GInputStream *is;
  char buf[4096];
  gssize n;
  unsigned status = 0;
  char *end;

  g_socket_client_set_timeout(client, 10);
  conn = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL,
                                         &error);
  g_assert_no_error(error);
  out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  is = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  g_assert_true(g_output_stream_write_all(out, head, strlen(head), NULL, NULL,
                                          &error));
  g_assert_no_error(error);
  for (size_t i = 0; i <= count; i++) {
    const char *data = i < count ? chunk : tail;

    if (data && !g_output_stream_write_all(out, data, strlen(data), NULL,
                                           NULL, &error)) {
      /* The server may answer and close before it has read everything. */
      g_test_message("write stopped at chunk %zu: %s", i, error->message);
      g_clear_error(&error);
      break;
    }
  }
  while ((n = g_input_stream_read(is, buf, sizeof buf, NULL, &error)) > 0)
    g_byte_array_append(in, (const guint8 *)buf, (guint)n);
  if (error)
    g_test_message("read ended with: %s", error->message);
  g_byte_array_append(in, (const guint8 *)"", 1);

  if (g_str_has_prefix((const char *)in->data, "HTTP/1.1 "))
    status = (unsigned)strtoul((const char *)in->data + 9, NULL, 10);
  end = strstr((char *)in->data, "\r\n\r\n");
  if (body)
    *body = g_strdup(end ? end + 4 : "");
  return status;
}

static void
check_one_line(const char *text)
{
  size_t len = strlen(text);

  g_assert_cmpuint(len, >, 1);
  g_assert_cmpint(text[len - 1], ==, '\n');
  g_assert_null(memchr(text, '\n', len - 1));
  g_assert_null(strchr(text, '\r'));
}

/* Checks that a reply is a refusal with one line of text, and that exactly
 * one on_error with error followed. */
static void
check_refusal(struct side *side, int errors_before, unsigned got,
              unsigned status, const char *body, int error)
{
  g_test_message("  -> %u %.*s", got, (int)strcspn(body, "\n"), body);
  g_assert_cmpuint(got, ==, status);
  check_one_line(body);
  TESTUTIL_WAIT(side->errors >= errors_before + 1, TIMEOUT_MS, "on_error");
  testutil_lock();
  g_assert_cmpint(side->errors, ==, errors_before + 1);
  g_assert_cmpint(side->last_error, ==, error);
  g_assert_nonnull(side->last_message);
  g_assert_cmpuint(strlen(side->last_message), >, 0);
  g_assert_null(strchr(side->last_message, '\n'));
  testutil_unlock();
}

static void
expect_refusal(struct side *side, const char *method, const char *path,
               const char *data, gssize len, unsigned status, int error)
{
  int before = side_errors(side);
  g_autofree char *body = NULL;
  g_autofree char *allow = NULL;
  unsigned got;

  size_t n = !data ? 0 : len < 0 ? strlen(data) : (size_t)len;
  g_autofree char *head = g_strndup(data ? data : "", MIN(n, 60));
  g_autofree char *shown = g_strescape(head, NULL);

  g_test_message("%s: %s %s %s", side->base.name, method, path, shown);
  got = http_request(side_port(side), method, path, data, len, &body, &allow);
  check_refusal(side, before, got, status, body, error);
  /* The answer's GET /candidate is the one-round-trip long-poll. */
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    g_assert_cmpstr(allow, ==,
                    strcmp(path, "/candidate") == 0 &&
                            strcmp(side->base.name, "answer") == 0
                        ? "GET, POST"
                        : "POST");
}

static void
expect_raw_refusal(struct side *side, const char *head, const char *chunk,
                   size_t count, const char *tail, unsigned status, int error)
{
  int before = side_errors(side);
  g_autofree char *body = NULL;
  unsigned got;

  g_autofree char *shown = g_strescape(head, NULL);

  g_test_message("%s: raw %.70s...", side->base.name, shown);
  got = raw_request(side_port(side), head, chunk, count, tail, &body);
  check_refusal(side, before, got, status, body, error);
}

/* Binds 127.0.0.1:0 to learn a free port, and lets it go. */
static uint16_t
free_port(void)
{
  g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_IPV4,
                                           G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) any = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(any, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true(g_socket_bind(socket, addr, FALSE, NULL));
  bound = g_socket_get_local_address(socket, NULL);
  return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static char *
loopback_address(uint16_t port)
{
  return g_strdup_printf("127.0.0.1:%u", port);
}

/* ---- tests ---- */

static const char *const bad_json[] = {
  "v=0\r\n",
  "",
  "[\"offer\"]",
  "{\"type\":\"offer\"}",
  "{\"sdp\":\"v=0\\r\\n\"}",
  "{\"type\":1,\"sdp\":\"v=0\\r\\n\"}",
  "{\"type\":\"offer\",\"sdp\":5}",
  "{\"type\":\"offer\",\"sdp\":null}",
  "{\"type\":\"pranswer\",\"sdp\":\"v=0\\r\\n\"}",
  "{\"type\":\"bogus\",\"sdp\":\"v=0\\r\\n\"}",
  "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"",
};

static void
refuse_common(struct side *side)
{
  /* Wrong path, wrong method. */
  expect_refusal(side, "POST", "/nope", "x", -1, SOUP_STATUS_NOT_FOUND,
                 P2PSIG_EHTTP);
  expect_refusal(side, "GET", "/", NULL, 0, SOUP_STATUS_NOT_FOUND,
                 P2PSIG_EHTTP);
  expect_refusal(side, "POST", "/sdp/more", "{}", -1, SOUP_STATUS_NOT_FOUND,
                 P2PSIG_EHTTP);
  expect_refusal(side, "GET", "/sdp", NULL, 0,
                 SOUP_STATUS_METHOD_NOT_ALLOWED, P2PSIG_EHTTP);
  expect_refusal(side, "PUT", "/candidate", "candidate:1", -1,
                 SOUP_STATUS_METHOD_NOT_ALLOWED, P2PSIG_EHTTP);

  /* Bad JSON. */
  for (size_t i = 0; i < G_N_ELEMENTS(bad_json); i++)
    expect_refusal(side, "POST", "/sdp", bad_json[i], -1,
                   SOUP_STATUS_BAD_REQUEST, P2PSIG_EJSON);
  expect_refusal(side, "POST", "/sdp", "{\"type\":\"offer\",\0}", 18,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_EJSON);
}

static void
refuse_sizes(struct side *side)
{
  g_autofree char *limit = g_malloc(P2PSIG_SIGNAL_MAX_BODY);
  g_autofree char *head = NULL;
  g_autofree char *x = g_strnfill(4096, 'x');
  g_autofree char *chunk = g_strdup_printf("1000\r\n%s\r\n", x);

  /* Exactly the limit is read (and is not JSON). */
  memset(limit, 'x', P2PSIG_SIGNAL_MAX_BODY);
  expect_refusal(side, "POST", "/sdp", limit, P2PSIG_SIGNAL_MAX_BODY,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_EJSON);

  /* One byte more is refused from Content-Length (libsoup still reads the
   * body, without keeping it). */
  head = g_strdup_printf("POST /sdp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Type: application/json\r\n"
                         "Content-Length: %d\r\n\r\n",
                         P2PSIG_SIGNAL_MAX_BODY + 1);
  expect_raw_refusal(side, head, x, 16, "x",
                     SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, P2PSIG_ETOOBIG);

  /* With Expect: 100-continue the body is never sent. */
  expect_raw_refusal(side,
                     "POST /candidate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Expect: 100-continue\r\n"
                     "Content-Length: 100000000\r\n\r\n",
                     NULL, 0, NULL, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                     P2PSIG_ETOOBIG);

  /* Chunked, 80 KiB: counted as it comes. */
  expect_raw_refusal(side,
                     "POST /sdp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     chunk, 20, "0\r\n\r\n",
                     SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, P2PSIG_ETOOBIG);
}

static void
test_refusals_then_exchange(void)
{
  struct side offer, answer;
  uint16_t answer_port = free_port();
  g_autofree char *answer_addr = loopback_address(answer_port);
  g_autofree char *offer_addr = NULL;
  g_autofree char *offer_sdp = NULL;
  g_autofree char *offer_json = NULL;
  g_autofree char *answer_json = NULL;
  g_autofree char *body = NULL;
  int answer_refusals, offer_refusals;

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr);
  offer_addr = loopback_address(side_port(&offer));
  side_listen(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr);
  g_assert_cmpuint(side_port(&answer), ==, answer_port);

  /* A real offer, to send where it does not belong. */
  offer_sdp = testutil_read_data("chromium-156-offer.sdp", NULL);
  offer_json = p2psig__signal_encode_sdp(P2PSIG_SDP_OFFER, offer_sdp);
  answer_json = p2psig__signal_encode_sdp(P2PSIG_SDP_ANSWER, offer_sdp);

  /* The answer role refuses. */
  refuse_common(&answer);
  refuse_sizes(&answer);
  expect_refusal(&answer, "POST", "/sdp", answer_json, -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE);
  expect_refusal(&answer, "POST", "/sdp",
                 "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}", -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESDP);
  expect_refusal(&answer, "POST", "/candidate", "not a candidate", -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE);
  expect_refusal(&answer, "POST", "/candidate",
                 "candidate:1 1 udp 2130706431 127.0.0.1 notaport typ host",
                 -1, SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE);
  expect_refusal(&answer, "POST", "/candidate", "candidate:1\0x", 13,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE);
  /* Well-formed candidates are taken, whether we can use them or not
   * (TCP, mDNS names, transports, types and attributes of the future): a
   * browser sending them is not turned away. */
  {
    static const char *const taken[] = {
      "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
      "candidate:3 1 udp 2122260223 4f2c8d1e-1b2a.local 54321 typ host",
      "candidate:4 1 udp 2122260223 127.0.0.1 54322 typ host generation 0 "
      "ufrag abcd network-id 1 network-cost 10 future-attr x",
      "candidate:5 1 quic 2122260223 127.0.0.1 54323 typ host",
      "candidate:6 1 udp 2122260223 127.0.0.1 54324 typ future",
      "candidate:7 2 udp 2122260223 127.0.0.1 54325 typ host",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(taken); i++) {
      int before = side_errors(&answer);

      g_assert_cmpuint(http_request(side_port(&answer), "POST",
                                    "/candidate", taken[i], -1, NULL, NULL),
                       ==, SOUP_STATUS_OK);
      g_assert_cmpint(side_errors(&answer), ==, before);
    }
  }
  /* An SDP without a data-channel section. */
  expect_refusal(&answer, "POST", "/sdp",
                 "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 "
                 "127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\nm=audio 9 "
                 "UDP/TLS/RTP/SAVPF 111\\r\\na=ice-ufrag:abcd\\r\\n"
                 "a=ice-pwd:abcdefghijklmnopqrstuvwx\\r\\n\"}", -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESDP);
  /* An empty candidate (end of candidates) is accepted. */
  g_assert_cmpuint(http_request(answer_port, "POST", "/candidate", "", 0,
                                &body, NULL), ==, SOUP_STATUS_OK);

  /* The offer role refuses offers, and answers before it has offered. */
  refuse_common(&offer);
  expect_refusal(&offer, "POST", "/sdp", offer_json, -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE);
  expect_refusal(&offer, "POST", "/sdp", answer_json, -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE);

  answer_refusals = side_errors(&answer);
  offer_refusals = side_errors(&offer);

  /* After all that, a real exchange works. */
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_signaling_start(answer.sig), ==, 0);
  check_connected(&offer, &answer, "1");

  /* A second offer or answer mid-session is refused, harmlessly. */
  expect_refusal(&answer, "POST", "/sdp", offer_json, -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE);
  expect_refusal(&offer, "POST", "/sdp", answer_json, -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ESTATE);
  check_connected(&offer, &answer, "2");

  /* Nothing else was reported: no POST of ours failed. */
  g_assert_cmpint(side_errors(&answer), ==, answer_refusals + 1);
  g_assert_cmpint(side_errors(&offer), ==, offer_refusals + 1);

  side_clear(&offer);
  side_clear(&answer);
}

static void
test_offer_before_answer(void)
{
  struct side offer, answer;
  uint16_t answer_port = free_port();
  g_autofree char *answer_addr = loopback_address(answer_port);
  g_autofree char *offer_addr = NULL;

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  /* The offer frees its signaling once connected, from inside on_state. */
  offer.free_sig_on_connect = true;
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr);
  offer_addr = loopback_address(side_port(&offer));
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);

  /* Nobody listens yet: the offer POST fails and is retried (50, 100, 200,
   * 400 ms...). */
  g_usleep(700 * 1000);
  side_listen(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr);
  check_connected(&offer, &answer, "late");

  testutil_lock();
  g_assert_null(offer.sig);
  /* Each retry told on_status, with its URL and delay; on_error nothing. */
  g_assert_cmpint(offer.retries, >=, 2);
  g_assert_cmpuint(offer.first_retry_ms, ==, 50);
  g_assert_true(g_str_has_prefix(offer.first_retry_url, "http://"));
  g_assert_true(g_str_has_suffix(offer.first_retry_url, "/sdp"));
  g_assert_nonnull(strstr(offer.first_retry_url, answer_addr));
  g_assert_cmpint(offer.finals, ==, 0);
  testutil_unlock();
  g_assert_cmpint(side_errors(&offer), ==, 0);
  g_assert_cmpint(side_errors(&answer), ==, 0);

  side_clear(&offer);
  side_clear(&answer);
}

/* ICE restarts through the signaling: the offer posts a re-offer, the
 * answer takes it as a restart and posts its answer, which the offer
 * applies; twice in a row, and messages flow after each. */
static void
test_ice_restart(void)
{
  struct side offer, answer;
  uint16_t answer_port = free_port();
  g_autofree char *answer_addr = loopback_address(answer_port);
  g_autofree char *offer_addr = NULL;

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr);
  offer_addr = loopback_address(side_port(&offer));
  side_listen(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr);
  g_assert_cmpint(p2psig_signaling_restart_ice(offer.sig), ==,
                  P2PSIG_ESTATE); /* nothing to restart yet */
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  check_connected(&offer, &answer, "before");
  g_assert_cmpint(p2psig_signaling_restart_ice(answer.sig), ==,
                  P2PSIG_ESTATE); /* the offer role restarts */

  g_assert_cmpint(p2psig_signaling_restart_ice(offer.sig), ==, 0);
  for (int round = 0; round < 2; round++) {
    g_autofree char *tag = g_strdup_printf("after restart %d", round);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    /* One at a time: the next is taken (and started) once this one's
     * answer is in; no event tells it, the call itself does. */
    while (p2psig_signaling_restart_ice(offer.sig) == P2PSIG_ESTATE) {
      g_assert_cmpint(g_get_monotonic_time(), <, deadline);
      g_usleep(10 * 1000);
    }
    check_connected(&offer, &answer, tag);
  }
  g_assert_cmpint(side_errors(&offer), ==, 0);
  g_assert_cmpint(side_errors(&answer), ==, 0);
  side_clear(&offer);
  side_clear(&answer);
}

/* An offer posted to another offer-role server: the 400 it gets is
 * reported as P2PSIG_EHTTP, and not retried. */
static void
test_remote_refuses(void)
{
  struct side offer, other;
  g_autofree char *other_addr = NULL;

  side_init(&offer, "offer", true);
  side_init(&other, "other", true);
  side_listen(&other, P2PSIG_ROLE_OFFER, "127.0.0.1:0", "127.0.0.1:9");
  other_addr = loopback_address(side_port(&other));
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", other_addr);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);

  TESTUTIL_WAIT(other.errors >= 1, TIMEOUT_MS, "other's refusal");
  TESTUTIL_WAIT(offer.errors >= 1, TIMEOUT_MS, "offer's report");
  g_assert_cmpint(other.last_error, ==, P2PSIG_ESTATE);
  g_assert_cmpint(offer.last_error, ==, P2PSIG_EHTTP);
  g_assert_nonnull(strstr(offer.last_message, "400"));

  /* Not retried. */
  g_usleep(300 * 1000);
  g_assert_cmpint(side_errors(&other), ==, 1);
  g_assert_cmpint(side_errors(&offer), ==, 1);

  side_clear(&offer);
  side_clear(&other);
}

/* Signaling callbacks run without the library's lock: another thread may
 * call into the library while one runs (a callback that waits for such a
 * thread does not hang). */
static void
test_callbacks_unlocked(void)
{
  struct side offer, other;
  g_autofree char *other_addr = NULL;

  side_init(&offer, "offer", true);
  side_init(&other, "other", true);
  offer.probe_lock = true;
  side_listen(&other, P2PSIG_ROLE_OFFER, "127.0.0.1:0", "127.0.0.1:9");
  other_addr = loopback_address(side_port(&other));
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", other_addr);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  TESTUTIL_WAIT(offer.errors >= 1, TIMEOUT_MS, "offer's report");
  probe_free(offer.probe);
  g_assert_true(offer.lock_free);
  side_clear(&offer);
  side_clear(&other);
}

/* Makes side's peer on loop: peers go to the loops in turn. */
static void
side_on_loop(struct testutil_side *side, const char *name,
             struct testutil_side *other, struct p2psig_loop *loop)
{
  for (;;) {
    testutil_side_init(side, name, other, NULL);
    if (p2psig__peer_loop(side->peer) == loop)
      return;
    testutil_side_clear(side);
  }
}

/* A signaling callback that blocks holds up only its own object's later
 * callbacks: meanwhile a pair of peers on the same loop exchanges a
 * message at once.  When signaling's callbacks ran inside the loop's
 * iteration, the message waited for the callback (BLOCK_MS). */
#define BLOCK_MS 500
#define BLOCKED_LIMIT_MS 100

static void
test_callback_blocks(void)
{
  struct side offer, other;
  struct testutil_side a, b;
  g_autofree char *other_addr = NULL;
  struct p2psig_loop *loop;
  gint64 start, took_ms;

  side_init(&offer, "offer", true);
  side_init(&other, "other", true);
  offer.block_ms = BLOCK_MS;
  loop = p2psig__peer_loop(offer.base.peer);
  side_on_loop(&a, "a", &b, loop);
  side_on_loop(&b, "b", &a, loop);
  testutil_side_channel(&a, "data", NULL);
  testutil_negotiate(&a, &b, NULL, NULL);
  TESTUTIL_WAIT(a.opened == 1 && b.announced == 1, TIMEOUT_MS, "open");

  side_listen(&other, P2PSIG_ROLE_OFFER, "127.0.0.1:0", "127.0.0.1:9");
  other_addr = loopback_address(side_port(&other));
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", other_addr);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  TESTUTIL_WAIT(offer.blocking, TIMEOUT_MS, "offer's on_error blocking");

  start = g_get_monotonic_time();
  g_assert_cmpint(p2psig_channel_send_text(a.channel, "meanwhile"), ==, 0);
  TESTUTIL_WAIT(b.messages->len == 1, TIMEOUT_MS, "the message");
  took_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("a message on the blocked callback's loop took %"
                 G_GINT64_FORMAT " ms", took_ms);
  g_assert_cmpint(took_ms, <, BLOCKED_LIMIT_MS);

  /* Freeing waits for the callback, and none comes after. */
  side_clear(&offer);
  side_clear(&other);
  testutil_side_clear(&a);
  testutil_side_clear(&b);
}

static int
try_new(p2psig_peer *peer, p2psig_role role, const char *listen,
        const char *remote, uint16_t *port)
{
  p2psig_signaling_config config = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = role,
    .listen_address = listen,
    .remote_address = remote,
  };
  int error = 12345;
  p2psig_signaling *sig = p2psig_signaling_new(peer, &config, &error);

  if (!sig) {
    g_assert_cmpint(error, <, 0);
    return error;
  }
  if (port)
    *port = p2psig_signaling_get_port(sig);
  g_assert_cmpuint(p2psig_signaling_get_port(sig), !=, 0);
  p2psig_signaling_free(sig);
  return 0;
}

static void
test_addresses(void)
{
  struct testutil_side side; /* a peer alone */
  static const char *const bad[] = {
    "", "50000", "127.0.0.1", "::1:0", "[::1]0", "[]:0", "1.2.3.4:99999",
    "host name:0", "[example.org]:0",
  };
  p2psig_signaling_config zero = {0};
  int error = 0;
  uint16_t port = 0;
  int rc;

  testutil_side_init(&side, "addresses", NULL, NULL);

  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("bad address \"%s\"", bad[i]);
    g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_ANSWER, bad[i],
                            "127.0.0.1:1", NULL), ==, P2PSIG_EADDRESS);
    g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_OFFER, "127.0.0.1:0",
                            bad[i], NULL), ==, P2PSIG_EADDRESS);
  }
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_OFFER, "127.0.0.1:0",
                          "127.0.0.1:0", NULL), ==, P2PSIG_EADDRESS);

  /* Good ones, port 0 everywhere. */
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                          "localhost:50000", &port), ==, 0);
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_ANSWER, "localhost:0",
                          "[::1]:50000", NULL), ==, 0);
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_OFFER, ":0",
                          "example.org:1", NULL), ==, 0);
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_OFFER, "127.0.0.1:0",
                          "[fe80::1%eth0]:1", NULL), ==, 0);
  g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_OFFER, "127.0.0.1:0",
                          ":50000", NULL), ==, 0);
  rc = try_new(side.peer, P2PSIG_ROLE_OFFER, "[::1]:0", "[::1]:1", NULL);
  if (rc == P2PSIG_ENETWORK)
    g_test_message("no IPv6 loopback here: [::1]:0 not tested");
  else
    g_assert_cmpint(rc, ==, 0);

  /* A port in use cannot be listened on. */
  {
    p2psig_signaling_config config = {
      P2PSIG_SIGNALING_CONFIG_INIT,
      .role = P2PSIG_ROLE_ANSWER,
      .listen_address = "127.0.0.1:0",
      .remote_address = "127.0.0.1:1",
    };
    p2psig_signaling *sig = p2psig_signaling_new(side.peer, &config, &error);
    g_autofree char *busy = NULL;

    g_assert_nonnull(sig);
    busy = loopback_address(p2psig_signaling_get_port(sig));
    g_assert_cmpint(try_new(side.peer, P2PSIG_ROLE_ANSWER, busy,
                            "127.0.0.1:1", NULL), ==, P2PSIG_ENETWORK);
    /* The answer role has nothing to start. */
    g_assert_cmpint(p2psig_signaling_start(sig), ==, 0);
    p2psig_signaling_free(sig);
  }

  /* Bad arguments. */
  error = 0;
  g_assert_null(p2psig_signaling_new(NULL, &zero, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  error = 0;
  g_assert_null(p2psig_signaling_new(side.peer, NULL, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  error = 0;
  g_assert_null(p2psig_signaling_new(side.peer, &zero, &error));
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
  zero.size = sizeof zero;
  zero.role = (p2psig_role)5;
  error = 0;
  g_assert_null(p2psig_signaling_new(side.peer, &zero, NULL));
  g_assert_cmpint(p2psig_signaling_start(NULL), ==, P2PSIG_EINVAL);
  g_assert_cmpuint(p2psig_signaling_get_port(NULL), ==, 0);
  p2psig_signaling_free(NULL);

  testutil_side_clear(&side);
}

/* A server that accepts connections and never answers. */
static gboolean
hold_connection(GSocketService *service, GSocketConnection *conn,
                GObject *source, gpointer data)
{
  GPtrArray *held = data;

  g_ptr_array_add(held, g_object_ref(conn));
  return TRUE;
}

static gpointer
silent_server_thread(gpointer data)
{
  GMainLoop *loop = data;

  g_main_context_push_thread_default(g_main_loop_get_context(loop));
  g_main_loop_run(loop);
  g_main_context_pop_thread_default(g_main_loop_get_context(loop));
  return NULL;
}

static gboolean
quit_loop(gpointer data)
{
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

/* Freeing with a POST in flight, one waiting for its retry, and queued
 * candidates, from another thread. */
static void
test_free_pending(void)
{
  struct side a, b;
  GMainContext *context = g_main_context_new();
  GMainLoop *loop = g_main_loop_new(context, FALSE);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func(g_object_unref);
  GSocketService *service;
  GThread *thread;
  uint16_t silent_port;
  g_autofree char *silent_addr = NULL;

  g_main_context_push_thread_default(context);
  service = g_socket_service_new();
  silent_port = g_socket_listener_add_any_inet_port(
      G_SOCKET_LISTENER(service), NULL, NULL);
  g_assert_cmpuint(silent_port, !=, 0);
  g_signal_connect(service, "incoming", G_CALLBACK(hold_connection), held);
  g_main_context_pop_thread_default(context);
  thread = g_thread_new("silent", silent_server_thread, loop);
  silent_addr = g_strdup_printf("127.0.0.1:%u", silent_port);

  /* a: its offer POST hangs in flight. */
  side_init(&a, "hanging", true);
  side_listen(&a, P2PSIG_ROLE_OFFER, "127.0.0.1:0", silent_addr);
  g_assert_cmpint(p2psig_signaling_start(a.sig), ==, 0);
  /* b: its offer is refused by a closed port and waits for a retry. */
  side_init(&b, "retrying", true);
  side_listen(&b, P2PSIG_ROLE_OFFER, "127.0.0.1:0", "127.0.0.1:9");
  g_assert_cmpint(p2psig_signaling_start(b.sig), ==, 0);

  g_usleep(300 * 1000);
  side_clear(&a);
  side_clear(&b);
  /* Let the cancelled requests complete before the leak check. */
  g_usleep(200 * 1000);

  g_main_context_invoke(context, quit_loop, loop);
  g_thread_join(thread);
  g_socket_service_stop(service);
  g_socket_listener_close(G_SOCKET_LISTENER(service));
  g_object_unref(service);
  g_main_loop_unref(loop);
  g_main_context_unref(context);
}

/* ---- access control: token and HTTPS ---- */

#define TOKEN "s3cret-Token_42"
#define BEARER "Bearer " TOKEN

/* Checks that a request to side's server, at base, is refused with 401, a
 * Bearer challenge, one line of reason and one P2PSIG_EUNAUTHORIZED. */
static void
expect_unauthorized(struct side *side, const char *base, GTlsDatabase *ca,
                    const char *authorization, const char *method,
                    const char *path, const char *data)
{
  int before = side_errors(side);
  g_autofree char *body = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers = NULL;
  unsigned got;

  g_test_message("%s: %s %s with Authorization \"%s\"", side->base.name,
                 method, path, authorization ? authorization : "(none)");
  got = http_send(base, ca, authorization, method, path, data, -1, &body,
                  &headers, &error);
  g_assert_no_error(error);
  g_assert_true(g_str_has_prefix(
      soup_message_headers_get_one(headers, "WWW-Authenticate"),
      "Bearer realm=\"p2psig\""));
  soup_message_headers_unref(headers);
  check_refusal(side, before, got, SOUP_STATUS_UNAUTHORIZED, body,
                P2PSIG_EUNAUTHORIZED);
}

/* Sends an authorized request; returns the status (no report expected). */
static unsigned
authorized_request(const char *base, GTlsDatabase *ca,
                   const char *authorization, const char *method,
                   const char *path, const char *data)
{
  g_autofree char *body = NULL;
  g_autoptr(GError) error = NULL;
  unsigned status = http_send(base, ca, authorization, method, path, data, -1,
                              &body, NULL, &error);

  g_assert_no_error(error);
  g_test_message("  %s %s with the token -> %u %s", method, path, status,
                 body);
  return status;
}

static void
test_token(void)
{
  struct side offer, answer;
  struct security sec = {.token = TOKEN};
  uint16_t answer_port = free_port();
  g_autofree char *answer_addr = loopback_address(answer_port);
  g_autofree char *base = g_strdup_printf("http://127.0.0.1:%u", answer_port);
  g_autofree char *offer_addr = NULL;
  static const char *const wrong[] = {
    NULL,                       /* no Authorization */
    "Basic czNjcmV0LVRva2VuXzQy",
    "Bearer",
    "Bearer ",
    TOKEN,                      /* no scheme */
    "Bearer s3cret-Token_4",    /* a prefix */
    BEARER "x",                 /* longer */
    "Bearer s3cret-Token_43",   /* same length */
    "Bearer S3CRET-TOKEN_42",   /* tokens are case-sensitive */
    "Bearer " TOKEN " " TOKEN,
  };
  int answer_errors, offer_errors;

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &sec);
  offer_addr = loopback_address(side_port(&offer));
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr,
                     &sec);

  for (size_t i = 0; i < G_N_ELEMENTS(wrong); i++)
    expect_unauthorized(&answer, base, NULL, wrong[i], "POST", "/candidate",
                        "");
  /* Before the path and the method: nothing else is told. */
  expect_unauthorized(&answer, base, NULL, NULL, "GET", "/nope", NULL);
  expect_unauthorized(&answer, base, NULL, "Bearer x", "PUT", "/sdp", "{}");
  /* Refused from the headers: with Expect: 100-continue no body is sent. */
  expect_raw_refusal(&answer,
                     "POST /sdp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Expect: 100-continue\r\n"
                     "Content-Length: 100000000\r\n\r\n",
                     NULL, 0, NULL, SOUP_STATUS_UNAUTHORIZED,
                     P2PSIG_EUNAUTHORIZED);
  expect_raw_refusal(&answer,
                     "POST /candidate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer nope\r\n"
                     "Content-Length: 0\r\n\r\n",
                     NULL, 0, NULL, SOUP_STATUS_UNAUTHORIZED,
                     P2PSIG_EUNAUTHORIZED);

  /* With the token: served (an empty candidate is accepted); the scheme
   * is case-insensitive, spaces may follow it. */
  answer_errors = side_errors(&answer);
  g_assert_cmpuint(authorized_request(base, NULL, BEARER, "POST",
                                      "/candidate", ""), ==, SOUP_STATUS_OK);
  g_assert_cmpuint(authorized_request(base, NULL, "bearer   " TOKEN, "POST",
                                      "/candidate", ""), ==, SOUP_STATUS_OK);
  g_assert_cmpint(side_errors(&answer), ==, answer_errors);
  /* ... and then the other checks apply. */
  g_assert_cmpuint(authorized_request(base, NULL, BEARER, "GET", "/sdp",
                                      NULL), ==,
                   SOUP_STATUS_METHOD_NOT_ALLOWED);
  answer_errors++;

  /* Both sides with the token: the exchange works. */
  offer_errors = side_errors(&offer);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  check_connected(&offer, &answer, "token");
  g_assert_cmpint(side_errors(&answer), ==, answer_errors);
  g_assert_cmpint(side_errors(&offer), ==, offer_errors);

  side_clear(&offer);
  side_clear(&answer);
}

/* Sends "METHOD PATH HTTP/1.1" and expects status with one report, whose
 * message is one line of at most 240 bytes and "...". */
static void
expect_long_refusal(struct side *side, const char *method, const char *path,
                    unsigned status, int error)
{
  g_autofree char *head = g_strdup_printf(
      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
      method, path);
  int before = side_errors(side);
  g_autofree char *body = NULL;
  unsigned got = raw_request(side_port(side), head, NULL, 0, NULL, &body);

  check_refusal(side, before, got, status, body, error);
  testutil_lock();
  g_assert_cmpuint(strlen(side->last_message), <=, 240 + 3);
  g_assert_true(g_utf8_validate(side->last_message, -1, NULL));
  testutil_unlock();
}

/* Request lines of every length around where a report reaches its 240
 * bytes, before the token is checked (401) and after (404): reports are
 * cut with "..." in a new string.  Under AddressSanitizer the old in-place
 * cut wrote "...\0" past the end of a 241- or 242-byte report. */
static void
test_long_request_line(void)
{
  struct side open, locked;
  struct security sec = {.token = TOKEN};
  static const char *const odd[] = {
    "\xc3\xa9\xc3\xa9\xc3\xa9", /* UTF-8 */
    "\xff\xfe",                 /* not UTF-8 */
    "M\x1b[2J",                  /* a terminal escape */
  };

  side_init(&open, "open", false);
  side_init(&locked, "locked", false);
  side_listen(&open, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  side_listen_secure(&locked, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                     "127.0.0.1:9", &sec);

  /* The 404 report reaches 241 bytes with a 180-byte method, the 401
   * one with a 197-byte method, before the method is cut to 16. */
  for (size_t len = 150; len <= 260; len++) {
    g_autofree char *method = g_strnfill(len, 'M');

    expect_long_refusal(&open, method, "/x", SOUP_STATUS_NOT_FOUND,
                        P2PSIG_EHTTP);
    expect_long_refusal(&locked, method, "/x", SOUP_STATUS_UNAUTHORIZED,
                        P2PSIG_EUNAUTHORIZED);
  }
  for (size_t len = 230; len <= 250; len++) {
    g_autofree char *path = g_strnfill(len, 'p');

    path[0] = '/';
    expect_long_refusal(&open, "GET", path, SOUP_STATUS_NOT_FOUND,
                        P2PSIG_EHTTP);
    expect_long_refusal(&locked, "GET", path, SOUP_STATUS_UNAUTHORIZED,
                        P2PSIG_EUNAUTHORIZED);
  }
  for (size_t len = 1000; len <= 16000; len *= 4) {
    g_autofree char *long_method = g_strnfill(len, 'M');
    g_autofree char *long_path = g_strnfill(len, 'p');

    long_path[0] = '/';
    expect_long_refusal(&open, long_method, long_path,
                        SOUP_STATUS_NOT_FOUND, P2PSIG_EHTTP);
    expect_long_refusal(&locked, long_method, long_path,
                        SOUP_STATUS_UNAUTHORIZED, P2PSIG_EUNAUTHORIZED);
  }
  for (size_t i = 0; i < G_N_ELEMENTS(odd); i++) {
    expect_long_refusal(&open, odd[i], "/x", SOUP_STATUS_NOT_FOUND,
                        P2PSIG_EHTTP);
    expect_long_refusal(&locked, odd[i], "/x", SOUP_STATUS_UNAUTHORIZED,
                        P2PSIG_EUNAUTHORIZED);
  }

  side_clear(&open);
  side_clear(&locked);
}

/* Different tokens: the answer refuses the offer with 401, both report
 * P2PSIG_EUNAUTHORIZED, and the offer does not retry. */
static void
test_token_mismatch(void)
{
  struct side offer, answer;
  struct security offer_sec = {.token = "one"}, answer_sec = {.token = "two"};
  g_autofree char *answer_addr = NULL;

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                     "127.0.0.1:9", &answer_sec);
  answer_addr = loopback_address(side_port(&answer));
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &offer_sec);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);

  TESTUTIL_WAIT(answer.errors >= 1, TIMEOUT_MS, "answer's refusal");
  TESTUTIL_WAIT(offer.errors >= 1, TIMEOUT_MS, "offer's report");
  testutil_lock();
  g_assert_cmpint(answer.last_error, ==, P2PSIG_EUNAUTHORIZED);
  g_assert_nonnull(strstr(answer.last_message, "wrong Bearer token"));
  g_assert_cmpint(offer.last_error, ==, P2PSIG_EUNAUTHORIZED);
  g_assert_nonnull(strstr(offer.last_message, "401"));
  testutil_unlock();
  /* on_status: final for the offer, with the status; served for the
   * answer. */
  TESTUTIL_WAIT(offer.finals >= 1 && answer.served >= 1, TIMEOUT_MS,
                "on_status");
  testutil_lock();
  g_assert_cmpuint(offer.last_final.http_status, ==, 401);
  g_assert_cmpint(offer.last_final.error, ==, P2PSIG_EUNAUTHORIZED);
  g_assert_cmpuint(offer.last_final.retry_in_ms, ==, 0);
  g_assert_true(g_str_has_prefix(offer.last_final_url, "http://"));
  g_assert_nonnull(strstr(offer.last_final_url, answer_addr));
  g_assert_true(g_str_has_suffix(offer.last_final_url, "/sdp"));
  g_assert_cmpint(offer.retries, ==, 0);
  g_assert_cmpint(answer.finals, ==, 0);
  testutil_unlock();

  g_usleep(500 * 1000);
  g_assert_cmpint(side_errors(&answer), ==, 1);
  g_assert_cmpint(side_errors(&offer), ==, 1);

  side_clear(&offer);
  side_clear(&answer);
}

static void
add_extension(X509 *cert, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  g_assert_nonnull(ext);
  g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
  X509_EXTENSION_free(ext);
}

/* Writes dir/name.crt, a self-signed P-256 certificate for localhost and
 * 127.0.0.1, and dir/name.key, its key, in PEM. */
static void
make_certificate(const char *dir, const char *name, char **cert_path,
                 char **key_path)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  X509_NAME *subject;
  BIO *out;

  g_assert_nonnull(key);
  g_assert_nonnull(cert);
  g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), g_random_int_range(1, 1 << 30));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  g_assert_cmpint(X509_set_pubkey(cert, key), ==, 1);
  subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             (const unsigned char *)name, -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);

  *cert_path = g_strdup_printf("%s/%s.crt", dir, name);
  *key_path = g_strdup_printf("%s/%s.key", dir, name);
  out = BIO_new_file(*cert_path, "w");
  g_assert_nonnull(out);
  g_assert_cmpint(PEM_write_bio_X509(out, cert), ==, 1);
  BIO_free(out);
  out = BIO_new_file(*key_path, "w");
  g_assert_nonnull(out);
  g_assert_cmpint(PEM_write_bio_PrivateKey(out, key, NULL, NULL, 0, NULL,
                                           NULL), ==, 1);
  BIO_free(out);
  X509_free(cert);
  EVP_PKEY_free(key);
}

/* Two self-signed certificates, "alpha" and "beta", in a directory of
 * their own. */
struct certs {
  char *dir;
  char *alpha_crt, *alpha_key;
  char *beta_crt, *beta_key;
};

static bool
certs_make(struct certs *c)
{
  g_autoptr(GError) error = NULL;

  memset(c, 0, sizeof *c);
  if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
    g_test_skip("GIO has no TLS backend (install glib-networking)");
    return false;
  }
  c->dir = g_dir_make_tmp("p2psig-tls-XXXXXX", &error);
  g_assert_no_error(error);
  make_certificate(c->dir, "alpha", &c->alpha_crt, &c->alpha_key);
  make_certificate(c->dir, "beta", &c->beta_crt, &c->beta_key);
  return true;
}

static void
certs_clear(struct certs *c)
{
  char *files[] = {c->alpha_crt, c->alpha_key, c->beta_crt, c->beta_key};

  for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
    g_assert_cmpint(g_remove(files[i]), ==, 0);
    g_free(files[i]);
  }
  g_assert_cmpint(g_rmdir(c->dir), ==, 0);
  g_free(c->dir);
}

/* Both roles serve HTTPS, each with its own certificate, trust the other's
 * and require the token: they connect.  A plain HTTP client, or one that
 * does not trust the certificate, gets no response. */
static void
test_https(void)
{
  struct certs c;
  struct side offer, answer;
  uint16_t answer_port = free_port();
  g_autofree char *answer_addr = loopback_address(answer_port);
  g_autofree char *offer_addr = NULL;
  g_autofree char *https = g_strdup_printf("https://127.0.0.1:%u",
                                           answer_port);
  g_autofree char *http = g_strdup_printf("http://127.0.0.1:%u", answer_port);
  g_autoptr(GTlsDatabase) answer_ca = NULL;
  g_autoptr(GError) error = NULL;
  struct security offer_sec, answer_sec;
  int answer_errors;

  if (!certs_make(&c))
    return;
  offer_sec = (struct security){TOKEN, c.alpha_crt, c.alpha_key, c.beta_crt,
                                true};
  answer_sec = (struct security){TOKEN, c.beta_crt, c.beta_key, c.alpha_crt,
                                 true};
  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &offer_sec);
  offer_addr = loopback_address(side_port(&offer));
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr,
                     &answer_sec);

  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  check_connected(&offer, &answer, "https");
  g_assert_cmpint(side_errors(&offer), ==, 0);
  g_assert_cmpint(side_errors(&answer), ==, 0);

  /* Plain HTTP to the HTTPS server: no response. */
  g_assert_cmpuint(http_send(http, NULL, BEARER, "POST", "/candidate", "", -1,
                             NULL, NULL, &error), ==, 0);
  g_test_message("plain HTTP: %s", error->message);
  g_clear_error(&error);
  /* HTTPS without trusting the certificate (system store): refused. */
  g_assert_cmpuint(http_send(https, NULL, BEARER, "POST", "/candidate", "",
                             -1, NULL, NULL, &error), ==, 0);
  g_test_message("untrusted: %s", error->message);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);

  /* Trusting it: the token is still required. */
  answer_ca = g_tls_file_database_new(c.beta_crt, &error);
  g_assert_no_error(error);
  expect_unauthorized(&answer, https, answer_ca, NULL, "POST", "/candidate",
                      "");
  answer_errors = side_errors(&answer);
  g_assert_cmpuint(authorized_request(https, answer_ca, BEARER, "POST",
                                      "/candidate", ""), ==, SOUP_STATUS_OK);
  g_assert_cmpint(side_errors(&answer), ==, answer_errors);
  check_connected(&offer, &answer, "https again");

  side_clear(&offer);
  side_clear(&answer);
  certs_clear(&c);
}

/* Waits for the offer's one report, checks that it says why, and that no
 * retry follows. */
static void
expect_tls_failure(struct side *offer, struct side *answer, const char *why)
{
  g_assert_cmpint(p2psig_signaling_start(offer->sig), ==, 0);
  TESTUTIL_WAIT(offer->errors >= 1, TIMEOUT_MS, "offer's TLS failure");
  testutil_lock();
  g_assert_cmpint(offer->last_error, ==, P2PSIG_ENETWORK);
  g_assert_nonnull(strstr(offer->last_message, "POST https://127.0.0.1:"));
  g_assert_nonnull(strstr(offer->last_message, why));
  testutil_unlock();
  /* Not retried: backoff would have tried again within 50 + 100 ms. */
  g_usleep(500 * 1000);
  g_assert_cmpint(side_errors(offer), ==, 1);
  g_assert_cmpint(side_errors(answer), ==, 0);
  testutil_lock();
  g_assert_cmpint(offer->base.state, ==, P2PSIG_STATE_NEW);
  /* Final, without a response, and never a retry. */
  g_assert_cmpint(offer->finals, ==, 1);
  g_assert_cmpuint(offer->last_final.http_status, ==, 0);
  g_assert_cmpint(offer->last_final.error, ==, P2PSIG_ENETWORK);
  g_assert_true(g_str_has_prefix(offer->last_final_url, "https://"));
  g_assert_cmpint(offer->retries, ==, 0);
  testutil_unlock();
}

/* Answers any connection with a plain HTTP 400 at once, as Go's net/http
 * answers a TLS handshake on a plain port.  (libsoup's server waits for the
 * end of the headers: a TLS client then times out and retries.) */
static gboolean
reply_plain_400(GSocketService *service, GSocketConnection *conn,
                GObject *source, gpointer data)
{
  static const char reply[] =
      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
                            reply, sizeof reply - 1, NULL, NULL, NULL);
  g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
  return TRUE;
}

/* The offer trusts the wrong certificate, then expects HTTPS from a plain
 * HTTP server: each POST fails once, reported as P2PSIG_ENETWORK. */
static void
test_https_refused(void)
{
  struct certs c;
  struct side offer, answer;
  g_autofree char *answer_addr = NULL;
  struct security offer_sec, answer_sec;
  GMainContext *context;
  GMainLoop *loop;
  GSocketService *service;
  GThread *thread;
  uint16_t plain_port;

  if (!certs_make(&c))
    return;
  offer_sec = (struct security){.ca = c.beta_crt, .remote = true};
  answer_sec = (struct security){.certificate = c.alpha_crt,
                                 .key = c.alpha_key};

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                     "127.0.0.1:9", &answer_sec);
  answer_addr = loopback_address(side_port(&answer));
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &offer_sec);
  expect_tls_failure(&offer, &answer, "not signed by a trusted CA");
  side_clear(&offer);
  side_clear(&answer);

  context = g_main_context_new();
  loop = g_main_loop_new(context, FALSE);
  g_main_context_push_thread_default(context);
  service = g_socket_service_new();
  plain_port = g_socket_listener_add_any_inet_port(G_SOCKET_LISTENER(service),
                                                   NULL, NULL);
  g_assert_cmpuint(plain_port, !=, 0);
  g_signal_connect(service, "incoming", G_CALLBACK(reply_plain_400), NULL);
  g_main_context_pop_thread_default(context);
  thread = g_thread_new("plain", silent_server_thread, loop);

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  side_listen(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  g_free(answer_addr);
  answer_addr = loopback_address(plain_port);
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &offer_sec);
  expect_tls_failure(&offer, &answer, "TLS");
  side_clear(&offer);
  side_clear(&answer);

  g_main_context_invoke(context, quit_loop, loop);
  g_thread_join(thread);
  g_socket_service_stop(service);
  g_socket_listener_close(G_SOCKET_LISTENER(service));
  g_object_unref(service);
  g_main_loop_unref(loop);
  g_main_context_unref(context);
  certs_clear(&c);
}

/* ---- hostile servers and clients ---- */

enum fake_mode {
  FAKE_ENDLESS, /* a 400 whose body goes on until FAKE_ENDLESS_LIMIT */
  FAKE_TRICKLE, /* a 200, one byte a second, for ever */
};

#define FAKE_ENDLESS_LIMIT (128 * 1024 * 1024)

/* An "answer" on 127.0.0.1 that reads each POST's head and answers as its
 * mode says, one thread per connection. */
struct fake {
  enum fake_mode mode;
  GSocket *listener;
  uint16_t port;
  GThread *thread;
  GPtrArray *threads;     /* the connections' */
  gint stop;              /* atomic */
  /* Under the testutil lock: */
  int accepted;
  gint64 accept_time[2];  /* of the first two connections */
  guint64 sent;           /* body bytes, FAKE_ENDLESS */
  bool client_closed;     /* a send failed other than by timing out */
};

struct fake_conn {
  struct fake *fake;
  GSocket *socket;
};

/* Reads a request's head, and its body when it has a Content-Length. */
static void
fake_read_request(GSocket *socket)
{
  GString *in = g_string_new(NULL);
  char buf[4096];
  gssize n;
  char *end;

  while (!(end = strstr(in->str, "\r\n\r\n")) &&
         (n = g_socket_receive(socket, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len(in, buf, n);
  if (end) {
    const char *cl = strstr(in->str, "Content-Length: ");
    size_t want = (size_t)(end + 4 - in->str) +
                  (cl ? strtoul(cl + 16, NULL, 10) : 0);

    while (in->len < want &&
           (n = g_socket_receive(socket, buf, sizeof buf, NULL, NULL)) > 0)
      g_string_append_len(in, buf, n);
  }
  g_string_free(in, TRUE);
}

static bool
fake_send(struct fake *fake, GSocket *socket, const char *data, size_t len)
{
  g_autoptr(GError) error = NULL;

  while (len > 0) {
    gssize n = g_socket_send(socket, data, len, NULL, &error);

    if (n <= 0) {
      testutil_lock();
      fake->client_closed |= !g_error_matches(error, G_IO_ERROR,
                                              G_IO_ERROR_TIMED_OUT);
      testutil_unlock();
      return false;
    }
    data += n;
    len -= (size_t)n;
  }
  return true;
}

static gpointer
fake_conn_thread(gpointer data)
{
  struct fake_conn *fc = data;
  struct fake *fake = fc->fake;
  static const char endless_head[] =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
      "Connection: close\r\n\r\nendless reason\n";
  static const char trickle[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

  g_socket_set_timeout(fc->socket, 10);
  fake_read_request(fc->socket);
  if (fake->mode == FAKE_ENDLESS) {
    g_autofree char *x = g_strnfill(64 * 1024, 'x');
    guint64 sent = 0;

    if (fake_send(fake, fc->socket, endless_head, sizeof endless_head - 1))
      while (sent < FAKE_ENDLESS_LIMIT && !g_atomic_int_get(&fake->stop) &&
             fake_send(fake, fc->socket, x, 64 * 1024))
        sent += 64 * 1024;
    testutil_lock();
    fake->sent += sent;
    testutil_unlock();
  } else {
    /* The rate is the point: libsoup's timeout counts idle time. */
    for (size_t i = 0; i < sizeof trickle - 1 &&
                       !g_atomic_int_get(&fake->stop) &&
                       fake_send(fake, fc->socket, trickle + i, 1);
         i++)
      g_usleep(G_USEC_PER_SEC);
  }
  g_socket_close(fc->socket, NULL);
  g_object_unref(fc->socket);
  g_free(fc);
  return NULL;
}

static gpointer
fake_thread(gpointer data)
{
  struct fake *fake = data;

  while (!g_atomic_int_get(&fake->stop)) {
    g_autoptr(GError) error = NULL;
    GSocket *socket = g_socket_accept(fake->listener, NULL, &error);
    struct fake_conn *fc;

    if (!socket)
      continue; /* timed out: look at stop again */
    testutil_lock();
    if (fake->accepted < 2)
      fake->accept_time[fake->accepted] = g_get_monotonic_time();
    fake->accepted++;
    testutil_unlock();
    fc = g_new0(struct fake_conn, 1);
    fc->fake = fake;
    fc->socket = socket;
    g_ptr_array_add(fake->threads,
                    g_thread_new("fake-conn", fake_conn_thread, fc));
  }
  return NULL;
}

static void
fake_start(struct fake *fake, enum fake_mode mode)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  memset(fake, 0, sizeof *fake);
  fake->mode = mode;
  fake->threads = g_ptr_array_new();
  fake->listener = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_true(g_socket_bind(fake->listener, addr, TRUE, NULL));
  g_assert_true(g_socket_listen(fake->listener, NULL));
  g_socket_set_timeout(fake->listener, 1);
  bound = g_socket_get_local_address(fake->listener, NULL);
  fake->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  fake->thread = g_thread_new("fake", fake_thread, fake);
}

static void
fake_stop(struct fake *fake)
{
  g_atomic_int_set(&fake->stop, 1);
  g_thread_join(fake->thread);
  for (unsigned i = 0; i < fake->threads->len; i++)
    g_thread_join(fake->threads->pdata[i]);
  g_ptr_array_unref(fake->threads);
  g_socket_close(fake->listener, NULL);
  g_object_unref(fake->listener);
}

/* The peak resident set size so far (VmHWM): a body read whole and freed
 * before we look still shows. */
static guint64
peak_rss_bytes(void)
{
  g_autofree char *status = NULL;
  const char *hwm;

  g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL,
                                    NULL));
  hwm = strstr(status, "VmHWM:");
  g_assert_nonnull(hwm);
  return g_ascii_strtoull(hwm + 6, NULL, 10) * 1024;
}

/* An answer that answers the offer with a 400 and a body without end: the
 * offer reads the first few KiB for its report and closes. */
static void
test_endless_response(void)
{
  struct fake fake;
  struct side offer;
  g_autofree char *addr = NULL;
  guint64 before, after;

  fake_start(&fake, FAKE_ENDLESS);
  addr = loopback_address(fake.port);
  side_init(&offer, "offer", true);
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", addr);
  before = peak_rss_bytes();
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  TESTUTIL_WAIT(offer.errors >= 1, TIMEOUT_MS, "offer's report");
  after = peak_rss_bytes();
  testutil_lock();
  g_assert_cmpint(offer.last_error, ==, P2PSIG_EHTTP);
  g_assert_nonnull(strstr(offer.last_message, "400 Bad Request"));
  g_assert_nonnull(strstr(offer.last_message, "endless reason"));
  testutil_unlock();
  g_test_message("peak RSS %" G_GUINT64_FORMAT " KiB before, %"
                 G_GUINT64_FORMAT " KiB after", before / 1024, after / 1024);
  g_assert_cmpuint(after, <, before + 16 * 1024 * 1024);

  side_clear(&offer);
  /* Before fake_stop: its stop flag could end the send loop before a
   * send saw the offer's close (seen once in a whole-suite run). */
  TESTUTIL_WAIT(fake.client_closed || fake.sent >= FAKE_ENDLESS_LIMIT,
                TIMEOUT_MS, "the fake answer to see the offer's close");
  fake_stop(&fake);
  /* It stopped because the offer closed the connection. */
  g_test_message("the answer sent %" G_GUINT64_FORMAT " KiB", fake.sent / 1024);
  g_assert_true(fake.client_closed);
  g_assert_cmpuint(fake.sent, <, FAKE_ENDLESS_LIMIT);
}

/* An answer that sends its response a byte a second: the POST is
 * abandoned at its deadline, and retried. */
static void
test_trickled_response(void)
{
  struct fake fake;
  struct side offer;
  g_autofree char *addr = NULL;
  unsigned saved = p2psig__signal_limits.post_deadline_ms;
  gint64 took;

  fake_start(&fake, FAKE_TRICKLE);
  addr = loopback_address(fake.port);
  side_init(&offer, "offer", true);
  p2psig__signal_limits.post_deadline_ms = 2000;
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", addr);
  p2psig__signal_limits.post_deadline_ms = saved;
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);

  TESTUTIL_WAIT(fake.accepted >= 2, 10000, "the POST tried again");
  testutil_lock();
  took = fake.accept_time[1] - fake.accept_time[0];
  testutil_unlock();
  g_test_message("retried after %" G_GINT64_FORMAT " ms", took / 1000);
  g_assert_cmpint(took, >=, 1900 * 1000);
  g_assert_cmpint(took, <, 5000 * 1000);
  /* Retried like a timeout, not reported. */
  g_assert_cmpint(side_errors(&offer), ==, 0);

  side_clear(&offer);
  fake_stop(&fake);
}

/* A client that closes its side, before a byte or mid-line, is let go at
 * once (not at the header timeout): the server closes too. */
static void
test_client_eof(void)
{
  struct side answer;
  static const char *const sent[] = {"", "G", "POST /sdp HTTP/1.1\r\n"};

  side_init(&answer, "answer", false);
  side_listen(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  for (size_t i = 0; i < G_N_ELEMENTS(sent); i++) {
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GError) error = NULL;
    GSocket *socket;
    char buf[256];

    g_socket_client_set_enable_proxy(client, FALSE);
    conn = g_socket_client_connect_to_host(client, "127.0.0.1",
                                           side_port(&answer), NULL, &error);
    g_assert_no_error(error);
    socket = g_socket_connection_get_socket(conn);
    g_socket_send(socket, sent[i], strlen(sent[i]), NULL, NULL);
    g_assert_true(g_socket_shutdown(socket, FALSE, TRUE, NULL));
    /* Half the header timeout: not the timer's doing. */
    g_assert_true(g_socket_condition_timed_wait(
        socket, G_IO_IN, P2PSIG_SIGNAL_HEADER_TIMEOUT_MS * 1000 / 2, NULL,
        NULL));
    while (g_socket_receive(socket, buf, sizeof buf, NULL, NULL) > 0)
      ;
  }
  side_clear(&answer);
}

/* A connection sending its headers a byte at a time is closed at the
 * header timeout. */
static void
test_slow_headers(void)
{
  struct side answer;
  unsigned saved = p2psig__signal_limits.header_timeout_ms;
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  static const char head[] =
      "POST /sdp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  GSocket *socket;
  gint64 start, closed = 0;
  char c;

  side_init(&answer, "answer", false);
  p2psig__signal_limits.header_timeout_ms = 1000;
  side_listen(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  p2psig__signal_limits.header_timeout_ms = saved;

  conn = g_socket_client_connect_to_host(client, "127.0.0.1",
                                         side_port(&answer), NULL, &error);
  g_assert_no_error(error);
  socket = g_socket_connection_get_socket(conn);
  start = g_get_monotonic_time();
  for (size_t i = 0; i < sizeof head - 1 && !closed; i++) {
    g_socket_send(socket, head + i, 1, NULL, NULL);
    /* The next byte in 200 ms, unless the server closes first. */
    if (g_socket_condition_timed_wait(socket, G_IO_IN, 200 * 1000, NULL,
                                      NULL) &&
        g_socket_receive(socket, &c, 1, NULL, NULL) <= 0)
      closed = g_get_monotonic_time();
  }
  g_assert_cmpint(closed, !=, 0);
  g_test_message("closed after %" G_GINT64_FORMAT " ms",
                 (closed - start) / 1000);
  g_assert_cmpint(closed - start, >=, 900 * 1000);
  g_assert_cmpint(closed - start, <, 3000 * 1000);
  g_assert_cmpint(side_errors(&answer), ==, 0);

  side_clear(&answer);
}

#define FLOOD_IDLE 1000
#define FLOOD_SLOW 100

/* In a child process, so that its descriptors are not the server's: opens
 * FLOOD_IDLE connections that send nothing and FLOOD_SLOW that send a
 * header byte a second (or as many as the server takes: it stops at the
 * first connect that times out), writes a byte to ready, and exits when
 * the parent closes its end of quit.  Plain system calls only: the parent
 * has threads. */
static G_NORETURN void
flood_child(uint16_t port, int ready, int quit)
{
  static int fds[FLOOD_IDLE + FLOOD_SLOW];
  struct timeval two_s = {.tv_sec = 2};
  static const char head[] = "POST /sdp HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ";
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
  struct rlimit rl;
  struct pollfd pfd = {.fd = quit, .events = POLLIN};
  size_t sent = 0;

  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  for (int i = 0; i < FLOOD_IDLE + FLOOD_SLOW; i++)
    fds[i] = -1;
  for (int i = 0; i < FLOOD_IDLE + FLOOD_SLOW; i++) {
    if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0)
      _exit(1);
    /* Bounds connect() too, on Linux. */
    setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &two_s, sizeof two_s);
    if (connect(fds[i], (struct sockaddr *)&sin, sizeof sin) < 0)
      break;
  }
  if (write(ready, "r", 1) != 1)
    _exit(1);
  /* A header byte a second, until told to stop. */
  while (poll(&pfd, 1, 1000) == 0) {
    char c = sent < sizeof head - 1 ? head[sent] : 'a';

    for (int i = FLOOD_IDLE; i < FLOOD_IDLE + FLOOD_SLOW; i++)
      if (fds[i] >= 0)
        (void)send(fds[i], &c, 1, MSG_NOSIGNAL);
    sent++;
  }
  _exit(0);
}

static bool
answer_has_offer(void *data)
{
  return p2psig__peer_has_remote_description(data);
}

/* With the descriptor limit of a default shell (1024), another process
 * holds more connections to the answer than it has descriptors, idle or
 * sending a header byte a second: the real offer still gets its SDP
 * through at once, though none of them times out. */
static void
test_connection_flood(void)
{
  struct side offer, answer;
  g_autofree char *answer_addr = NULL;
  g_autofree char *offer_addr = NULL;
  unsigned saved_header = p2psig__signal_limits.header_timeout_ms;
  struct rlimit saved, low;
  int ready[2], quit[2], status;
  gint64 start;
  pid_t child;
  char c;

  g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = MIN(saved.rlim_cur, 1024);
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);

  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  answer_addr = loopback_address(free_port());
  side_listen(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr);
  offer_addr = loopback_address(side_port(&offer));
  /* No header timeout within the test: only making room lets it in. */
  p2psig__signal_limits.header_timeout_ms = 60000;
  side_listen(&answer, P2PSIG_ROLE_ANSWER, answer_addr, offer_addr);
  p2psig__signal_limits.header_timeout_ms = saved_header;

  g_assert_cmpint(pipe(ready), ==, 0);
  g_assert_cmpint(pipe(quit), ==, 0);
  child = fork();
  g_assert_cmpint(child, >=, 0);
  if (child == 0) {
    close(ready[0]);
    close(quit[1]);
    flood_child(side_port(&answer), ready[1], quit[0]);
  }
  close(ready[1]);
  close(quit[0]);
  g_assert_cmpint(read(ready[0], &c, 1), ==, 1);

  start = g_get_monotonic_time();
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  testutil_wait_for(answer_has_offer, answer.base.peer, 4000,
                    "the offer at the answer");
  g_test_message("offer in after %" G_GINT64_FORMAT " ms",
                 (g_get_monotonic_time() - start) / 1000);
  check_connected(&offer, &answer, "flood");

  close(quit[1]);
  g_assert_cmpint(waitpid(child, &status, 0), ==, child);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  close(ready[0]);
  side_clear(&offer);
  side_clear(&answer);
  g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
}

struct honest {
  const char *base;
  GTlsDatabase *ca;
  unsigned status;  /* under the testutil lock */
  bool done;
};

static gpointer
honest_thread(gpointer data)
{
  struct honest *h = data;
  g_autofree char *body = NULL;
  g_autoptr(GError) error = NULL;
  unsigned status = http_send(h->base, h->ca, NULL, "POST", "/candidate", "",
                              -1, &body, NULL, &error);

  if (error)
    g_test_message("honest client: %s", error->message);
  testutil_lock();
  h->status = status;
  h->done = true;
  testutil_unlock();
  return NULL;
}

/* More half-open connections to an HTTPS answer than it takes (TCP only,
 * no TLS hello), and more that start a hello and stop than handshakes may
 * run: an honest HTTPS client is served, though none of them times out. */
static void
test_tls_half_open(void)
{
  struct certs c;
  struct side answer;
  struct security sec;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func(g_object_unref);
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  struct p2psig__signal_limits saved = p2psig__signal_limits;
  struct honest h = {0};
  GThread *thread;
  gint64 start;

  if (!certs_make(&c))
    return;
  sec = (struct security){.certificate = c.alpha_crt, .key = c.alpha_key};
  side_init(&answer, "answer", false);
  /* Timeouts past the test's end: only making room can let it in. */
  p2psig__signal_limits.handshake_timeout_ms = 60000;
  p2psig__signal_limits.header_timeout_ms = 60000;
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                     "127.0.0.1:9", &sec);
  p2psig__signal_limits = saved;
  base = g_strdup_printf("https://127.0.0.1:%u", side_port(&answer));

  /* A server that stops accepting fails the test here; libproxy would
   * wait for GTask's pool, which the old server's handshakes filled. */
  g_socket_client_set_timeout(client, 5);
  g_socket_client_set_enable_proxy(client, FALSE);
  for (int i = 0; i < 106; i++) {
    GSocketConnection *conn = g_socket_client_connect_to_host(
        client, "127.0.0.1", side_port(&answer), NULL, &error);

    g_assert_no_error(error);
    /* The first byte of a TLS record: a handshake starts, and waits. */
    if (i >= 100)
      g_socket_send(g_socket_connection_get_socket(conn), "\x16", 1, NULL,
                    NULL);
    g_ptr_array_add(held, conn);
  }

  ca = g_tls_file_database_new(c.alpha_crt, &error);
  g_assert_no_error(error);
  h.base = base;
  h.ca = ca;
  start = g_get_monotonic_time();
  thread = g_thread_new("honest", honest_thread, &h);
  /* Each one-byte hello costs a TLS set-up (milliseconds, seconds under
   * AddressSanitizer with full unwinding) before the honest one's. */
  TESTUTIL_WAIT(h.done, TIMEOUT_MS, "the honest HTTPS client served");
  g_thread_join(thread);
  g_test_message("served after %" G_GINT64_FORMAT " ms",
                 (g_get_monotonic_time() - start) / 1000);
  g_assert_cmpuint(h.status, ==, SOUP_STATUS_OK);

  g_clear_pointer(&held, g_ptr_array_unref);
  side_clear(&answer);
  certs_clear(&c);
}

/* A Content-Length that is negative or too long for 64 bits: libsoup 3.2
 * took it as a negative length and warned (fatal here); now 400. */
static void
test_bad_content_length(void)
{
  struct side answer;
  static const char *const lengths[] = {
    "-75", " -1", "99999999999999999999", "1234567890123456789",
    "\r\n -5", /* a continuation line */
  };
  g_autofree char *body = NULL;

  side_init(&answer, "answer", false);
  side_listen(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
    g_autofree char *head = g_strdup_printf(
        "POST /candidate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-length:%s\r\n\r\ncandidate", lengths[i]);
    g_autofree char *shown = g_strescape(lengths[i], NULL);

    g_test_message("Content-Length: %s", shown);
    g_clear_pointer(&body, g_free);
    g_assert_cmpuint(raw_request(side_port(&answer), head, NULL, 0, NULL,
                                 &body), ==, SOUP_STATUS_BAD_REQUEST);
  }
  /* 18 digits are still a length (refused as too big, before the body
   * with Expect). */
  g_clear_pointer(&body, g_free);
  g_assert_cmpuint(raw_request(side_port(&answer),
                               "POST /candidate HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\nExpect: 100-continue\r\n"
                               "Content-Length: 123456789012345678\r\n\r\n",
                               NULL, 0, NULL, &body), ==,
                   SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE);
  g_clear_pointer(&body, g_free);
  g_assert_cmpuint(http_request(side_port(&answer), "POST", "/candidate", "",
                                0, &body, NULL), ==, SOUP_STATUS_OK);

  side_clear(&answer);
}

/* Candidates posted before the offer are kept by the peer: only so many. */
static void
test_candidate_cap(void)
{
  struct side answer;
  unsigned saved = p2psig__signal_limits.max_candidates;
  g_autofree char *body = NULL;

  side_init(&answer, "answer", false);
  p2psig__signal_limits.max_candidates = 20;
  side_listen(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0", "127.0.0.1:9");
  p2psig__signal_limits.max_candidates = saved;

  for (unsigned i = 0; i < 20; i++) {
    g_autofree char *candidate = g_strdup_printf(
        "candidate:%u 1 udp 2122260223 127.0.0.1 %u typ host", i, 40000 + i);

    g_clear_pointer(&body, g_free);
    g_assert_cmpuint(http_request(side_port(&answer), "POST", "/candidate",
                                  candidate, -1, &body, NULL), ==,
                     SOUP_STATUS_OK);
  }
  expect_refusal(&answer, "POST", "/candidate",
                 "candidate:99 1 udp 2122260223 127.0.0.1 9999 typ host", -1,
                 SOUP_STATUS_BAD_REQUEST, P2PSIG_ECANDIDATE);
  testutil_lock();
  g_assert_nonnull(strstr(answer.last_message, "too many candidates"));
  testutil_unlock();
  /* The end of candidates still is. */
  g_clear_pointer(&body, g_free);
  g_assert_cmpuint(http_request(side_port(&answer), "POST", "/candidate", "",
                                0, &body, NULL), ==, SOUP_STATUS_OK);

  side_clear(&answer);
}

/* An HTTPS answer that cuts every handshake (its timeout 1 ms): the offer
 * retries, as for a connection error, and reports nothing. */
static void
test_handshake_cut(void)
{
  struct certs c;
  struct side offer, answer;
  struct security offer_sec, answer_sec;
  g_autofree char *answer_addr = NULL;
  unsigned saved = p2psig__signal_limits.handshake_timeout_ms;

  if (!certs_make(&c))
    return;
  offer_sec = (struct security){.ca = c.alpha_crt, .remote = true};
  answer_sec = (struct security){.certificate = c.alpha_crt,
                                 .key = c.alpha_key};
  side_init(&offer, "offer", true);
  side_init(&answer, "answer", false);
  p2psig__signal_limits.handshake_timeout_ms = 1;
  side_listen_secure(&answer, P2PSIG_ROLE_ANSWER, "127.0.0.1:0",
                     "127.0.0.1:9", &answer_sec);
  p2psig__signal_limits.handshake_timeout_ms = saved;
  answer_addr = loopback_address(side_port(&answer));
  side_listen_secure(&offer, P2PSIG_ROLE_OFFER, "127.0.0.1:0", answer_addr,
                     &offer_sec);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  /* Several tries: backoff 50, 100, 200, 400 ms. */
  g_usleep(1000 * 1000);
  g_assert_cmpint(side_errors(&offer), ==, 0);
  g_assert_cmpint(side_errors(&answer), ==, 0);

  side_clear(&offer);
  side_clear(&answer);
  certs_clear(&c);
}

/* An answer's configuration on listen with sec. */
static p2psig_signaling_config
secure_config(const char *listen, const struct security *sec)
{
  return (p2psig_signaling_config){
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_ANSWER,
    .listen_address = listen,
    .remote_address = "127.0.0.1:9",
    .token = sec->token,
    .tls_certificate = sec->certificate,
    .tls_key = sec->key,
    .tls_ca = sec->ca,
    .tls_remote = sec->remote,
  };
}

static int
try_secure(p2psig_peer *peer, const struct security *sec)
{
  p2psig_signaling_config config = secure_config("127.0.0.1:0", sec);
  int error = 12345;
  p2psig_signaling *sig = p2psig_signaling_new(peer, &config, &error);

  if (!sig) {
    g_assert_cmpint(error, <, 0);
    return error;
  }
  p2psig_signaling_free(sig);
  return 0;
}

/* What on_status got from a p2psig_signaling_new() that failed. */
struct new_status {
  int calls;
  bool final;
  int error;
  char *reason;
};

static void
on_new_status(p2psig_signaling *sig, const p2psig_signaling_status *status,
              void *user_data)
{
  struct new_status *got = user_data;

  /* On the caller's thread, before new() returns: no lock needed. */
  g_assert_null(sig);
  g_assert_null(status->url);
  got->calls++;
  got->final = status->final;
  got->error = status->error;
  g_free(got->reason);
  got->reason = g_strdup(status->reason);
}

/* Fails p2psig_signaling_new() for an answer on listen with sec and
 * returns what on_status said; g_free. */
static char *
new_reason(p2psig_peer *peer, const char *listen, const struct security *sec)
{
  struct new_status got = {0};
  p2psig_signaling_config config = secure_config(listen, sec);
  int error = 0;

  config.on_status = on_new_status;
  config.user_data = &got;

  g_assert_null(p2psig_signaling_new(peer, &config, &error));
  g_assert_cmpint(got.calls, ==, 1);
  g_assert_true(got.final);
  g_assert_cmpint(got.error, ==, error);
  g_test_message("refused: %s", got.reason);
  return got.reason;
}

/* p2psig_signaling_new() says why it fails, without debug logs: the
 * address in use with the system's words, the TLS file and what is wrong
 * with it, the token. */
static void
test_new_reasons(void)
{
  struct testutil_side side;
  struct certs c;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) taken = g_socket_new(G_SOCKET_FAMILY_IPV4,
                                          G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *taken_addr = NULL;
  g_autofree char *expect = NULL;
  g_autofree char *missing = NULL;
  char *reason;

  testutil_side_init(&side, "config", NULL, NULL);
  g_assert_no_error(error);
  g_assert_true(g_socket_bind(taken, any_port, FALSE, &error));
  g_assert_true(g_socket_listen(taken, &error));
  bound = g_socket_get_local_address(taken, &error);
  g_assert_no_error(error);
  taken_addr = loopback_address(
      g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));

  expect = g_strdup_printf("cannot listen on %s: %s", taken_addr,
                           g_strerror(EADDRINUSE));
  reason = new_reason(side.peer, taken_addr, &(struct security){0});
  g_assert_cmpstr(reason, ==, expect);
  g_free(reason);

  reason = new_reason(side.peer, "127.0.0.1:0",
                      &(struct security){.token = "a b"});
  g_assert_nonnull(strstr(reason, "token holds a space"));
  g_free(reason);
  reason = new_reason(side.peer, "127.0.0.1:0",
                      &(struct security){.token = ""});
  g_assert_cmpstr(reason, ==, "the token is empty");
  g_free(reason);
  reason = new_reason(side.peer, "nonsense", &(struct security){0});
  g_assert_nonnull(strstr(reason, "bad listen address \"nonsense\""));
  g_free(reason);

  if (certs_make(&c)) {
    missing = g_build_filename(c.dir, "missing.pem", NULL);
    reason = new_reason(side.peer, "127.0.0.1:0", &(struct security){
        .certificate = missing, .key = c.alpha_key});
    g_assert_nonnull(strstr(reason, missing));
    g_assert_nonnull(strstr(reason, g_strerror(ENOENT)));
    g_free(reason);
    reason = new_reason(side.peer, "127.0.0.1:0", &(struct security){
        .certificate = c.alpha_crt, .key = c.beta_key});
    g_assert_nonnull(strstr(reason, "is not that of certificate"));
    g_free(reason);
    reason = new_reason(side.peer, "127.0.0.1:0", &(struct security){
        .ca = c.alpha_key, .remote = true});
    g_assert_nonnull(strstr(reason, c.alpha_key));
    g_free(reason);
    certs_clear(&c);
  }
  testutil_side_clear(&side);
}

/* Configurations refused with P2PSIG_EINVAL, good ones, and a caller built
 * against the 0.1 header (size without the new fields). */
static void
test_security_config(void)
{
  struct certs c;
  struct testutil_side side; /* a peer alone */
  g_autofree char *missing = NULL;
  const char *alpha, *alpha_key, *beta_key;
  p2psig_signaling_config old = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_ANSWER,
    .listen_address = "127.0.0.1:0",
    .remote_address = "127.0.0.1:9",
    /* Garbage that a 0.1 caller's struct does not have. */
    .token = "x y",
    .tls_certificate = "/nonexistent",
    .tls_ca = "/nonexistent",
  };
  p2psig_signaling *sig;
  g_autofree char *body = NULL;
  g_autofree char *cwd = NULL;
  int error = 0, rc;

  testutil_side_init(&side, "config", NULL, NULL);

  /* Tokens: empty, with spaces or control or non-ASCII bytes. */
  g_assert_cmpint(try_secure(side.peer, &(struct security){.token = ""}), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpint(try_secure(side.peer, &(struct security){.token = "a b"}),
                  ==, P2PSIG_EINVAL);
  g_assert_cmpint(try_secure(side.peer, &(struct security){.token = "a\r\n"}),
                  ==, P2PSIG_EINVAL);
  g_assert_cmpint(try_secure(side.peer,
                             &(struct security){.token = "caf\xc3\xa9"}),
                  ==, P2PSIG_EINVAL);
  g_assert_cmpint(try_secure(side.peer, &(struct security){.token = "~!x="}),
                  ==, 0);

  /* The 0.1 size: the fields after user_data are not read. */
  old.size = offsetof(p2psig_signaling_config, token);
  sig = p2psig_signaling_new(side.peer, &old, &error);
  g_assert_nonnull(sig);
  g_assert_cmpuint(http_request(p2psig_signaling_get_port(sig), "POST",
                                "/candidate", "", 0, &body, NULL), ==,
                   SOUP_STATUS_OK);
  p2psig_signaling_free(sig);

  if (!certs_make(&c)) {
    testutil_side_clear(&side);
    return;
  }
  alpha = c.alpha_crt;
  alpha_key = c.alpha_key;
  beta_key = c.beta_key;
  missing = g_build_filename(c.dir, "missing.pem", NULL);

  struct security bad[] = {
    {.certificate = alpha},                   /* no key */
    {.key = alpha_key},                       /* no certificate */
    {.ca = alpha},                            /* no tls_remote */
    {.certificate = missing, .key = alpha_key},
    {.certificate = alpha, .key = missing},
    {.certificate = alpha, .key = alpha},     /* not a key */
    {.certificate = alpha_key, .key = alpha_key}, /* not a certificate */
    {.certificate = alpha, .key = beta_key},  /* another's key */
    {.ca = missing, .remote = true},
    {.ca = alpha_key, .remote = true},        /* no certificate in it */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("bad TLS configuration %zu", i);
    g_assert_cmpint(try_secure(side.peer, &bad[i]), ==, P2PSIG_EINVAL);
  }
  g_assert_cmpint(try_secure(side.peer, &(struct security){
                      .certificate = alpha, .key = alpha_key}), ==, 0);
  g_assert_cmpint(try_secure(side.peer, &(struct security){.remote = true}),
                  ==, 0);
  g_assert_cmpint(try_secure(side.peer, &(struct security){
                      .ca = alpha, .remote = true}), ==, 0);
  /* Relative paths, as the tools pass them (GTlsFileDatabase warns, which
   * is fatal here, unless the library makes them absolute). */
  cwd = g_get_current_dir();
  g_assert_cmpint(g_chdir(c.dir), ==, 0);
  rc = try_secure(side.peer, &(struct security){
      .certificate = "alpha.crt", .key = "alpha.key", .ca = "beta.crt",
      .remote = true});
  g_assert_cmpint(g_chdir(cwd), ==, 0);
  g_assert_cmpint(rc, ==, 0);

  testutil_side_clear(&side);
  certs_clear(&c);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#ifdef __SANITIZE_ADDRESS__
  /* With tests/meson.build's full unwinding on every malloc, one GnuTLS
   * handshake takes seconds under AddressSanitizer, and more on a loaded
   * machine: the server's 5 s would cut the HTTPS tests' own. */
  p2psig__signal_limits.handshake_timeout_ms = 60000;
#endif

  g_test_add_func("/signaling/refusals-then-exchange",
                  test_refusals_then_exchange);
  g_test_add_func("/signaling/offer-before-answer", test_offer_before_answer);
  g_test_add_func("/signaling/ice-restart", test_ice_restart);
  g_test_add_func("/signaling/remote-refuses", test_remote_refuses);
  g_test_add_func("/signaling/callbacks-unlocked", test_callbacks_unlocked);
  g_test_add_func("/signaling/callback-blocks", test_callback_blocks);
  g_test_add_func("/signaling/addresses", test_addresses);
  g_test_add_func("/signaling/free-pending", test_free_pending);
  g_test_add_func("/signaling/token", test_token);
  g_test_add_func("/signaling/token-mismatch", test_token_mismatch);
  g_test_add_func("/signaling/long-request-line", test_long_request_line);
  g_test_add_func("/signaling/https", test_https);
  g_test_add_func("/signaling/https-refused", test_https_refused);
  g_test_add_func("/signaling/handshake-cut", test_handshake_cut);
  g_test_add_func("/signaling/security-config", test_security_config);
  g_test_add_func("/signaling/new-reasons", test_new_reasons);
  g_test_add_func("/signaling/endless-response", test_endless_response);
  g_test_add_func("/signaling/trickled-response", test_trickled_response);
  g_test_add_func("/signaling/slow-headers", test_slow_headers);
  g_test_add_func("/signaling/client-eof", test_client_eof);
  g_test_add_func("/signaling/connection-flood", test_connection_flood);
  g_test_add_func("/signaling/tls-half-open", test_tls_half_open);
  g_test_add_func("/signaling/candidate-cap", test_candidate_cap);
  g_test_add_func("/signaling/bad-content-length", test_bad_content_length);

  return g_test_run();
}
