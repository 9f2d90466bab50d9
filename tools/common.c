/* SPDX-License-Identifier: MIT */
/* Shared by tools/offer.c and tools/answer.c: see common.h. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* pion's example uses Google's public STUN server. */
static const char *const ice_servers[] = {"stun:stun.l.google.com:19302",
                                          NULL};

static void
usage(const struct tool *t, FILE *out)
{
  fprintf(out,
          "Usage of %s:\n"
          "  -answer-address string\n"
          "    \tAddress that the Answer HTTP server is hosted on. "
          "(default \"%s\")\n"
          "  -cors-origin value\n"
          "    \tOrigin whose pages may use our HTTP server besides its own "
          "(\"*\": any); repeatable\n"
          "  -count int\n"
          "    \tExit once this many messages were sent and received "
          "(0: never)\n"
          "  -dtls-cert string\n"
          "    \tPEM file of the DTLS certificate (and its key, without "
          "-dtls-key) (default: a new one)\n"
          "  -dtls-key string\n"
          "    \tPEM file of the private key of -dtls-cert\n"
          "  -ice-ca string\n"
          "    \tPEM file of the CAs trusted for turns: servers "
          "(default: the system's)\n"
          "  -ice-credential string\n"
          "    \tPassword of the turn: and turns: servers\n"
          "  -ice-server value\n"
          "    \tSTUN or TURN server URL: stun:HOST[:PORT], "
          "turn:HOST[:PORT][?transport=udp|tcp],\n"
          "    \tturns:HOST[:PORT]; repeatable "
          "(default stun:stun.l.google.com:19302)\n"
          "  -ice-tcp\n"
          "    \tGather and use TCP candidates too (ICE-TCP; -ice-tcp=false: "
          "UDP only) (default true)\n"
          "  -ice-username string\n"
          "    \tUser name of the turn: and turns: servers\n"
          "  -interval float\n"
          "    \tSeconds between two random messages (default 5)\n"
          "  -mdns\n"
          "    \tHide host addresses behind <uuid>.local names and answer "
          "mDNS for them\n"
          "  -offer-address string\n"
          "    \tAddress that the Offer HTTP server is hosted on. "
          "(default \"%s\")\n"
          "  -one-round-trip\n"
          "    \tOffer: take the answer from the response to POST /sdp and "
          "serve nothing\n"
          "  -page\n"
          "    \tAnswer: serve at GET / a page that is a browser offer; "
          "serve a new offer once a peer is gone\n"
          "  -relay-only\n"
          "    \tGather and offer relay candidates only (TURN)\n"
          "  -tls-ca string\n"
          "    \tPEM file of the CA (or self-signed certificate) to trust "
          "for the remote\n"
          "  -tls-cert string\n"
          "    \tPEM certificate file: serve HTTPS (with -tls-key)\n"
          "  -tls-key string\n"
          "    \tPEM private key file of -tls-cert\n"
          "  -tls-remote\n"
          "    \tThe remote serves HTTPS\n"
          "  -token string\n"
          "    \tShared secret required and sent as a Bearer token "
          "(default $P2PSIG_TOKEN)\n",
          t->name, t->opt.answer_address, t->opt.offer_address);
}

_Noreturn static void
bad_flag(const struct tool *t, const char *what, const char *arg)
{
  fprintf(stderr, "%s: %s\n", what, arg);
  usage(t, stderr);
  exit(2);
}

enum flag { FLAG_OFFER_ADDRESS, FLAG_ANSWER_ADDRESS, FLAG_COUNT,
            FLAG_INTERVAL, FLAG_TOKEN, FLAG_TLS_CERT, FLAG_TLS_KEY,
            FLAG_TLS_CA, FLAG_TLS_REMOTE, FLAG_ICE_SERVER,
            FLAG_ICE_USERNAME, FLAG_ICE_CREDENTIAL, FLAG_RELAY_ONLY,
            FLAG_ICE_CA, FLAG_ICE_TCP, FLAG_MDNS, FLAG_ONE_ROUND_TRIP,
            FLAG_PAGE, FLAG_CORS_ORIGIN, FLAG_DTLS_CERT, FLAG_DTLS_KEY,
            FLAG_NONE };
static const char *const flag_names[] = {
  "offer-address", "answer-address", "count", "interval", "token",
  "tls-cert", "tls-key", "tls-ca", "tls-remote", "ice-server",
  "ice-username", "ice-credential", "relay-only", "ice-ca", "ice-tcp",
  "mdns", "one-round-trip", "page", "cors-origin", "dtls-cert",
  "dtls-key"};

/* Go's flag package takes a bool without a next argument. */
static bool
is_bool_flag(enum flag flag)
{
  return flag == FLAG_TLS_REMOTE || flag == FLAG_RELAY_ONLY ||
         flag == FLAG_ICE_TCP || flag == FLAG_MDNS ||
         flag == FLAG_ONE_ROUND_TRIP || flag == FLAG_PAGE;
}

/* Go's strconv.ParseBool. */
static int
parse_bool(const char *s)
{
  static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (strcmp(s, yes[i]) == 0)
      return 1;
    if (strcmp(s, no[i]) == 0)
      return 0;
  }
  return -1;
}

void
tool_parse_args(struct tool *t, int argc, char **argv)
{
  const char *env;
  int i;

  for (i = 1; i < argc; i++) {
    const char *arg = argv[i], *value;
    enum flag flag = FLAG_OFFER_ADDRESS;
    char *end;
    size_t len;

    /* Go's flag package: -name, --name, -name=value or -name value; it
     * stops at "--" or at the first argument that is not a flag. */
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (arg[0] != '-' || arg[1] == '\0')
      break;
    arg += arg[1] == '-' ? 2 : 1;
    len = strcspn(arg, "=");
    if ((len == 1 && arg[0] == 'h') || (len == 4 && !strncmp(arg, "help", 4))) {
      usage(t, stderr);
      exit(0);
    }
    while (flag < FLAG_NONE && (strlen(flag_names[flag]) != len ||
                                strncmp(arg, flag_names[flag], len) != 0))
      flag++;
    if (flag == FLAG_NONE)
      bad_flag(t, "flag provided but not defined", argv[i]);
    if (arg[len] == '=')
      value = arg + len + 1;
    else if (is_bool_flag(flag))
      value = "true";
    else if (i + 1 < argc)
      value = argv[++i];
    else
      bad_flag(t, "flag needs an argument", argv[i]);

    errno = 0;
    switch (flag) {
    case FLAG_OFFER_ADDRESS:
      t->opt.offer_address = value;
      break;
    case FLAG_ANSWER_ADDRESS:
      t->opt.answer_address = value;
      break;
    case FLAG_COUNT:
      t->opt.count = strtol(value, &end, 10);
      if (errno || end == value || *end || t->opt.count < 0)
        bad_flag(t, "invalid value for flag -count", value);
      break;
    case FLAG_TOKEN:
      t->opt.token = value;
      break;
    case FLAG_TLS_CERT:
      t->opt.tls_cert = value;
      break;
    case FLAG_TLS_KEY:
      t->opt.tls_key = value;
      break;
    case FLAG_TLS_CA:
      t->opt.tls_ca = value;
      break;
    case FLAG_TLS_REMOTE:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -tls-remote", value);
      t->opt.tls_remote = parse_bool(value);
      break;
    case FLAG_RELAY_ONLY:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -relay-only", value);
      t->opt.relay_only = parse_bool(value);
      break;
    case FLAG_ICE_TCP:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -ice-tcp", value);
      t->opt.no_ice_tcp = !parse_bool(value);
      break;
    case FLAG_MDNS:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -mdns", value);
      t->opt.mdns = parse_bool(value);
      break;
    case FLAG_ONE_ROUND_TRIP:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -one-round-trip", value);
      t->opt.one_round_trip = parse_bool(value);
      break;
    case FLAG_PAGE:
      if (parse_bool(value) < 0)
        bad_flag(t, "invalid boolean value for flag -page", value);
      t->opt.page = parse_bool(value);
      break;
    case FLAG_CORS_ORIGIN:
      if (t->opt.cors_origin_count == TOOL_MAX_CORS_ORIGINS)
        bad_flag(t, "too many -cors-origin flags", value);
      t->opt.cors_origins[t->opt.cors_origin_count++] = value;
      break;
    case FLAG_ICE_SERVER:
      if (t->opt.ice_server_count == TOOL_MAX_ICE_SERVERS)
        bad_flag(t, "too many -ice-server flags", value);
      t->opt.ice_servers[t->opt.ice_server_count++] = value;
      break;
    case FLAG_ICE_USERNAME:
      t->opt.ice_username = value;
      break;
    case FLAG_ICE_CREDENTIAL:
      t->opt.ice_credential = value;
      break;
    case FLAG_ICE_CA:
      t->opt.ice_ca = value;
      break;
    case FLAG_DTLS_CERT:
      t->opt.dtls_cert = value;
      break;
    case FLAG_DTLS_KEY:
      t->opt.dtls_key = value;
      break;
    default:
      t->opt.interval = strtod(value, &end);
      if (errno || end == value || *end || !isfinite(t->opt.interval) ||
          t->opt.interval <= 0 || t->opt.interval > 86400)
        bad_flag(t, "invalid value for flag -interval", value);
      break;
    }
  }
  /* The tools take no arguments besides the flags: one would be a typo
   * ("-count 3 4") or a flag after it, which Go's flag package would not
   * read either. */
  if (i < argc)
    bad_flag(t, "unexpected argument", argv[i]);
  /* An empty value is no value, as a shell's or compose file's
   * "P2PSIG_TOKEN=" means. */
  env = getenv("P2PSIG_TOKEN");
  if (!t->opt.token && env && env[0])
    t->opt.token = env;
  if (!t->opt.tls_cert != !t->opt.tls_key)
    bad_flag(t, t->opt.tls_cert ? "flag -tls-cert needs -tls-key"
                                : "flag -tls-key needs -tls-cert",
             t->opt.tls_cert ? t->opt.tls_cert : t->opt.tls_key);
  if (t->opt.tls_ca && !t->opt.tls_remote)
    bad_flag(t, "flag -tls-ca needs -tls-remote", t->opt.tls_ca);
  if (t->opt.dtls_key && !t->opt.dtls_cert)
    bad_flag(t, "flag -dtls-key needs -dtls-cert", t->opt.dtls_key);
  if (t->opt.one_round_trip && strcmp(t->name, "offer") != 0)
    bad_flag(t, "flag -one-round-trip is the offer's", "-one-round-trip");
  if (t->opt.page && strcmp(t->name, "answer") != 0)
    bad_flag(t, "flag -page is the answer's", "-page");
}

void
tool_init(struct tool *t)
{
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
  pthread_mutex_init(&t->lock, NULL);
  t->channel = NULL;
  atomic_init(&t->state, P2PSIG_STATE_NEW);
  atomic_init(&t->failed, false);
  atomic_init(&t->signaling_failed, false);
  atomic_init(&t->ended, false);
  atomic_init(&t->closed_by_remote, false);
  atomic_init(&t->was_connected, false);
  atomic_init(&t->received, 0);
}

/* A PEM file's text (at most 1 MiB, far more than a certificate chain
 * takes), or NULL with errno set; free(). */
static char *
read_pem(const char *path)
{
  enum { MAX = 1024 * 1024 };
  FILE *file = fopen(path, "r");
  char *text;
  size_t len;

  if (!file)
    return NULL;
  text = malloc(MAX + 1);
  len = text ? fread(text, 1, MAX + 1, file) : 0;
  if (!text || ferror(file) || len > MAX) {
    int err = text && !ferror(file) ? EFBIG : errno;

    free(text);
    fclose(file);
    errno = err;
    return NULL;
  }
  fclose(file);
  text[len] = '\0';
  return text;
}

/* -dtls-cert's and -dtls-key's texts, read once for every peer the
 * process makes; kept until it exits. */
static char *dtls_cert_pem, *dtls_key_pem;
static bool dtls_loaded;

static int
load_dtls_certificate(const struct tool *t)
{
  const char *paths[] = { t->opt.dtls_cert, t->opt.dtls_key };
  char **texts[] = { &dtls_cert_pem, &dtls_key_pem };

  for (size_t i = 0; i < 2; i++) {
    if (!paths[i])
      continue;
    *texts[i] = read_pem(paths[i]);
    if (!*texts[i]) {
      fprintf(stderr, "%s: cannot read %s %s: %s\n", t->name,
              i == 0 ? "-dtls-cert" : "-dtls-key", paths[i],
              strerror(errno));
      return -1;
    }
  }
  return 0;
}

p2psig_peer_config
tool_peer_config(struct tool *t)
{
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .on_state = tool_on_state,
    .on_open = tool_on_open,
    .on_close = tool_on_close,
    .on_message = tool_on_message,
    .on_channel = t->on_channel,
    .user_data = t,
    .ice_transport_policy = t->opt.relay_only ? P2PSIG_ICE_TRANSPORT_RELAY
                                              : P2PSIG_ICE_TRANSPORT_ALL,
    .ice_tls_ca = t->opt.ice_ca,
    .disable_ice_tcp = t->opt.no_ice_tcp,
    .mdns_host_candidates = t->opt.mdns,
    .certificate_pem = dtls_cert_pem,
    .private_key_pem = dtls_key_pem,
  };

  if (t->opt.ice_server_count == 0) {
    config.ice_servers = ice_servers;
  } else {
    /* One server of many URLs, as an RTCIceServer: the credential is for
     * its TURN URLs. */
    t->opt.ice_servers[t->opt.ice_server_count] = NULL;
    t->ice_server.urls = t->opt.ice_servers;
    t->ice_server.username = t->opt.ice_username;
    t->ice_server.credential = t->opt.ice_credential;
    config.ice_server_list = &t->ice_server;
    config.ice_server_count = 1;
  }
  return config;
}

p2psig_peer *
tool_peer_new(struct tool *t, int *error)
{
  p2psig_peer_config config;

  if (!dtls_loaded) {
    if (load_dtls_certificate(t) < 0) {
      *error = P2PSIG_EINVAL;
      return NULL;
    }
    dtls_loaded = true;
  }
  config = tool_peer_config(t);
  t->peer = p2psig_peer_new(&config, error);
  atomic_store(&t->live, t->peer);
  return t->peer;
}

/* One line on stderr naming the pair the connection uses. */
static void
print_selected_pair(const struct tool *t, p2psig_peer *peer)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  if (p2psig_peer_get_stats(peer, &s) < 0 || !s.has_selected_pair)
    return;
  /* An IPv6 address in brackets, so that its port reads apart. */
  bool local6 = strchr(s.local_address, ':') != NULL;
  bool remote6 = strchr(s.remote_address, ':') != NULL;

  fprintf(stderr,
          "Selected candidate pair: local %s %s %s%s%s:%u%s%s <-> "
          "remote %s %s %s%s%s:%u\n",
          s.local_type, s.local_protocol, local6 ? "[" : "", s.local_address,
          local6 ? "]" : "", s.local_port,
          s.local_relay_protocol[0] ? " relay-protocol " : "",
          s.local_relay_protocol, s.remote_type, s.remote_protocol,
          remote6 ? "[" : "", s.remote_address, remote6 ? "]" : "",
          s.remote_port);
}

/* Callbacks run on the library's threads: record, print, wake main. */
static void
wake(void)
{
  kill(getpid(), SIGUSR1);
}

void
tool_on_state(p2psig_peer *peer, p2psig_state state, int error,
              void *user_data)
{
  struct tool *t = user_data;

  /* A peer being replaced (renew_peer) says nothing more. */
  if (peer != atomic_load(&t->live))
    return;
  printf("Peer Connection State has changed: %s\n", p2psig_state_name(state));
  if (state == P2PSIG_STATE_CONNECTED) {
    atomic_store(&t->was_connected, true);
    print_selected_pair(t, peer);
  }
  atomic_store(&t->state, (int)state);
  if (state == P2PSIG_STATE_FAILED && t->renew_peer) {
    if (error)
      fprintf(stderr, "%s: %s\n", t->name, p2psig_strerror(error));
  } else if (state == P2PSIG_STATE_FAILED) {
    if (error)
      fprintf(stderr, "%s: %s\n", t->name, p2psig_strerror(error));
    printf("Peer Connection has gone to failed exiting\n");
    atomic_store(&t->failed, true);
  } else if (state == P2PSIG_STATE_CLOSED &&
             error == P2PSIG_ECLOSED_BY_REMOTE && !t->renew_peer) {
    /* The remote closed: nothing more will come.  pion's later examples
     * print this line on closed; Debian's pion-to-pion has none. */
    printf("Peer Connection has gone to closed exiting\n");
    atomic_store(&t->closed_by_remote, true);
  }
  wake();
}

const char *
tool_shown(const void *data, size_t len, char buf[TOOL_SHOWN_SIZE])
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = data;
  size_t n = len < TOOL_SHOWN_MAX ? len : TOOL_SHOWN_MAX;
  char *out = buf;

  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
      *out++ = (char)p[i];
    } else {
      *out++ = '\\';
      *out++ = 'x';
      *out++ = hex[p[i] >> 4];
      *out++ = hex[p[i] & 15];
    }
  }
  if (len > n) {
    memcpy(out, "...", 3);
    out += 3;
  }
  *out = '\0';
  return buf;
}

void
tool_on_open(p2psig_channel *channel, void *user_data)
{
  struct tool *t = user_data;
  const char *label = p2psig_channel_get_label(channel);
  char shown[TOOL_SHOWN_SIZE];

  /* pion's text, with the interval when it is not pion's 5 s. */
  printf("Data channel '%s'-'%d' open. Random messages will now be sent to "
         "any connected DataChannels every %g seconds\n",
         tool_shown(label, label ? strlen(label) : 0, shown),
         p2psig_channel_get_id(channel), t->opt.interval);
  /* A reference of our own: the main thread may be sending on it when
   * on_close runs. */
  pthread_mutex_lock(&t->lock);
  p2psig_channel_unref(t->channel);
  t->channel = p2psig_channel_ref(channel);
  pthread_mutex_unlock(&t->lock);
  wake();
}

/* The open channel with a reference for the caller, or NULL. */
static p2psig_channel *
take_channel(struct tool *t)
{
  p2psig_channel *channel;

  pthread_mutex_lock(&t->lock);
  channel = p2psig_channel_ref(t->channel);
  pthread_mutex_unlock(&t->lock);
  return channel;
}

static void
drop_channel(struct tool *t, const p2psig_channel *which)
{
  p2psig_channel *channel = NULL;

  pthread_mutex_lock(&t->lock);
  if (!which || t->channel == which) {
    channel = t->channel;
    t->channel = NULL;
  }
  pthread_mutex_unlock(&t->lock);
  p2psig_channel_unref(channel);
}

void
tool_on_close(p2psig_channel *channel, void *user_data)
{
  struct tool *t = user_data;

  /* A page that goes away (a reload) closes its connection: the remote's
   * SCTP abort or DTLS close_notify closes the channel, while the peer
   * would stay connected until its liveness timer fails it. */
  if (t->renew_peer && p2psig_channel_get_peer(channel) ==
                           atomic_load(&t->live))
    atomic_store(&t->ended, true);
  drop_channel(t, channel);
  wake();

}

void
tool_on_message(p2psig_channel *channel, const void *data, size_t len,
                p2psig_kind kind, void *user_data)
{
  struct tool *t = user_data;
  const char *label = p2psig_channel_get_label(channel);
  char shown_label[TOOL_SHOWN_SIZE], shown[TOOL_SHOWN_SIZE];

  printf("Message from DataChannel '%s': '%s'\n",
         tool_shown(label, label ? strlen(label) : 0, shown_label),
         tool_shown(data, len, shown));
  atomic_fetch_add(&t->received, 1);
  wake();
}

void
tool_on_signaling_status(p2psig_signaling *signaling,
                         const p2psig_signaling_status *status,
                         void *user_data)
{
  struct tool *t = user_data;
  const char *remote = strcmp(t->name, "offer") == 0 ? "answer" : "offer";

  /* p2psig_signaling_new() failed: tool_signaling_new() says so. */
  if (!signaling) {
    fprintf(stderr, "%s: %s\n", t->name, status->reason);
    return;
  }
  if (status->served) {
    fprintf(stderr, "%s: signaling: %s\n", t->name, status->reason);
  } else if (!status->final) {
    fprintf(stderr, "%s: waiting for the %s at %s: %s; retrying in %g s\n",
            t->name, remote, status->url, status->reason,
            status->retry_in_ms / 1000.0);
  } else if (atomic_load(&t->was_connected)) {
    /* A late candidate refused, say: what is up stays up, and what was up
     * (closed by the remote meanwhile) ends as such. */
    fprintf(stderr, "%s: signaling: %s\n", t->name, status->reason);
  } else {
    fprintf(stderr, "%s: signaling failed: %s\n", t->name, status->reason);
    atomic_store(&t->signaling_failed, true);
    wake();
  }
}

p2psig_signaling *
tool_signaling_new(struct tool *t, p2psig_role role)
{
  bool offer = role == P2PSIG_ROLE_OFFER;
  const char *listen = offer ? t->opt.offer_address : t->opt.answer_address;
  const char *remote = offer ? t->opt.answer_address : t->opt.offer_address;
  p2psig_signaling_config config = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = role,
    .listen_address = listen,
    .remote_address = remote,
    .on_status = tool_on_signaling_status,
    .user_data = t,
    .token = t->opt.token,
    .tls_certificate = t->opt.tls_cert,
    .tls_key = t->opt.tls_key,
    .tls_ca = t->opt.tls_ca,
    .tls_remote = t->opt.tls_remote,
    .one_round_trip = t->opt.one_round_trip,
    .cors_origins = t->opt.cors_origins,
    .page = t->page,
  };
  int error = 0;
  p2psig_signaling *signaling = p2psig_signaling_new(t->peer, &config, &error);

  /* On failure, on_status has printed why. */
  return signaling;
}

int
tool_fail(const struct tool *t, const char *what, int error)
{
  fprintf(stderr, "%s: %s: %s\n", t->name, what, p2psig_strerror(error));
  return 1;
}

/* ---- main thread ---- */

static double
now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until a signal or the timeout; returns the signal or 0. */
static int
wait_signal(double seconds)
{
  sigset_t set;
  struct timespec ts;
  int sig;

  if (seconds < 0)
    seconds = 0;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sig = sigtimedwait(&set, NULL, &ts);
  return sig < 0 ? 0 : sig;
}

static void
send_random(struct tool *t, p2psig_channel *channel)
{
  static const char letters[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  char message[16];
  int rc;

  for (int i = 0; i < 15; i++)
    message[i] = letters[random() % (sizeof letters - 1)];
  message[15] = '\0';
  printf("Sending '%s'\n", message);
  /* The caller holds a reference: a close meanwhile makes this fail with
   * P2PSIG_ECLOSED, never touch freed memory. */
  rc = p2psig_channel_send_text(channel, message);
  if (rc < 0)
    tool_fail(t, "send", rc);
}

/* Closes gracefully, waiting a little for the closed state, then frees.
 * A failed peer is only freed: pion exits at once. */
static void
shutdown_peer(struct tool *t)
{
  double deadline = now() + 1.0;

  drop_channel(t, NULL);
  if (!atomic_load(&t->failed)) {
    p2psig_peer_close(t->peer);
    while (atomic_load(&t->state) != P2PSIG_STATE_CLOSED && now() < deadline)
      wait_signal(deadline - now());
  }
  p2psig_signaling_free(t->signaling);
  p2psig_peer_free(t->peer);
  free(t->page);
}

/* With renew_peer: a peer that closed or failed makes way for a new one,
 * and the signaling serves the next offer for it.  Its events stop
 * counting first (t->live), so that none of it outlives the swap. */
static void
renew_peer(struct tool *t)
{
  p2psig_peer *old = t->peer;
  int error = 0;

  if (atomic_load(&t->ended))
    printf("Data channel closed by the remote: waiting for a new offer\n");
  else
    printf("Peer Connection has gone to %s: waiting for a new offer\n",
           p2psig_state_name(atomic_load(&t->state)));
  drop_channel(t, NULL);
  if (!tool_peer_new(t, &error)) {
    tool_fail(t, "cannot create a new peer", error);
    t->peer = old;
    atomic_store(&t->failed, true);
    return;
  }
  atomic_store(&t->state, P2PSIG_STATE_NEW);
  atomic_store(&t->was_connected, false);
  atomic_store(&t->ended, false);
  error = p2psig_signaling_set_peer(t->signaling, t->peer);
  if (error < 0)
    tool_fail(t, "cannot serve a new offer", error);
  p2psig_peer_free(old);
}

/* One ICE restart each time the connection goes disconnected. */
static void
maybe_restart_ice(struct tool *t, bool *restarted)
{
  int state = atomic_load(&t->state);
  int rc;

  if (state != P2PSIG_STATE_DISCONNECTED) {
    *restarted = false;
    return;
  }
  if (*restarted || !t->restart_ice_on_disconnect || !t->signaling)
    return;
  *restarted = true;
  rc = p2psig_signaling_restart_ice(t->signaling);
  if (rc < 0)
    tool_fail(t, "ICE restart", rc);
  else
    fprintf(stderr, "%s: disconnected: restarting ICE\n", t->name);
}

int
tool_run(struct tool *t)
{
  long sent = 0;
  double next_tick = 0;
  p2psig_channel *ticking = NULL;
  bool restarted = false;

  for (;;) {
    p2psig_channel *channel;
    long count = t->opt.count;
    double wait_s = 3600;
    int sig;

    if (atomic_load(&t->failed) || atomic_load(&t->signaling_failed) ||
        atomic_load(&t->closed_by_remote))
      break;
    if (t->renew_peer && (atomic_load(&t->ended) ||
                          atomic_load(&t->state) == P2PSIG_STATE_CLOSED ||
                          atomic_load(&t->state) == P2PSIG_STATE_FAILED)) {
      renew_peer(t);
      continue;
    }
    maybe_restart_ice(t, &restarted);
    if (count > 0 && sent >= count && atomic_load(&t->received) >= count)
      break;
    channel = take_channel(t);
    /* pion's ticker starts when the channel opens. */
    if (channel != ticking) {
      ticking = channel;
      next_tick = now() + t->opt.interval;
    }
    if (channel && now() >= next_tick) {
      if (count == 0 || sent < count) {
        send_random(t, channel);
        sent++;
      }
      next_tick += t->opt.interval;
    }
    if (channel)
      wait_s = next_tick - now();
    p2psig_channel_unref(channel);
    if (wait_s <= 0)
      continue;
    sig = wait_signal(wait_s);
    if (sig == SIGINT || sig == SIGTERM)
      break;
  }
  shutdown_peer(t);
  return atomic_load(&t->signaling_failed) ? 1 : 0;
}
