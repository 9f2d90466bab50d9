/* SPDX-License-Identifier: MIT */
/*
 * start: an empty program linked with libp2psig, so that spawning it costs
 * what loading the library and its dependencies costs (bench/floor -s).
 */
#include <p2psig/p2psig.h>

int
main(void)
{
  /* One call, so that the linker keeps the library. */
  return p2psig_strerror(P2PSIG_OK) ? 0 : 1;
}
