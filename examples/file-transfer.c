/* SPDX-License-Identifier: MIT */
/*
 * file-transfer: sends a file over a data channel, with flow control.
 *
 *   file-transfer send FILE [ANSWER-ADDRESS [LISTEN-ADDRESS]]
 *   file-transfer receive FILE [LISTEN-ADDRESS [OFFER-ADDRESS]]
 *
 * Start the receiver first (the answer; defaults 127.0.0.1:60000 and
 * 127.0.0.1:50000, as pion-to-pion).  The sender (the offer) sends the
 * file in 64 KiB binary messages on the channel "file", then the text
 * "end N" with N the byte count; the receiver writes the messages to FILE,
 * replies "got N" once it has them all, and exits when the sender closes.
 *
 * Flow control: p2psig_channel_send() never blocks; what SCTP cannot take
 * yet waits in the channel (its buffered amount), and past the peer's
 * send_buffer_limit sends fail with P2PSIG_EAGAIN.  So the sender's main
 * thread stops at 1 MiB buffered and sleeps until on_buffered_amount_low
 * says the buffer fell to 256 KiB.  Gathers on loopback, without a STUN
 * server.  Exits 0 once the transfer is confirmed, 1 on an error or after
 * 60 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <p2psig/p2psig.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (64 * 1024)
#define HIGH_WATER (1024 * 1024)
#define LOW_WATER (256 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static p2psig_channel *open_channel; /* a reference, once open */
static int result = -1;              /* -1 running, 0 done, 1 failed */
static unsigned long low_events;     /* on_buffered_amount_low count */
static bool sending, verified, closed;
static FILE *file;
static unsigned long long bytes;

static void
finish(int value)
{
  pthread_mutex_lock(&lock);
  if (result < 0)
    result = value;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_state(p2psig_peer *peer, p2psig_state state, int error, void *user_data)
{
  (void)peer;
  (void)user_data;
  if (state == P2PSIG_STATE_CLOSED) {
    pthread_mutex_lock(&lock);
    closed = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
  }
  if (state == P2PSIG_STATE_FAILED) {
    fprintf(stderr, "connection failed: %s\n", p2psig_strerror(error));
    finish(1);
  }
}

static void
on_open(p2psig_channel *channel, void *user_data)
{
  (void)user_data;
  if (!sending)
    return;
  /* The main thread sends: it holds a reference, so the channel stays
   * valid memory even if it closes meanwhile. */
  p2psig_channel_set_buffered_amount_low_threshold(channel, LOW_WATER);
  pthread_mutex_lock(&lock);
  open_channel = p2psig_channel_ref(channel);
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void
on_buffered_amount_low(p2psig_channel *channel, void *user_data)
{
  (void)channel;
  (void)user_data;
  pthread_mutex_lock(&lock);
  low_events++;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

/* Receiver: the sender closed once it had our "got N". */
static void
on_close(p2psig_channel *channel, void *user_data)
{
  (void)channel;
  (void)user_data;
  if (!sending)
    finish(verified ? 0 : 1);
}

static void
on_message(p2psig_channel *channel, const void *data, size_t len,
           p2psig_kind kind, void *user_data)
{
  char text[64];
  unsigned long long n;

  (void)user_data;
  if (kind == P2PSIG_KIND_BINARY) {
    /* Receiver: a piece of the file (a quick write: while a callback
     * blocks, the peer's later ones wait). */
    if (fwrite(data, 1, len, file) != len) {
      fprintf(stderr, "write: %s\n", strerror(errno));
      finish(1);
    }
    bytes += len;
    return;
  }
  snprintf(text, sizeof text, "%.*s", (int)(len < 63 ? len : 63),
           (const char *)data);
  if (sscanf(text, "end %llu", &n) == 1) {
    /* Receiver: all of it was sent; SCTP delivered it in order. */
    if (n != bytes || fflush(file) != 0) {
      fprintf(stderr, "got %llu bytes of %llu\n", bytes, n);
      finish(1);
      return;
    }
    snprintf(text, sizeof text, "got %llu", bytes);
    p2psig_channel_send_text(channel, text);
    printf("received %llu bytes\n", bytes);
    verified = true;
  } else if (sscanf(text, "got %llu", &n) == 1) {
    /* Sender: confirmed. */
    printf("sent %llu bytes, confirmed\n", n);
    finish(n == bytes ? 0 : 1);
  }
}

/* Sender, on the main thread: the file, under flow control. */
static int
send_file(struct timespec *deadline)
{
  static char buf[CHUNK];
  p2psig_channel *channel;
  char end[64];
  size_t n;
  int rc = 0;

  pthread_mutex_lock(&lock);
  while (!open_channel && result < 0 &&
         pthread_cond_timedwait(&cond, &lock, deadline) == 0)
    ;
  channel = open_channel;
  pthread_mutex_unlock(&lock);
  if (!channel)
    return 1;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, file)) > 0) {
    unsigned long seen;

    /* While 1 MiB is queued, wait for on_buffered_amount_low.  The library
     * is never called under our lock: its callbacks take our lock under
     * its own. */
    for (;;) {
      pthread_mutex_lock(&lock);
      seen = low_events;
      rc = result > 0 ? 1 : 0;
      pthread_mutex_unlock(&lock);
      if (rc || p2psig_channel_get_buffered_amount(channel) <= HIGH_WATER)
        break;
      pthread_mutex_lock(&lock);
      while (low_events == seen && result < 0 &&
             pthread_cond_timedwait(&cond, &lock, deadline) == 0)
        ;
      rc = low_events == seen && result < 0; /* timed out */
      pthread_mutex_unlock(&lock);
      if (rc)
        break;
    }
    if (rc == 0 && (rc = p2psig_channel_send(channel, buf, n,
                                             P2PSIG_KIND_BINARY)) < 0)
      fprintf(stderr, "send: %s\n", p2psig_strerror(rc));
    bytes += n;
  }
  if (rc == 0) {
    snprintf(end, sizeof end, "end %llu", bytes);
    rc = p2psig_channel_send_text(channel, end);
  }
  return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
  static const char *const loopback[] = {"127.0.0.1", NULL};
  bool send = argc >= 3 && strcmp(argv[1], "send") == 0;
  bool receive = argc >= 3 && strcmp(argv[1], "receive") == 0;
  p2psig_peer_config config = {
    P2PSIG_PEER_CONFIG_INIT,
    .local_addresses = loopback,
    .on_state = on_state,
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
    .on_buffered_amount_low = on_buffered_amount_low,
  };
  /* The answer's address first, then the offer's, as pion-to-pion. */
  const char *answer_address = argc > 3 ? argv[3] : "127.0.0.1:60000";
  const char *offer_address = argc > 4 ? argv[4] : "127.0.0.1:50000";
  p2psig_signaling_config sconfig = {
    P2PSIG_SIGNALING_CONFIG_INIT,
    .role = send ? P2PSIG_ROLE_OFFER : P2PSIG_ROLE_ANSWER,
    .listen_address = send ? offer_address : answer_address,
    .remote_address = send ? answer_address : offer_address,
  };
  p2psig_signaling *signaling = NULL;
  p2psig_peer *peer = NULL;
  struct timespec deadline;
  int error = 0, rc = 1;

  if ((!send && !receive) || argc > 5) {
    fprintf(stderr, "usage: %s send FILE [ANSWER-ADDRESS [LISTEN-ADDRESS]]\n"
                    "       %s receive FILE [LISTEN-ADDRESS [OFFER-ADDRESS]]\n",
            argv[0], argv[0]);
    return 2;
  }
  file = fopen(argv[2], send ? "rb" : "wb");
  if (!file) {
    fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  sending = send;
  peer = p2psig_peer_new(&config, &error);
  if (!peer || (send && !p2psig_peer_create_channel(peer, "file", NULL,
                                                    &error)) ||
      !(signaling = p2psig_signaling_new(peer, &sconfig, &error)) ||
      (error = p2psig_signaling_start(signaling)) < 0) {
    fprintf(stderr, "%s\n", p2psig_strerror(error));
    goto out;
  }

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  if (send && send_file(&deadline) != 0)
    finish(1);
  pthread_mutex_lock(&lock);
  while (result < 0 && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
    ;
  rc = result == 0 ? 0 : 1;
  pthread_mutex_unlock(&lock);
  if (result < 0)
    fprintf(stderr, "not done within 60 s\n");
  if (send) {
    /* Close, and give it a moment to go out: the receiver ends on it. */
    p2psig_peer_close(peer);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    pthread_mutex_lock(&lock);
    while (!closed && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
      ;
    pthread_mutex_unlock(&lock);
  }

out:
  p2psig_signaling_free(signaling);
  p2psig_peer_free(peer);
  /* After the peer: no on_open can set it any more. */
  p2psig_channel_unref(open_channel);
  if (fclose(file) != 0)
    rc = 1;
  return rc;
}
