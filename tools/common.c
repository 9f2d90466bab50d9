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
          "  -count int\n"
          "    \tExit once this many messages were sent and received "
          "(0: never)\n"
          "  -interval float\n"
          "    \tSeconds between two random messages (default 5)\n"
          "  -offer-address string\n"
          "    \tAddress that the Offer HTTP server is hosted on. "
          "(default \"%s\")\n",
          t->name, t->opt.answer_address, t->opt.offer_address);
}

_Noreturn static void
bad_flag(const struct tool *t, const char *what, const char *arg)
{
  fprintf(stderr, "%s: %s\n", what, arg);
  usage(t, stderr);
  exit(2);
}

void
tool_parse_args(struct tool *t, int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *value;
    char name[32], *end;
    size_t len;

    /* Go's flag package: -name, --name, -name=value or -name value; it
     * stops at "--" or at the first argument that is not a flag. */
    if (strcmp(arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0')
      break;
    arg += arg[1] == '-' ? 2 : 1;
    len = strcspn(arg, "=");
    if (len == 0 || len >= sizeof name)
      bad_flag(t, "bad flag syntax", argv[i]);
    memcpy(name, arg, len);
    name[len] = '\0';

    if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
      usage(t, stderr);
      exit(0);
    }
    if (arg[len] == '=')
      value = arg + len + 1;
    else if (i + 1 < argc)
      value = argv[++i];
    else
      bad_flag(t, "flag needs an argument", argv[i]);

    errno = 0;
    if (strcmp(name, "offer-address") == 0) {
      t->opt.offer_address = value;
    } else if (strcmp(name, "answer-address") == 0) {
      t->opt.answer_address = value;
    } else if (strcmp(name, "count") == 0) {
      t->opt.count = strtol(value, &end, 10);
      if (errno || end == value || *end || t->opt.count < 0)
        bad_flag(t, "invalid value for flag -count", value);
    } else if (strcmp(name, "interval") == 0) {
      t->opt.interval = strtod(value, &end);
      if (errno || end == value || *end || !isfinite(t->opt.interval) ||
          t->opt.interval <= 0 || t->opt.interval > 86400)
        bad_flag(t, "invalid value for flag -interval", value);
    } else {
      bad_flag(t, "flag provided but not defined", argv[i]);
    }
  }
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
  atomic_init(&t->channel, NULL);
  atomic_init(&t->state, P2PSIG_STATE_NEW);
  atomic_init(&t->failed, false);
  atomic_init(&t->received, 0);
}

p2psig_peer_config
tool_peer_config(struct tool *t)
{
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .ice_servers = ice_servers,
    .on_state = tool_on_state,
    .on_open = tool_on_open,
    .on_close = tool_on_close,
    .on_message = tool_on_message,
    .user_data = t,
  };

  return config;
}

/* Callbacks run on the library thread: record, print, wake main. */
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

  printf("Peer Connection State has changed: %s\n", p2psig_state_name(state));
  atomic_store(&t->state, (int)state);
  if (state == P2PSIG_STATE_FAILED) {
    if (error)
      fprintf(stderr, "%s: %s\n", t->name, p2psig_strerror(error));
    printf("Peer Connection has gone to failed exiting\n");
    atomic_store(&t->failed, true);
  }
  wake();
}

void
tool_on_open(p2psig_channel *channel, void *user_data)
{
  struct tool *t = user_data;

  printf("Data channel '%s'-'%d' open. ", p2psig_channel_get_label(channel),
         p2psig_channel_get_id(channel));
  if (t->opt.interval == 5)
    printf("Random messages will now be sent to any connected DataChannels "
           "every 5 seconds\n");
  else
    printf("Random messages will now be sent to any connected DataChannels "
           "every %g seconds\n", t->opt.interval);
  atomic_store(&t->channel, channel);
  wake();
}

void
tool_on_close(p2psig_channel *channel, void *user_data)
{
  struct tool *t = user_data;
  p2psig_channel *expected = channel;

  atomic_compare_exchange_strong(&t->channel, &expected, NULL);
  wake();
}

void
tool_on_message(p2psig_channel *channel, const void *data, size_t len,
                p2psig_kind kind, void *user_data)
{
  struct tool *t = user_data;

  printf("Message from DataChannel '%s': '%.*s'\n",
         p2psig_channel_get_label(channel), (int)len, (const char *)data);
  atomic_fetch_add(&t->received, 1);
  wake();
}

void
tool_on_signaling_error(p2psig_signaling *signaling, int error,
                        const char *message, void *user_data)
{
  const struct tool *t = user_data;

  fprintf(stderr, "%s: signaling: %s\n", t->name, message);
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
  /* The channel could close between the load in tool_run() and this call:
   * the library gives no way to hold it from this thread (see the
   * report); a remote close exactly at a tick is the only case. */
  rc = p2psig_channel_send_text(channel, message);
  if (rc < 0)
    tool_fail(t, "send", rc);
}

/* Closes gracefully, waiting a little for the closed state, then frees. */
static void
shutdown_peer(struct tool *t)
{
  double deadline = now() + 1.0;

  atomic_store(&t->channel, NULL);
  p2psig_peer_close(t->peer);
  while (atomic_load(&t->state) != P2PSIG_STATE_CLOSED && now() < deadline)
    wait_signal(deadline - now());
  p2psig_signaling_free(t->signaling);
  p2psig_peer_free(t->peer);
}

int
tool_run(struct tool *t)
{
  long sent = 0;
  double next_tick = 0;
  p2psig_channel *ticking = NULL;

  for (;;) {
    p2psig_channel *channel = atomic_load(&t->channel);
    long count = t->opt.count;
    int sig;

    if (atomic_load(&t->failed))
      break;
    if (count > 0 && sent >= count && atomic_load(&t->received) >= count)
      break;
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
      continue;
    }
    sig = wait_signal(channel ? next_tick - now() : 3600);
    if (sig == SIGINT || sig == SIGTERM)
      break;
  }
  shutdown_peer(t);
  return 0;
}
