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
  int error = 0;

  tool_parse_args(&t, argc, argv);
  tool_init(&t);

  t.on_channel = on_channel;
  if (!tool_peer_new(&t, &error))
    return tool_fail(&t, "cannot create the peer", error);

  /* -page: a browser tab is a peer, and the next tab (a reload) another. */
  if (t.opt.page) {
    t.page = tool_page_build(&t.opt);
    t.renew_peer = true;
  }
  t.signaling = tool_signaling_new(&t, P2PSIG_ROLE_ANSWER);
  if (!t.signaling) {
    p2psig_peer_free(t.peer);
    return 1;
  }
  if (t.opt.page)
    fprintf(stderr, "answer: serving the page on port %u: open "
            "http://HOST:%u/%s in a browser\n",
            p2psig_signaling_get_port(t.signaling),
            p2psig_signaling_get_port(t.signaling),
            t.opt.token ? "?access_token=TOKEN" : "");

  return tool_run(&t);
}
