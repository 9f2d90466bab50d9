/* SPDX-License-Identifier: MIT */
#include "peer-process.h"

#include <stdio.h>
#include <time.h>

pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
const char *pp_role = "peer";
p2psig_state pp_state = P2PSIG_STATE_NEW;
bool pp_failed;
bool pp_closed_is_failure;

double
pp_now_s(void)
{
  struct timespec now;

  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

bool
pp_wait_until(bool (*pred)(void), int seconds)
{
  struct timespec deadline;
  bool ok;

  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  pthread_mutex_lock(&pp_lock);
  while (!(ok = pred()) && !pp_failed)
    if (pthread_cond_timedwait(&pp_cond, &pp_lock, &deadline) != 0)
      break;
  ok = pred();
  pthread_mutex_unlock(&pp_lock);
  return ok;
}

void
pp_on_state(p2psig_peer *peer, p2psig_state state, int error, void *ud)
{
  (void)peer;
  (void)ud;
  if (error)
    printf("%s: state %s at %.3f (%s)\n", pp_role, p2psig_state_name(state),
           pp_now_s(), p2psig_strerror(error));
  else
    printf("%s: state %s at %.3f\n", pp_role, p2psig_state_name(state),
           pp_now_s());
  pthread_mutex_lock(&pp_lock);
  pp_state = state;
  if (state == P2PSIG_STATE_FAILED ||
      (pp_closed_is_failure && state == P2PSIG_STATE_CLOSED))
    pp_failed = true;
  pthread_cond_broadcast(&pp_cond);
  pthread_mutex_unlock(&pp_lock);
}
