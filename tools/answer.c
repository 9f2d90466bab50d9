/* SPDX-License-Identifier: MIT */
/*
 * answer: the answering side of pion's pion-to-pion example.  It serves
 * /sdp and /candidate on -answer-address, answers the offer that arrives
 * there by posting to -offer-address, and once the offer's channel opens
 * sends a random message every -interval seconds.
 */
#include <stdio.h>

#include "common.h"

static void
on_channel(p2psig_peer *peer, p2psig_channel *channel, void *user_data)
{
  printf("New DataChannel %s %d\n", p2psig_channel_get_label(channel),
         p2psig_channel_get_id(channel));
}

int
main(int argc, char **argv)
{
  struct tool t = {
    .name = "answer",
    .opt = {.offer_address = "localhost:50000",
            .answer_address = ":60000",
            .interval = 5},
  };
  p2psig_peer_config config;
  p2psig_signaling_config sconfig = {P2PSIG_SIGNALING_CONFIG_INIT};
  int error = 0;

  tool_parse_args(&t, argc, argv);
  tool_init(&t);

  config = tool_peer_config(&t);
  config.on_channel = on_channel;
  t.peer = p2psig_peer_new(&config, &error);
  if (!t.peer)
    return tool_fail(&t, "cannot create the peer", error);

  sconfig.role = P2PSIG_ROLE_ANSWER;
  sconfig.listen_address = t.opt.answer_address;
  sconfig.remote_address = t.opt.offer_address;
  sconfig.on_error = tool_on_signaling_error;
  sconfig.user_data = &t;
  t.signaling = p2psig_signaling_new(t.peer, &sconfig, &error);
  if (!t.signaling) {
    p2psig_peer_free(t.peer);
    return tool_fail(&t, t.opt.answer_address, error);
  }

  return tool_run(&t);
}
