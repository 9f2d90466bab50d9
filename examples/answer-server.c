/* SPDX-License-Identifier: MIT */
/*
 * answer-server: an answer that serves offers one after another, echoing
 * every message back.  A p2psig_signaling object belongs to one peer for
 * its whole life (one offer, its answer and its candidates), so each
 * session gets a new peer and a new signaling object on the same port,
 * once the previous session ended: its channel closed (the offer closed
 * or went away) or its connection failed.  One session at a time: an
 * offer that comes while one runs is refused (400) by that session's
 * signaling, and the offer retries until it gets through.
 *
 *   answer-server [SESSIONS [LISTEN-ADDRESS [OFFER-ADDRESS]]]
 *
 * Defaults: 0 sessions (for ever), 127.0.0.1:60000, 127.0.0.1:50000
 * (where the offers serve; pion-to-pion's answer posts its answer there).
 * Gathers on loopback, without a STUN server.  Exits 0 after SESSIONS
 * sessions, 1 on an error.
 */
#define _POSIX_C_SOURCE 200809L
#include <p2psig/p2psig.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool session_over;

static void
end_session(void)
{
  pthread_mutex_lock(&lock);
  session_over = true;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  (void)peer;
  printf("session %ld: %s%s%s\n", *(long *)user_data,
         p2psig_state_name(state), error ? ": " : "",
         error ? p2psig_strerror(error) : "");
  if (state == P2PSIG_STATE_FAILED || state == P2PSIG_STATE_CLOSED)
    end_session();
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  printf("session %ld: '%.*s' on '%s'\n", *(long *)user_data, (int)len,
         (const char *)data, p2psig_channel_get_label(channel));
  p2psig_channel_send(channel, data, len, kind);
}

/* The offer closed its channel (or its peer): this session is done. */
static void
on_close(p2psig_channel *channel, void *user_data)
{
  (void)channel;
  (void)user_data;
  end_session();
}

static void
on_error(p2psig_signaling *signaling, int error, const char *message,
         void *user_data)
{
  (void)signaling;
  fprintf(stderr, "session %ld: signaling: %s (%s)\n", *(long *)user_data,
          message, p2psig_error_name(error));
}

/* One session: returns 0 when it ended, 1 when it could not start. */
static int
serve_one(long *session, const char *listen, const char *offer)
{
  static const char *const loopback[] = {"127.0.0.1", NULL};
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .local_addresses = loopback,
    .on_state = on_state,
    .on_message = on_message,
    .on_close = on_close,
    .user_data = session,
  };
  p2psig_signaling_config sconfig = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = P2PSIG_ROLE_ANSWER,
    .listen_address = listen,
    .remote_address = offer,
    .on_error = on_error,
    .user_data = session,
  };
  p2psig_signaling *signaling;
  p2psig_peer *peer;
  int error = 0;

  pthread_mutex_lock(&lock);
  session_over = false;
  pthread_mutex_unlock(&lock);
  peer = p2psig_peer_new(&config, &error);
  if (!peer) {
    fprintf(stderr, "p2psig_peer_new: %s\n", p2psig_strerror(error));
    return 1;
  }
  /* The answer role answers the offer by itself. */
  signaling = p2psig_signaling_new(peer, &sconfig, &error);
  if (!signaling) {
    fprintf(stderr, "cannot serve on %s: %s\n", listen,
            p2psig_strerror(error));
    p2psig_peer_free(peer);
    return 1;
  }
  printf("session %ld: waiting for an offer on port %u\n", *session,
         p2psig_signaling_get_port(signaling));
  fflush(stdout);

  pthread_mutex_lock(&lock);
  while (!session_over)
    pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);

  /* Frees the port for the next session's server. */
  p2psig_signaling_free(signaling);
  p2psig_peer_free(peer);
  return 0;
}

int
main(int argc, char **argv)
{
  long sessions = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
  const char *listen = argc > 2 ? argv[2] : "127.0.0.1:60000";
  const char *offer = argc > 3 ? argv[3] : "127.0.0.1:50000";

  if (argc > 4 || sessions < 0) {
    fprintf(stderr, "usage: %s [SESSIONS [LISTEN-ADDRESS [OFFER-ADDRESS]]]\n",
            argv[0]);
    return 2;
  }
  for (long n = 1; sessions == 0 || n <= sessions; n++) {
    long session = n;

    if (serve_one(&session, listen, offer) != 0)
      return 1;
    printf("session %ld: over\n", n);
  }
  return 0;
}
