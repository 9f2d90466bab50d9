/* SPDX-License-Identifier: MIT */
/*
 * options-peer: our side of the channel-options interop test against
 * tests/interop/pion-peer, through the public API and p2psig_signaling_*
 * only.
 *
 *   options-peer [-role offer|answer] [-offer-address HOST:PORT]
 *                [-answer-address HOST:PORT] [-local-address IP]
 *                [-timeout SECONDS] [-burst 0|1] [-many N]
 *
 * The channels are "reliable", "unordered" (unordered), "rexmit0"
 * (max_retransmits 0), "lifetime500" (max_packet_lifetime 500), "chat"
 * (protocol "chat"), "neg9" (negotiated, id 9: the pion peer creates it
 * too) and "closer".  As the offer (default), we open them; as the answer,
 * the pion peer (-mode offer) opens them and we check that on_channel
 * shows each label with its protocol.  On every channel we send text,
 * binary, empty text, empty binary and 65535-byte text and binary messages
 * (pion v3 cannot read 65536) and check that each echo comes back equal,
 * with its kind, in order on ordered channels (on the partially reliable
 * "rexmit0" and "lifetime500" an echo may be lost, but none may be
 * corrupt, duplicated or out of order).  Then we close every channel
 * but "closer" from our side and wait for on_close, and send "close-me" on
 * "closer", on which the pion peer closes it, and wait for on_close.
 *
 * -burst 1 sends on every channel at once instead of one channel after
 * the other (a stress variant: UDP buffers overflow, partially reliable
 * channels lose messages).
 *
 * -many N (answer role) expects N more channels "many-0".. from pion
 * (pion-peer -many N) and checks that each arrives and opens; they stay
 * open until the end.  pion's side of them opens only once our DCEP ACK
 * arrives, which run-options.sh checks.
 *
 * Prints one line per check and exits 0 when all passed, 1 otherwise.
 */
#include <p2psig/p2psig.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIG 65535
#define MAX_EXPECTED 8

struct expected {
  p2psig_kind kind;
  size_t len;
  unsigned seed; /* content: pattern(seed) */
  bool matched;
};

struct chan {
  const char *label;
  const char *protocol;
  bool ordered;
  bool partial;           /* partially reliable: echoes may be lost */
  p2psig_channel_config cfg;
  p2psig_channel *channel;
  int channel_events;
  int open_events;
  int close_events;
  int id;
  struct expected expected[MAX_EXPECTED];
  int n_expected;
  int next;               /* ordered: the first echo that may come */
  int echoes;
  int bad_echoes;
  char bad[160];
  char bad_protocol[160];
};

static struct chan chans[] = {
  { .label = "reliable", .protocol = "", .ordered = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT } },
  { .label = "unordered", .protocol = "",
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .unordered = true } },
  { .label = "rexmit0", .protocol = "", .ordered = true, .partial = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_retransmits = true,
             .max_retransmits = 0 } },
  { .label = "lifetime500", .protocol = "", .ordered = true, .partial = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .has_max_packet_lifetime = true,
             .max_packet_lifetime = 500 } },
  { .label = "chat", .protocol = "chat", .ordered = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .protocol = "chat" } },
  { .label = "neg9", .protocol = "", .ordered = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT, .negotiated = true, .id = 9 } },
  { .label = "closer", .protocol = "", .ordered = true,
    .cfg = { P2PSIG_CHANNEL_CONFIG_INIT } },
};
#define N_CHANS (sizeof chans / sizeof chans[0])

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static int failures;
static int unknown_events;
static int failed_state;
static bool offer_role = true;
static bool burst;
static int many;          /* -many: pion's extra channels "many-N" */
static int many_channel_events, many_open_events, many_other_events;

static bool
is_many(p2psig_channel *channel)
{
  return strncmp(p2psig_channel_get_label(channel), "many-", 5) == 0;
}

static void
check(bool ok, const char *format, ...)
{
  va_list args;

  printf("%s ", ok ? "ok:  " : "FAIL:");
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  printf("\n");
  fflush(stdout);
  if (!ok)
    failures++;
}

static uint8_t
pattern(unsigned seed, size_t i)
{
  /* Printable ASCII, so that text messages are valid UTF-8. */
  return (uint8_t)(' ' + (i * 7 + seed * 13 + i / 97) % 95);
}

/* Lock held. */
static struct chan *
find(p2psig_channel *channel)
{
  for (size_t i = 0; i < N_CHANS; i++)
    if (chans[i].channel == channel)
      return &chans[i];
  return NULL;
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *ud)
{
  printf("state: %s%s%s\n", p2psig_state_name(state), error ? " " : "",
         error ? p2psig_error_name(error) : "");
  fflush(stdout);
  pthread_mutex_lock(&lock);
  if (state == P2PSIG_STATE_FAILED)
    failed_state++;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *ud)
{
  const char *label = p2psig_channel_get_label(channel);
  struct chan *c = NULL;

  pthread_mutex_lock(&lock);
  if (is_many(channel)) {
    many_channel_events++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return;
  }
  for (size_t i = 0; i < N_CHANS; i++)
    if (strcmp(chans[i].label, label) == 0 && !chans[i].cfg.negotiated)
      c = &chans[i];
  if (!c || offer_role || c->channel) {
    printf("unexpected on_channel '%s'\n", label);
    unknown_events++;
  } else {
    c->channel = channel;
    c->channel_events++;
    if (strcmp(p2psig_channel_get_protocol(channel), c->protocol) != 0) {
      snprintf(c->bad_protocol, sizeof c->bad_protocol,
               ": protocol \"%s\"", p2psig_channel_get_protocol(channel));
    }
  }
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_open(p2psig_channel *channel, void *ud)
{
  int id = p2psig_channel_get_id(channel);
  struct chan *c;

  pthread_mutex_lock(&lock);
  c = find(channel);
  if (c) {
    c->open_events++;
    c->id = id;
  } else if (is_many(channel)) {
    many_open_events++;
  } else {
    unknown_events++;
  }
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_close(p2psig_channel *channel, void *ud)
{
  struct chan *c;

  pthread_mutex_lock(&lock);
  c = find(channel);
  if (c) {
    c->close_events++;
    printf("on_close '%s'\n", c->label);
    fflush(stdout);
  } else if (is_many(channel)) {
    many_other_events++;
  } else {
    unknown_events++;
  }
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static bool
matches(const struct expected *e, const uint8_t *data, size_t len,
        p2psig_kind kind)
{
  if (e->matched || e->kind != kind || e->len != len)
    return false;
  for (size_t i = 0; i < len; i++)
    if (data[i] != pattern(e->seed, i))
      return false;
  return true;
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *ud)
{
  struct chan *c;

  pthread_mutex_lock(&lock);
  c = find(channel);
  if (!c) {
    if (is_many(channel))
      many_other_events++;
    else
      unknown_events++;
  } else {
    struct expected *hit = NULL;

    if (c->ordered) {
      /* The next one sent; on a partially reliable channel, a later one
       * (what lies between was lost). */
      for (int i = c->next; i < c->n_expected && !hit; i++) {
        if (matches(&c->expected[i], data, len, kind)) {
          hit = &c->expected[i];
          c->next = i + 1;
        }
        if (!c->partial)
          break;
      }
    } else {
      for (int i = 0; i < c->n_expected && !hit; i++)
        if (matches(&c->expected[i], data, len, kind))
          hit = &c->expected[i];
    }
    if (hit) {
      hit->matched = true;
    } else {
      if (c->bad_echoes == 0)
        snprintf(c->bad, sizeof c->bad,
                 "echo %d: unexpected %s message of %zu bytes", c->echoes + 1,
                 kind == P2PSIG_KIND_TEXT ? "text" : "binary", len);
      c->bad_echoes++;
    }
    c->echoes++;
  }
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

/* Waits until pred() holds (lock held while it runs) or the deadline. */
static bool
wait_for(bool (*pred)(void *), void *arg, const struct timespec *deadline)
{
  bool ok;

  pthread_mutex_lock(&lock);
  while (!(ok = pred(arg)) && !failed_state) {
    if (pthread_cond_timedwait(&cond, &lock, deadline) == ETIMEDOUT) {
      ok = pred(arg);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return ok;
}

static bool
all_open(void *arg)
{
  for (size_t i = 0; i < N_CHANS; i++)
    if (chans[i].open_events < 1)
      return false;
  return true;
}

static bool
many_open(void *arg)
{
  return many_open_events >= many;
}

static bool
echoes_done(void *arg)
{
  struct chan *c = arg;

  return c->echoes >= c->n_expected || c->bad_echoes > 0;
}

static bool
closed(void *arg)
{
  struct chan *c = arg;

  return c->close_events >= 1;
}

static void
send_all(struct chan *c)
{
  static const struct {
    p2psig_kind kind;
    size_t len;
  } plan[] = {
    { P2PSIG_KIND_TEXT, 11 },
    { P2PSIG_KIND_BINARY, 300 },
    { P2PSIG_KIND_TEXT, 0 },
    { P2PSIG_KIND_BINARY, 0 },
    { P2PSIG_KIND_TEXT, BIG },
    { P2PSIG_KIND_BINARY, BIG },
  };
  static uint8_t buf[BIG];
  p2psig_channel *channel;

  pthread_mutex_lock(&lock);
  channel = c->channel;
  pthread_mutex_unlock(&lock);
  for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
    unsigned seed = (unsigned)(i + 1 + (c - chans) * 10);
    struct expected *e;
    int ret;

    for (size_t j = 0; j < plan[i].len; j++)
      buf[j] = pattern(seed, j);
    /* Record it before it can come back. */
    pthread_mutex_lock(&lock);
    e = &c->expected[c->n_expected++];
    e->kind = plan[i].kind;
    e->len = plan[i].len;
    e->seed = seed;
    pthread_mutex_unlock(&lock);
    ret = p2psig_channel_send(channel, buf, plan[i].len, plan[i].kind);
    if (ret != 0) {
      check(false, "'%s': sending %s message of %zu bytes: %s", c->label,
            plan[i].kind == P2PSIG_KIND_TEXT ? "text" : "binary",
            plan[i].len, p2psig_error_name(ret));
      pthread_mutex_lock(&lock);
      c->n_expected--;
      pthread_mutex_unlock(&lock);
    }
  }
}

static void
usage(void)
{
  fprintf(stderr, "usage: options-peer [-role offer|answer] "
                  "[-offer-address HOST:PORT] [-answer-address HOST:PORT] "
                  "[-local-address IP] [-timeout SECONDS] [-burst 0|1] "
                  "[-many N]\n");
  exit(2);
}

int
main(int argc, char **argv)
{
  const char *offer_address = NULL, *answer_address = NULL;
  const char *local[2] = { NULL, NULL };
  int timeout_s = 50;
  /* pion opens 600 channels more in one case (ids up to 1,213), past the
   * default 256 streams; pion 3.1.56 ignores the count we offer, and a
   * remote that sends past it stalls the association (README, Limits). */
  p2psig_peer_config pcfg = { P2PSIG_PEER_CONFIG_INIT,
                              .sctp_streams = 2048 };
  p2psig_signaling_config scfg = { P2PSIG_SIGNALING_CONFIG_INIT };
  p2psig_signaling *sig;
  p2psig_peer *peer;
  pthread_condattr_t attr;
  struct timespec deadline;
  int error = 0;

  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    if (strcmp(argv[i], "-role") == 0) {
      offer_role = strcmp(argv[++i], "answer") != 0;
    } else if (strcmp(argv[i], "-offer-address") == 0) {
      offer_address = argv[++i];
    } else if (strcmp(argv[i], "-answer-address") == 0) {
      answer_address = argv[++i];
    } else if (strcmp(argv[i], "-local-address") == 0) {
      local[0] = argv[++i];
    } else if (strcmp(argv[i], "-many") == 0) {
      many = atoi(argv[++i]);
    } else if (strcmp(argv[i], "-burst") == 0) {
      burst = atoi(argv[++i]) != 0;
    } else if (strcmp(argv[i], "-timeout") == 0) {
      timeout_s = atoi(argv[++i]);
    } else {
      usage();
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&cond, &attr);
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_s;

  pcfg.local_addresses = local[0] ? local : NULL;
  pcfg.on_state = on_state;
  pcfg.on_channel = on_channel;
  pcfg.on_open = on_open;
  pcfg.on_close = on_close;
  pcfg.on_message = on_message;
  peer = p2psig_peer_new(&pcfg, &error);
  if (!peer) {
    fprintf(stderr, "p2psig_peer_new: %s\n", p2psig_strerror(error));
    return 1;
  }

  /* Ours as the offer; the negotiated one in either role.  No callback
   * can name a channel before the connection, so the table is filled in
   * before any callback looks. */
  for (size_t i = 0; i < N_CHANS; i++) {
    struct chan *c = &chans[i];
    p2psig_channel *channel;

    if (!offer_role && !c->cfg.negotiated)
      continue;
    channel = p2psig_peer_create_channel(peer, c->label, &c->cfg, &error);
    if (!channel) {
      check(false, "creating '%s': %s", c->label, p2psig_error_name(error));
      return 1;
    }
    pthread_mutex_lock(&lock);
    c->channel = channel;
    pthread_mutex_unlock(&lock);
  }

  scfg.role = offer_role ? P2PSIG_ROLE_OFFER : P2PSIG_ROLE_ANSWER;
  scfg.listen_address = offer_role ? offer_address : answer_address;
  scfg.remote_address = offer_role ? answer_address : offer_address;
  sig = p2psig_signaling_new(peer, &scfg, &error);
  if (!sig) {
    fprintf(stderr, "p2psig_signaling_new: %s\n", p2psig_strerror(error));
    return 1;
  }
  error = p2psig_signaling_start(sig);
  if (error) {
    fprintf(stderr, "p2psig_signaling_start: %s\n", p2psig_strerror(error));
    return 1;
  }
  printf("signaling: %s, listening on port %u\n",
         offer_role ? "offer" : "answer", p2psig_signaling_get_port(sig));

  check(wait_for(all_open, NULL, &deadline), "every channel open");
  if (failures)
    goto out;
  if (many > 0) {
    bool done = wait_for(many_open, NULL, &deadline);

    pthread_mutex_lock(&lock);
    check(done && many_channel_events == many && many_other_events == 0,
          "pion's %d more channels: %d on_channel, %d on_open, %d other "
          "events", many, many_channel_events, many_open_events,
          many_other_events);
    pthread_mutex_unlock(&lock);
  }
  for (size_t i = 0; i < N_CHANS; i++) {
    struct chan *c = &chans[i];

    pthread_mutex_lock(&lock);
    printf("'%s': id %d\n", c->label, c->id);
    pthread_mutex_unlock(&lock);
    if (!offer_role && !c->cfg.negotiated)
      check(c->channel_events == 1 && !c->bad_protocol[0],
            "'%s': on_channel once, protocol \"%s\"%s", c->label,
            c->protocol, c->bad_protocol);
    if (c->cfg.negotiated)
      check(c->id == 9 && c->channel_events == 0,
            "'%s': negotiated, id %d, no on_channel", c->label, c->id);
    else
      /* Whoever opens them, it is the offerer, which is the DTLS server
       * (the answerer, ours or pion's, takes the client role). */
      check(c->id % 2 == 1,
            "'%s': id %d is odd: opened by the DTLS server (the %s)",
            c->label, c->id, offer_role ? "offerer, us" : "offerer, pion");
  }
  /* pion sends no a=max-message-size: RFC 8841 says 65536. */
  check(p2psig_channel_get_max_message_size(chans[0].channel) == 65536,
        "max message size %zu (pion's SDP has none: 65536)",
        p2psig_channel_get_max_message_size(chans[0].channel));

  /* One channel at a time: a burst of them all overflows the UDP buffers
   * now and then, which costs reliable channels a retransmission and
   * partially reliable ones a message (-burst 1 does that on purpose). */
  if (burst)
    for (size_t i = 0; i < N_CHANS; i++)
      send_all(&chans[i]);
  for (size_t i = 0; i < N_CHANS; i++) {
    struct chan *c = &chans[i];
    struct timespec until = deadline;
    bool done;
    int good;

    /* Partially reliable channels may lose echoes: give them a while
     * (they come back in milliseconds when they do). */
    if (!burst)
      send_all(c);
    if (c->partial) {
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += 3;
      if (until.tv_sec > deadline.tv_sec)
        until = deadline;
    }
    done = wait_for(echoes_done, c, &until);
    pthread_mutex_lock(&lock);
    good = c->echoes - c->bad_echoes;
    if (c->partial && c->bad_echoes == 0 && good < c->n_expected)
      check(true, "'%s': %d of %d echoes equal, %d lost (allowed: "
            "partially reliable)", c->label, good, c->n_expected,
            c->n_expected - good);
    else
      check(done && c->bad_echoes == 0 && good == c->n_expected,
            "'%s': %d of %d echoes equal%s%s (empty text and binary, "
            "65535 bytes)", c->label, good, c->n_expected,
            c->bad_echoes ? "; " : "", c->bad);
    pthread_mutex_unlock(&lock);
  }

  /* Close from our side. */
  for (size_t i = 0; i < N_CHANS; i++) {
    struct chan *c = &chans[i];
    int ret;

    if (strcmp(c->label, "closer") == 0)
      continue;
    ret = p2psig_channel_close(c->channel);
    check(ret == 0, "'%s': p2psig_channel_close: %s", c->label,
          p2psig_error_name(ret));
  }
  for (size_t i = 0; i < N_CHANS; i++) {
    struct chan *c = &chans[i];

    if (strcmp(c->label, "closer") == 0)
      continue;
    check(wait_for(closed, c, &deadline), "'%s': on_close after our close",
          c->label);
  }

  /* pion closes "closer" when asked. */
  {
    struct chan *c = &chans[N_CHANS - 1];
    int ret = p2psig_channel_send_text(c->channel, "close-me");

    check(ret == 0, "'closer': sending close-me: %s", p2psig_error_name(ret));
    check(wait_for(closed, c, &deadline),
          "'closer': on_close after pion closed it");
  }

out:
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < N_CHANS; i++)
    if (chans[i].close_events > 1 || chans[i].open_events > 1)
      check(false, "'%s': %d on_open, %d on_close", chans[i].label,
            chans[i].open_events, chans[i].close_events);
  check(unknown_events == 0, "no event for an unknown channel (%d)",
        unknown_events);
  check(failed_state == 0, "the peer never failed");
  pthread_mutex_unlock(&lock);

  p2psig_signaling_free(sig);
  p2psig_peer_close(peer);
  p2psig_peer_free(peer);
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
