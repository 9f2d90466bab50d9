/* SPDX-License-Identifier: MIT */
/*
 * scale: many idle peers in one process (issue 12, item 7), through the
 * public API only.  N peers make N/2 pairs, wired to each other by
 * function calls (SDP and trickled candidates), on 127.0.0.1 only, without
 * STUN or ICE-TCP, so that each peer holds as few descriptors as libnice
 * allows.  Each pair opens one channel.
 *
 *   scale [-n PEERS] [-c CONNECTING] [-s SETTLE_S] [-w WINDOW_S]
 *         [-i IDLE_S] [-S SCTP_STREAMS] [-R MAX_RSS_KIB] [-C MAX_CPU_PCT]
 *         [-W MAX_WAKEUPS_PS] [-O MAX_OPEN_S]
 *
 * It reports, one line per figure ("scale <name> <value>"):
 *   peers, open_s          peers, and seconds until every channel was open
 *                          on both sides (-c pairs connecting at once, 50)
 *                          (-S: every peer's sctp_streams; 0, the
 *                          library's default)
 *   rss_kib_per_peer       VmRSS growth from before the first peer to when
 *                          all were open, per peer
 *   fds_per_peer           descriptors opened meanwhile, per peer
 *   idle_cpu_pct           CPU of the whole process (getrusage), in % of
 *                          one core, over a window of -w s (30) that starts
 *                          -s s (10) after all opened
 *   idle_lib_cpu_pct       the same for the library's threads (named
 *                          "p2psig...": the loops, watchdogs, SCTP tick)
 *   idle_lib_wakeups_ps    their voluntary context switches per second
 *                          over that window: how often they slept and woke
 *   idle_lib_preempted_ps  their involuntary ones: other work took the CPU
 *                          (a loaded machine; CPU figures are then unsure)
 *   idle_s, connected      after -i s (60) idle in all (settle and window
 *                          included), how many peers are connected, have
 *                          never left connected since opening, and passed
 *                          a ping over their channel (offer to answer)
 *
 * Exit status 0 when every peer opened (within -O s, 30, if given) and
 * stayed connected and the figures are within the bounds given by -R, -C
 * and -W; 1 otherwise; 77 when the descriptor limit cannot hold N peers.
 */
#define _GNU_SOURCE
#include <p2psig/p2psig.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct pair;

struct side {
  struct pair *pair;
  int which; /* 0: offer, 1: answer */
  p2psig_peer *peer;
  p2psig_channel *channel;
  bool open;
  bool left_connected; /* was disconnected, failed or closed after opening */
  bool pinged;         /* the answer received the ping */
};

struct pair {
  struct side side[2];
};

static struct {
  long peers;
  long connecting;
  long streams;  /* sctp_streams; 0: the library's default */
  double settle_s, window_s, idle_s;
  double max_rss_kib, max_cpu_pct, max_wakeups, max_open_s;
} opt = { 1000, 50, 0, 10, 30, 60, 0, 0, 0, 0 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static long open_sides;  /* sides whose channel is open */
static long pings;       /* answers that got the ping */
static long failures;    /* sides that failed before opening */
static bool settled;     /* every channel open: later state changes count */

static void
die(const char *what, int error)
{
  fprintf(stderr, "scale: %s: %s\n", what, p2psig_strerror(error));
  exit(1);
}

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
deadline_in(struct timespec *ts, double s)
{
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)s;
  ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* Waits until *counter reaches target or the deadline passes. */
static bool
wait_for(const long *counter, long target, double timeout_s)
{
  struct timespec deadline;
  bool ok;

  deadline_in(&deadline, timeout_s);
  pthread_mutex_lock(&lock);
  while (*counter < target && failures == 0 &&
         pthread_cond_timedwait(&cond, &lock, &deadline) != ETIMEDOUT)
    ;
  ok = *counter >= target;
  pthread_mutex_unlock(&lock);
  return ok;
}

static long
vm_rss_kib(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;

  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

static long
open_fds(void)
{
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *e;
  long n = 0;

  if (!dir)
    return -1;
  while ((e = readdir(dir)))
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n - 1; /* the directory's own */
}

static double
process_cpu_s(void)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct thread_sample {
  int threads;       /* the library's threads found */
  double cpu_s;
  long voluntary;    /* they slept and were woken */
  long preempted;    /* the scheduler took the CPU from them */
};

/* Adds thread tid's figures to *s. */
static void
add_thread(struct thread_sample *s, const char *tid)
{
  char path[300], buf[1024];
  unsigned long utime = 0, stime = 0;
  FILE *f;

  snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
  if ((f = fopen(path, "r"))) {
    if (fgets(buf, sizeof buf, f)) {
      /* Fields after the name, which ends with the last ')'. */
      const char *p = strrchr(buf, ')');

      if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime);
    }
    fclose(f);
  }
  s->cpu_s += (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
  snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
  if ((f = fopen(path, "r"))) {
    long v;

    while (fgets(buf, sizeof buf, f)) {
      if (sscanf(buf, "voluntary_ctxt_switches: %ld", &v) == 1)
        s->voluntary += v;
      else if (sscanf(buf, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
        s->preempted += v;
    }
    fclose(f);
  }
  s->threads++;
}

/* The library's threads, by their names ("p2psig-0"... for the loops,
 * "p2psig-watch", "p2psig-sctp"), added up. */
static struct thread_sample
sample_library(void)
{
  struct thread_sample s = { 0, 0, 0, 0 };
  DIR *dir = opendir("/proc/self/task");
  struct dirent *e;

  if (!dir)
    return s;
  while ((e = readdir(dir))) {
    char path[300], comm[64] = "";
    FILE *f;

    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    if (!(f = fopen(path, "r")))
      continue;
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "p2psig", 6) == 0)
      add_thread(&s, e->d_name);
    fclose(f);
  }
  closedir(dir);
  return s;
}

/* ---- callbacks (library thread) ---- */

static void
on_candidate(p2psig_peer *peer, const char *candidate, void *user_data)
{
  struct side *side = user_data;
  int r;

  if (!candidate)
    return;
  r = p2psig_peer_add_candidate(side->pair->side[!side->which].peer,
                                candidate);
  if (r < 0)
    fprintf(stderr, "scale: add_candidate: %s\n", p2psig_strerror(r));
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = user_data;

  pthread_mutex_lock(&lock);
  if (state != P2PSIG_STATE_CONNECTED && side->open) {
    if (!side->left_connected)
      fprintf(stderr, "scale: a peer went %s (%s)\n", p2psig_state_name(state),
              error ? p2psig_strerror(error) : "no error");
    side->left_connected = true;
  } else if (state == P2PSIG_STATE_FAILED && !side->open) {
    fprintf(stderr, "scale: a peer failed while connecting: %s\n",
            p2psig_strerror(error));
    failures++;
    pthread_cond_broadcast(&cond);
  }
  pthread_mutex_unlock(&lock);
}

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  pthread_mutex_lock(&lock);
  side->channel = channel;
  pthread_mutex_unlock(&lock);
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  pthread_mutex_lock(&lock);
  if (!side->open) {
    side->open = true;
    open_sides++;
    pthread_cond_broadcast(&cond);
  }
  pthread_mutex_unlock(&lock);
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = user_data;

  pthread_mutex_lock(&lock);
  if (side->which == 1 && !side->pinged) {
    side->pinged = true;
    pings++;
    pthread_cond_broadcast(&cond);
  }
  pthread_mutex_unlock(&lock);
}

/* ---- pairs ---- */

static void
pair_init(struct pair *pair)
{
  static const char *const addresses[] = { "127.0.0.1", NULL };
  int error = 0;

  for (int i = 0; i < 2; i++) {
    p2psig_peer_config cfg = {
      P2PSIG_PEER_CONFIG_INIT,
      .local_addresses = addresses,
      .disable_ice_tcp = true,
      .sctp_streams = (uint16_t)opt.streams,
      .on_candidate = on_candidate,
      .on_state = on_state,
      .on_channel = on_channel,
      .on_open = on_open,
      .on_message = on_message,
    };

    pair->side[i].pair = pair;
    pair->side[i].which = i;
    cfg.user_data = &pair->side[i];
    pair->side[i].peer = p2psig_peer_new(&cfg, &error);
    if (!pair->side[i].peer)
      die("p2psig_peer_new", error);
  }
  pair->side[0].channel = p2psig_peer_create_channel(pair->side[0].peer,
                                                     "data", NULL, &error);
  if (!pair->side[0].channel)
    die("p2psig_peer_create_channel", error);
}

static void
pair_connect(struct pair *pair)
{
  p2psig_peer *offerer = pair->side[0].peer, *answerer = pair->side[1].peer;
  char *offer = NULL, *answer = NULL;
  int r;

  if ((r = p2psig_peer_create_offer(offerer, &offer)) < 0)
    die("create_offer", r);
  if ((r = p2psig_peer_set_remote_description(answerer, P2PSIG_SDP_OFFER,
                                              offer)) < 0)
    die("set_remote_description(offer)", r);
  if ((r = p2psig_peer_create_answer(answerer, &answer)) < 0)
    die("create_answer", r);
  if ((r = p2psig_peer_set_remote_description(offerer, P2PSIG_SDP_ANSWER,
                                              answer)) < 0)
    die("set_remote_description(answer)", r);
  p2psig_free(offer);
  p2psig_free(answer);
}

static void
usage(void)
{
  fprintf(stderr, "usage: scale [-n PEERS] [-c CONNECTING] [-s SETTLE_S] "
          "[-w WINDOW_S] [-i IDLE_S] [-S SCTP_STREAMS] [-R MAX_RSS_KIB] "
          "[-C MAX_CPU_PCT] [-W MAX_WAKEUPS_PS] [-O MAX_OPEN_S]\n");
  exit(2);
}

static void
sleep_s(double s)
{
  struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

int
main(int argc, char **argv)
{
  struct rlimit rl;
  struct pair *pairs;
  long npairs, rss0, fds0, rss1, fds1, connected = 0, stayed = 0;
  double t0, open_s, cpu0, cpu1, w0, w1, idle_cpu, lib_cpu = 0, wakeups = 0;
  double preempted = 0;
  struct thread_sample s0, s1;
  bool ok = true;
  int c;

  while ((c = getopt(argc, argv, "n:c:s:w:i:S:R:C:W:O:")) != -1) {
    switch (c) {
    case 'n': opt.peers = strtol(optarg, NULL, 10); break;
    case 'c': opt.connecting = strtol(optarg, NULL, 10); break;
    case 's': opt.settle_s = strtod(optarg, NULL); break;
    case 'w': opt.window_s = strtod(optarg, NULL); break;
    case 'i': opt.idle_s = strtod(optarg, NULL); break;
    case 'S': opt.streams = strtol(optarg, NULL, 10); break;
    case 'R': opt.max_rss_kib = strtod(optarg, NULL); break;
    case 'C': opt.max_cpu_pct = strtod(optarg, NULL); break;
    case 'W': opt.max_wakeups = strtod(optarg, NULL); break;
    case 'O': opt.max_open_s = strtod(optarg, NULL); break;
    default: usage();
    }
  }
  if (opt.peers < 2 || opt.peers % 2 || opt.connecting < 1 ||
      opt.streams < 0 || opt.streams > 65535 ||
      opt.idle_s < opt.settle_s + opt.window_s)
    usage();
  npairs = opt.peers / 2;
  {
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &ca);
    pthread_condattr_destroy(&ca);
  }
  /* Two descriptors a peer: its UDP socket, and the eventfd of the
   * GMainContext libnice makes for its component. */
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  pairs = calloc((size_t)npairs, sizeof *pairs);
  if (!pairs)
    die("calloc", P2PSIG_ENOMEM);

  /* The library's thread and one-time state exist before the baseline. */
  {
    struct pair warm;

    memset(&warm, 0, sizeof warm);
    pair_init(&warm);
    p2psig_peer_free(warm.side[0].peer);
    p2psig_peer_free(warm.side[1].peer);
  }
  rss0 = vm_rss_kib();
  fds0 = open_fds();
  if (rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)(fds0 + 2 * opt.peers) > rl.rlim_cur) {
    fprintf(stderr, "scale: %ld peers need %ld descriptors besides the %ld "
            "open; the limit is %lu\n", opt.peers, 2 * opt.peers, fds0,
            (unsigned long)rl.rlim_cur);
    return 77;
  }
  t0 = now_s();
  for (long i = 0; i < npairs; i++) {
    pair_init(&pairs[i]);
    /* At most -c pairs connecting at a time. */
    if (i >= opt.connecting &&
        !wait_for(&open_sides, 2 * (i - opt.connecting + 1), 60)) {
      fprintf(stderr, "scale: pair %ld did not open\n", i - opt.connecting);
      return 1;
    }
    pair_connect(&pairs[i]);
  }
  if (!wait_for(&open_sides, opt.peers, 60)) {
    fprintf(stderr, "scale: %ld of %ld channels open\n", open_sides,
            opt.peers);
    return 1;
  }
  open_s = now_s() - t0;
  pthread_mutex_lock(&lock);
  settled = true;
  pthread_mutex_unlock(&lock);
  rss1 = vm_rss_kib();
  fds1 = open_fds();
  printf("scale peers %ld\n", opt.peers);
  printf("scale open_s %.2f\n", open_s);
  printf("scale rss_kib_per_peer %.1f\n",
         (double)(rss1 - rss0) / (double)opt.peers);
  printf("scale fds_per_peer %.2f\n", (double)(fds1 - fds0) /
         (double)opt.peers);
  fflush(stdout);

  sleep_s(opt.settle_s);
  w0 = now_s();
  cpu0 = process_cpu_s();
  s0 = sample_library();
  sleep_s(opt.window_s);
  w1 = now_s();
  cpu1 = process_cpu_s();
  s1 = sample_library();
  idle_cpu = 100 * (cpu1 - cpu0) / (w1 - w0);
  if (s0.threads > 0) {
    lib_cpu = 100 * (s1.cpu_s - s0.cpu_s) / (w1 - w0);
    wakeups = (double)(s1.voluntary - s0.voluntary) / (w1 - w0);
    preempted = (double)(s1.preempted - s0.preempted) / (w1 - w0);
  }
  printf("scale idle_cpu_pct %.2f\n", idle_cpu);
  printf("scale idle_lib_cpu_pct %.2f\n", lib_cpu);
  printf("scale idle_lib_wakeups_ps %.1f\n", wakeups);
  printf("scale idle_lib_preempted_ps %.1f\n", preempted);
  fflush(stdout);
  sleep_s(opt.idle_s - opt.settle_s - opt.window_s);

  /* Still alive: a ping from each offer to its answer. */
  for (long i = 0; i < npairs; i++) {
    int r = p2psig_channel_send_text(pairs[i].side[0].channel, "ping");

    if (r < 0)
      fprintf(stderr, "scale: ping: %s\n", p2psig_strerror(r));
  }
  wait_for(&pings, npairs, 30);
  pthread_mutex_lock(&lock);
  for (long i = 0; i < npairs; i++) {
    for (int j = 0; j < 2; j++) {
      struct side *side = &pairs[i].side[j];

      if (p2psig_peer_get_state(side->peer) == P2PSIG_STATE_CONNECTED &&
          !side->left_connected && pairs[i].side[1].pinged)
        connected++;
      if (!side->left_connected)
        stayed++;
    }
  }
  pthread_mutex_unlock(&lock);
  printf("scale idle_s %.0f\n", opt.idle_s);
  printf("scale connected %ld\n", connected);
  printf("scale stayed_connected %ld\n", stayed);
  printf("scale pinged %ld\n", pings);
  fflush(stdout);

  if (connected != opt.peers) {
    fprintf(stderr, "scale: %ld of %ld peers still connected\n", connected,
            opt.peers);
    ok = false;
  }
  if (opt.max_open_s > 0 && open_s > opt.max_open_s) {
    fprintf(stderr, "scale: opening took %.1f s, over %.1f s\n", open_s,
            opt.max_open_s);
    ok = false;
  }
  if (opt.max_rss_kib > 0 &&
      (double)(rss1 - rss0) / (double)opt.peers > opt.max_rss_kib) {
    fprintf(stderr, "scale: RSS per peer over %.0f KiB\n", opt.max_rss_kib);
    ok = false;
  }
  if (opt.max_cpu_pct > 0 && idle_cpu > opt.max_cpu_pct) {
    fprintf(stderr, "scale: idle CPU %.1f %% over %.1f %%\n", idle_cpu,
            opt.max_cpu_pct);
    ok = false;
  }
  if (opt.max_wakeups > 0 && wakeups > opt.max_wakeups) {
    fprintf(stderr, "scale: the library thread woke %.1f times a second, "
            "over %.1f\n", wakeups, opt.max_wakeups);
    ok = false;
  }
  for (long i = 0; i < npairs; i++) {
    p2psig_peer_free(pairs[i].side[0].peer);
    p2psig_peer_free(pairs[i].side[1].peer);
  }
  free(pairs);
  return ok ? 0 : 1;
}
