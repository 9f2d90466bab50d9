/* SPDX-License-Identifier: MIT */
/*
 * udpfloor: what this machine's loopback carries in 1,200-byte UDP
 * datagrams, the floor under every figure of bench/: a data channel sends
 * datagrams of about that size (SCTP packets in DTLS records, under the
 * 1,200-byte MTU of RFC 8261), so its bytes/s over a floor's bytes/s says
 * how much of the machine a stack uses, across machines and runs.
 *
 *   udpfloor [-t SECONDS] [-w SECONDS] [-s SIZE] [-b BATCH] [-l LABEL]
 *
 * One process per side, as two peers of separate processes would be: the
 * receiver is forked off, binds 127.0.0.1, and counts what it reads; the
 * sender floods it for -w seconds of warm-up and -t measured seconds.  A
 * datagram is one system call on each side (sendto, recvfrom): the honest
 * per-datagram floor, as libnice 0.1.21 sends and reads.  Then the same
 * with sendmmsg/recvmmsg, -b datagrams a call (32), what batching could
 * reach.  The sender never waits: what the receiver cannot take in time
 * is dropped by the kernel, and only what it read counts.
 *
 * Output, one line per figure as bench's ("LABEL FIGURE VALUE"):
 *   floor udp_Bps N            bytes/s received, per-datagram calls
 *   floor udp_dgps N           datagrams/s received
 *   floor udp_sent_dgps N      datagrams/s sent (the rest were dropped)
 *   floor udp_mmsg_Bps N, udp_mmsg_dgps N, udp_mmsg_sent_dgps N
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define number(s, min, max) bench_number("udpfloor", s, min, max)

#define MAX_SIZE 65507
#define MAX_BATCH 256
#define RCVBUF (4 * 1024 * 1024)

static struct {
  double seconds;
  double warmup;
  size_t size;
  unsigned batch;
  const char *label;
} opt = {10, 1, 1200, 32, "floor"};

static void
die(const char *what)
{
  fprintf(stderr, "udpfloor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void
report(const char *figure, double value)
{
  printf("%s %s %.1f\n", opt.label, figure, value);
  fflush(stdout);
}

/* What the receiver read in the measured window, written to the parent
 * through a pipe. */
struct counts {
  uint64_t bytes;
  uint64_t datagrams;
  double seconds;
};

/* Reads until the sender's last datagram (an empty one) or a second of
 * silence; counts from warm-up to warm-up + seconds after the first. */
static void
receive(int fd, bool mmsg, struct counts *c)
{
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct timeval tv = {1, 0};
  size_t room = opt.size + 1; /* a larger datagram would show */
  char *bufs = malloc(MAX_BATCH * room);
  double t_first = 0, t0 = 0, t1 = 0, t;
  bool counting = false, done = false;

  if (!bufs)
    die("malloc");
  memset(c, 0, sizeof *c);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (unsigned i = 0; i < MAX_BATCH; i++) {
    iov[i] = (struct iovec){bufs + i * room, room};
    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
                                           .msg_iovlen = 1}};
  }
  while (!done) {
    int n;

    if (mmsg) {
      n = recvmmsg(fd, msgs, opt.batch, 0, NULL);
    } else {
      ssize_t len = recvfrom(fd, bufs, room, 0, NULL, NULL);

      n = len < 0 ? -1 : 1;
      msgs[0].msg_len = len < 0 ? 0 : (unsigned)len;
    }
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break; /* a second of silence: the sender is gone */
      die("recv");
    }
    t = bench_now_s();
    if (t_first == 0)
      t_first = t;
    if (!counting && t >= t_first + opt.warmup) {
      counting = true;
      t0 = t;
    }
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len == 0) {
        done = true;
        break;
      }
      if (counting && t < t0 + opt.seconds) {
        c->bytes += msgs[i].msg_len;
        c->datagrams++;
        t1 = t;
      }
    }
  }
  c->seconds = t1 > t0 ? t1 - t0 : 0;
  free(bufs);
}

/* Floods dest from an unconnected socket, as libnice sends (an address
 * with every datagram), for warm-up + seconds and a little more, so that
 * the receiver's window is full; returns the datagrams sent per second in
 * the window after the warm-up. */
static double
flood(int fd, const struct sockaddr_in *dest, bool mmsg)
{
  struct mmsghdr msgs[MAX_BATCH];
  char *buf = malloc(opt.size);
  struct iovec iov = {buf, opt.size};
  double t0 = bench_now_s(), end = t0 + opt.warmup + opt.seconds + 0.2, t;
  double w0 = t0 + opt.warmup, w1 = w0 + opt.seconds, tw0 = 0, tw1 = 0;
  uint64_t sent = 0, sw0 = 0, sw1 = 0;

  if (!buf)
    die("malloc");
  memset(buf, 0xa5, opt.size);
  for (unsigned i = 0; i < MAX_BATCH; i++)
    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = (void *)dest,
                                           .msg_namelen = sizeof *dest,
                                           .msg_iov = &iov,
                                           .msg_iovlen = 1}};
  /* The clock is read every 64 calls: it costs about as much as a send. */
  for (unsigned calls = 0;; calls++) {
    int n;

    if ((calls & 63) == 0) {
      t = bench_now_s();
      if (t >= end)
        break;
      if (!tw0 && t >= w0) {
        tw0 = t;
        sw0 = sent;
      }
      if (!tw1 && t >= w1) {
        tw1 = t;
        sw1 = sent;
      }
    }
    if (mmsg)
      n = sendmmsg(fd, msgs, opt.batch, 0);
    else
      n = sendto(fd, buf, opt.size, 0, (const struct sockaddr *)dest,
                 sizeof *dest) < 0 ? -1 : 1;
    if (n < 0) {
      /* A full socket buffer: go on flooding. */
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
        continue;
      die("send");
    }
    sent += (unsigned)n;
  }
  /* The end: an empty datagram, a few times in case of drops. */
  for (int i = 0; i < 20; i++) {
    sendto(fd, buf, 0, 0, (const struct sockaddr *)dest, sizeof *dest);
    usleep(1000);
  }
  free(buf);
  return tw1 > tw0 ? (sw1 - sw0) / (tw1 - tw0) : 0;
}

/* One measurement: a receiver process and this one sending. */
static void
measure(bool mmsg, const char *prefix)
{
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addrlen = sizeof addr;
  int rcvbuf = RCVBUF, rx, tx, pipefd[2], status;
  struct counts c;
  double sent_dgps;
  char name[64];
  pid_t pid;

  if ((rx = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
    die("socket");
  /* Root may go past rmem_max; else the kernel's cap applies. */
  if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf))
    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(rx, (struct sockaddr *)&addr, sizeof addr) ||
      getsockname(rx, (struct sockaddr *)&addr, &addrlen))
    die("bind");
  if (pipe(pipefd))
    die("pipe");
  if ((pid = fork()) < 0)
    die("fork");
  if (pid == 0) {
    close(pipefd[0]);
    receive(rx, mmsg, &c);
    if (write(pipefd[1], &c, sizeof c) != sizeof c)
      _exit(1);
    _exit(0);
  }
  close(rx);
  close(pipefd[1]);
  if ((tx = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
    die("socket");
  sent_dgps = flood(tx, &addr, mmsg);
  close(tx);
  if (read(pipefd[0], &c, sizeof c) != sizeof c) {
    fprintf(stderr, "udpfloor: the receiver reported nothing\n");
    exit(1);
  }
  close(pipefd[0]);
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0 || c.seconds <= 0) {
    fprintf(stderr, "udpfloor: the receiver failed\n");
    exit(1);
  }
  snprintf(name, sizeof name, "%s_Bps", prefix);
  report(name, c.bytes / c.seconds);
  snprintf(name, sizeof name, "%s_dgps", prefix);
  report(name, c.datagrams / c.seconds);
  snprintf(name, sizeof name, "%s_sent_dgps", prefix);
  report(name, sent_dgps);
}

int
main(int argc, char **argv)
{
  int c;

  while ((c = getopt(argc, argv, "t:w:s:b:l:")) != -1) {
    switch (c) {
    case 't': opt.seconds = number(optarg, 0.1, 3600); break;
    case 'w': opt.warmup = number(optarg, 0, 3600); break;
    case 's': opt.size = (size_t)number(optarg, 1, MAX_SIZE); break;
    case 'b': opt.batch = (unsigned)number(optarg, 1, MAX_BATCH); break;
    case 'l': opt.label = optarg; break;
    default:
      fprintf(stderr, "usage: udpfloor [-t SECONDS] [-w SECONDS] [-s SIZE] "
                      "[-b BATCH] [-l LABEL]\n");
      return 2;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "udpfloor: no arguments\n");
    return 2;
  }
  fprintf(stderr, "udpfloor: %zu-byte datagrams over 127.0.0.1, %g s + %g s, "
                  "one call a datagram\n", opt.size, opt.warmup, opt.seconds);
  measure(false, "udp");
  fprintf(stderr, "udpfloor: the same, %u datagrams a call "
                  "(sendmmsg, recvmmsg)\n", opt.batch);
  measure(true, "udp_mmsg");
  return 0;
}
