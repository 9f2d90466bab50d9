/* SPDX-License-Identifier: MIT */
/*
 * One-round-trip signaling and what browsers need (lib/signaling*.c), over
 * 127.0.0.1: our offer in one round trip against our answer, which posts
 * nothing back; an offer against a fake answer of the test's own that
 * sends no candidate in its SDP, loses a poll's response and answers
 * another 503, so that only the polls retried from the same index can
 * connect, or whose answer or poll response is over the cap; a raw client
 * against our answer whose server-reflexive
 * candidate comes 2 s late from a STUN server of the test's (the poll
 * waits for it); sessions (409 for another, busy, replaced), the poll
 * wait and cap; ICE restart; CORS, the preflight, the token as a query
 * parameter; the page; the configuration checks.
 */
#include <p2psig/p2psig.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "signaling.h"
#include "testutil.h"

#define TIMEOUT_MS 20000
#define POLL_WAIT_MS 1500 /* the server's, shortened for the tests */
#define SESSION "0123456789abcdef0123456789abcdef"

/* ---- a peer and its signaling ---- */

struct side {
  struct testutil_side base;
  p2psig_signaling *sig;
  int errors;               /* on_error calls, under the lock */
  int last_error;
  char *last_message;
};

static void
on_error(p2psig_signaling *sig, int error, const char *message,
         void *user_data)
{
  struct side *side = user_data;

  g_test_message("%s: on_error %s: %s", side->base.name,
                 p2psig_error_name(error), message);
  testutil_lock();
  side->errors++;
  side->last_error = error;
  g_free(side->last_message);
  side->last_message = g_strdup(message);
  testutil_unlock();
}

static void
side_peer(struct side *side, const char *name, bool channel,
          const char *const *stun)
{
  p2psig_peer_config config = {P2PSIG_PEER_CONFIG_INIT, .ice_servers = stun};

  memset(side, 0, sizeof *side);
  testutil_side_init(&side->base, name, NULL, &config);
  if (channel)
    testutil_side_channel(&side->base, "data", NULL);
}

static int
side_signal(struct side *side, const p2psig_signaling_config *base)
{
  p2psig_signaling_config config = *base;
  int error = 0;

  config.size = sizeof config;
  config.on_error = on_error;
  config.user_data = side;
  side->sig = p2psig_signaling_new(side->base.peer, &config, &error);
  g_assert_true((side->sig != NULL) == (error == 0));
  return error;
}

static void
side_clear(struct side *side)
{
  p2psig_signaling_free(side->sig);
  side->sig = NULL;
  testutil_side_clear(&side->base);
  g_clear_pointer(&side->last_message, g_free);
}

static uint16_t
side_port(const struct side *side)
{
  return p2psig_signaling_get_port(side->sig);
}

/* Lock held. */
static bool
has_text(struct side *side, const char *text)
{
  for (unsigned i = 0; i < side->base.messages->len; i++) {
    struct testutil_message *m = side->base.messages->pdata[i];
    gsize n;
    const char *data = g_bytes_get_data(m->data, &n);

    if (n == strlen(text) && memcmp(data, text, n) == 0)
      return true;
  }
  return false;
}

/* Lock held. */
static bool
side_ready(struct side *side)
{
  return side->base.state == P2PSIG_STATE_CONNECTED && side->base.opened == 1;
}

static void
check_connected(struct side *offer, struct side *answer, const char *tag)
{
  g_autofree char *a = g_strdup_printf("to answer %s", tag);
  g_autofree char *o = g_strdup_printf("to offer %s", tag);

  TESTUTIL_WAIT(side_ready(offer), TIMEOUT_MS, "offer connected, open");
  TESTUTIL_WAIT(side_ready(answer), TIMEOUT_MS, "answer connected, open");
  g_assert_cmpint(p2psig_channel_send_text(offer->base.channel, a), ==, 0);
  g_assert_cmpint(p2psig_channel_send_text(answer->base.channel, o), ==, 0);
  TESTUTIL_WAIT(has_text(answer, a), TIMEOUT_MS, "message to the answer");
  TESTUTIL_WAIT(has_text(offer, o), TIMEOUT_MS, "message to the offer");
}

/* ---- a listening socket that must never be connected to ---- */

static int
quiet_listener(uint16_t *port)
{
  struct sockaddr_in addr = {.sin_family = AF_INET};
  socklen_t len = sizeof addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(listen(fd, 8), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

static bool
was_connected(int fd)
{
  int c = accept(fd, NULL, NULL);

  if (c >= 0)
    close(c);
  return c >= 0;
}

/* ---- a STUN server answering Binding requests late ---- */

/* It maps every client to 198.18.77.77 (the client's port), so that the
 * server-reflexive candidate differs from the host one. */
struct stun {
  int fd;
  uint16_t port;
  unsigned delay_ms;
  bool answer;             /* false: never answers */
  GThread *thread;
  gint stop;
};

static uint32_t
crc32(const uint8_t *p, size_t n)
{
  uint32_t c = 0xffffffff;

  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320 & (0 - (c & 1)));
  }
  return ~c;
}

static void
put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static gpointer
stun_thread(gpointer data)
{
  struct stun *s = data;
  gint64 first = 0;

  while (!g_atomic_int_get(&s->stop)) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    uint8_t in[1500], out[48];
    ssize_t n;

    if (poll(&pfd, 1, 50) <= 0)
      continue;
    n = recvfrom(s->fd, in, sizeof in, 0, (struct sockaddr *)&from, &len);
    if (n < 20 || in[0] != 0 || in[1] != 1 || !s->answer)
      continue;
    /* The first request waits; its retransmissions are answered then. */
    if (!first)
      first = g_get_monotonic_time();
    while (!g_atomic_int_get(&s->stop) &&
           g_get_monotonic_time() - first < (gint64)s->delay_ms * 1000)
      g_usleep(10000);
    memset(out, 0, sizeof out);
    out[0] = 0x01; /* Binding success */
    out[1] = 0x01;
    out[3] = 12 + 8; /* XOR-MAPPED-ADDRESS, FINGERPRINT */
    memcpy(out + 4, in + 4, 16); /* cookie, transaction */
    out[20] = 0x00;
    out[21] = 0x20;
    out[23] = 8;
    out[25] = 0x01;
    out[26] = (uint8_t)((ntohs(from.sin_port) ^ 0x2112) >> 8);
    out[27] = (uint8_t)(ntohs(from.sin_port) ^ 0x2112);
    put32(out + 28, (((uint32_t)198 << 24) | (18 << 16) | (77 << 8) | 77) ^
                        0x2112a442);
    out[32] = 0x80;
    out[33] = 0x28;
    out[35] = 4;
    put32(out + 36, crc32(out, 32) ^ 0x5354554e);
    sendto(s->fd, out, 40, 0, (struct sockaddr *)&from, len);
  }
  return NULL;
}

static void
stun_start(struct stun *s, unsigned delay_ms, bool answer)
{
  struct sockaddr_in addr = {.sin_family = AF_INET};
  socklen_t len = sizeof addr;

  memset(s, 0, sizeof *s);
  s->delay_ms = delay_ms;
  s->answer = answer;
  s->fd = socket(AF_INET, SOCK_DGRAM, 0);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(s->fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
  g_assert_cmpint(getsockname(s->fd, (struct sockaddr *)&addr, &len), ==, 0);
  s->port = ntohs(addr.sin_port);
  s->thread = g_thread_new("stun", stun_thread, s);
}

static void
stun_stop(struct stun *s)
{
  g_atomic_int_set(&s->stop, 1);
  g_thread_join(s->thread);
  close(s->fd);
}

/* ---- an HTTP client ---- */

struct response {
  unsigned status;
  char *body;
  SoupMessageHeaders *headers;
};

static void
response_clear(struct response *r)
{
  g_clear_pointer(&r->body, g_free);
  g_clear_pointer(&r->headers, soup_message_headers_unref);
}

static const char *
header(const struct response *r, const char *name)
{
  return r->headers ? soup_message_headers_get_one(r->headers, name) : NULL;
}

/* method target (path and query) on 127.0.0.1:port, with the request
 * headers given as name, value, ..., NULL. */
static struct response
http(uint16_t port, const char *method, const char *target, const char *body,
     const char *const *headers)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options(
      "timeout", 30, NULL);
  g_autofree char *uri = g_strdup_printf("http://127.0.0.1:%u%s", port,
                                         target);
  g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  struct response r = {0};
  gsize n = 0;
  const char *p;

  soup_session_set_proxy_resolver(session, NULL);
  g_assert_nonnull(msg);
  for (size_t i = 0; headers && headers[i]; i += 2)
    soup_message_headers_replace(soup_message_get_request_headers(msg),
                                 headers[i], headers[i + 1]);
  if (body) {
    g_autoptr(GBytes) b = g_bytes_new_static(body, strlen(body));

    soup_message_set_request_body_from_bytes(msg, "application/json", b);
  }
  bytes = soup_session_send_and_read(session, msg, NULL, &error);
  g_assert_no_error(error);
  p = g_bytes_get_data(bytes, &n);
  r.status = soup_message_get_status(msg);
  r.body = g_strndup(p ? p : "", n);
  r.headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
  return r;
}

static char *
offer_body(struct side *offer)
{
  char *sdp = NULL;
  char *json;

  g_assert_cmpint(p2psig_peer_create_offer(offer->base.peer, &sdp), ==, 0);
  json = p2psig__signal_encode_sdp(P2PSIG_SDP_OFFER, sdp);
  p2psig_free(sdp);
  return json;
}

/* A poll of /candidate; its candidates in *list. */
static unsigned
get_candidates(uint16_t port, const char *session, unsigned from,
               char ***list, unsigned *next, bool *complete)
{
  g_autofree char *target = g_strdup_printf("/candidate?session=%s&from=%u",
                                            session, from);
  struct response r = http(port, "GET", target, NULL, NULL);
  unsigned status = r.status;

  if (status == 200) {
    g_assert_cmpstr(header(&r, "Content-Type"), ==,
                    "application/json; charset=utf-8");
    g_assert_cmpint(p2psig__signal_decode_candidates(r.body, strlen(r.body),
                                                     list, next, complete,
                                                     NULL), ==, 0);
  }
  response_clear(&r);
  return status;
}

/* ---- tests ---- */

/* Our offer in one round trip, our answer: connected, messages both ways,
 * nothing served by the offer, nothing posted by the answer. */
static void
test_exchange(void)
{
  struct side offer, answer;
  uint16_t quiet_port;
  int quiet = quiet_listener(&quiet_port);
  g_autofree char *quiet_address = g_strdup_printf("127.0.0.1:%u",
                                                   quiet_port);
  g_autofree char *answer_address = NULL;

  side_peer(&offer, "offer", true, NULL);
  side_peer(&answer, "answer", false, NULL);
  g_assert_cmpint(side_signal(&answer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = quiet_address}), ==, 0);
  answer_address = g_strdup_printf("127.0.0.1:%u", side_port(&answer));
  g_assert_cmpint(side_signal(&offer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_OFFER,
                      .remote_address = answer_address,
                      .one_round_trip = true}), ==, 0);
  /* It serves nothing. */
  g_assert_cmpuint(side_port(&offer), ==, 0);
  g_assert_cmpint(p2psig_signaling_start(offer.sig), ==, 0);
  check_connected(&offer, &answer, "one round trip");

  /* An ICE restart in one round trip too. */
  g_assert_cmpint(p2psig_signaling_restart_ice(offer.sig), ==, 0);
  g_usleep(500 * 1000);
  testutil_lock();
  g_assert_cmpint(offer.base.state, ==, P2PSIG_STATE_CONNECTED);
  testutil_unlock();
  check_connected(&offer, &answer, "after the restart");

  g_assert_false(was_connected(quiet));
  testutil_lock();
  g_assert_cmpint(offer.errors, ==, 0);
  g_assert_cmpint(answer.errors, ==, 0);
  testutil_unlock();
  side_clear(&offer);
  side_clear(&answer);
  close(quiet);
}

/* ---- a fake answer: candidates only through the polls ---- */

struct fake {
  struct side side;         /* the real answering peer behind it */
  GSocketListener *listener;
  uint16_t port;
  GThread *thread;
  gint stop;
  GMutex lock;
  GArray *polls;            /* the from of each GET, in order */
  bool completed;           /* a poll was answered complete */
  int after_complete;       /* polls after that */
  enum { FAKE_OK, FAKE_BIG_ANSWER, FAKE_BIG_POLL } mode;
};

/* A response body one byte over what the offer reads of one. */
#define FAKE_BIG (P2PSIG_SIGNAL_MAX_BODY + 1)

/* One request: its head and body, up to 64 KiB. */
static bool
read_request(GSocketConnection *conn, char **head, char **body)
{
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  GString *buf = g_string_new(NULL);
  char c[4096];
  char *end;
  gssize n;
  size_t length = 0;
  const char *cl;

  while (!(end = strstr(buf->str, "\r\n\r\n"))) {
    if ((n = g_input_stream_read(in, c, sizeof c, NULL, NULL)) <= 0) {
      g_string_free(buf, TRUE);
      return false;
    }
    g_string_append_len(buf, c, n);
  }
  *head = g_strndup(buf->str, (size_t)(end - buf->str));
  if ((cl = strstr(*head, "Content-Length: ")))
    length = strtoul(cl + 16, NULL, 10);
  while (buf->len - (size_t)(end + 4 - buf->str) < length) {
    size_t at = (size_t)(end - buf->str);

    if ((n = g_input_stream_read(in, c, sizeof c, NULL, NULL)) <= 0)
      break;
    g_string_append_len(buf, c, n);
    end = buf->str + at;
  }
  *body = g_strdup(end + 4);
  g_string_free(buf, TRUE);
  return true;
}

static void
respond(GSocketConnection *conn, unsigned status, const char *extra,
        const char *body)
{
  g_autofree char *text = g_strdup_printf(
      "HTTP/1.1 %u X\r\nContent-Type: application/json\r\n"
      "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s", status,
      strlen(body), extra, body);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));

  g_output_stream_write_all(out, text, strlen(text), NULL, NULL, NULL);
}

/* Lock held. */
static bool
fake_gathered(struct fake *f)
{
  return f->side.base.gathering_done > 0 &&
         f->side.base.candidates->len > 0;
}

static void
fake_serve(struct fake *f, GSocketConnection *conn, const char *head,
           const char *body)
{
  g_autofree char *sdp = NULL;
  char *answer = NULL;
  p2psig_sdp_type type;

  if (g_str_has_prefix(head, "POST /sdp?mode=one-round-trip ")) {
    g_auto(GStrv) lines = NULL;
    g_autofree char *stripped = NULL;
    g_autofree char *json = NULL;

    g_assert_cmpint(p2psig__signal_decode_sdp(body, strlen(body), &type,
                                              &sdp, NULL), ==, 0);
    g_assert_cmpint(p2psig_peer_set_remote_description(
                        f->side.base.peer, P2PSIG_SDP_OFFER, sdp), ==, 0);
    g_assert_cmpint(p2psig_peer_create_answer(f->side.base.peer, &answer),
                    ==, 0);
    /* No candidate in the answer: they must come through the polls. */
    lines = g_strsplit(answer, "\r\n", -1);
    for (char **l = lines; *l; l++)
      if (g_str_has_prefix(*l, "a=candidate:"))
        **l = '\0';
    stripped = g_strjoinv("\r\n", lines);
    p2psig_free(answer);
    json = p2psig__signal_encode_sdp(P2PSIG_SDP_ANSWER, stripped);
    if (f->mode == FAKE_BIG_ANSWER) {
      g_free(json);
      json = g_strnfill(FAKE_BIG, ' ');
    }
    respond(conn, 200, "P2psig-Session: " SESSION "\r\n", json);
  } else if (g_str_has_prefix(head, "POST /candidate?session=" SESSION " ")) {
    p2psig_peer_add_candidate(f->side.base.peer, body);
    respond(conn, 200, "", "");
  } else if (g_str_has_prefix(head, "GET /candidate?session=" SESSION
                                    "&from=")) {
    unsigned from = (unsigned)strtoul(strstr(head, "&from=") + 6, NULL, 10);
    unsigned n;
    g_autofree char *json = NULL;

    g_mutex_lock(&f->lock);
    g_array_append_val(f->polls, from);
    n = f->polls->len;
    if (f->completed)
      f->after_complete++;
    g_mutex_unlock(&f->lock);
    if (f->mode == FAKE_BIG_POLL) {
      json = g_strnfill(FAKE_BIG, ' ');
      respond(conn, 200, "", json);
      return;
    }
    if (n == 1)
      return; /* lost: closed without a response */
    if (n == 2) {
      respond(conn, 503, "", "busy");
      return;
    }
    /* Seconds later, as a server-reflexive candidate would. */
    g_usleep(800 * 1000);
    TESTUTIL_WAIT(fake_gathered(f), TIMEOUT_MS, "fake answer gathered");
    testutil_lock();
    json = p2psig__signal_encode_candidates(
        (const char *const *)f->side.base.candidates->pdata + from,
        f->side.base.candidates->len - from, f->side.base.candidates->len,
        true);
    testutil_unlock();
    g_mutex_lock(&f->lock);
    f->completed = true;
    g_mutex_unlock(&f->lock);
    respond(conn, 200, "", json);
  } else {
    respond(conn, 404, "", "");
  }
}

static gpointer
fake_thread(gpointer data)
{
  struct fake *f = data;

  while (!g_atomic_int_get(&f->stop)) {
    g_autoptr(GSocketConnection) conn = NULL;
    g_autofree char *head = NULL;
    g_autofree char *body = NULL;

    conn = g_socket_listener_accept(f->listener, NULL, NULL, NULL);
    if (!conn || g_atomic_int_get(&f->stop))
      break;
    if (read_request(conn, &head, &body))
      fake_serve(f, conn, head, body);
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
  }
  return NULL;
}

/* Starts the fake answer, and an offer in one round trip against it. */
static void
fake_start(struct fake *f, struct side *offer)
{
  g_autofree char *address = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_mutex_init(&f->lock);
  f->polls = g_array_new(FALSE, FALSE, sizeof(unsigned));
  side_peer(&f->side, "fake answer", false, NULL);
  f->listener = g_socket_listener_new();
  g_assert_true(g_socket_listener_add_address(f->listener, any,
                                              G_SOCKET_TYPE_STREAM,
                                              G_SOCKET_PROTOCOL_TCP, NULL,
                                              &bound, NULL));
  f->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  f->thread = g_thread_new("fake answer", fake_thread, f);

  side_peer(offer, "offer", true, NULL);
  address = g_strdup_printf("127.0.0.1:%u", f->port);
  g_assert_cmpint(side_signal(offer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_OFFER,
                      .remote_address = address,
                      .one_round_trip = true}), ==, 0);
  g_assert_cmpint(p2psig_signaling_start(offer->sig), ==, 0);
}

static void
fake_stop(struct fake *f, struct side *offer)
{
  side_clear(offer);
  g_atomic_int_set(&f->stop, 1);
  /* Wake the accept. */
  {
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnection) c = g_socket_client_connect_to_host(
        client, "127.0.0.1", f->port, NULL, NULL);
  }
  g_thread_join(f->thread);
  g_socket_listener_close(f->listener);
  g_object_unref(f->listener);
  side_clear(&f->side);
  g_array_unref(f->polls);
  g_mutex_clear(&f->lock);
}

static void
test_polls_retried(void)
{
  struct fake f = {0};
  struct side offer;

  fake_start(&f, &offer);
  TESTUTIL_WAIT(side_ready(&offer), TIMEOUT_MS, "offer connected");
  TESTUTIL_WAIT(f.side.base.state == P2PSIG_STATE_CONNECTED, TIMEOUT_MS,
                "fake answer connected");

  /* The lost poll and the 503 were asked again from the same index; after
   * "complete", no more polls. */
  g_usleep(1000 * 1000);
  g_mutex_lock(&f.lock);
  g_assert_cmpuint(f.polls->len, ==, 3);
  for (unsigned i = 0; i < 3; i++)
    g_assert_cmpuint(g_array_index(f.polls, unsigned, i), ==, 0);
  g_assert_cmpint(f.after_complete, ==, 0);
  g_mutex_unlock(&f.lock);

  fake_stop(&f, &offer);
}

/* Lock held. */
static bool
has_error(struct side *side)
{
  return side->errors > 0;
}

/* An answer, then a poll's response, over what the offer reads of one:
 * each is one final error that says so (the answer's before any poll). */
static void
test_big_responses(void)
{
  static const struct {
    int mode;
    const char *message;
  } cases[] = {
    {FAKE_BIG_ANSWER, "/sdp: the response is larger than 65536 bytes"},
    {FAKE_BIG_POLL, "/candidate: the response is larger than 65536 bytes"},
  };

  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    struct fake f = {.mode = cases[i].mode};
    struct side offer;

    fake_start(&f, &offer);
    TESTUTIL_WAIT(has_error(&offer), TIMEOUT_MS, "the offer's error");
    testutil_lock();
    g_assert_cmpint(offer.errors, ==, 1);
    g_assert_nonnull(strstr(offer.last_message, cases[i].message));
    g_assert_cmpint(offer.last_error, ==, P2PSIG_ETOOBIG);
    testutil_unlock();
    g_mutex_lock(&f.lock);
    g_assert_cmpuint(f.polls->len, ==, f.mode == FAKE_BIG_POLL);
    g_mutex_unlock(&f.lock);
    fake_stop(&f, &offer);
  }
}

/* A raw client against our answer, whose server-reflexive candidate comes
 * 2 s late: the poll waits for it, then gathering is complete. */
static void
test_late_candidate(void)
{
  struct side client, answer;
  struct stun stun;
  g_autofree char *stun_url = NULL;
  g_autofree char *body = NULL;
  const char *stun_list[2] = {NULL, NULL};
  struct response r;
  char **list = NULL;
  unsigned next = 0, from = 0;
  bool complete = false, srflx = false;
  gint64 start;

  stun_start(&stun, 2000, true);
  stun_url = g_strdup_printf("stun:127.0.0.1:%u", stun.port);
  stun_list[0] = stun_url;
  side_peer(&client, "client", true, NULL);
  side_peer(&answer, "answer", false, stun_list);
  g_assert_cmpint(side_signal(&answer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = "127.0.0.1:9"}), ==, 0);

  body = offer_body(&client);
  start = g_get_monotonic_time();
  r = http(side_port(&answer), "POST", "/sdp?mode=one-round-trip", body,
           NULL);
  g_assert_cmpuint(r.status, ==, 200);
  g_assert_true(p2psig__signal_valid_session(header(&r, "P2psig-Session")));
  g_autofree char *session = g_strdup(header(&r, "P2psig-Session"));
  response_clear(&r);

  /* Host candidates at once, the srflx one after 2 s, then complete. */
  while (!complete) {
    g_assert_cmpuint(get_candidates(side_port(&answer), session, from, &list,
                                    &next, &complete), ==, 200);
    g_assert_cmpuint(next, ==, from + g_strv_length(list));
    for (char **c = list; *c; c++) {
      g_test_message("poll from %u: %s", from, *c);
      if (strstr(*c, " typ srflx") && strstr(*c, "198.18.77.77")) {
        srflx = true;
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 1900 * 1000);
      }
    }
    from = next;
    g_clear_pointer(&list, g_strfreev);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 12 * G_USEC_PER_SEC);
  }
  g_assert_true(srflx);
  /* Asked again from 0, all of them again: nothing is lost. */
  g_assert_cmpuint(get_candidates(side_port(&answer), session, 0, &list,
                                  &next, &complete), ==, 200);
  g_assert_cmpuint(g_strv_length(list), ==, from);
  g_assert_true(complete);
  g_clear_pointer(&list, g_strfreev);
  /* Beyond the end: 400. */
  {
    g_autofree char *target = g_strdup_printf(
        "/candidate?session=%s&from=%u", session, from + 1);

    r = http(side_port(&answer), "GET", target, NULL, NULL);
    g_assert_cmpuint(r.status, ==, 400);
    response_clear(&r);
  }

  side_clear(&answer);
  side_clear(&client);
  stun_stop(&stun);
}

struct poll_thread {
  uint16_t port;
  const char *session;
  unsigned from;
  unsigned status;
  gint64 took_us;
  unsigned count;
  GThread *thread;
};

static gpointer
poll_thread_run(gpointer data)
{
  struct poll_thread *p = data;
  gint64 start = g_get_monotonic_time();
  char **list = NULL;
  unsigned next;
  bool complete;

  p->status = get_candidates(p->port, p->session, p->from, &list, &next,
                             &complete);
  p->took_us = g_get_monotonic_time() - start;
  p->count = list ? g_strv_length(list) : 0;
  g_strfreev(list);
  return NULL;
}

/* Sessions: 409 for another one and while busy; the poll wait and cap; a
 * new session after p2psig_signaling_set_peer(). */
static void
test_sessions(void)
{
  struct side answer, client, client2;
  struct stun silent;
  g_autofree char *stun_url = NULL;
  const char *stun_list[2] = {NULL, NULL};
  g_autofree char *body = NULL;
  g_autofree char *body2 = NULL;
  g_autofree char *session = NULL;
  struct poll_thread polls[P2PSIG_SIGNAL_MAX_POLLS + 1];
  struct response r;
  char **list = NULL;
  unsigned next, from;
  bool complete;

  /* A STUN server that never answers: gathering stays open 10 s. */
  stun_start(&silent, 0, false);
  stun_url = g_strdup_printf("stun:127.0.0.1:%u", silent.port);
  stun_list[0] = stun_url;
  side_peer(&client, "client", true, NULL);
  side_peer(&client2, "client2", true, NULL);
  side_peer(&answer, "answer", false, stun_list);
  g_assert_cmpint(side_signal(&answer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = "127.0.0.1:9"}), ==, 0);
  /* No session yet. */
  r = http(side_port(&answer), "GET", "/candidate?session=" SESSION, NULL,
           NULL);
  g_assert_cmpuint(r.status, ==, 409);
  response_clear(&r);
  r = http(side_port(&answer), "POST", "/sdp?mode=two-round-trips", "{}",
           NULL);
  g_assert_cmpuint(r.status, ==, 400);
  response_clear(&r);

  body = offer_body(&client);
  r = http(side_port(&answer), "POST", "/sdp?mode=one-round-trip", body,
           NULL);
  g_assert_cmpuint(r.status, ==, 200);
  session = g_strdup(header(&r, "P2psig-Session"));
  g_assert_true(p2psig__signal_valid_session(session));
  response_clear(&r);

  /* Busy: a second offer, in either protocol; another session. */
  body2 = offer_body(&client2);
  r = http(side_port(&answer), "POST", "/sdp?mode=one-round-trip", body2,
           NULL);
  g_assert_cmpuint(r.status, ==, 409);
  response_clear(&r);
  r = http(side_port(&answer), "POST", "/sdp", body2, NULL);
  g_assert_cmpuint(r.status, ==, 400);
  response_clear(&r);
  r = http(side_port(&answer), "POST", "/candidate?session=" SESSION,
           "candidate:1 1 udp 1 127.0.0.1 9 typ host", NULL);
  g_assert_cmpuint(r.status, ==, 409);
  response_clear(&r);
  r = http(side_port(&answer), "GET", "/candidate?session=" SESSION, NULL,
           NULL);
  g_assert_cmpuint(r.status, ==, 409);
  response_clear(&r);
  {
    g_autofree char *target = g_strdup_printf(
        "/candidate?session=%s&from=x", session);

    r = http(side_port(&answer), "GET", target, NULL, NULL);
    g_assert_cmpuint(r.status, ==, 400);
    response_clear(&r);
  }

  /* Take the host candidates; gathering is not done (the silent STUN). */
  g_assert_cmpuint(get_candidates(side_port(&answer), session, 0, &list,
                                  &next, &complete), ==, 200);
  g_assert_false(complete);
  from = next;
  g_clear_pointer(&list, g_strfreev);

  /* The wait: answered empty after POLL_WAIT_MS. */
  {
    struct poll_thread p = {.port = side_port(&answer), .session = session,
                            .from = from};

    p.thread = g_thread_new("poll", poll_thread_run, &p);
    g_thread_join(p.thread);
    g_assert_cmpuint(p.status, ==, 200);
    g_assert_cmpuint(p.count, ==, 0);
    g_assert_cmpint(p.took_us, >=, (POLL_WAIT_MS - 100) * 1000);
  }

  /* The cap: one more than may wait answers the oldest at once. */
  for (unsigned i = 0; i < G_N_ELEMENTS(polls); i++) {
    polls[i] = (struct poll_thread){.port = side_port(&answer),
                                    .session = session,
                                    .from = from};
    polls[i].thread = g_thread_new("poll", poll_thread_run, &polls[i]);
    g_usleep(50 * 1000);
  }
  for (unsigned i = 0; i < G_N_ELEMENTS(polls); i++)
    g_thread_join(polls[i].thread);
  {
    unsigned early = 0;

    for (unsigned i = 0; i < G_N_ELEMENTS(polls); i++) {
      g_assert_cmpuint(polls[i].status, ==, 200);
      early += polls[i].took_us < (POLL_WAIT_MS - 300) * 1000;
    }
    g_assert_cmpuint(early, ==, 1);
    g_assert_cmpint(polls[0].took_us, <, (POLL_WAIT_MS - 300) * 1000);
  }

  /* A new session: the waiting poll of the old one gets 409, and so do
   * its later requests; a new offer is answered. */
  {
    struct poll_thread p = {.port = side_port(&answer), .session = session,
                            .from = from};
    struct side fresh;
    g_autofree char *target = g_strdup_printf("/candidate?session=%s",
                                              session);

    p.thread = g_thread_new("poll", poll_thread_run, &p);
    g_usleep(300 * 1000);
    side_peer(&fresh, "answer2", false, NULL);
    g_assert_cmpint(p2psig_signaling_set_peer(answer.sig, fresh.base.peer),
                    ==, 0);
    g_thread_join(p.thread);
    g_assert_cmpuint(p.status, ==, 409);
    g_assert_cmpint(p.took_us, <, (POLL_WAIT_MS - 300) * 1000);
    r = http(side_port(&answer), "POST", target,
             "candidate:1 1 udp 1 127.0.0.1 9 typ host", NULL);
    g_assert_cmpuint(r.status, ==, 409);
    response_clear(&r);

    r = http(side_port(&answer), "POST", "/sdp?mode=one-round-trip", body2,
             NULL);
    g_assert_cmpuint(r.status, ==, 200);
    g_assert_cmpstr(header(&r, "P2psig-Session"), !=, session);
    response_clear(&r);
    g_assert_true(p2psig__peer_has_remote_description(fresh.base.peer));
    /* The old peer is free to go; the signaling stays with the new. */
    p2psig_signaling_free(answer.sig);
    answer.sig = NULL;
    side_clear(&fresh);
  }

  side_clear(&answer);
  side_clear(&client);
  side_clear(&client2);
  stun_stop(&silent);
}

/* CORS and the token from a browser. */
static void
test_cors(void)
{
  static const char *const origins[] = {"https://app.example:8443", NULL};
  static const char *const any[] = {"*", NULL};
  struct side answer, open_side;
  g_autofree char *own = NULL;
  g_autofree char *host = NULL;
  struct response r;

  side_peer(&answer, "answer", false, NULL);
  g_assert_cmpint(side_signal(&answer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = "127.0.0.1:9",
                      .token = "s3cret",
                      .cors_origins = origins}), ==, 0);
  own = g_strdup_printf("http://127.0.0.1:%u", side_port(&answer));
  host = g_strdup_printf("127.0.0.1:%u", side_port(&answer));

  /* A foreign origin: 403 before the token is even looked at. */
  r = http(side_port(&answer), "POST", "/candidate", "candidate:x",
           (const char *[]){"Origin", "https://evil.example",
                            "Authorization", "Bearer s3cret", NULL});
  g_assert_cmpuint(r.status, ==, 403);
  g_assert_null(header(&r, "Access-Control-Allow-Origin"));
  response_clear(&r);
  /* A DNS name that points at us (rebinding) is not our own origin. */
  r = http(side_port(&answer), "POST", "/candidate", "",
           (const char *[]){"Host", "rebind.example",
                            "Origin", "http://rebind.example",
                            "Authorization", "Bearer s3cret", NULL});
  g_assert_cmpuint(r.status, ==, 403);
  response_clear(&r);

  /* The preflight of a listed origin: 204 without the token. */
  r = http(side_port(&answer), "OPTIONS", "/sdp?mode=one-round-trip", NULL,
           (const char *[]){"Origin", "https://app.example:8443",
                            "Access-Control-Request-Method", "POST",
                            "Access-Control-Request-Headers",
                            "authorization,content-type",
                            "Access-Control-Request-Private-Network", "true",
                            NULL});
  g_assert_cmpuint(r.status, ==, 204);
  g_assert_cmpstr(header(&r, "Access-Control-Allow-Origin"), ==,
                  "https://app.example:8443");
  g_assert_nonnull(strstr(header(&r, "Access-Control-Allow-Methods"),
                          "POST"));
  g_assert_nonnull(strstr(header(&r, "Access-Control-Allow-Headers"),
                          "Authorization"));
  g_assert_cmpstr(header(&r, "Access-Control-Allow-Private-Network"), ==,
                  "true");
  response_clear(&r);
  /* Without the token otherwise: 401, which the page may read. */
  r = http(side_port(&answer), "POST", "/candidate", "",
           (const char *[]){"Origin", "https://app.example:8443", NULL});
  g_assert_cmpuint(r.status, ==, 401);
  g_assert_cmpstr(header(&r, "Access-Control-Allow-Origin"), ==,
                  "https://app.example:8443");
  g_assert_nonnull(strstr(header(&r, "Access-Control-Expose-Headers"),
                          "P2psig-Session"));
  response_clear(&r);
  /* The page's own origin, by address, with the token in the query. */
  r = http(side_port(&answer), "POST", "/candidate?access_token=s3cret", "",
           (const char *[]){"Origin", own, NULL});
  g_assert_cmpuint(r.status, ==, 200);
  g_assert_cmpstr(header(&r, "Access-Control-Allow-Origin"), ==, own);
  response_clear(&r);
  r = http(side_port(&answer), "POST", "/candidate?access_token=wrong", "",
           NULL);
  g_assert_cmpuint(r.status, ==, 401);
  response_clear(&r);
  /* Chromium's TCP candidate is taken, and unused without ICE-TCP. */
  r = http(side_port(&answer), "POST", "/candidate?access_token=s3cret",
           "candidate:1410171463 1 tcp 1518280447 198.18.0.1 9 typ host "
           "tcptype active generation 0 ufrag vV8S network-id 1", NULL);
  g_assert_cmpuint(r.status, ==, 200);
  response_clear(&r);
  /* Without Origin (pion, curl): as before. */
  r = http(side_port(&answer), "POST", "/candidate", "",
           (const char *[]){"Authorization", "Bearer s3cret", NULL});
  g_assert_cmpuint(r.status, ==, 200);
  g_assert_null(header(&r, "Access-Control-Allow-Origin"));
  response_clear(&r);
  /* No page: GET / is 404 (after the token). */
  r = http(side_port(&answer), "GET", "/?access_token=s3cret", NULL, NULL);
  g_assert_cmpuint(r.status, ==, 404);
  response_clear(&r);
  side_clear(&answer);

  /* "*": any origin. */
  side_peer(&open_side, "open", false, NULL);
  g_assert_cmpint(side_signal(&open_side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = "127.0.0.1:9",
                      .cors_origins = any}), ==, 0);
  r = http(side_port(&open_side), "POST", "/candidate", "",
           (const char *[]){"Origin", "https://elsewhere.example", NULL});
  g_assert_cmpuint(r.status, ==, 200);
  g_assert_cmpstr(header(&r, "Access-Control-Allow-Origin"), ==,
                  "https://elsewhere.example");
  response_clear(&r);
  side_clear(&open_side);
}

/* GET / serves the page, with its headers, behind the token. */
static void
test_page(void)
{
  static const char page[] = "<!DOCTYPE html><title>t</title>\xc3\xa9";
  struct side answer;
  struct response r;

  side_peer(&answer, "answer", false, NULL);
  g_assert_cmpint(side_signal(&answer, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .remote_address = "127.0.0.1:9",
                      .token = "s3cret",
                      .page = page}), ==, 0);
  r = http(side_port(&answer), "GET", "/", NULL, NULL);
  g_assert_cmpuint(r.status, ==, 401);
  response_clear(&r);
  r = http(side_port(&answer), "GET", "/?access_token=s3cret", NULL, NULL);
  g_assert_cmpuint(r.status, ==, 200);
  g_assert_cmpstr(r.body, ==, page);
  g_assert_cmpstr(header(&r, "Content-Type"), ==, "text/html; charset=utf-8");
  g_assert_nonnull(strstr(header(&r, "Content-Security-Policy"),
                          "connect-src 'self'"));
  g_assert_cmpstr(header(&r, "Referrer-Policy"), ==, "no-referrer");
  response_clear(&r);
  r = http(side_port(&answer), "POST", "/?access_token=s3cret", "x", NULL);
  g_assert_cmpuint(r.status, ==, 405);
  g_assert_cmpstr(header(&r, "Allow"), ==, "GET");
  response_clear(&r);
  side_clear(&answer);
}

/* What p2psig_signaling_new() refuses. */
static void
test_config(void)
{
  static const char *const bad[][2] = {
    {"example.org", NULL},   {"ftp://example.org", NULL},
    {"http://a/b", NULL},    {"http://a:99999", NULL},
    {"http://[::1", NULL},   {"http://a b", NULL},
  };
  static const char *const good[] = {"http://[::1]:8080", "https://a.b",
                                     "http://127.0.0.1:1", "*", NULL};
  const char *many[P2PSIG_SIGNAL_MAX_ORIGINS + 2];
  struct side side;
  char *big;

  side_peer(&side, "config", true, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_test_message("cors_origins %s", bad[i][0]);
    g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                        .role = P2PSIG_ROLE_ANSWER,
                        .listen_address = "127.0.0.1:0",
                        .cors_origins = bad[i]}), ==, P2PSIG_EINVAL);
  }
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .cors_origins = good}), ==, 0);
  p2psig_signaling_free(side.sig);
  for (size_t i = 0; i < G_N_ELEMENTS(many) - 1; i++)
    many[i] = "http://a";
  many[G_N_ELEMENTS(many) - 1] = NULL;
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .cors_origins = many}), ==, P2PSIG_EINVAL);
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .one_round_trip = true}), ==, P2PSIG_EINVAL);
  big = g_malloc(P2PSIG_SIGNAL_MAX_PAGE + 2);
  memset(big, 'x', P2PSIG_SIGNAL_MAX_PAGE + 1);
  big[P2PSIG_SIGNAL_MAX_PAGE + 1] = '\0';
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .page = big}), ==, P2PSIG_EINVAL);
  g_free(big);
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_ANSWER,
                      .listen_address = "127.0.0.1:0",
                      .page = "\xff"}), ==, P2PSIG_EINVAL);
  /* set_peer is the answer's. */
  g_assert_cmpint(side_signal(&side, &(p2psig_signaling_config){
                      .role = P2PSIG_ROLE_OFFER,
                      .remote_address = "127.0.0.1:9",
                      .one_round_trip = true}), ==, 0);
  g_assert_cmpint(p2psig_signaling_set_peer(side.sig, side.base.peer), ==,
                  P2PSIG_ESTATE);
  g_assert_cmpint(p2psig_signaling_set_peer(NULL, side.base.peer), ==,
                  P2PSIG_EINVAL);
  side_clear(&side);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  p2psig__signal_limits.poll_wait_ms = POLL_WAIT_MS;
  g_test_add_func("/one-round-trip/exchange", test_exchange);
  g_test_add_func("/one-round-trip/polls-retried", test_polls_retried);
  g_test_add_func("/one-round-trip/big-responses", test_big_responses);
  g_test_add_func("/one-round-trip/late-candidate", test_late_candidate);
  g_test_add_func("/one-round-trip/sessions", test_sessions);
  g_test_add_func("/one-round-trip/cors", test_cors);
  g_test_add_func("/one-round-trip/page", test_page);
  g_test_add_func("/one-round-trip/config", test_config);
  return g_test_run();
}
