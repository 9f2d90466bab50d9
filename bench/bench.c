/* SPDX-License-Identifier: MIT */
/*
 * bench: the workloads of BENCH.md with two peers of ours in one process,
 * wired to each other through the public API only, over one address
 * (127.0.0.1 by default).
 *
 *   bench [options] throughput SIZE   one reliable ordered channel, messages
 *                                     of SIZE bytes; MB/s (10^6 B/s) counted
 *                                     by the receiver over -t seconds after
 *                                     -w seconds of warm-up, and CPU % of the
 *                                     whole process over the same window
 *                                     (of 100 % per core: 200 % on 2 cores)
 *   bench [options] rate              the same with 100-byte messages:
 *                                     messages/s
 *   bench [options] echo              100-byte message, the answer echoes
 *                                     it, one in flight; -n round trips
 *                                     after a warm-up of -n/20: median and
 *                                     p99 in microseconds
 *   bench [options] setup             -r runs: from p2psig_peer_create_offer()
 *                                     to the offerer's on_open (the peers
 *                                     and the channel exist before);
 *                                     median, min and max in ms
 *   bench [options] pairs SIZE        -p pairs (2), each as throughput,
 *                                     sending at once: their MB/s added up
 *                                     (the ratio to one pair's is
 *                                     run.sh's) and CPU %
 *   bench [options] all               all of the above but pairs (16 KiB
 *                                     and 65535 B)
 *
 * Flow control as pion's data-channels-flow-control example: the sender (a
 * thread of its own, as an application's) sends while the channel's
 * buffered amount is under 1 MiB, then waits for on_buffered_amount_low
 * (threshold 512 KiB).
 *
 * Echo: the offerer's on_message times the round trip and sends the next
 * message from inside the callback; the answer's on_message sends the
 * message back.  pion's side of bench/ does the same in its OnMessage.
 *
 * Messages per datagram (rate): the datagrams the offerers send to their
 * answers over the measured window, counted at the system call (below),
 * over the messages received; with an ICE-TCP pair there is no such
 * figure.
 *
 * Output: one line per figure, "<label> <figure> <value>", e.g.
 * "ours throughput_16k_MBps 123.4"; progress and errors on stderr.
 *
 * Options: -t SECONDS (10), -w SECONDS (1), -n ROUNDTRIPS (10000),
 * -r RUNS (20), -p PAIRS (2), -a ADDRESS (127.0.0.1), -l LABEL (ours),
 * -i SECONDS (print MB/s and CPU % of throughput, rate and pairs every
 * SECONDS to stderr; off).
 */
#define _GNU_SOURCE
#include <p2psig/p2psig.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define number(s, min, max) bench_number("bench", s, min, max)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX_BUFFERED (1024 * 1024)
#define LOW_THRESHOLD (512 * 1024)
#define OPEN_TIMEOUT_S 15
#define MAX_PAIRS 64

static struct {
  double seconds;
  double warmup;
  long roundtrips;
  long runs;
  long pairs;
  const char *address;
  const char *label;
  double interval; /* > 0: print progress to stderr every interval s */
  bool roundtrips_given;
  bool no_interleaving; /* -I: disable_message_interleaving */
  size_t hol_size;      /* -b: hol's large message */
} opt = {10, 1, 10000, 20, 2, "127.0.0.1", "ours", 0, false, false,
         1024 * 1024};

static void
die(const char *what, int error)
{
  fprintf(stderr, "bench: %s: %s\n", what, p2psig_strerror(error));
  exit(1);
}

static void
sleep_s(double s)
{
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

  while (nanosleep(&ts, &ts) && errno == EINTR)
    ;
}

static void
deadline_in(struct timespec *ts, double s)
{
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)s;
  ts->tv_nsec += (long)((s - (time_t)s) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static double
cpu_s(void)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void
report(const char *figure, double value)
{
  printf("%s %s %.*f\n", opt.label, figure, value < 100 ? 2 : 1, value);
  fflush(stdout);
}

/* --- datagrams sent, counted at the system call ------------------------- */

/* libnice sends a datagram with sendmsg() (GLib's g_socket_send_message,
 * which g_socket_send_to() calls too), several with sendmmsg(); the
 * executable defines both and exports them (export_dynamic in
 * meson.build), so that the libraries' calls come here first and go on to
 * libc's.  Those to a watched address, an answer's end of its selected
 * pair, are counted: the library has no such counter. */
static struct {
  atomic_int count;             /* of dest[] set */
  struct sockaddr_storage dest[MAX_PAIRS];
  atomic_uint_fast64_t datagrams;
  ssize_t (*sendmsg)(int, const struct msghdr *, int);
  int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
} watch;

static void
watch_init(void)
{
  /* POSIX's way to a function pointer from dlsym(). */
  *(void **)&watch.sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  *(void **)&watch.sendmmsg = dlsym(RTLD_NEXT, "sendmmsg");
  if (!watch.sendmsg || !watch.sendmmsg) {
    fprintf(stderr, "bench: dlsym: %s\n", dlerror());
    exit(1);
  }
  atomic_init(&watch.count, 0);
  atomic_init(&watch.datagrams, 0);
}

static bool
watched(const void *name, socklen_t len)
{
  int n = atomic_load_explicit(&watch.count, memory_order_acquire);
  const struct sockaddr *sa = name;

  if (!name || n == 0)
    return false;
  for (int i = 0; i < n; i++) {
    const struct sockaddr_storage *d = &watch.dest[i];

    if (sa->sa_family != d->ss_family)
      continue;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
      const struct sockaddr_in *a = name, *b = (const void *)d;

      if (a->sin_port == b->sin_port &&
          a->sin_addr.s_addr == b->sin_addr.s_addr)
        return true;
    } else if (sa->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
      const struct sockaddr_in6 *a = name, *b = (const void *)d;

      if (a->sin6_port == b->sin6_port &&
          !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr))
        return true;
    }
  }
  return false;
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
  ssize_t r;

  if (!watch.sendmsg)
    watch_init();
  r = watch.sendmsg(fd, msg, flags);

  if (r >= 0 && watched(msg->msg_name, msg->msg_namelen))
    atomic_fetch_add_explicit(&watch.datagrams, 1, memory_order_relaxed);
  return r;
}

int
sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
  int r;

  if (!watch.sendmmsg)
    watch_init();
  r = watch.sendmmsg(fd, msgs, n, flags);

  for (int i = 0; i < r; i++)
    if (watched(msgs[i].msg_hdr.msg_name, msgs[i].msg_hdr.msg_namelen))
      atomic_fetch_add_explicit(&watch.datagrams, 1, memory_order_relaxed);
  return r;
}

/* Watches what offerer sends to its remote end, when the selected pair is
 * UDP; false otherwise. */
static bool
watch_peer(p2psig_peer *offerer)
{
  p2psig_peer_stats st = P2PSIG_STATS_INIT(p2psig_peer_stats);
  int n = atomic_load(&watch.count);
  struct sockaddr_storage d = {0};
  struct sockaddr_in *v4 = (void *)&d;
  struct sockaddr_in6 *v6 = (void *)&d;

  if (n == MAX_PAIRS || p2psig_peer_get_stats(offerer, &st) < 0 ||
      !st.has_selected_pair || strcmp(st.remote_protocol, "udp") != 0)
    return false;
  if (inet_pton(AF_INET, st.remote_address, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(st.remote_port);
  } else if (inet_pton(AF_INET6, st.remote_address, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(st.remote_port);
  } else {
    return false;
  }
  watch.dest[n] = d;
  atomic_store_explicit(&watch.count, n + 1, memory_order_release);
  return true;
}

/* --- two peers wired to each other -------------------------------------- */

enum mode { MODE_COUNT, MODE_ECHO, MODE_SETUP, MODE_HOL };

#define HOL_DEFAULT_SIZE (1024 * 1024)
#define HOL_SMALL 100
#define HOL_WARMUP 3

struct pair;

struct side {
  struct pair *pair;
  int which; /* 0 offer, 1 answer */
};

struct pair {
  enum mode mode;
  struct side side[2];
  p2psig_peer *peer[2];
  p2psig_channel *channel[2];
  p2psig_channel *small;  /* MODE_HOL: the offerer's second channel */
  int opens[2];           /* on_open, each side */

  pthread_mutex_t lock; /* guards what the condition below waits for */
  pthread_cond_t cond;
  bool open[2];
  bool failed;
  int fail_error;
  bool tearing_down;     /* on_candidate stops adding */
  bool low;              /* on_buffered_amount_low fired */
  bool echo_done;

  /* MODE_COUNT: what the answer received */
  atomic_uint_fast64_t bytes;
  atomic_uint_fast64_t messages;

  /* MODE_ECHO: the offerer's side */
  double sent_at;
  long echo_index; /* round trips done, warm-up included */
  long echo_warmup;
  long echo_total;
  double *rtt;     /* echo_total - echo_warmup of them */
  uint8_t echo_msg[100];

  /* MODE_HOL: when the answer got this round's messages; 0: not yet */
  double hol_big_at, hol_small_at;

  /* MODE_SETUP: when the offerer's ICE connected and its DTLS did; 0: not
   * yet */
  double ice_at, connected_at;
};

/* Where one setup's time went, from the offerer's side: its four API
 * calls, then until ICE connected, DTLS connected, the channel open. */
struct setup_phases {
  double calls, ice, dtls, sctp;
};

static void
on_candidate(p2psig_peer *peer, const char *candidate, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;
  int r;

  if (!candidate)
    return;
  pthread_mutex_lock(&pair->lock);
  if (!pair->tearing_down) {
    r = p2psig_peer_add_candidate(pair->peer[!side->which], candidate);
    if (r < 0)
      fprintf(stderr, "bench: add_candidate: %s\n", p2psig_strerror(r));
  }
  pthread_mutex_unlock(&pair->lock);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;

  if (state == P2PSIG_STATE_FAILED) {
    pthread_mutex_lock(&pair->lock);
    pair->failed = true;
    pair->fail_error = error;
    pthread_cond_broadcast(&pair->cond);
    pthread_mutex_unlock(&pair->lock);
  } else if (state == P2PSIG_STATE_CONNECTED && side->which == 0) {
    double now = bench_now_s();

    pthread_mutex_lock(&pair->lock);
    if (!pair->connected_at)
      pair->connected_at = now;
    pthread_mutex_unlock(&pair->lock);
  }
}

static void
on_ice_connection_state(p2psig_peer *peer, p2psig_ice_connection_state state,
                        void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;
  double now = bench_now_s();

  if (side->which != 0 || state != P2PSIG_ICE_CONNECTION_CONNECTED)
    return;
  pthread_mutex_lock(&pair->lock);
  if (!pair->ice_at)
    pair->ice_at = now;
  pthread_mutex_unlock(&pair->lock);
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;

  pthread_mutex_lock(&pair->lock);
  pair->channel[side->which] = channel;
  pthread_mutex_unlock(&pair->lock);
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;

  pthread_mutex_lock(&pair->lock);
  pair->open[side->which] = true;
  pair->opens[side->which]++;
  pthread_cond_broadcast(&pair->cond);
  pthread_mutex_unlock(&pair->lock);
}

static void
on_buffered_amount_low(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;

  pthread_mutex_lock(&pair->lock);
  pair->low = true;
  pthread_cond_broadcast(&pair->cond);
  pthread_mutex_unlock(&pair->lock);
}

static void
echo_on_offer_message(struct pair *pair, p2psig_channel *channel)
{
  double t = bench_now_s();
  long i = pair->echo_index++;
  int r;

  if (i >= pair->echo_warmup)
    pair->rtt[i - pair->echo_warmup] = t - pair->sent_at;
  if (pair->echo_index >= pair->echo_total) {
    pthread_mutex_lock(&pair->lock);
    pair->echo_done = true;
    pthread_cond_broadcast(&pair->cond);
    pthread_mutex_unlock(&pair->lock);
    return;
  }
  pair->sent_at = bench_now_s();
  r = p2psig_channel_send(channel, pair->echo_msg, sizeof pair->echo_msg,
                          P2PSIG_KIND_BINARY);
  if (r < 0)
    die("echo send", r);
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = user_data;
  struct pair *pair = side->pair;
  int r;

  switch (pair->mode) {
  case MODE_COUNT:
    if (side->which == 1) {
      atomic_fetch_add_explicit(&pair->bytes, len, memory_order_relaxed);
      atomic_fetch_add_explicit(&pair->messages, 1, memory_order_relaxed);
    }
    break;
  case MODE_ECHO:
    if (side->which == 1) {
      r = p2psig_channel_send(channel, data, len, kind);
      if (r < 0)
        die("echo reply", r);
    } else {
      echo_on_offer_message(pair, channel);
    }
    break;
  case MODE_HOL:
    if (side->which == 1) {
      double t = bench_now_s();

      pthread_mutex_lock(&pair->lock);
      if (len == HOL_SMALL)
        pair->hol_small_at = t;
      else
        pair->hol_big_at = t;
      pthread_cond_broadcast(&pair->cond);
      pthread_mutex_unlock(&pair->lock);
    }
    break;
  case MODE_SETUP:
    break;
  }
}

static struct pair *
pair_new(enum mode mode)
{
  const char *addresses[] = {opt.address, NULL};
  struct pair *pair = calloc(1, sizeof *pair);
  int i, error = 0;

  if (!pair)
    die("calloc", P2PSIG_ENOMEM);
  pair->mode = mode;
  pthread_mutex_init(&pair->lock, NULL);
  {
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pair->cond, &ca);
    pthread_condattr_destroy(&ca);
  }
  atomic_init(&pair->bytes, 0);
  atomic_init(&pair->messages, 0);
  for (i = 0; i < 2; i++) {
    p2psig_peer_config cfg = {
      P2PSIG_PEER_CONFIG_INIT,
      .local_addresses = addresses,
      .on_candidate = on_candidate,
      .on_state = on_state,
      .on_ice_connection_state = on_ice_connection_state,
      .on_channel = on_channel,
      .on_open = on_open,
      .on_message = on_message,
      .on_buffered_amount_low = on_buffered_amount_low,
      .disable_message_interleaving = opt.no_interleaving,
    };

    pair->side[i].pair = pair;
    pair->side[i].which = i;
    cfg.user_data = &pair->side[i];
    pair->peer[i] = p2psig_peer_new(&cfg, &error);
    if (!pair->peer[i])
      die("p2psig_peer_new", error);
  }
  pair->channel[0] = p2psig_peer_create_channel(pair->peer[0], "data", NULL,
                                                &error);
  if (!pair->channel[0])
    die("p2psig_peer_create_channel", error);
  if (mode == MODE_HOL) {
    pair->small = p2psig_peer_create_channel(pair->peer[0], "small", NULL,
                                             &error);
    if (!pair->small)
      die("p2psig_peer_create_channel", error);
  }
  return pair;
}

/* Offer, answer; returns when the offerer's channel is open (and, when
 * both_open, the answer's too).  Returns the seconds from the offer to the
 * offerer's on_open. */
static double
pair_connect(struct pair *pair, bool both_open, struct setup_phases *phases)
{
  char *offer = NULL, *answer = NULL;
  struct timespec deadline;
  double t0, t_calls, t1 = 0;
  int r;

  t0 = bench_now_s();
  if ((r = p2psig_peer_create_offer(pair->peer[0], &offer)) < 0)
    die("create_offer", r);
  if ((r = p2psig_peer_set_remote_description(pair->peer[1], P2PSIG_SDP_OFFER,
                                              offer)) < 0)
    die("set_remote_description(offer)", r);
  if ((r = p2psig_peer_create_answer(pair->peer[1], &answer)) < 0)
    die("create_answer", r);
  if ((r = p2psig_peer_set_remote_description(pair->peer[0],
                                              P2PSIG_SDP_ANSWER, answer)) < 0)
    die("set_remote_description(answer)", r);
  t_calls = bench_now_s();
  p2psig_free(offer);
  p2psig_free(answer);

  deadline_in(&deadline, OPEN_TIMEOUT_S);
  pthread_mutex_lock(&pair->lock);
  for (;;) {
    if (pair->open[0] && !t1)
      t1 = bench_now_s();
    if (pair->failed || (pair->open[0] && (!both_open || pair->open[1])))
      break;
    if (pthread_cond_timedwait(&pair->cond, &pair->lock, &deadline) ==
        ETIMEDOUT)
      break;
  }
  if (pair->failed || !pair->open[0] || (both_open && !pair->open[1])) {
    fprintf(stderr, "bench: the channel did not open (%s)\n",
            pair->failed ? p2psig_strerror(pair->fail_error) : "timeout");
    exit(1);
  }
  if (phases) {
    phases->calls = t_calls - t0;
    phases->ice = pair->ice_at ? pair->ice_at - t_calls : 0;
    phases->dtls = pair->connected_at && pair->ice_at
                     ? pair->connected_at - pair->ice_at : 0;
    phases->sctp = pair->connected_at ? t1 - pair->connected_at : 0;
  }
  pthread_mutex_unlock(&pair->lock);
  return t1 - t0;
}

static void
pair_free(struct pair *pair)
{
  pthread_mutex_lock(&pair->lock);
  pair->tearing_down = true;
  pthread_mutex_unlock(&pair->lock);
  p2psig_peer_free(pair->peer[0]);
  p2psig_peer_free(pair->peer[1]);
  pthread_cond_destroy(&pair->cond);
  pthread_mutex_destroy(&pair->lock);
  free(pair->rtt);
  free(pair);
}

/* --- throughput and message rate ------------------------------------------ */

struct sender {
  struct pair *pair;
  size_t size;
  atomic_bool stop;
  int error;
};

static void *
sender_main(void *data)
{
  struct sender *s = data;
  struct pair *pair = s->pair;
  p2psig_channel *ch = pair->channel[0];
  uint8_t *buf = malloc(s->size);
  struct timespec deadline;
  int r;

  if (!buf)
    die("malloc", P2PSIG_ENOMEM);
  memset(buf, 0xa5, s->size);
  while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
    /* Clear the flag before looking at the amount: a fall below the
     * threshold after the look sets it again. */
    pthread_mutex_lock(&pair->lock);
    pair->low = false;
    pthread_mutex_unlock(&pair->lock);
    if (p2psig_channel_get_buffered_amount(ch) + s->size > MAX_BUFFERED) {
      pthread_mutex_lock(&pair->lock);
      deadline_in(&deadline, 0.5);
      while (!pair->low && !atomic_load(&s->stop) &&
             pthread_cond_timedwait(&pair->cond, &pair->lock, &deadline) !=
               ETIMEDOUT)
        ;
      pthread_mutex_unlock(&pair->lock);
      continue;
    }
    r = p2psig_channel_send(ch, buf, s->size, P2PSIG_KIND_BINARY);
    if (r == P2PSIG_EAGAIN) {
      sleep_s(0.001);
    } else if (r < 0) {
      s->error = r;
      break;
    }
  }
  free(buf);
  return NULL;
}

/* A pair and its sender. */
struct flow {
  struct pair *pair;
  struct sender s;
  pthread_t thread;
};

static void
flow_connect(struct flow *f, size_t size)
{
  int r;

  f->pair = pair_new(MODE_COUNT);
  f->s.pair = f->pair;
  f->s.size = size;
  atomic_init(&f->s.stop, false);
  pair_connect(f->pair, true, NULL);
  if ((r = p2psig_channel_set_buffered_amount_low_threshold(
         f->pair->channel[0], LOW_THRESHOLD)) < 0)
    die("set_buffered_amount_low_threshold", r);
}

static void
flow_start(struct flow *f)
{
  if (pthread_create(&f->thread, NULL, sender_main, &f->s))
    die("pthread_create", P2PSIG_EINTERNAL);
}

static void
flow_stop(struct flow *f)
{
  atomic_store(&f->s.stop, true);
  pthread_mutex_lock(&f->pair->lock);
  pthread_cond_broadcast(&f->pair->cond);
  pthread_mutex_unlock(&f->pair->lock);
  pthread_join(f->thread, NULL);
  if (f->s.error)
    die("send", f->s.error);
  pair_free(f->pair);
}

/* Received over every flow. */
static void
flows_count(const struct flow *flows, long n, uint64_t *bytes,
            uint64_t *messages)
{
  *bytes = *messages = 0;
  for (long i = 0; i < n; i++) {
    *bytes += atomic_load(&flows[i].pair->bytes);
    *messages += atomic_load(&flows[i].pair->messages);
  }
}

/* The figures of run_flows(). */
struct flow_result {
  double bps, mps, cpu_pct;
  double dgps;                  /* datagrams/s to the answers; < 0: none */
};

/* Runs n pairs, each with a sender of size-byte messages, all connected
 * before any sends; returns what the answers received, added up, and CPU
 * % over the measured window. */
static void
run_flows(long n, size_t size, struct flow_result *res)
{
  struct flow *flows = calloc(n, sizeof *flows);
  uint64_t b0, m0, b1, m1, d0, d1;
  bool watching = true;
  double t0, t1, c0, c1;

  if (!flows)
    die("calloc", P2PSIG_ENOMEM);
  for (long i = 0; i < n; i++) {
    flow_connect(&flows[i], size);
    watching = watch_peer(flows[i].pair->peer[0]) && watching;
  }
  for (long i = 0; i < n; i++)
    flow_start(&flows[i]);
  sleep_s(opt.warmup);
  t0 = bench_now_s();
  c0 = cpu_s();
  flows_count(flows, n, &b0, &m0);
  d0 = atomic_load(&watch.datagrams);
  if (opt.interval > 0) {
    double t = t0, c = c0, tn, cn;
    uint64_t b = b0, bn, mn;

    while ((tn = bench_now_s()) < t0 + opt.seconds) {
      sleep_s(MIN(opt.interval, t0 + opt.seconds - tn));
      tn = bench_now_s();
      cn = cpu_s();
      flows_count(flows, n, &bn, &mn);
      fprintf(stderr, "bench: %6.2f s: %8.2f MB/s, %6.1f %% CPU\n", tn - t0,
              (bn - b) / (tn - t) / 1e6, 100 * (cn - c) / (tn - t));
      t = tn;
      c = cn;
      b = bn;
    }
  } else {
    sleep_s(opt.seconds);
  }
  t1 = bench_now_s();
  c1 = cpu_s();
  flows_count(flows, n, &b1, &m1);
  d1 = atomic_load(&watch.datagrams);
  for (long i = 0; i < n; i++)
    flow_stop(&flows[i]);
  atomic_store(&watch.count, 0);
  free(flows);
  res->bps = (b1 - b0) / (t1 - t0);
  res->mps = (m1 - m0) / (t1 - t0);
  res->cpu_pct = 100 * (c1 - c0) / (t1 - t0);
  res->dgps = watching ? (d1 - d0) / (t1 - t0) : -1;
}

static const char *
size_name(size_t size, char *buf, size_t buflen)
{
  if (size % 1024 == 0)
    snprintf(buf, buflen, "%zuk", size / 1024);
  else
    snprintf(buf, buflen, "%zu", size);
  return buf;
}

static void
bench_throughput(size_t size)
{
  struct flow_result res;
  char name[64], sz[32];

  fprintf(stderr, "bench: %s throughput, %zu-byte messages, %g s + %g s\n",
          opt.label, size, opt.warmup, opt.seconds);
  run_flows(1, size, &res);
  size_name(size, sz, sizeof sz);
  snprintf(name, sizeof name, "throughput_%s_MBps", sz);
  report(name, res.bps / 1e6);
  snprintf(name, sizeof name, "throughput_%s_cpu_pct", sz);
  report(name, res.cpu_pct);
}

static void
bench_pairs(size_t size)
{
  struct flow_result res;
  char name[64], sz[32];

  fprintf(stderr, "bench: %s %ld pairs at once, %zu-byte messages, "
          "%g s + %g s\n", opt.label, opt.pairs, size, opt.warmup,
          opt.seconds);
  run_flows(opt.pairs, size, &res);
  size_name(size, sz, sizeof sz);
  report("pairs_count", (double)opt.pairs);
  snprintf(name, sizeof name, "pairs_%s_MBps", sz);
  report(name, res.bps / 1e6);
  snprintf(name, sizeof name, "pairs_%s_cpu_pct", sz);
  report(name, res.cpu_pct);
}

static void
bench_rate(void)
{
  struct flow_result res;

  fprintf(stderr, "bench: %s message rate, 100-byte messages, %g s + %g s\n",
          opt.label, opt.warmup, opt.seconds);
  run_flows(1, 100, &res);
  report("rate_100B_msgps", res.mps);
  report("rate_100B_cpu_pct", res.cpu_pct);
  if (res.dgps > 0) {
    report("rate_100B_dgps", res.dgps);
    report("rate_100B_msgs_per_dgram", res.mps / res.dgps);
  } else {
    fprintf(stderr, "bench: no datagrams counted (not a UDP pair?)\n");
  }
}

/* --- echo and setup ------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

/* The value at quantile q of sorted v (nearest rank). */
static double
quantile(const double *v, long n, double q)
{
  long i = (long)(q * n + 0.999999) - 1;

  if (i < 0)
    i = 0;
  if (i >= n)
    i = n - 1;
  return v[i];
}

static void
bench_echo(void)
{
  struct pair *pair = pair_new(MODE_ECHO);
  struct timespec deadline;
  long n = opt.roundtrips;
  int r;

  fprintf(stderr, "bench: %s echo, %ld round trips of 100 bytes\n",
          opt.label, n);
  pair->echo_warmup = n / 20;
  pair->echo_total = pair->echo_warmup + n;
  pair->rtt = calloc(n, sizeof *pair->rtt);
  if (!pair->rtt)
    die("calloc", P2PSIG_ENOMEM);
  memset(pair->echo_msg, 'e', sizeof pair->echo_msg);
  pair_connect(pair, true, NULL);

  pair->sent_at = bench_now_s();
  r = p2psig_channel_send(pair->channel[0], pair->echo_msg,
                          sizeof pair->echo_msg, P2PSIG_KIND_BINARY);
  if (r < 0)
    die("echo send", r);
  deadline_in(&deadline, 120);
  pthread_mutex_lock(&pair->lock);
  while (!pair->echo_done && !pair->failed &&
         pthread_cond_timedwait(&pair->cond, &pair->lock, &deadline) !=
           ETIMEDOUT)
    ;
  if (!pair->echo_done) {
    fprintf(stderr, "bench: echo did not finish (%ld round trips)\n",
            pair->echo_index);
    exit(1);
  }
  pthread_mutex_unlock(&pair->lock);
  qsort(pair->rtt, n, sizeof *pair->rtt, cmp_double);
  report("echo_median_us", quantile(pair->rtt, n, 0.5) * 1e6);
  report("echo_p99_us", quantile(pair->rtt, n, 0.99) * 1e6);
  pair_free(pair);
}

/* Sorts v and reports its median as NAME, in ms. */
static void
report_median_ms(const char *name, double *v, long n)
{
  qsort(v, n, sizeof *v, cmp_double);
  report(name, quantile(v, n, 0.5) * 1e3);
}

static void
bench_setup(void)
{
  long n = opt.runs, i;
  double *v = calloc(n, sizeof *v);
  double *phase[4];
  static const char *const phase_names[4] = {
    "setup_calls_median_ms", "setup_ice_median_ms", "setup_dtls_median_ms",
    "setup_sctp_median_ms",
  };

  if (!v)
    die("calloc", P2PSIG_ENOMEM);
  for (int p = 0; p < 4; p++)
    if (!(phase[p] = calloc(n, sizeof *phase[p])))
      die("calloc", P2PSIG_ENOMEM);
  fprintf(stderr, "bench: %s setup, %ld runs\n", opt.label, n);
  for (i = 0; i < n; i++) {
    struct pair *pair = pair_new(MODE_SETUP);
    struct setup_phases ph;

    v[i] = pair_connect(pair, false, &ph);
    phase[0][i] = ph.calls;
    phase[1][i] = ph.ice;
    phase[2][i] = ph.dtls;
    phase[3][i] = ph.sctp;
    pair_free(pair);
  }
  /* The slowest run's phases: where an outlier lost its time. */
  long slowest = 0;
  for (i = 1; i < n; i++)
    if (v[i] > v[slowest])
      slowest = i;
  static const char *const slowest_names[4] = {
    "setup_slowest_calls_ms", "setup_slowest_ice_ms",
    "setup_slowest_dtls_ms", "setup_slowest_sctp_ms",
  };
  for (int p = 0; p < 4; p++)
    report(slowest_names[p], phase[p][slowest] * 1e3);
  qsort(v, n, sizeof *v, cmp_double);
  double median = quantile(v, n, 0.5);
  long over = 0;
  for (i = 0; i < n; i++)
    over += v[i] > 3 * median;
  report("setup_median_ms", median * 1e3);
  report("setup_min_ms", v[0] * 1e3);
  report("setup_p99_ms", quantile(v, n, 0.99) * 1e3);
  report("setup_max_ms", v[n - 1] * 1e3);
  report("setup_over_3x_median_runs", (double)over);
  for (int p = 0; p < 4; p++) {
    report_median_ms(phase_names[p], phase[p], n);
    free(phase[p]);
  }
  free(v);
}

/* --- head-of-line blocking between channels ------------------------------- */

/* Each round, the offerer sends a 1 MiB message (-b) on "data" and right
 * after it a 100-byte one on "small"; the answer notes when each arrives.
 * A size other than 1 MiB shows in the figures' names (pion, which cannot
 * send over 65535 bytes, runs with -b 65535).  With
 * message interleaving (I-DATA) the small one need not wait for the large
 * one; without it (-I, or a remote without it), SCTP sends the large one
 * whole first. */
static void
bench_hol(void)
{
  struct pair *pair = pair_new(MODE_HOL);
  long n = opt.roundtrips_given ? opt.roundtrips : 30;
  double *small = calloc(n, sizeof *small), *big = calloc(n, sizeof *big);
  uint8_t *buf = malloc(opt.hol_size);
  char prefix[48], size_buf[16], name[80];

  if (!small || !big || !buf)
    die("calloc", P2PSIG_ENOMEM);
  snprintf(prefix, sizeof prefix, "hol%s%s%s",
           opt.hol_size == HOL_DEFAULT_SIZE ? "" : "_",
           opt.hol_size == HOL_DEFAULT_SIZE
               ? "" : size_name(opt.hol_size, size_buf, sizeof size_buf),
           opt.no_interleaving ? "_noidata" : "");
  memset(buf, 'b', opt.hol_size);
  fprintf(stderr, "bench: %s head-of-line, %ld rounds of %zu B then 100 B "
          "on another channel%s\n", opt.label, n, opt.hol_size,
          opt.no_interleaving ? ", interleaving off" : "");
  pair_connect(pair, true, NULL);
  {
    struct timespec deadline;

    deadline_in(&deadline, OPEN_TIMEOUT_S);
    pthread_mutex_lock(&pair->lock);
    while ((pair->opens[0] < 2 || pair->opens[1] < 2) && !pair->failed &&
           pthread_cond_timedwait(&pair->cond, &pair->lock, &deadline) !=
             ETIMEDOUT)
      ;
    if (pair->opens[0] < 2 || pair->opens[1] < 2) {
      fprintf(stderr, "bench: both channels did not open\n");
      exit(1);
    }
    pthread_mutex_unlock(&pair->lock);
  }
  for (long i = -HOL_WARMUP; i < n; i++) {
    struct timespec deadline;
    double big_sent, small_sent;
    int r;

    pthread_mutex_lock(&pair->lock);
    pair->hol_big_at = pair->hol_small_at = 0;
    pthread_mutex_unlock(&pair->lock);
    big_sent = bench_now_s();
    if ((r = p2psig_channel_send(pair->channel[0], buf, opt.hol_size,
                                 P2PSIG_KIND_BINARY)) < 0)
      die("hol send (large)", r);
    small_sent = bench_now_s();
    if ((r = p2psig_channel_send(pair->small, buf, HOL_SMALL,
                                 P2PSIG_KIND_BINARY)) < 0)
      die("hol send (small)", r);
    deadline_in(&deadline, 30);
    pthread_mutex_lock(&pair->lock);
    while ((!pair->hol_big_at || !pair->hol_small_at) && !pair->failed &&
           pthread_cond_timedwait(&pair->cond, &pair->lock, &deadline) !=
             ETIMEDOUT)
      ;
    if (!pair->hol_big_at || !pair->hol_small_at) {
      fprintf(stderr, "bench: round %ld did not arrive\n", i);
      exit(1);
    }
    if (i >= 0) {
      small[i] = pair->hol_small_at - small_sent;
      big[i] = pair->hol_big_at - big_sent;
    }
    pthread_mutex_unlock(&pair->lock);
  }
  qsort(small, n, sizeof *small, cmp_double);
  qsort(big, n, sizeof *big, cmp_double);
  snprintf(name, sizeof name, "%s_small_median_ms", prefix);
  report(name, quantile(small, n, 0.5) * 1e3);
  snprintf(name, sizeof name, "%s_small_p90_ms", prefix);
  report(name, quantile(small, n, 0.9) * 1e3);
  snprintf(name, sizeof name, "%s_big_median_ms", prefix);
  report(name, quantile(big, n, 0.5) * 1e3);
  free(small);
  free(big);
  free(buf);
  pair_free(pair);
}

/* --- main ----------------------------------------------------------------- */

static void
usage(int status)
{
  fprintf(status ? stderr : stdout,
          "usage: bench [-t SECONDS] [-w SECONDS] [-n ROUNDTRIPS] [-r RUNS]\n"
          "             [-p PAIRS] [-a ADDRESS] [-l LABEL] [-i SECONDS] [-I]\n"
          "             [-b HOL_SIZE]\n"
          "             throughput SIZE | pairs SIZE | rate | echo | setup "
          "| hol | all\n");
  exit(status);
}

int
main(int argc, char **argv)
{
  const char *what;
  int c;

  watch_init();
  while ((c = getopt(argc, argv, "ht:w:n:r:p:a:l:i:Ib:")) != -1) {
    switch (c) {
    case 't': opt.seconds = number(optarg, 0.1, 3600); break;
    case 'w': opt.warmup = number(optarg, 0, 3600); break;
    case 'n':
      opt.roundtrips = (long)number(optarg, 1, 1e8);
      opt.roundtrips_given = true;
      break;
    case 'I': opt.no_interleaving = true; break;
    case 'b': opt.hol_size = (size_t)number(optarg, HOL_SMALL + 1, 1048576); break;
    case 'r': opt.runs = (long)number(optarg, 1, 1e6); break;
    case 'p': opt.pairs = (long)number(optarg, 1, MAX_PAIRS); break;
    case 'a': opt.address = optarg; break;
    case 'l': opt.label = optarg; break;
    case 'i': opt.interval = number(optarg, 0.001, 3600); break;
    case 'h': usage(0); break;
    default: usage(2);
    }
  }
  if (optind >= argc)
    usage(2);
  what = argv[optind++];
  if (!strcmp(what, "throughput")) {
    if (optind != argc - 1)
      usage(2);
    bench_throughput((size_t)number(argv[optind], 1, 16 * 1024 * 1024));
  } else if (!strcmp(what, "pairs")) {
    if (optind != argc - 1)
      usage(2);
    bench_pairs((size_t)number(argv[optind], 1, 16 * 1024 * 1024));
  } else if (!strcmp(what, "rate") && optind == argc) {
    bench_rate();
  } else if (!strcmp(what, "echo") && optind == argc) {
    bench_echo();
  } else if (!strcmp(what, "setup") && optind == argc) {
    bench_setup();
  } else if (!strcmp(what, "hol") && optind == argc) {
    bench_hol();
  } else if (!strcmp(what, "all") && optind == argc) {
    bench_setup();
    bench_echo();
    bench_throughput(16384);
    bench_throughput(65535);
    bench_rate();
  } else {
    usage(2);
  }
  return 0;
}
