/* SPDX-License-Identifier: MIT */
/*
 * offerer: an offer that uses the library's signaling (pion-to-pion's
 * HTTP exchange) to reach an answer: the answer tool, pion's answer, or
 * examples/answer-server.c.  It opens the channel "data", sends one
 * message, prints the reply and closes.
 *
 *   offerer [ANSWER-ADDRESS [LISTEN-ADDRESS]]
 *
 * ANSWER-ADDRESS is where the answer serves (default 127.0.0.1:60000),
 * LISTEN-ADDRESS where we serve the answer's POSTs (default
 * 127.0.0.1:50000); the answer must be told the latter.  Gathers on
 * loopback, without a STUN server.  Exits 0 once the reply came, 1 on an
 * error or after 30 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <p2psig/p2psig.h>

#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int result = -1; /* -1 running, 0 replied, 1 failed */
static bool closed;

static void
finish(int value)
{
  pthread_mutex_lock(&lock);
  if (result < 0)
    result = value;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  (void)peer;
  (void)user_data;
  printf("offerer: %s\n", p2psig_state_name(state));
  if (state == P2PSIG_STATE_CLOSED) {
    pthread_mutex_lock(&lock);
    closed = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
  }
  if (state == P2PSIG_STATE_FAILED) {
    fprintf(stderr, "offerer: failed: %s\n", p2psig_strerror(error));
    finish(1);
  }
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  (void)user_data;
  p2psig_channel_send_text(channel, "hello from the offerer");
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  (void)channel;
  (void)kind;
  (void)user_data;
  printf("offerer: reply '%.*s'\n", (int)len, (const char *)data);
  finish(0);
}

/* Refusals and failed POSTs: worth a line, and fatal for a 401. */
static void
on_error(p2psig_signaling *signaling, int error, const char *message,
         void *user_data)
{
  (void)signaling;
  (void)user_data;
  fprintf(stderr, "offerer: signaling: %s (%s)\n", message,
          p2psig_error_name(error));
  if (error == P2PSIG_EUNAUTHORIZED)
    finish(1);
}

int
main(int argc, char **argv)
{
  static const char *const loopback[] = {"127.0.0.1", NULL};
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .local_addresses = loopback,
    .on_state = on_state,
    .on_open = on_open,
    .on_message = on_message,
  };
  p2psig_signaling_config sconfig = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_OFFER,
    .remote_address = argc > 1 ? argv[1] : "127.0.0.1:60000",
    .listen_address = argc > 2 ? argv[2] : "127.0.0.1:50000",
    .on_error = on_error,
  };
  p2psig_signaling *signaling = NULL;
  p2psig_peer *peer;
  struct timespec deadline;
  int error = 0, rc;

  if (argc > 3) {
    fprintf(stderr, "usage: %s [ANSWER-ADDRESS [LISTEN-ADDRESS]]\n",
            argv[0]);
    return 2;
  }
  peer = p2psig_peer_new(&config, &error);
  if (!peer) {
    fprintf(stderr, "offerer: p2psig_peer_new: %s\n", p2psig_strerror(error));
    return 1;
  }
  /* Channels created before the offer open with the connection. */
  if (!p2psig_peer_create_channel(peer, "data", NULL, &error) ||
      !(signaling = p2psig_signaling_new(peer, &sconfig, &error)) ||
      (error = p2psig_signaling_start(signaling)) < 0) {
    fprintf(stderr, "offerer: %s\n", p2psig_strerror(error));
    p2psig_signaling_free(signaling);
    p2psig_peer_free(peer);
    return 1;
  }
  printf("offerer: serving on port %u, offering to %s\n",
         p2psig_signaling_get_port(signaling), sconfig.remote_address);

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 30;
  pthread_mutex_lock(&lock);
  while (result < 0 && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
    ;
  rc = result == 0 ? 0 : 1;
  pthread_mutex_unlock(&lock);
  if (result < 0)
    fprintf(stderr, "offerer: no reply within 30 s\n");

  /* Close, and wait a little for it to go out, so that the answer sees
   * its channel close at once rather than the connection time out. */
  p2psig_peer_close(peer);
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 2;
  pthread_mutex_lock(&lock);
  while (!closed && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
    ;
  pthread_mutex_unlock(&lock);
  p2psig_signaling_free(signaling); /* before its peer */
  p2psig_peer_free(peer);
  return rc;
}
