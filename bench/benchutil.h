/* SPDX-License-Identifier: MIT */
/*
 * What the programs of bench/ share: the clock, and numbers from the
 * command line.  libc only.
 */
#ifndef P2PSIG_BENCHUTIL_H
#define P2PSIG_BENCHUTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double
bench_now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* s as a number in min..max; else a line from prog, and exit status 2. */
static inline double
bench_number(const char *prog, const char *s, double min, double max)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max)) {
    fprintf(stderr, "%s: bad number: %s (%g to %g)\n", prog, s, min, max);
    exit(2);
  }
  return v;
}

#endif
