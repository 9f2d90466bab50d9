/* SPDX-License-Identifier: MIT */
/*
 * restart-peer: one side of the NAT lab's ICE-restart case, public API
 * only.
 *
 *   restart-peer offer|answer LISTEN REMOTE COUNT STUN_URL LOCAL_IP
 *
 * The offer opens "data" (reliable, ordered) and sends COUNT numbered
 * messages, one every 4 ms, whatever the connection's state: while the
 * path is broken they wait in SCTP.  Each time its peer goes disconnected
 * it restarts ICE once through the signaling (p2psig_signaling_restart_ice).
 * The answer checks that every number arrives once and in order and says
 * "done" at COUNT; both print their selected pair (the answer before
 * "done", while the connection is up) and exit 0.
 * Progress lines on stdout ("answer: 500 messages at ...", "offer: state
 * disconnected", "offer: restarting ICE") are what the lab waits on.
 */
#include <p2psig/p2psig.h>

#include "../peer-process.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MESSAGE_LEN 16
#define SEND_GAP_US 4000

static long count;
static p2psig_channel *data;
static long next_expected;
static bool out_of_order, done_received;
static int restarts;

static void
on_open(p2psig_channel *ch, void *ud)
{
  pthread_mutex_lock(&pp_lock);
  data = ch;
  pthread_cond_broadcast(&pp_cond);
  pthread_mutex_unlock(&pp_lock);
}

static void
on_message(p2psig_channel *ch, const void *buf, size_t len, p2psig_kind kind,
           void *ud)
{
  char text[MESSAGE_LEN + 1];
  char *end;
  long n;

  pthread_mutex_lock(&pp_lock);
  if (len == 4 && memcmp(buf, "done", 4) == 0) {
    done_received = true;
  } else if (len == MESSAGE_LEN) {
    memcpy(text, buf, len);
    text[len] = '\0';
    n = strtol(text, &end, 10);
    if (*end != '\0' || n != next_expected) {
      if (!out_of_order)
        fprintf(stderr, "answer: expected %ld, got '%s'\n", next_expected,
                text);
      out_of_order = true;
    } else if (++next_expected % 250 == 0) {
      printf("answer: %ld messages at %.3f\n", next_expected, pp_now_s());
    }
  } else {
    fprintf(stderr, "%s: unexpected message of %zu bytes\n", pp_role, len);
    out_of_order = true;
  }
  pthread_cond_broadcast(&pp_cond);
  pthread_mutex_unlock(&pp_lock);
}

static bool is_open(void) { return data != NULL; }
static bool all_received(void) { return next_expected == count || out_of_order; }
static bool done(void) { return done_received; }

static void
print_pair(p2psig_peer *peer)
{
  p2psig_peer_stats s = P2PSIG_STATS_INIT(p2psig_peer_stats);

  if (p2psig_peer_get_stats(peer, &s) == 0 && s.has_selected_pair)
    printf("%s: pair local %s %s:%u remote %s %s:%u\n", pp_role, s.local_type,
           s.local_address, s.local_port, s.remote_type, s.remote_address,
           s.remote_port);
}

/* One restart per disconnect, as the tools do. */
static int
maybe_restart(p2psig_signaling *sig, bool *restarted)
{
  p2psig_state now;
  int rc;

  pthread_mutex_lock(&pp_lock);
  now = pp_state;
  pthread_mutex_unlock(&pp_lock);
  if (now != P2PSIG_STATE_DISCONNECTED) {
    *restarted = false;
    return 0;
  }
  if (*restarted)
    return 0;
  *restarted = true;
  restarts++;
  printf("offer: restarting ICE at %.3f\n", pp_now_s());
  rc = p2psig_signaling_restart_ice(sig);
  if (rc < 0)
    fprintf(stderr, "offer: ICE restart: %s\n", p2psig_strerror(rc));
  return rc;
}

static int
run_offer(p2psig_signaling *sig)
{
  char msg[24]; /* a long's digits; MESSAGE_LEN of them are sent */
  bool restarted = false;

  for (long i = 0; i < count; i++) {
    snprintf(msg, sizeof msg, "%0*ld", MESSAGE_LEN, i);
    if (p2psig_channel_send(data, msg, MESSAGE_LEN, P2PSIG_KIND_TEXT) < 0) {
      fprintf(stderr, "offer: send %ld failed\n", i);
      return 1;
    }
    if (maybe_restart(sig, &restarted) < 0)
      return 1;
    usleep(SEND_GAP_US);
  }
  printf("offer: sent %ld messages at %.3f\n", count, pp_now_s());
  /* A break after the last send still needs its restart. */
  for (int s = 0; s < 600 && !pp_wait_until(done, 1); s++)
    if (maybe_restart(sig, &restarted) < 0)
      return 1;
  if (!pp_wait_until(done, 0)) {
    fprintf(stderr, "offer: no done from the answer\n");
    return 1;
  }
  printf("offer: %d ICE restarts\n", restarts);
  return 0;
}

static int
run_answer(p2psig_peer *peer)
{
  if (!pp_wait_until(all_received, 600) || out_of_order) {
    fprintf(stderr, "answer: %ld of %ld in order\n", next_expected, count);
    return 1;
  }
  printf("answer: all %ld messages once and in order at %.3f\n", count,
         pp_now_s());
  /* Now, while connected: the offer closes once it has "done", which
   * closes this peer too (closed by the remote), and a closed peer has no
   * pair. */
  print_pair(peer);
  if (p2psig_channel_send_text(data, "done") < 0)
    return 1;
  /* The offer exits once it has "done"; its channel close tells us. */
  sleep(1);
  return 0;
}

int
main(int argc, char **argv)
{
  p2psig_peer_config cfg = {
    P2PSIG_PEER_CONFIG_INIT,
    .on_state = pp_on_state, .on_open = on_open, .on_message = on_message,
  };
  p2psig_signaling_config scfg = { P2PSIG_SIGNALING_CONFIG_INIT };
  const char *servers[2] = { NULL, NULL }, *addresses[2] = { NULL, NULL };
  p2psig_peer *peer;
  p2psig_signaling *sig;
  int status = 1, error = 0;
  bool offer;

  if (argc != 7) {
    fprintf(stderr, "usage: %s offer|answer LISTEN REMOTE COUNT STUN_URL "
            "LOCAL_IP\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pp_role = argv[1];
  pp_closed_is_failure = true;
  offer = strcmp(pp_role, "offer") == 0;
  count = atol(argv[4]);
  servers[0] = argv[5];
  addresses[0] = argv[6];
  cfg.ice_servers = servers;
  cfg.local_addresses = addresses;
  peer = p2psig_peer_new(&cfg, &error);
  if (!peer) {
    fprintf(stderr, "%s: %s\n", pp_role, p2psig_strerror(error));
    return 1;
  }
  if (offer)
    p2psig_peer_create_channel(peer, "data", NULL, NULL);
  scfg.role = offer ? P2PSIG_ROLE_OFFER : P2PSIG_ROLE_ANSWER;
  scfg.listen_address = argv[2];
  scfg.remote_address = argv[3];
  sig = p2psig_signaling_new(peer, &scfg, &error);
  if (!sig || p2psig_signaling_start(sig) < 0) {
    fprintf(stderr, "%s: signaling: %s\n", pp_role, p2psig_strerror(error));
    return 1;
  }
  if (!pp_wait_until(is_open, 60)) {
    fprintf(stderr, "%s: the channel did not open\n", pp_role);
    goto out;
  }
  print_pair(peer);
  status = offer ? run_offer(sig) : run_answer(peer);
  if (offer)
    print_pair(peer);
out:
  p2psig_signaling_free(sig);
  p2psig_peer_free(peer);
  return status;
}
