/* SPDX-License-Identifier: MIT */
/*
 * local-pair: two peers in one process, signalled by hand.  What the HTTP
 * signaling would carry between two programs (the offer, the answer and
 * the trickled candidates) is handed from one peer to the other with
 * function calls.  The offerer opens a channel and sends "ping"; the
 * answerer replies "pong"; then both close.  Loopback only, no STUN
 * server.  Exits 0 once the pong arrived, 1 after 10 s without it.
 */
#define _POSIX_C_SOURCE 200809L
#include <p2psig/p2psig.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static bool done;

struct side {
  const char *name;
  p2psig_peer *peer;
  struct side *other;
};

/* Callbacks run on the library's threads and may call any function. */
static void
on_candidate(p2psig_peer *peer, const char *candidate, void *user_data)
{
  struct side *side = user_data;

  (void)peer;
  /* NULL ends the candidates; the remote side is told with "". */
  p2psig_peer_add_candidate(side->other->peer, candidate ? candidate : "");
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  struct side *side = user_data;

  (void)peer;
  printf("%s: %s%s%s\n", side->name, p2psig_state_name(state),
         error ? ": " : "", error ? p2psig_strerror(error) : "");
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  struct side *side = user_data;

  if (strcmp(side->name, "offerer") == 0)
    p2psig_channel_send_text(channel, "ping");
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  struct side *side = user_data;

  (void)kind;
  printf("%s got '%.*s' on '%s'\n", side->name, (int)len, (const char *)data,
         p2psig_channel_get_label(channel));
  if (strcmp(side->name, "answerer") == 0) {
    p2psig_channel_send_text(channel, "pong");
  } else {
    pthread_mutex_lock(&lock);
    done = true;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&lock);
  }
}

static p2psig_peer *
new_peer(struct side *side)
{
  /* Host candidates on loopback only, and no STUN server: both peers are
   * in this process. */
  static const char *const loopback[] = {"127.0.0.1", NULL};
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .local_addresses = loopback,
    .on_candidate = on_candidate,
    .on_state = on_state,
    .on_open = on_open,
    .on_message = on_message,
    .user_data = side,
  };
  int error = 0;
  p2psig_peer *peer = p2psig_peer_new(&config, &error);

  if (!peer)
    fprintf(stderr, "%s: p2psig_peer_new: %s\n", side->name,
            p2psig_strerror(error));
  return peer;
}

int
main(void)
{
  struct side offerer = {"offerer", NULL, NULL};
  struct side answerer = {"answerer", NULL, &offerer};
  char *offer = NULL, *answer = NULL;
  struct timespec deadline;
  int rc = 1, error = 0;

  offerer.other = &answerer;
  /* Both exist before any candidate can be trickled to the other. */
  offerer.peer = new_peer(&offerer);
  answerer.peer = new_peer(&answerer);
  if (!offerer.peer || !answerer.peer)
    goto out;
  if (!p2psig_peer_create_channel(offerer.peer, "chat", NULL, &error)) {
    fprintf(stderr, "create_channel: %s\n", p2psig_strerror(error));
    goto out;
  }

  /* The offer/answer exchange, by hand. */
  if ((error = p2psig_peer_create_offer(offerer.peer, &offer)) < 0 ||
      (error = p2psig_peer_set_remote_description(answerer.peer,
                                                  P2PSIG_SDP_OFFER,
                                                  offer)) < 0 ||
      (error = p2psig_peer_create_answer(answerer.peer, &answer)) < 0 ||
      (error = p2psig_peer_set_remote_description(offerer.peer,
                                                  P2PSIG_SDP_ANSWER,
                                                  answer)) < 0) {
    fprintf(stderr, "offer/answer: %s\n", p2psig_strerror(error));
    goto out;
  }

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&lock);
  while (!done && pthread_cond_timedwait(&done_cond, &lock, &deadline) == 0)
    ;
  rc = done ? 0 : 1;
  pthread_mutex_unlock(&lock);
  if (rc)
    fprintf(stderr, "no pong within 10 s\n");

out:
  p2psig_free(offer);
  p2psig_free(answer);
  /* No callback runs after p2psig_peer_free() returns. */
  p2psig_peer_free(offerer.peer);
  p2psig_peer_free(answerer.peer);
  return rc;
}
