/* SPDX-License-Identifier: MIT */
/*
 * offer: the offering side of pion's pion-to-pion example.  It serves
 * /sdp and /candidate on -offer-address, creates the channel "data", posts
 * its offer to the answer at -answer-address (retrying until the answer
 * listens) and then sends a random message every -interval seconds.
 */
#include "common.h"

int
main(int argc, char **argv)
{
  struct tool t = {
    .name = "offer",
    .opt = {.offer_address = ":50000",
            .answer_address = "127.0.0.1:60000",
            .interval = 5},
  };
  int error = 0;

  tool_parse_args(&t, argc, argv);
  tool_init(&t);

  if (!tool_peer_new(&t, &error))
    return tool_fail(&t, "cannot create the peer", error);

  if (!p2psig_peer_create_channel(t.peer, "data", NULL, &error)) {
    p2psig_peer_free(t.peer);
    return tool_fail(&t, "cannot create the channel", error);
  }

  t.signaling = tool_signaling_new(&t, P2PSIG_ROLE_OFFER);
  if (!t.signaling) {
    p2psig_peer_free(t.peer);
    return 1;
  }

  /* The offer restarts ICE when the connection goes disconnected (a NAT
   * forgot its mapping, an address changed); pion's example does not. */
  t.restart_ice_on_disconnect = true;
  error = p2psig_signaling_start(t.signaling);
  if (error < 0) {
    p2psig_signaling_free(t.signaling);
    p2psig_peer_free(t.peer);
    return tool_fail(&t, "cannot send the offer", error);
  }

  return tool_run(&t);
}
