/* SPDX-License-Identifier: MIT */
/*
 * SCTP layer: usrsctp without threads of its own (usrsctp_init_nothreads).
 * Every SCTP call on an association runs under the lock of the loop its
 * peer is pinned to; a thread of its own drives usrsctp's timers, which
 * are process-wide and reach every association, with every loop's lock
 * held (p2psig__lock_all_loops).  So whatever usrsctp calls back
 * (conn_output, the upcall) runs with the lock of that association's loop
 * held, on whichever thread.  Sockets are non-blocking; an upcall only
 * marks a socket readable, on its loop's list, and we read it after
 * usrsctp has returned, so message delivery never runs inside usrsctp.
 * The tick's own state is under timer_lock, a leaf.
 *
 * DTLS authenticates every packet, so checking SCTP's CRC32c on receive is
 * redundant: we turn usrsctp's check off and compute the checksum of what
 * we send ourselves, since pion and browsers verify it.
 */
#define G_LOG_DOMAIN "p2psig-sctp"

#include "sctp.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <usrsctp.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "dcep.h"
#include "reassembly.h"

/* Streams offered in each direction unless the application says
 * otherwise: 128 channels opened from each side (ids follow the DTLS role,
 * so one side uses every other id).  usrsctp 0.9.5 allocates and writes
 * every stream at setup (64 bytes out, 40 in), and cannot take more
 * incoming ones later than it offered at setup, so the count is a cap. */
#define SCTP_DEFAULT_STREAMS 256
/* SCTP packets must fit a DTLS record in a 1200-byte datagram. */
#define SCTP_PATH_MTU 1150
/* The send buffer bounds the largest message; the receive buffer is the
 * window the remote may fill. */
#define SCTP_SEND_BUFFER_SIZE P2PSIG_SCTP_MAX_SEND
#define SCTP_RECV_BUFFER_SIZE (2 * 1024 * 1024)
/* With I-DATA the remote sends pieces of messages of several streams
 * mixed, and usrsctp hands a message over in pieces only once this much
 * of it is in (its default: half the receive buffer).  Messages short of
 * it hold their pieces in the receive window: with the default, 48
 * channels each sending 160 KiB at once filled the 2 MiB window with
 * pieces of messages none of which was complete, and the window stayed
 * shut for good (/interleaving/many-channels; test-hostile's open-flood
 * under load, 4 runs in 60).  At 8 KiB, 256 streams must be part-way
 * through a message at once for that; the pieces go to lib/reassembly.c,
 * which bounds what it holds.  No cost measured on throughput or message
 * rate (bench/README.md).  Pieces of a message are read as they come
 * after that, so a large one may be read hundreds of times
 * (SCTP_WEDGED_MS says why that matters). */
#define SCTP_PARTIAL_DELIVERY_BYTES (8 * 1024)
/* What an association may hold of messages still arriving in pieces: with
 * interleaving, up to 16 of the largest at once (as much as a sending
 * peer may buffer, send_buffer_limit's default). */
#define SCTP_PIECES_HELD_MAX P2PSIG_DEFAULT_SEND_BUFFER_LIMIT
/* usrsctp (0.9.5, and its master of 2024) counts the reads of a message
 * handed over in pieces in 8 bits (some_taken).  With fragment
 * interleaving, while the message at the head of the read queue waits for
 * pieces, a read takes the first message behind it that was read before
 * (count not 0) or whose stream has none part-read.  So after 256 reads
 * (count 0 again) a message behind an incomplete one cannot be read until
 * every one ahead of it is complete.  Its pieces keep coming meanwhile and
 * hold the receive window; once they fill it, the messages ahead cannot
 * complete, and nothing is read again (/hostile/oversize: 1 run in 40
 * under load, every run with a partial delivery point of one byte).  We
 * see a socket that holds data no read takes ("wedged"), and widen the
 * window by room for the messages ahead (an honest remote sends none over
 * P2PSIG_MAX_MESSAGE_SIZE); it narrows again once a read finds the socket
 * empty.  A wedge that no read has moved for SCTP_WEDGED_MS (the peer's
 * own silence limit) ends the association. */
#define SCTP_WEDGED_RECV_BUFFER_SIZE \
  (SCTP_RECV_BUFFER_SIZE + 2 * P2PSIG_MAX_MESSAGE_SIZE)
#define SCTP_WEDGED_MS 30000
/* usrsctp 0.9.5 has the I-DATA option (RFC 8260) without declaring it. */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif
/* usrsctp's timers are driven by a tick: every 10 ms while some
 * association moves data or is being set up or torn down, since its
 * retransmission (RTO 200 ms and up), delayed-SACK (200 ms) and
 * stream-reset timers want it; every second once nothing but heartbeats
 * went either way for longer than the largest RTO, when only heartbeat
 * timers are pending (usrsctp's own, a 10 s backstop: a second late costs
 * nothing).  Any other packet sent or received brings the fast tick back
 * at once.  Each tick walks every timer of every association (at 9,900
 * idle peers, 10 % of the process's time with a 250 ms slow tick). */
#define SCTP_TIMER_MS 10
#define SCTP_SLOW_TIMER_MS 1000
/* A tick holds every loop's lock while usrsctp walks its timers, which
 * with thousands of associations takes milliseconds: at 10 ms the loops
 * would mostly wait for it (opening 9,900 peers, 61 % of the process's
 * time was that walk).  So the next tick comes no sooner than this many
 * times as long as the last one took: timers fire a little late under
 * such a load, the loops keep nine tenths of the time. */
#define SCTP_TICK_DUTY 10
#define SCTP_FAST_FOR_US ((gint64)(SCTP_RTO_MAX_MS + 1000) * 1000)
/* The slow tick may come up to 50 ms late, so that an idle process wakes
 * less often (the tick thread's timer slack, Linux). */
#define SCTP_IDLE_TIMER_SLACK_NS (50 * 1000 * 1000)
/* usrsctp's own heartbeats come this long after the last packet sent,
 * plus the RTO with a jitter of half of it: with an RTO of seconds (a
 * loaded or lossy path) that is no bound a 5 s silence limit can rely on.
 * So the peer asks for one itself after a second without hearing from the
 * remote (p2psig__sctp_heartbeat), and these are only a backstop. */
#define SCTP_HEARTBEAT_MS 10000
#define SCTP_RTO_MIN_MS 200
#define SCTP_RTO_MAX_MS 5000
/* At most this many heartbeats, one a timer tick, to correct the RTT the
 * handshake measured: from 3 s, 25 to 40 answered ones are needed. */
#define SCTP_SETTLE_HEARTBEATS 100

struct p2psig_sctp {
  struct p2psig_loop *loop;
  struct socket *sock;
  struct p2psig_sctp_callbacks cbs;
  void *data;
  uint16_t local_port, remote_port;
  uint16_t offered;         /* streams we offer each way */
  uint16_t streams;
  uint16_t streams_in;      /* incoming streams, as negotiated */
  bool warned_sid;          /* logged a remote stream beyond them */
  bool connected;
  bool closed;
  bool readable;
  bool paused;              /* not read until resumed (back-pressure) */
  bool blocked;             /* a send returned EAGAIN */
  bool interleave;          /* offer I-DATA */
  bool interleaving;        /* negotiated */
  struct p2psig_reassembly *pieces; /* messages arriving in pieces */
  bool wedged;              /* holds data no read takes (SCTP_WEDGED_MS) */
  unsigned reads;           /* successful reads, wrapping */
  unsigned wedge_reads;     /* reads when the wedge last moved */
  gint64 wedge_moved_at;    /* then, monotonic us */
  unsigned settle_heartbeats; /* left to correct the RTT estimate */
};

static GMutex timer_lock;
static GCond timer_cond;          /* the speed or the count changed */
/* Under timer_lock: */
static gint timer_fast;           /* atomic, written under timer_lock */
static gint64 timer_last;         /* usrsctp's time, in whole ms */
static gint64 tick_at;            /* the last tick */
static unsigned association_count;
static gint64 last_busy;          /* the tick that last saw busy set */
/* Atomic: a packet but heartbeats went or came since the last tick.  A
 * flag the tick clears, not a time each packet writes: every loop's
 * thread sends and receives, and a clock read and a store to one shared
 * line per packet cost them all. */
static gint busy_seen;

/* Per loop, under its lock. */
struct loop_state {
  GPtrArray *readable;   /* sockets marked by the upcall */
  GPtrArray *writable;   /* blocked sockets with room again */
  GPtrArray *settling;   /* associations with a suspect RTT */
  GPtrArray *wedged;     /* sockets holding data no read takes */
  bool draining;         /* a drain runs: a nested one would reuse buffer */
  /* Larger messages come in pieces and are reassembled.  Notifications
   * are read in place as structs: aligned as malloc's memory is. */
  _Alignas(16) uint8_t buffer[128 * 1024];
};
static struct loop_state *loop_states[P2PSIG_MAX_LOOPS];

static void drain_readable(struct loop_state *state);
static void settle_rtt(struct loop_state *state);
static void end_stuck_wedges(struct loop_state *state);

/* The loop's lock held. */
static struct loop_state *
state_of(struct p2psig_sctp *sctp)
{
  return loop_states[p2psig__loop_index(sctp->loop)];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>

/* CRC32c with SSE 4.2's crc32 instruction: a fraction of the cost of
 * usrsctp's tables, which were the largest single cost of sending. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(const uint8_t *buf, size_t len)
{
  uint64_t crc = 0xffffffffu;

  for (; len >= 8; buf += 8, len -= 8) {
    uint64_t word;

    memcpy(&word, buf, sizeof word);
    crc = _mm_crc32_u64(crc, word);
  }
  for (uint32_t c = (uint32_t)crc;; buf++, len--) {
    if (len == 0)
      return ~c;
    c = _mm_crc32_u8(c, *buf);
  }
}

static bool
have_sse42(void)
{
  static gsize state; /* 0: not looked yet, 1: no, 2: yes */

  if (g_once_init_enter(&state)) {
    __builtin_cpu_init();
    g_once_init_leave(&state, __builtin_cpu_supports("sse4.2") ? 2 : 1);
  }
  return state == 2;
}
#endif

uint32_t
p2psig__crc32c(const uint8_t *buf, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (have_sse42())
    return crc32c_sse42(buf, len);
#endif
  /* Same byte order as usrsctp's: the value is stored as is. */
  return usrsctp_crc32c((void *)buf, len);
}

/* SCTP chunk types (RFC 9260) the tick and the stream check look at. */
#define CHUNK_DATA 0
#define CHUNK_HEARTBEAT 4
#define CHUNK_HEARTBEAT_ACK 5
#define CHUNK_IDATA 64

static void set_timer_speed(bool fast);

/* A packet other than heartbeats went or came: the fast tick. */
static void
note_busy(void)
{
  if (!g_atomic_int_get(&busy_seen))
    g_atomic_int_set(&busy_seen, 1);
  if (!g_atomic_int_get(&timer_fast)) {
    g_mutex_lock(&timer_lock);
    if (!timer_fast && association_count > 0)
      set_timer_speed(true);
    g_mutex_unlock(&timer_lock);
  }
}

/* Walks the chunks of a packet: whether any is not a heartbeat (or its
 * answer), and, when sctp is given, whether DATA uses a stream beyond the
 * incoming ones, which usrsctp drops with an ERROR to the remote and no
 * word to us: the remote's channel on it can never open. */
static bool
scan_chunks(struct p2psig_sctp *sctp, const uint8_t *packet, size_t len)
{
  bool busy = false;

  for (size_t off = 12; off + 4 <= len;) {
    uint8_t type = packet[off];
    size_t chunk_len = (size_t)packet[off + 2] << 8 | packet[off + 3];

    if (chunk_len < 4)
      return true;
    if (type != CHUNK_HEARTBEAT && type != CHUNK_HEARTBEAT_ACK)
      busy = true;
    /* DATA and I-DATA both carry the stream id at byte 8. */
    if (sctp && sctp->connected && !sctp->warned_sid &&
        (type == CHUNK_DATA || type == CHUNK_IDATA) && chunk_len >= 10 &&
        off + 10 <= len) {
      uint16_t sid = (uint16_t)(packet[off + 8] << 8 | packet[off + 9]);

      if (sid >= sctp->streams_in) {
        sctp->warned_sid = true;
        g_info("the remote sent on stream %u, but %u streams were "
               "negotiated (we offer %u: sctp_streams): that channel "
               "cannot open here", sid, sctp->streams_in, sctp->offered);
      }
    }
    off += (chunk_len + 3) & ~(size_t)3;
  }
  return busy;
}

static int
conn_output(void *addr, void *buffer, size_t length, uint8_t tos,
            uint8_t set_df)
{
  struct p2psig_sctp *sctp = addr;
  uint8_t *packet = buffer;
  uint32_t crc;

  g_assert(p2psig__loop_locked(sctp->loop));
  if (length < 12 || sctp->closed)
    return 0;
  /* The checksum field is bytes 8..11 of the common header; usrsctp's own
   * CRC code stores its result as is, so do we. */
  memset(packet + 8, 0, 4);
  crc = p2psig__crc32c(packet, length);
  memcpy(packet + 8, &crc, 4);
  if (scan_chunks(NULL, packet, length))
    note_busy();
  sctp->cbs.send(sctp->data, packet, length);
  return 0;
}

static void
debug_printf(const char *format, ...)
{
  va_list args;
  char *text;

  va_start(args, format);
  text = g_strdup_vprintf(format, args);
  va_end(args);
  g_debug("usrsctp: %s", g_strchomp(text));
  g_free(text);
}

static gpointer
init_usrsctp(gpointer unused)
{
  usrsctp_init_nothreads(0, conn_output, debug_printf);
  usrsctp_enable_crc32c_offload();
  /* ECN means nothing over DTLS; pion and browsers do not negotiate it. */
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_asconf_enable(0);
  usrsctp_sysctl_set_sctp_auth_enable(0);
  usrsctp_sysctl_set_sctp_blackhole(2);
  /* The default minimum RTO of one second makes every loss cost a second
   * on a path with a round trip of a millisecond. */
  usrsctp_sysctl_set_sctp_rto_min_default(SCTP_RTO_MIN_MS);
  usrsctp_sysctl_set_sctp_rto_initial_default(1000);
  /* Exponential backoff up to usrsctp's 60 s would stall a lossy link for
   * minutes; the peer's own 30 s silence limit decides when it is dead, so
   * SCTP may retry longer before giving up on the association. */
  usrsctp_sysctl_set_sctp_rto_max_default(SCTP_RTO_MAX_MS);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_path_rtx_max_default(20);
  return GINT_TO_POINTER(1);
}

/* One tick: usrsctp's timers, then what they made readable, with every
 * loop's lock; no lock held before.  Sets *cost_us to how long that work
 * took once the locks were held. */
static bool
tick(uint32_t elapsed, gint64 *cost_us)
{
  bool settling = false;
  gint64 start;

  p2psig__lock_all_loops();
  start = g_get_monotonic_time();
  if (elapsed > 0)
    usrsctp_handle_timers(elapsed);
  for (unsigned i = 0; i < P2PSIG_MAX_LOOPS; i++) {
    struct loop_state *state = loop_states[i];

    if (!state)
      continue;
    if (elapsed > 0)
      drain_readable(state);
    settle_rtt(state);
    end_stuck_wedges(state);
    settling = settling || state->settling->len > 0;
  }
  *cost_us = g_get_monotonic_time() - start;
  p2psig__unlock_all_loops();
  return settling;
}

/* The tick's own thread: a loop thread that waited here for another
 * loop's lock would hold up its own peers meanwhile. */
static gpointer
timer_main(gpointer unused)
{
  bool slack = false;
  gint64 tick_cost_us = 0; /* how long the last tick took */

  g_mutex_lock(&timer_lock);
  for (;;) {
    gint64 now = g_get_monotonic_time();
    gint64 due = tick_at +
                 MAX((timer_fast ? SCTP_TIMER_MS : SCTP_SLOW_TIMER_MS) * 1000,
                     tick_cost_us * SCTP_TICK_DUTY);
    uint32_t elapsed;
    bool settling;

    if (association_count == 0) {
      g_cond_wait(&timer_cond, &timer_lock);
      continue;
    }
    if (now < due) {
      g_cond_wait_until(&timer_cond, &timer_lock, due);
      continue;
    }
    tick_at = now;
    elapsed = (uint32_t)((now - timer_last) / 1000);
    timer_last += (gint64)elapsed * 1000;
    g_mutex_unlock(&timer_lock);
    settling = tick(elapsed, &tick_cost_us);
    g_mutex_lock(&timer_lock);
    if (g_atomic_int_get(&busy_seen)) {
      g_atomic_int_set(&busy_seen, 0);
      last_busy = now;
    }
    if (timer_fast && !settling && now - last_busy > SCTP_FAST_FOR_US)
      set_timer_speed(false);
    /* The loops' other timers follow the tick's speed: coalesced while it
     * is slow; and so does this thread's. */
    p2psig__loop_coalesce_timers(!timer_fast);
    if (slack != !timer_fast) {
      slack = !timer_fast;
#ifdef __linux__
      prctl(PR_SET_TIMERSLACK, slack ? SCTP_IDLE_TIMER_SLACK_NS : 0, 0, 0, 0);
#endif
    }
  }
  return NULL;
}

/* The next tick at the new speed's interval from now; the time since
 * usrsctp last ran its timers still counts (timer_last).  timer_lock
 * held. */
static void
set_timer_speed(bool fast)
{
  g_atomic_int_set(&timer_fast, fast);
  tick_at = g_get_monotonic_time();
  g_cond_signal(&timer_cond);
}

static gpointer
start_timer_thread(gpointer unused)
{
  g_thread_unref(g_thread_new("p2psig-sctp", timer_main, NULL));
  return NULL;
}

static void
timer_ref(void)
{
  static GOnce started = G_ONCE_INIT;

  g_once(&started, start_timer_thread, NULL);
  g_mutex_lock(&timer_lock);
  if (association_count++ == 0) {
    timer_last = g_get_monotonic_time();
    last_busy = timer_last;
    set_timer_speed(true);
    p2psig__loop_coalesce_timers(false);
  }
  g_mutex_unlock(&timer_lock);
}

static void
timer_unref(void)
{
  g_mutex_lock(&timer_lock);
  if (--association_count == 0)
    p2psig__loop_coalesce_timers(false);
  g_mutex_unlock(&timer_lock);
}

static void
upcall(struct socket *sock, void *arg, int flags)
{
  struct p2psig_sctp *sctp = arg;
  int events = usrsctp_get_events(sock);

  g_assert(p2psig__loop_locked(sctp->loop));
  if (!sctp->readable && (events & SCTP_EVENT_READ)) {
    sctp->readable = true;
    g_ptr_array_add(state_of(sctp)->readable, sctp);
  }
  if (sctp->blocked && (events & SCTP_EVENT_WRITE)) {
    sctp->blocked = false;
    g_ptr_array_add(state_of(sctp)->writable, sctp);
  }
}

static int
set_option(struct socket *sock, int level, int name, const void *value,
           socklen_t len)
{
  if (usrsctp_setsockopt(sock, level, name, value, len) < 0) {
    g_debug("setsockopt %d: %s", name, g_strerror(errno));
    return -1;
  }
  return 0;
}

static int
configure_socket(struct p2psig_sctp *sctp)
{
  struct socket *sock = sctp->sock;
  static const uint16_t events[] = {
    SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_STREAM_CHANGE_EVENT,
    SCTP_REMOTE_ERROR, SCTP_SHUTDOWN_EVENT, SCTP_PARTIAL_DELIVERY_EVENT,
  };
  struct linger linger = { .l_onoff = 1, .l_linger = 0 };
  struct sctp_assoc_value reset = {
    .assoc_id = SCTP_ALL_ASSOC, .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ,
  };
  struct sctp_initmsg init = {
    .sinit_num_ostreams = sctp->offered, .sinit_max_instreams = sctp->offered,
  };
  struct sctp_assoc_value scheduler = {
    .assoc_id = SCTP_FUTURE_ASSOC, .assoc_value = SCTP_SS_PRIORITY,
  };
  int on = 1;
  int send_buffer = SCTP_SEND_BUFFER_SIZE;
  int recv_buffer_size = SCTP_RECV_BUFFER_SIZE;

  if (usrsctp_set_non_blocking(sock, 1) < 0)
    return -1;
  usrsctp_set_upcall(sock, upcall, sctp);
  /* Abort at close instead of lingering in SHUTDOWN: the transport below
   * goes away with the peer. */
  if (set_option(sock, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) ||
      set_option(sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset,
                 sizeof reset) ||
      set_option(sock, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) ||
      set_option(sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) ||
      set_option(sock, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init) ||
      set_option(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer,
                 sizeof send_buffer) ||
      set_option(sock, SOL_SOCKET, SO_RCVBUF, &recv_buffer_size,
                 sizeof recv_buffer_size))
    return -1;
  /* I-DATA (RFC 8260), so that a large message on one channel does not
   * hold up the others.  usrsctp offers it only with fragment
   * interleaving at level 2, under which pieces of messages of several
   * streams may be read mixed (reassembly.h). */
  if (sctp->interleave) {
    int level = 2;
    struct sctp_assoc_value idata = {
      .assoc_id = SCTP_FUTURE_ASSOC, .assoc_value = 1,
    };
    uint32_t point = SCTP_PARTIAL_DELIVERY_BYTES;

    if (set_option(sock, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level,
                   sizeof level) ||
        set_option(sock, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &idata,
                   sizeof idata))
      g_debug("no message interleaving");
    else if (set_option(sock, IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT,
                        &point, sizeof point))
      g_debug("no partial delivery point: many large messages at once may "
              "stall the association");
  }
  /* Channel priorities (DCEP) map onto usrsctp's priority scheduler. */
  set_option(sock, IPPROTO_SCTP, SCTP_PLUGGABLE_SS, &scheduler,
             sizeof scheduler);
  for (size_t i = 0; i < G_N_ELEMENTS(events); i++) {
    struct sctp_event event = {
      .se_assoc_id = SCTP_ALL_ASSOC, .se_type = events[i], .se_on = 1,
    };

    if (set_option(sock, IPPROTO_SCTP, SCTP_EVENT, &event, sizeof event))
      return -1;
  }
  return 0;
}

/* usrsctp's address of one end of this association: the sctp itself,
 * with the port. */
static struct sockaddr_conn
conn_address(struct p2psig_sctp *sctp, uint16_t port)
{
  struct sockaddr_conn sconn = { 0 };

  sconn.sconn_family = AF_CONN;
  sconn.sconn_port = htons(port);
  sconn.sconn_addr = sctp;
  return sconn;
}

struct p2psig_sctp *
p2psig__sctp_new(struct p2psig_loop *loop, uint16_t local_port,
                 uint16_t remote_port, uint16_t streams, bool interleave,
                 const struct p2psig_sctp_callbacks *cbs, void *data,
                 int *error)
{
  static GOnce once = G_ONCE_INIT;
  struct loop_state **state = &loop_states[p2psig__loop_index(loop)];
  struct p2psig_sctp *sctp;
  struct sockaddr_conn sconn;

  g_once(&once, init_usrsctp, NULL);
  if (!*state) {
    *state = g_new0(struct loop_state, 1);
    (*state)->readable = g_ptr_array_new();
    (*state)->writable = g_ptr_array_new();
    (*state)->settling = g_ptr_array_new();
    (*state)->wedged = g_ptr_array_new();
  }
  sctp = g_new0(struct p2psig_sctp, 1);
  sctp->loop = loop;
  sctp->cbs = *cbs;
  sctp->data = data;
  sctp->local_port = local_port;
  sctp->remote_port = remote_port;
  sctp->offered = streams ? streams : SCTP_DEFAULT_STREAMS;
  sctp->interleave = interleave;
  sctp->pieces = p2psig__reassembly_new(P2PSIG_MAX_MESSAGE_SIZE,
                                        SCTP_PIECES_HELD_MAX);
  usrsctp_register_address(sctp);
  timer_ref();
  sctp->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL,
                              0, NULL);
  if (!sctp->sock || configure_socket(sctp) < 0)
    goto fail;
  sconn = conn_address(sctp, local_port);
  if (usrsctp_bind(sctp->sock, (struct sockaddr *)&sconn, sizeof sconn) < 0) {
    g_debug("bind: %s", g_strerror(errno));
    goto fail;
  }
  return sctp;

fail:
  *error = P2PSIG_ESCTP;
  p2psig__sctp_free(sctp);
  return NULL;
}

void
p2psig__sctp_free(struct p2psig_sctp *sctp)
{
  if (!sctp)
    return;
  if (sctp->sock) {
    usrsctp_set_upcall(sctp->sock, NULL, NULL);
    usrsctp_close(sctp->sock);
  }
  sctp->closed = true;
  g_ptr_array_remove(state_of(sctp)->readable, sctp);
  g_ptr_array_remove(state_of(sctp)->writable, sctp);
  g_ptr_array_remove(state_of(sctp)->settling, sctp);
  g_ptr_array_remove(state_of(sctp)->wedged, sctp);
  usrsctp_deregister_address(sctp);
  timer_unref();
  p2psig__reassembly_free(sctp->pieces);
  g_free(sctp);
}

/* Sets the one path's parameters (SPP_* flags say which).  The association
 * exists once connect has been called. */
static void
set_path_params(struct p2psig_sctp *sctp, uint32_t flags)
{
  struct sctp_paddrparams params = { 0 };
  struct sockaddr_conn sconn = conn_address(sctp, sctp->remote_port);

  memcpy(&params.spp_address, &sconn, sizeof sconn);
  params.spp_pathmtu = SCTP_PATH_MTU;
  params.spp_hbinterval = SCTP_HEARTBEAT_MS;
  params.spp_flags = flags;
  set_option(sctp->sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params,
             sizeof params);
}

/* A fixed path MTU: DTLS sits below, and probing would only lose packets.
 * Heartbeats start once the association is up (handle_assoc_change). */
int
p2psig__sctp_connect(struct p2psig_sctp *sctp)
{
  struct sockaddr_conn sconn = conn_address(sctp, sctp->remote_port);

  if (usrsctp_connect(sctp->sock, (struct sockaddr *)&sconn,
                      sizeof sconn) < 0 && errno != EINPROGRESS) {
    g_debug("connect: %s", g_strerror(errno));
    return P2PSIG_ESCTP;
  }
  set_path_params(sctp, SPP_PMTUD_DISABLE);
  return 0;
}

/* An estimate at the floor, or settled (RTTVAR at most SRTT / 4). */
static bool
rtt_sane(const struct sctp_paddrinfo *path)
{
  return path->spinfo_rto <= SCTP_RTO_MIN_MS ||
         (path->spinfo_rto < SCTP_RTO_MAX_MS &&
          path->spinfo_rto <= 2 * path->spinfo_srtt);
}

/* usrsctp 0.9.5 times the INIT-ACK from connect, across retransmitted
 * INITs (against Karn's rule; fixed upstream in 2023), and a remote still
 * finishing DTLS holds our INITs for seconds.  The SRTT of seconds that
 * results takes dozens of samples to decay, and meanwhile T3 retransmits
 * nothing sent less than SRTT + 4 RTTVAR ago, whatever RTO.Max says: on a
 * lossy link, a minute or more with data stuck.  Heartbeats asked for now
 * bring fresh samples within a second. */
static void
settle_rtt(struct loop_state *state)
{
  for (guint i = 0; i < state->settling->len;) {
    struct p2psig_sctp *sctp = g_ptr_array_index(state->settling, i);
    struct sctp_status status = { 0 };
    socklen_t len = sizeof status;

    if (sctp->closed || sctp->settle_heartbeats == 0 ||
        usrsctp_getsockopt(sctp->sock, IPPROTO_SCTP, SCTP_STATUS, &status,
                           &len) < 0 ||
        rtt_sane(&status.sstat_primary)) {
      g_ptr_array_remove_index_fast(state->settling, i);
      continue;
    }
    sctp->settle_heartbeats--;
    set_path_params(sctp, SPP_HB_DEMAND);
    i++;
  }
}

/* SCTP chunk type of ABORT (RFC 9260 section 3.2). */
#define SCTP_ABORT_CHUNK 6

/* Whether an association that ended was aborted by the remote: usrsctp
 * appends the ABORT chunk it received to the notification (RFC 6458
 * section 6.1.1, sac_info); a local abort (retransmissions exhausted)
 * carries none.  len: the notification's length, checked. */
static bool
aborted_by_remote(const struct sctp_assoc_change *change, size_t len)
{
  return change->sac_state == SCTP_COMM_LOST &&
         len >= sizeof *change + 4 && change->sac_info[0] == SCTP_ABORT_CHUNK;
}

/* The association is over: error P2PSIG_ECLOSED_BY_REMOTE when the remote
 * ended it (an ABORT or a SHUTDOWN of its own), else P2PSIG_ESCTP. */
static void
ended(struct p2psig_sctp *sctp, int error)
{
  if (sctp->closed)
    return;
  sctp->closed = true;
  sctp->cbs.on_closed(sctp->data, error);
}

static void
handle_assoc_change(struct p2psig_sctp *sctp,
                    const struct sctp_assoc_change *change, size_t len)
{
  switch (change->sac_state) {
  case SCTP_COMM_UP:
    /* sac_info lists what both sides support. */
    for (size_t i = sizeof *change; i < len; i++)
      if (((const uint8_t *)change)[i] == SCTP_ASSOC_SUPPORTS_INTERLEAVING)
        sctp->interleaving = true;
    g_debug("association up: %u out, %u in streams, %s", change->sac_outbound_streams,
            change->sac_inbound_streams,
            sctp->interleaving ? "I-DATA" : "DATA");
    sctp->streams = MIN(change->sac_outbound_streams,
                        change->sac_inbound_streams);
    sctp->streams_in = change->sac_inbound_streams;
    if (!sctp->connected) {
      sctp->connected = true;
      /* Heartbeats keep packets flowing on an idle association, which is
       * how the peer notices a silent remote within seconds.  Not before
       * now: a remote still finishing DTLS answers them late, which spoils
       * the RTT, and unanswered ones count against the INIT retransmission
       * limit. */
      set_path_params(sctp, SPP_PMTUD_DISABLE | SPP_HB_ENABLE);
      sctp->settle_heartbeats = SCTP_SETTLE_HEARTBEATS;
      g_ptr_array_add(state_of(sctp)->settling, sctp);
      sctp->cbs.on_connected(sctp->data);
    }
    break;
  case SCTP_COMM_LOST:
  case SCTP_SHUTDOWN_COMP:
  case SCTP_CANT_STR_ASSOC: {
    /* We never shut down ourselves (SO_LINGER 0 aborts): a completed
     * shutdown is the remote's. */
    bool remote = aborted_by_remote(change, len) ||
                  change->sac_state == SCTP_SHUTDOWN_COMP;

    g_debug("association ended (state %u, error %u)%s", change->sac_state,
            change->sac_error, remote ? ": by the remote" : "");
    ended(sctp, remote ? P2PSIG_ECLOSED_BY_REMOTE : P2PSIG_ESCTP);
    break;
  }
  default:
    break;
  }
}

static void
handle_stream_reset(struct p2psig_sctp *sctp,
                    const struct sctp_stream_reset_event *ev)
{
  size_t n;

  if (ev->strreset_length < sizeof *ev)
    return;
  n = (ev->strreset_length - sizeof *ev) / sizeof(uint16_t);
  if (ev->strreset_flags & (SCTP_STREAM_RESET_DENIED |
                            SCTP_STREAM_RESET_FAILED)) {
    g_debug("stream reset refused (flags 0x%x): will be retried",
            ev->strreset_flags);
    return;
  }
  for (size_t i = 0; i < n && !sctp->closed; i++) {
    if (ev->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
      p2psig__reassembly_drop_stream(sctp->pieces,
                                     ev->strreset_stream_list[i]);
      sctp->cbs.on_stream_reset(sctp->data, ev->strreset_stream_list[i]);
    }
    if (ev->strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN)
      sctp->cbs.on_outgoing_reset(sctp->data, ev->strreset_stream_list[i]);
  }
}

static void
handle_notification(struct p2psig_sctp *sctp, const uint8_t *buf, size_t len)
{
  const union sctp_notification *n = (const void *)buf;

  if (len < sizeof n->sn_header || n->sn_header.sn_length > len)
    return;
  switch (n->sn_header.sn_type) {
  case SCTP_ASSOC_CHANGE:
    if (len >= sizeof n->sn_assoc_change)
      handle_assoc_change(sctp, &n->sn_assoc_change,
                          n->sn_header.sn_length);
    break;
  case SCTP_STREAM_RESET_EVENT:
    handle_stream_reset(sctp, &n->sn_strreset_event);
    break;
  case SCTP_SHUTDOWN_EVENT:
    /* The remote closes cleanly (RFC 6458 section 6.1.5): no new data
     * will come, which for data channels is the end. */
    g_debug("remote shut the association down");
    ended(sctp, P2PSIG_ECLOSED_BY_REMOTE);
    break;
  case SCTP_PARTIAL_DELIVERY_EVENT:
    /* A partly delivered message was abandoned (partial reliability):
     * drop what we hold of it, never deliver it cut short. */
    g_debug("partial delivery aborted on stream %u",
            n->sn_pdapi_event.pdapi_stream);
    p2psig__reassembly_drop_stream(sctp->pieces,
                                   (uint16_t)n->sn_pdapi_event.pdapi_stream);
    break;
  default:
    g_debug("notification %u", n->sn_header.sn_type);
    break;
  }
}

static void
deliver(struct p2psig_sctp *sctp, const struct sctp_rcvinfo *info,
        const uint8_t *buf, size_t len, int flags)
{
  GBytes *message;
  uint64_t key = p2psig__piece_key(info->rcv_sid,
                                   info->rcv_flags & SCTP_UNORDERED,
                                   info->rcv_ssn);

  switch (p2psig__reassembly_add(sctp->pieces, key, buf, len,
                                 flags & MSG_EOR, &message)) {
  case P2PSIG_PIECE_HELD:
    return;
  case P2PSIG_PIECE_DROPPED:
    if (flags & MSG_EOR)
      g_info("dropped a message on stream %u: over %u bytes, or over %u "
             "bytes of messages in pieces at once", info->rcv_sid,
             P2PSIG_MAX_MESSAGE_SIZE, SCTP_PIECES_HELD_MAX);
    return;
  case P2PSIG_PIECE_OVERFLOW:
    g_warning("the remote keeps too many messages half sent: ending the "
              "association");
    ended(sctp, P2PSIG_ESCTP);
    return;
  case P2PSIG_PIECE_MESSAGE:
    break;
  }
  sctp->cbs.on_message(sctp->data, info->rcv_sid, ntohl(info->rcv_ppid),
                       message);
  g_bytes_unref(message);
}

static void
set_recv_window(struct p2psig_sctp *sctp, int size)
{
  set_option(sctp->sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* After a read found nothing: whether the socket still holds data
 * (SCTP_WEDGED_MS says why it may). */
static void
note_wedge(struct p2psig_sctp *sctp)
{
  bool wedged = sctp->interleave &&
                (usrsctp_get_events(sctp->sock) & SCTP_EVENT_READ);

  if (wedged == sctp->wedged)
    return;
  sctp->wedged = wedged;
  if (wedged) {
    g_debug("messages held behind an incomplete one: widening the window");
    sctp->wedge_reads = sctp->reads;
    sctp->wedge_moved_at = g_get_monotonic_time();
    g_ptr_array_add(state_of(sctp)->wedged, sctp);
    set_recv_window(sctp, SCTP_WEDGED_RECV_BUFFER_SIZE);
  } else {
    g_ptr_array_remove_fast(state_of(sctp)->wedged, sctp);
    set_recv_window(sctp, SCTP_RECV_BUFFER_SIZE);
  }
}

/* From the tick: ends the associations wedged with no read for
 * SCTP_WEDGED_MS.  Time paused is the application's, not the wedge's. */
static void
end_stuck_wedges(struct loop_state *state)
{
  gint64 now;

  if (state->wedged->len == 0)
    return;
  now = g_get_monotonic_time();
  for (guint i = 0; i < state->wedged->len;) {
    struct p2psig_sctp *sctp = g_ptr_array_index(state->wedged, i);

    if (sctp->reads != sctp->wedge_reads || sctp->paused) {
      sctp->wedge_reads = sctp->reads;
      sctp->wedge_moved_at = now;
    }
    if (now - sctp->wedge_moved_at < (gint64)SCTP_WEDGED_MS * 1000) {
      i++;
      continue;
    }
    g_ptr_array_remove_index_fast(state->wedged, i);
    sctp->wedged = false;
    g_warning("usrsctp has held messages it does not hand over for %d s: "
              "ending the association", SCTP_WEDGED_MS / 1000);
    ended(sctp, P2PSIG_ESCTP);
  }
}

/* Reads everything the socket holds.  Upcalls only queue the
 * application's callbacks (see peer.c), so sctp cannot be freed under this
 * loop. */
static void
drain(struct p2psig_sctp *sctp, uint8_t *recv_buffer, size_t size)
{
  while (!sctp->closed && !sctp->paused) {
    struct sctp_rcvinfo info = { 0 };
    socklen_t info_len = sizeof info;
    unsigned int info_type = 0;
    int flags = 0;
    ssize_t n;

    n = usrsctp_recvv(sctp->sock, recv_buffer, size, NULL,
                      NULL, &info, &info_len, &info_type, &flags);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        note_wedge(sctp);
      else if (errno != ENOTCONN)
        g_debug("recv: %s", g_strerror(errno));
      return;
    }
    sctp->reads++;
    if (n == 0)
      return;
    if (flags & MSG_NOTIFICATION)
      handle_notification(sctp, recv_buffer, (size_t)n);
    else if (info_type == SCTP_RECVV_RCVINFO)
      deliver(sctp, &info, recv_buffer, (size_t)n, flags);
  }
}

/* Upcalls may mark sockets while we deliver; a flag keeps the loop's
 * receive buffer from being reused by a nested drain. */
static void
drain_readable(struct loop_state *state)
{
  if (state->draining)
    return;
  state->draining = true;
  while (state->readable->len > 0 || state->writable->len > 0) {
    struct p2psig_sctp *sctp;

    if (state->readable->len > 0) {
      sctp = g_ptr_array_steal_index(state->readable, 0);
      sctp->readable = false;
      drain(sctp, state->buffer, sizeof state->buffer);
    } else {
      sctp = g_ptr_array_steal_index(state->writable, 0);
      if (!sctp->closed)
        sctp->cbs.on_writable(sctp->data);
    }
  }
  state->draining = false;
}

void
p2psig__sctp_set_paused(struct p2psig_sctp *sctp, bool paused)
{
  sctp->paused = paused;
  /* What arrived meanwhile waits in the socket, which no upcall marks
   * again: read it now. */
  if (!paused && !sctp->closed && !sctp->readable) {
    sctp->readable = true;
    g_ptr_array_add(state_of(sctp)->readable, sctp);
    drain_readable(state_of(sctp));
  }
}

void
p2psig__sctp_feed(struct p2psig_sctp *sctp, const uint8_t *buf, size_t len)
{
  if (sctp->closed)
    return;
  if (scan_chunks(sctp, buf, len))
    note_busy();
  usrsctp_conninput(sctp, buf, len, 0);
  drain_readable(state_of(sctp));
}

int
p2psig__sctp_send(struct p2psig_sctp *sctp, uint16_t sid, uint32_t ppid,
                  const struct p2psig_sctp_send_options *options,
                  const uint8_t *buf, size_t len)
{
  struct sctp_sendv_spa spa = { 0 };

  if (!sctp->connected || sctp->closed)
    return P2PSIG_ESTATE;
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = sid;
  spa.sendv_sndinfo.snd_ppid = htonl(ppid);
  spa.sendv_sndinfo.snd_flags = SCTP_EOR;
  if (options) {
    if (options->unordered)
      spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
    if (options->pr_policy != P2PSIG_SCTP_PR_NONE) {
      spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
      spa.sendv_prinfo.pr_policy = (uint16_t)options->pr_policy;
      spa.sendv_prinfo.pr_value = options->pr_value;
    }
  }
  if (usrsctp_sendv(sctp->sock, buf, len, NULL, 0, &spa, sizeof spa,
                    SCTP_SENDV_SPA, 0) < 0) {
    int err = errno;

    if (err == EWOULDBLOCK || err == EAGAIN || err == ENOBUFS) {
      sctp->blocked = true;
      return P2PSIG_EAGAIN;
    }
    g_debug("send on stream %u: %s", sid, g_strerror(err));
    if (err == EMSGSIZE)
      return P2PSIG_ETOOBIG;
    return P2PSIG_ESCTP;
  }
  return 0;
}

void
p2psig__sctp_set_partial_delivery_point(struct p2psig_sctp *sctp,
                                        uint32_t bytes)
{
  set_option(sctp->sock, IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT, &bytes,
             sizeof bytes);
}

int
p2psig__sctp_reset_stream(struct p2psig_sctp *sctp, uint16_t sid)
{
  size_t size = sizeof(struct sctp_reset_streams) + sizeof(uint16_t);
  struct sctp_reset_streams *srs;
  int ret = 0;

  if (!sctp->connected || sctp->closed)
    return P2PSIG_ESTATE;
  srs = g_malloc0(size);
  srs->srs_assoc_id = SCTP_ALL_ASSOC;
  srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
  srs->srs_number_streams = 1;
  srs->srs_stream_list[0] = sid;
  if (usrsctp_setsockopt(sctp->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs,
                         (socklen_t)size) < 0) {
    g_debug("reset stream %u: %s", sid, g_strerror(errno));
    ret = P2PSIG_ESCTP;
  }
  g_free(srs);
  return ret;
}

void
p2psig__sctp_heartbeat(struct p2psig_sctp *sctp)
{
  if (sctp->connected && !sctp->closed)
    set_path_params(sctp, SPP_HB_DEMAND);
}

uint16_t
p2psig__sctp_max_streams(const struct p2psig_sctp *sctp)
{
  return sctp->streams;
}

void
p2psig__sctp_set_priority(struct p2psig_sctp *sctp, uint16_t sid,
                          uint16_t priority)
{
  /* usrsctp serves the lowest value first. */
  struct sctp_stream_value value = {
    .assoc_id = SCTP_CURRENT_ASSOC, .stream_id = sid,
    .stream_value = (uint16_t)(UINT16_MAX - priority),
  };

  if (sctp->connected && !sctp->closed)
    set_option(sctp->sock, IPPROTO_SCTP, SCTP_SS_VALUE, &value,
               sizeof value);
}

double
p2psig__sctp_rtt_ms(const struct p2psig_sctp *sctp)
{
  struct sctp_status status = { 0 };
  socklen_t len = sizeof status;

  if (!sctp->connected || sctp->closed ||
      usrsctp_getsockopt(sctp->sock, IPPROTO_SCTP, SCTP_STATUS, &status,
                         &len) < 0)
    return 0;
  return status.sstat_primary.spinfo_srtt;
}
