/* SPDX-License-Identifier: MIT */
/**
 * SECTION:p2psig
 * @title: p2psig.h
 * @short_description: WebRTC data channels between two programs, with the
 *   HTTP signaling of pion's pion-to-pion example
 * @include: p2psig/p2psig.h
 *
 * Build with `pkg-config --cflags --libs libp2psig`.
 *
 * Threads and callbacks
 * ---------------------
 * The library runs its network work on a loop of its own (or several:
 * p2psig_set_loop_count()), started with the first peer; each peer is
 * pinned to one of them.  The callbacks of
 * peers and channels run on the loop's thread between its rounds of
 * network work, never with a lock of the library held: the callbacks of
 * one peer (its own and its channels') never run concurrently and run in
 * the order their events happened; callbacks of different peers may run at
 * the same time, on different threads (below).  A p2psig_signaling's
 * callbacks (on_error, on_status) run the same way, on the loop of the
 * signaling object's first peer, in order: one that blocks holds up only
 * that signaling object's later callbacks.
 *
 * Every function may be called from any thread, including from inside a
 * callback.  No callback runs inside the public call that caused it: it is
 * queued, and one caused from inside a callback of the same peer runs after
 * that callback has returned.
 *
 * A callback that blocks holds up only the later callbacks of its own
 * peer: sends, receives and the callbacks of other peers go on.  A
 * callback still running after 1 ms leaves the loop to another thread
 * (within 2 ms of its start), which the library starts then, and its own thread ends once it
 * returns; while max(8, 4 x the number of cores) callbacks block at once,
 * the callbacks of every other peer wait for one of them to return.  While a peer's callbacks are
 * held up, the messages that arrive for it wait, about 1 MiB of them at
 * most; then the peer stops reading, so that the remote's sends wait (its
 * buffered amount grows) and nothing is lost.  Callbacks should still
 * return promptly.  p2psig_peer_free() waits for a callback of the peer
 * that runs on another thread: do not hold, while calling it, a lock that
 * the peer's callbacks take.
 *
 * Memory given to a callback is lent for the duration of the callback only:
 * copy what you keep.  Strings are NUL-terminated; message data is not.
 * Everything passed into the library (configurations and their strings) is
 * copied before the call returns.
 *
 * Errors
 * ------
 * Functions returning int return 0 (or a count) on success and a negative
 * p2psig_error on failure.  Constructors return NULL on failure and store
 * the code in *error when error is not NULL.  A call that fails schedules no
 * callback.  Failures that happen later arrive through on_state with
 * P2PSIG_STATE_FAILED and an error code; a close by the remote with
 * P2PSIG_STATE_CLOSED and P2PSIG_ECLOSED_BY_REMOTE.
 *
 * Logging
 * -------
 * Errors and warnings go to stderr, never stdout, unless
 * p2psig_set_log_handler() sends them elsewhere; P2PSIG_LOG=debug (and
 * other levels and domains, see p2psig_log_level) shows more.
 *
 * Objects
 * -------
 * A p2psig_peer is one WebRTC peer connection.  A p2psig_channel belongs to
 * its peer: it is valid from its creation (p2psig_peer_create_channel() or
 * on_channel) until its on_close callback has returned, or until the peer is
 * freed, or longer while the application holds a reference to it
 * (p2psig_channel_ref()).  A p2psig_signaling runs the pion-to-pion HTTP
 * signaling for one peer.  The library never frees an object by itself.
 */
#ifndef P2PSIG_H
#define P2PSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p2psig/p2psig-version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define P2PSIG_API __declspec(dllexport)
#elif defined(__GNUC__)
#define P2PSIG_API __attribute__((visibility("default")))
#else
#define P2PSIG_API
#endif

/**
 * p2psig_error:
 *
 * Error codes: zero for success, negative for failure.  Values are never
 * renumbered or reused.
 *
 * Since: 0.1
 */
typedef enum p2psig_error {
  P2PSIG_OK = 0,
  P2PSIG_EINVAL = -1,       /* an argument is NULL or out of range */
  P2PSIG_ESTATE = -2,       /* not possible in the current state */
  P2PSIG_ENOMEM = -3,       /* out of memory */
  P2PSIG_ESDP = -4,         /* malformed or unusable SDP */
  P2PSIG_ECANDIDATE = -5,   /* malformed or unusable ICE candidate */
  P2PSIG_EJSON = -6,        /* malformed signaling message */
  P2PSIG_EFINGERPRINT = -7, /* remote certificate does not match the SDP */
  P2PSIG_ETOOBIG = -8,      /* message larger than the remote accepts */
  P2PSIG_EAGAIN = -9,       /* send buffer full: wait and retry */
  P2PSIG_ECLOSED = -10,     /* channel or peer closed */
  P2PSIG_ENETWORK = -11,    /* network error (bind, send, connect) */
  P2PSIG_ETIMEDOUT = -12,   /* timed out */
  P2PSIG_EDTLS = -13,       /* DTLS handshake or record failure */
  P2PSIG_ESCTP = -14,       /* SCTP association failure */
  P2PSIG_EICE = -15,        /* ICE failed: no working candidate pair */
  P2PSIG_EADDRESS = -16,    /* malformed address or URL */
  P2PSIG_EINTERNAL = -17,   /* internal error (a bug: please report) */
  P2PSIG_EHTTP = -18,       /* the signaling peer answered with an error */
  P2PSIG_EBUSY = -19,       /* the channel id is in use */
  P2PSIG_EUNAUTHORIZED = -20, /* signaling request without the right token */
  P2PSIG_ELIMIT = -21,      /* a limit on what a remote peer may make us
                               hold was reached (Since: 0.2) */
  P2PSIG_ECLOSED_BY_REMOTE = -22, /* the remote peer closed the connection
                               (Since: 0.2) */
  P2PSIG_EDESCRIPTORS = -23 /* out of file descriptors: the process's
                               limit (RLIMIT_NOFILE) leaves too few for
                               another peer or ICE restart (Since: 0.2) */
} p2psig_error;

/**
 * p2psig_strerror:
 * @error: a p2psig_error
 *
 * Returns: a static English description; never NULL (unknown codes get a
 * generic text).
 * Since: 0.1
 */
P2PSIG_API const char *p2psig_strerror(int error);

/**
 * p2psig_error_name:
 * @error: a p2psig_error
 *
 * Returns: the symbol name ("P2PSIG_EINVAL"), static; never NULL.
 * Since: 0.1
 */
P2PSIG_API const char *p2psig_error_name(int error);

/**
 * p2psig_version:
 *
 * Returns: the run-time library version as P2PSIG_VERSION_HEX encodes it.
 * Since: 0.1
 */
P2PSIG_API unsigned int p2psig_version(void);

/**
 * p2psig_version_string:
 *
 * Returns: the run-time library version as "MAJOR.MINOR.MICRO", static.
 * Since: 0.1
 */
P2PSIG_API const char *p2psig_version_string(void);

/**
 * p2psig_free:
 * @ptr: memory returned by the library (SDP strings), or NULL
 *
 * Frees memory the library handed to the caller.
 * Since: 0.1
 */
P2PSIG_API void p2psig_free(void *ptr);

/**
 * p2psig_set_loop_count:
 * @count: how many loops the library runs, 1 to 64; 0 for the default
 *
 * Chooses how many loops (threads of network work, each with a lock of
 * its own) the library runs in this process.  Each peer is pinned to one
 * of them when it is made, in turn, and everything of that peer runs
 * there: peers on different loops never wait for each other.  The default
 * is one loop per core (at most 64), or the environment variable
 * P2PSIG_LOOPS when it is set.  The loops start with the first peer (or
 * signaling object), and their count is fixed from then on.
 *
 * Returns: 0; P2PSIG_EINVAL for a @count over 64; P2PSIG_ESTATE once the
 * loops run with another count.
 * Since: 0.2
 */
P2PSIG_API int p2psig_set_loop_count(unsigned int count);

/**
 * p2psig_log_level:
 *
 * How much the library logs.  A level delivers its own messages and those
 * of every level above it in this list.
 *
 * Domains (the domain argument of p2psig_log_cb): "p2psig" (peers, SDP,
 * configuration), "p2psig-ice" (ICE, candidates, mDNS, TURN over TLS),
 * "p2psig-dtls", "p2psig-sctp", "p2psig-channel" (data channels, DCEP),
 * "p2psig-signaling" (HTTP signaling); at P2PSIG_LOG_TRACE also libnice's
 * own "libnice", "libnice-stun", "libnice-socket" ... .
 *
 * The environment variable P2PSIG_LOG=LEVEL[,DOMAIN...] (LEVEL one of
 * error, warning, info, debug, trace; a DOMAIN with or without its
 * "p2psig-" prefix, "libnice" for all of libnice's) is read once, at the
 * first message or peer.  It can make the log more verbose than
 * p2psig_set_log_handler() asked, never quieter.  Its domains, when given,
 * limit the info, debug and trace messages to those domains; errors and
 * warnings of every domain pass.  Unset or empty: warning.
 *
 * Since: 0.2
 */
typedef enum p2psig_log_level {
  P2PSIG_LOG_ERROR = 1,   /* something failed */
  P2PSIG_LOG_WARNING = 2, /* something unexpected: a bad remote input, a
                             fallback; the default */
  P2PSIG_LOG_INFO = 3,    /* state changes */
  P2PSIG_LOG_DEBUG = 4,   /* what the library does, line by line */
  P2PSIG_LOG_TRACE = 5    /* debug, and libnice's own log */
} p2psig_log_level;

/**
 * p2psig_log_cb:
 * @level: the message's level
 * @domain: which part of the library logs it (see p2psig_log_level)
 * @message: one line of text, no trailing newline; lent for the call
 * @user_data: as given to p2psig_set_log_handler()
 *
 * Receives the library's log.  Called from any thread (the library's
 * threads, or one calling a p2psig function), one message at a time, with
 * the library's log lock held: return promptly, and call no p2psig function
 * but p2psig_set_log_handler().  What the library logs on the handler's
 * thread while it runs goes to stderr, not to a handler.
 *
 * Since: 0.2
 */
typedef void (*p2psig_log_cb)(p2psig_log_level level, const char *domain,
                              const char *message, void *user_data);

/**
 * p2psig_set_log_handler:
 * @level: the most verbose level delivered
 * @cb: the handler; NULL: the default, which writes each message as one
 *   line "DOMAIN: LEVEL: HH:MM:SS.mmm: MESSAGE" on stderr (never stdout)
 * @user_data: passed to @cb
 *
 * Sets where the library's log goes and how much of it, for the whole
 * process; the default is P2PSIG_LOG_WARNING on stderr.  P2PSIG_LOG can
 * raise the level (see p2psig_log_level).  May be called at any time from
 * any thread; once it returns, the previous handler is no longer running
 * (unless it is the caller) and is not called again.  The library installs
 * no process-wide GLib log handler or writer.
 *
 * Since: 0.2
 */
P2PSIG_API void p2psig_set_log_handler(p2psig_log_level level,
                                       p2psig_log_cb cb, void *user_data);

typedef struct p2psig_peer p2psig_peer;
typedef struct p2psig_channel p2psig_channel;
typedef struct p2psig_signaling p2psig_signaling;

/**
 * p2psig_state:
 *
 * Peer connection states, as the W3C RTCPeerConnectionState (and pion)
 * name them.  They are reported in order, without repeats.
 *
 * Since: 0.1
 */
typedef enum p2psig_state {
  P2PSIG_STATE_NEW = 0,
  P2PSIG_STATE_CONNECTING,
  P2PSIG_STATE_CONNECTED,
  P2PSIG_STATE_DISCONNECTED,
  P2PSIG_STATE_FAILED,
  P2PSIG_STATE_CLOSED
} p2psig_state;

/**
 * p2psig_state_name:
 *
 * Returns: pion's name of the state ("new", "connecting", "connected",
 * "disconnected", "failed", "closed"), static; "unknown" for other values.
 * Since: 0.1
 */
P2PSIG_API const char *p2psig_state_name(p2psig_state state);

/**
 * p2psig_ice_gathering_state:
 *
 * Where the gathering of local candidates is, as the W3C
 * RTCIceGatheringState names it: new until the first description
 * (p2psig_peer_create_offer() or p2psig_peer_create_answer()); gathering
 * until every server answered or 10 s passed; complete then, just before
 * on_candidate(NULL).  An ICE restart gathers again: gathering, then
 * complete.
 *
 * Since: 0.2
 */
typedef enum p2psig_ice_gathering_state {
  P2PSIG_ICE_GATHERING_NEW = 0,
  P2PSIG_ICE_GATHERING_GATHERING,
  P2PSIG_ICE_GATHERING_COMPLETE
} p2psig_ice_gathering_state;

/**
 * p2psig_ice_gathering_state_name:
 *
 * Returns: "new", "gathering" or "complete", static; "unknown" for other
 * values.
 * Since: 0.2
 */
P2PSIG_API const char *
p2psig_ice_gathering_state_name(p2psig_ice_gathering_state state);

/**
 * p2psig_ice_connection_state:
 *
 * The ICE transport's state, as the W3C RTCIceConnectionState names it,
 * mapped from what libnice reports and from the peer's own consent check
 * (libnice's is not used):
 * - new: no checks yet (libnice's "disconnected" and "gathering");
 * - checking: connectivity checks running, no working pair yet (libnice's
 *   "connecting"); an ICE restart stays connected while it checks, the
 *   old pair carrying the data;
 * - connected: a pair works (libnice's "connected");
 * - completed: libnice's "ready": a pair is nominated and libnice's checks
 *   are over (usually right after connected; a candidate trickled later
 *   can bring connected back);
 * - disconnected: nothing authenticated came from the remote for 5 s
 *   (the peer's state is disconnected too); back to connected or
 *   completed when packets come again;
 * - failed: libnice found no working pair, or nothing came for 30 s;
 * - closed: the peer closed (p2psig_peer_close(), or closed by the
 *   remote).
 * Reported in order, without repeats, before the on_state it causes.
 *
 * Since: 0.2
 */
typedef enum p2psig_ice_connection_state {
  P2PSIG_ICE_CONNECTION_NEW = 0,
  P2PSIG_ICE_CONNECTION_CHECKING,
  P2PSIG_ICE_CONNECTION_CONNECTED,
  P2PSIG_ICE_CONNECTION_COMPLETED,
  P2PSIG_ICE_CONNECTION_DISCONNECTED,
  P2PSIG_ICE_CONNECTION_FAILED,
  P2PSIG_ICE_CONNECTION_CLOSED
} p2psig_ice_connection_state;

/**
 * p2psig_ice_connection_state_name:
 *
 * Returns: the W3C name ("new", "checking", "connected", "completed",
 * "disconnected", "failed", "closed"), static; "unknown" for other values.
 * Since: 0.2
 */
P2PSIG_API const char *
p2psig_ice_connection_state_name(p2psig_ice_connection_state state);

/**
 * p2psig_address_family:
 *
 * Which IP versions a peer gathers candidates on and takes remote ones
 * of (p2psig_peer_config.address_family).
 *
 * Since: 0.2
 */
typedef enum p2psig_address_family {
  P2PSIG_ADDRESS_FAMILY_ANY = 0,  /* IPv4 and IPv6 */
  P2PSIG_ADDRESS_FAMILY_IPV4 = 1, /* IPv4 only */
  P2PSIG_ADDRESS_FAMILY_IPV6 = 2  /* IPv6 only */
} p2psig_address_family;

/**
 * p2psig_kind:
 *
 * Whether a message is text (UTF-8, WebRTC string) or binary.
 *
 * Since: 0.1
 */
typedef enum p2psig_kind {
  P2PSIG_KIND_TEXT = 0,
  P2PSIG_KIND_BINARY = 1
} p2psig_kind;

/**
 * p2psig_sdp_type:
 *
 * Since: 0.1
 */
typedef enum p2psig_sdp_type {
  P2PSIG_SDP_OFFER = 0,
  P2PSIG_SDP_ANSWER = 1
} p2psig_sdp_type;

/* Callback types.  Each gets the peer's user_data as its last argument. */

/**
 * p2psig_candidate_cb:
 * @peer: the peer
 * @candidate: (nullable): a local ICE candidate in the pion string form
 *   ("candidate:... typ host"), to send to the remote peer; NULL once
 *   gathering is complete
 * @user_data: the peer's user_data
 *
 * Gathering is complete when every STUN and TURN server answered, or 10 s
 * after gathering started, whichever is first (what is found later is not
 * reported).
 *
 * Since: 0.1
 */
typedef void (*p2psig_candidate_cb)(p2psig_peer *peer, const char *candidate,
                                    void *user_data);
/**
 * p2psig_state_cb:
 * @peer: the peer
 * @state: its new state
 * @error: 0, or a p2psig_error telling why the peer went to
 *   P2PSIG_STATE_FAILED; with P2PSIG_STATE_CLOSED, 0 when this side closed
 *   (p2psig_peer_close()) and P2PSIG_ECLOSED_BY_REMOTE (since 0.2) when
 *   the remote did
 * @user_data: the peer's user_data
 *
 * The connection state changed.  A remote that closes cleanly (a DTLS
 * close_notify, an SCTP ABORT or SHUTDOWN, which p2psig_peer_close() and
 * browsers send) closes this peer at once, as p2psig_peer_close() would:
 * every channel gets on_close, then on_state(P2PSIG_STATE_CLOSED,
 * P2PSIG_ECLOSED_BY_REMOTE), within a round trip; a remote that vanishes
 * without a word goes disconnected after 5 s and failed
 * (P2PSIG_ETIMEDOUT) after 30 s.
 *
 * Since: 0.1
 */
typedef void (*p2psig_state_cb)(p2psig_peer *peer, p2psig_state state,
                                int error, void *user_data);
/**
 * p2psig_ice_gathering_state_cb:
 * @peer: the peer
 * @state: its new ICE gathering state
 * @user_data: the peer's user_data
 *
 * The ICE gathering state changed (see p2psig_ice_gathering_state).
 *
 * Since: 0.2
 */
typedef void (*p2psig_ice_gathering_state_cb)(
    p2psig_peer *peer, p2psig_ice_gathering_state state, void *user_data);
/**
 * p2psig_ice_connection_state_cb:
 * @peer: the peer
 * @state: its new ICE connection state
 * @user_data: the peer's user_data
 *
 * The ICE connection state changed (see p2psig_ice_connection_state).
 *
 * Since: 0.2
 */
typedef void (*p2psig_ice_connection_state_cb)(
    p2psig_peer *peer, p2psig_ice_connection_state state, void *user_data);
/**
 * p2psig_channel_cb:
 * @peer: the peer
 * @channel: the channel the remote peer opened, owned by the peer
 * @user_data: the peer's user_data
 *
 * The remote peer opened a channel.  on_open follows once it is usable.
 * Limit: the labels and protocols of the channels the remote opened, live
 * ones together, take at most 256 KiB a peer (RFC 8832 allows 64 KiB each,
 * on up to 2,048 streams; labels in use are a few words).  An open beyond
 * it is refused without any callback: the stream is reset, and the remote
 * sees its channel closed.
 *
 * Since: 0.1
 */
typedef void (*p2psig_channel_cb)(p2psig_peer *peer, p2psig_channel *channel,
                                  void *user_data);
/**
 * p2psig_channel_event_cb:
 * @channel: the channel
 * @user_data: the peer's user_data
 *
 * A channel opened, or closed (exactly once per channel; the channel is
 * freed when on_close returns), or its buffered amount fell to its low
 * threshold.  Events are reported in order but after the fact: when
 * on_open runs, the channel may have closed since (the remote aborted),
 * so that p2psig_channel_is_open(), which tells the state now, returns
 * false and sends fail; its on_close follows.
 *
 * Since: 0.1
 */
typedef void (*p2psig_channel_event_cb)(p2psig_channel *channel,
                                        void *user_data);
/**
 * p2psig_message_cb:
 * @channel: the channel it came on
 * @data: the message, lent for the call; not NUL-terminated
 * @len: its length in bytes; may be 0
 * @kind: text or binary
 * @user_data: the peer's user_data
 *
 * A whole message arrived.
 *
 * Since: 0.1
 */
typedef void (*p2psig_message_cb)(p2psig_channel *channel, const void *data,
                                  size_t len, p2psig_kind kind,
                                  void *user_data);

/**
 * p2psig_ice_server:
 *
 * One STUN or TURN server, as the W3C RTCIceServer: the URLs it answers on
 * and, for TURN, its long-term credential (RFC 8489 section 9.2).  URLs:
 * "stun:HOST[:PORT]" (3478), "turn:HOST[:PORT][?transport=udp|tcp]"
 * (3478, UDP by default) and "turns:HOST[:PORT][?transport=tcp]" (5349,
 * TLS over TCP; the certificate must name HOST and chain to the system's
 * trust store or to ice_tls_ca).  HOST is an IPv4 address, an IPv6 address
 * in brackets, or a name resolved asynchronously.  A URL that does not
 * parse, a scheme or transport we do not support (stuns:, turns: over
 * UDP), a turn: or turns: URL without username and credential, or more
 * than 8 TURN URLs in all (libnice's limit) fail p2psig_peer_new() with
 * P2PSIG_EINVAL and a debug line of the domain p2psig saying which.
 * libnice 0.1.21 queries one STUN server: the first STUN URL given; TURN
 * servers yield server-reflexive candidates too.
 *
 * Since: 0.2
 */
typedef struct p2psig_ice_server {
  const char *const *urls;   /* NULL-terminated, at least one */
  const char *username;      /* TURN user name; NULL for STUN */
  const char *credential;    /* TURN password; NULL for STUN */
} p2psig_ice_server;

/**
 * p2psig_ice_transport_policy:
 *
 * Which local candidates a peer gathers and offers (W3C
 * RTCIceTransportPolicy).
 *
 * Since: 0.2
 */
typedef enum p2psig_ice_transport_policy {
  P2PSIG_ICE_TRANSPORT_ALL = 0,   /* host, server-reflexive and relay */
  P2PSIG_ICE_TRANSPORT_RELAY = 1  /* relay candidates only: the remote
                                     never learns our addresses */
} p2psig_ice_transport_policy;

/**
 * p2psig_peer_config:
 *
 * Configuration of a peer.  Initialise it with P2PSIG_PEER_CONFIG_INIT,
 * which sets .size: fields are only ever appended, and .size tells the
 * library which ones the caller's header had.  With .size set, every other
 * field zero means its default.  p2psig_peer_new() fails with
 * P2PSIG_EINVAL, and a reason in the log (domain p2psig), for a .size of 0
 * (a struct cleared with memset and nothing more), for a field set past
 * the end of this version's struct (a newer header), and for what it
 * cannot honour: an ICE server URL it cannot use (see p2psig_ice_server),
 * port_min above port_max, a local_addresses list that is empty or names
 * anything but an IP address of this host, an unknown
 * ice_transport_policy, an ice_tls_ca that does not load, an unknown
 * address_family or one that leaves no local address, a certificate_pem
 * or private_key_pem it cannot use.
 *
 * Since: 0.1
 */
typedef struct p2psig_peer_config {
  size_t size;                    /* sizeof, set by P2PSIG_PEER_CONFIG_INIT */
  const char *const *ice_servers; /* NULL-terminated STUN URLs (see
                                     p2psig_ice_server); NULL: none.  TURN
                                     needs ice_server_list */
  const char *const *local_addresses; /* NULL-terminated IP addresses to
                                         gather host candidates on; NULL:
                                         every interface, loopback only
                                         when there is no other */
  uint16_t port_min;              /* lowest local UDP port; 0: any */
  uint16_t port_max;              /* highest local UDP port; 0: any */

  p2psig_candidate_cb on_candidate;  /* may be NULL, as may all callbacks */
  p2psig_state_cb on_state;
  p2psig_channel_cb on_channel;
  p2psig_channel_event_cb on_open;
  p2psig_channel_event_cb on_close;
  p2psig_message_cb on_message;
  void *user_data;                /* passed to every callback */

  /* A channel's buffered amount fell to its low threshold (Since: 0.2). */
  p2psig_channel_event_cb on_buffered_amount_low;
  size_t send_buffer_limit;       /* bytes a peer may hold unsent across
                                     its channels before sends fail with
                                     P2PSIG_EAGAIN; 0: 16 MiB */

  /* Since: 0.2 */
  bool disable_ice_tcp;           /* false: TCP candidates are gathered and
                                     used too (ICE-TCP, RFC 6544), as
                                     browsers do; true: UDP only */
  const p2psig_ice_server *ice_server_list; /* ice_server_count STUN and
                                     TURN servers, used with ice_servers;
                                     NULL: none */
  size_t ice_server_count;
  p2psig_ice_transport_policy ice_transport_policy; /* 0: all candidates */
  const char *ice_tls_ca;         /* PEM file of the CAs trusted for turns:
                                     servers; NULL: the system's store */
  /* Since: 0.2 */
  bool mdns_host_candidates;      /* true: our host candidates carry a
                                     random "<uuid>.local" name (one per
                                     local address) instead of the address,
                                     the related address of the others is
                                     0.0.0.0 port 0, and the library answers
                                     mDNS queries for those names on UDP
                                     5353, as browsers do; false: addresses
                                     as they are.  Remote .local candidates
                                     are resolved either way */
  /* Since: 0.2 */
  p2psig_ice_gathering_state_cb on_ice_gathering_state;
  p2psig_ice_connection_state_cb on_ice_connection_state;
  p2psig_address_family address_family; /* 0: IPv4 and IPv6.  One
                                     family: host candidates only on its
                                     addresses (local_addresses of the other
                                     are skipped, with a debug line; none
                                     left is P2PSIG_EINVAL), server-reflexive
                                     and relay candidates of the other
                                     dropped (a TURN server may allocate a
                                     relay of the other family: it is not
                                     used), and remote candidates of the
                                     other ignored with a debug line.
                                     mDNS and the STUN and TURN servers'
                                     own addresses are not filtered */
  const char *certificate_pem;    /* the DTLS certificate, PEM text (the
                                     first certificate is used; see
                                     p2psig_peer_get_certificate()); NULL:
                                     a new one is generated */
  const char *private_key_pem;    /* its private key, PEM text, not
                                     encrypted; NULL: read from
                                     certificate_pem, which then holds
                                     both.  A key without a certificate, a
                                     PEM that does not parse, a key that
                                     does not match, or a key other than
                                     ECDSA on P-256 or P-384 or RSA of
                                     2048 bits or more fails
                                     p2psig_peer_new() with P2PSIG_EINVAL */
  uint16_t sctp_streams;          /* SCTP streams offered each way (1 to
                                     65535); 0: 256.  A channel's id is its
                                     stream: ids must be below both this and
                                     what the remote offers (Chromium 1024),
                                     so at most half of the smaller count
                                     are opened from each side.  A remote
                                     channel with a higher id cannot open
                                     (its data is dropped, with a log line).
                                     A stream in and out costs about 104
                                     bytes, allocated at connection */
  /* Since: 0.2 */
  bool disable_message_interleaving; /* false: SCTP message interleaving
                                     (I-DATA, RFC 8260) is offered and used
                                     when the remote offers it too, so that
                                     a large message on one channel does
                                     not hold up the messages of the others
                                     behind it; true: DATA chunks only, and
                                     a message is sent whole before the
                                     next one starts */
} p2psig_peer_config;

#define P2PSIG_PEER_CONFIG_INIT .size = sizeof(p2psig_peer_config)

/**
 * p2psig_peer_new:
 * @config: the configuration, copied
 * @error: (optional): where to store the error code on failure
 *
 * Creates a peer in state P2PSIG_STATE_NEW, with the DTLS certificate of
 * the configuration or a fresh one (ECDSA P-256, valid from a day ago for
 * 30 days; WebRTC checks certificates by their fingerprint in the SDP,
 * so neither side looks at the validity period).
 *
 * A peer holds file descriptors (README, "Limits"): with fewer than two
 * left under the process's limit, this fails with P2PSIG_EDESCRIPTORS.
 *
 * Returns: the peer, to free with p2psig_peer_free(), or NULL.
 * Since: 0.1
 */
P2PSIG_API p2psig_peer *p2psig_peer_new(const p2psig_peer_config *config,
                                        int *error);

/**
 * p2psig_peer_create_offer:
 * @sdp: (out): the offer SDP, to free with p2psig_free()
 *
 * Creates the offer, sets it as the local description and starts gathering
 * candidates.  The offer carries the candidates gathered at once (the host
 * ones); those and the later ones are also reported through on_candidate,
 * after this call returns, for trickling.  The offerer is the ICE
 * controlling agent.  Channels created before the offer are announced once
 * the connection is up.
 *
 * Returns: 0 or a negative p2psig_error (P2PSIG_EDESCRIPTORS when too
 * few file descriptors are left for the sockets).
 * Since: 0.1
 */
P2PSIG_API int p2psig_peer_create_offer(p2psig_peer *peer, char **sdp);

/**
 * p2psig_peer_create_answer:
 * @sdp: (out): the answer SDP, to free with p2psig_free()
 *
 * Creates the answer to the remote offer set before, sets it as the local
 * description and starts gathering candidates, which the answer carries and
 * on_candidate reports as for p2psig_peer_create_offer().
 *
 * Returns: 0 or a negative p2psig_error (P2PSIG_ESTATE without a remote
 * offer).
 * Since: 0.1
 */
P2PSIG_API int p2psig_peer_create_answer(p2psig_peer *peer, char **sdp);

/**
 * p2psig_peer_set_remote_description:
 * @type: offer or answer
 * @sdp: the remote SDP (CRLF or LF line ends)
 *
 * Applies the remote description.  Candidates added before it are applied
 * now.  An SDP without a data-channel section, ICE credentials or a
 * sha-256 fingerprint is refused with P2PSIG_ESDP.
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.1
 */
P2PSIG_API int p2psig_peer_set_remote_description(p2psig_peer *peer,
                                                  p2psig_sdp_type type,
                                                  const char *sdp);

/**
 * p2psig_peer_restart_ice:
 * @sdp: (out): the new offer, to free with p2psig_free()
 *
 * Restarts ICE (RFC 8445 section 9, W3C restartIce()), after the remote
 * moved or a NAT forgot its mapping: new ICE credentials, checks of every
 * pair anew, in a new offer to send to the remote and answered as the
 * first was (p2psig_peer_set_remote_description() on the answer).  The
 * DTLS session, the SCTP association and the channels are kept, and the
 * pair in use carries messages until a new one is chosen; reliable
 * messages are neither lost nor repeated.  The state stays connected (or
 * disconnected, until packets come again).  On the remote side, an offer
 * with the same DTLS fingerprint and new ICE credentials is taken as a
 * restart, and p2psig_peer_create_answer() answers it.  Only the side that
 * made the first offer restarts (the signaling has the offer role post).
 *
 * Returns: 0, or P2PSIG_ESTATE when this side did not make the first
 * offer, has no answer yet, or waits for the answer to a restart.
 * Since: 0.2
 */
P2PSIG_API int p2psig_peer_restart_ice(p2psig_peer *peer, char **sdp);

/**
 * p2psig_peer_add_candidate:
 * @candidate: a remote candidate, "candidate:..." (an "a=" prefix is
 *   accepted); an empty string means end of candidates
 *
 * Adds a remote ICE candidate.  Candidates that arrive before the remote
 * description are held and applied once it is set.
 *
 * Limits, since remote peers decide what arrives here: a copy of a candidate
 * already taken (same transport, address, port, type, component, priority
 * and foundation), trickled or in the remote description, is ignored and
 * returns 0.  A peer takes at most 100 distinct candidates from this
 * function, held or applied, and then refuses more with P2PSIG_ELIMIT
 * (the signaling answers POST /candidate with 413).  Browsers gather fewer
 * than 20; each candidate costs the ICE agent checks, and tens of thousands
 * stall the peer's loop for seconds.  The remote description's own
 * candidates are bounded alike: the first 100 that parse are used, the
 * others ignored.
 *
 * A host candidate named `"<label>.local"` (mDNS, as browsers hide their
 * addresses) is resolved by the library (RFC 6762 one-shot queries, at
 * most 16 names at a time per peer, given up after 3 s) and then used
 * with its address; one that does not resolve is dropped.  A 17th name
 * while 16 are being resolved fails with P2PSIG_ELIMIT.
 *
 * Returns: 0 or a negative p2psig_error (P2PSIG_ECANDIDATE when it does not
 * parse or cannot be used, P2PSIG_ELIMIT past the limit above).
 * Since: 0.1
 */
P2PSIG_API int p2psig_peer_add_candidate(p2psig_peer *peer,
                                         const char *candidate);

/**
 * p2psig_peer_get_state:
 *
 * Returns: the state last reported through on_state (or about to be).
 * Since: 0.1
 */
P2PSIG_API p2psig_state p2psig_peer_get_state(const p2psig_peer *peer);

/**
 * p2psig_peer_get_ice_gathering_state:
 *
 * Returns: the ICE gathering state last reported through
 * on_ice_gathering_state (or about to be); P2PSIG_ICE_GATHERING_NEW for a
 * NULL peer.
 * Since: 0.2
 */
P2PSIG_API p2psig_ice_gathering_state
p2psig_peer_get_ice_gathering_state(const p2psig_peer *peer);

/**
 * p2psig_peer_get_ice_connection_state:
 *
 * Returns: the ICE connection state last reported through
 * on_ice_connection_state (or about to be); P2PSIG_ICE_CONNECTION_CLOSED
 * for a NULL peer.
 * Since: 0.2
 */
P2PSIG_API p2psig_ice_connection_state
p2psig_peer_get_ice_connection_state(const p2psig_peer *peer);

/**
 * p2psig_peer_get_local_description:
 * @type: (out) (optional): whether it is an offer or an answer
 * @sdp: (out): the local description, to free with p2psig_free()
 *
 * The current local description, as the W3C localDescription: the last
 * offer or answer this peer made (after an ICE restart, the restart's,
 * with its new credentials), with the same session id and version, and
 * every local candidate of its ICE generation gathered so far, the
 * trickled ones included; no a=end-of-candidates line.  Between a restart
 * offer applied on the answering side and its answer, its candidates are
 * already the new generation's.  It stays available after the peer
 * closed.
 *
 * Returns: 0, P2PSIG_EINVAL, or P2PSIG_ESTATE when no local description
 * has been made yet (*sdp is then NULL).
 * Since: 0.2
 */
P2PSIG_API int p2psig_peer_get_local_description(const p2psig_peer *peer,
                                                 p2psig_sdp_type *type,
                                                 char **sdp);

/**
 * p2psig_peer_get_remote_description:
 * @type: (out) (optional): whether it is an offer or an answer
 * @sdp: (out): a copy of the text last applied with
 *   p2psig_peer_set_remote_description() (the latest after an ICE
 *   restart), as it was given; candidates trickled since are not in it.
 *   Free with p2psig_free()
 *
 * Returns: 0, P2PSIG_EINVAL, or P2PSIG_ESTATE when no remote description
 * has been applied yet (*sdp is then NULL).
 * Since: 0.2
 */
P2PSIG_API int p2psig_peer_get_remote_description(const p2psig_peer *peer,
                                                  p2psig_sdp_type *type,
                                                  char **sdp);

/**
 * p2psig_peer_get_certificate:
 * @certificate_pem: (out): the peer's DTLS certificate, PEM text, to free
 *   with p2psig_free()
 * @private_key_pem: (out) (optional): its private key, PEM text (PKCS #8,
 *   not encrypted: keep it private), to free with p2psig_free()
 *
 * Exports the peer's certificate, the generated one or the one loaded, so
 * that a program can keep it and give it to its next peers
 * (certificate_pem and private_key_pem of p2psig_peer_config): the remote
 * then sees the same fingerprint each time, as with pion's
 * Certificate.PEM() and libdatachannel's certificatePemFile.  The two
 * texts, one after the other, also make one text that certificate_pem
 * alone takes.
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.2
 */
P2PSIG_API int p2psig_peer_get_certificate(const p2psig_peer *peer,
                                           char **certificate_pem,
                                           char **private_key_pem);

/**
 * p2psig_peer_get_user_data:
 *
 * Returns: the user_data given in the configuration.
 * Since: 0.1
 */
P2PSIG_API void *p2psig_peer_get_user_data(const p2psig_peer *peer);

/**
 * p2psig_peer_close:
 *
 * Closes the connection gracefully and asynchronously: each channel gets
 * on_close, then the peer gets on_state(P2PSIG_STATE_CLOSED).  The remote
 * is told (an SCTP ABORT, then a DTLS close_notify): a libp2psig remote
 * goes closed with P2PSIG_ECLOSED_BY_REMOTE at once.  The peer must still
 * be freed.  Closing twice is harmless.
 *
 * Since: 0.1
 */
P2PSIG_API void p2psig_peer_close(p2psig_peer *peer);

/**
 * p2psig_peer_free:
 * @peer: (nullable): the peer
 *
 * Frees the peer and its channels at once and silently: no callback runs
 * after this returns, and one running on another thread is waited for.
 * Called from inside one of the peer's callbacks, it returns at once and
 * the release is deferred until that callback returns.  It cannot wait, and
 * returns at once while no further callback of the peer starts, when the
 * callback running is itself inside p2psig_peer_free() or
 * p2psig_signaling_free(), waiting for the caller's own callback to return
 * (two callbacks freeing each other's objects at the same time), and when
 * the caller holds a lock of the library (a log handler).  A signaling
 * object attached to the peer must be freed first.
 *
 * Since: 0.1
 */
P2PSIG_API void p2psig_peer_free(p2psig_peer *peer);

/**
 * p2psig_channel_config:
 *
 * Options of a new channel; initialise with P2PSIG_CHANNEL_CONFIG_INIT.
 * With .size set, every other field zero means a reliable ordered channel
 * (as does a NULL config).  A .size of 0, or a field set past the end of
 * this version's struct, fails p2psig_peer_create_channel() with
 * P2PSIG_EINVAL.
 *
 * Since: 0.1
 */
typedef struct p2psig_channel_config {
  size_t size;             /* sizeof, set by P2PSIG_CHANNEL_CONFIG_INIT */
  const char *protocol;    /* sub-protocol name; NULL: "" */
  bool unordered;          /* deliver out of order; false: ordered */
  bool has_max_retransmits;      /* partial reliability by count ... */
  uint16_t max_retransmits;      /* ... retransmissions at most (0: none) */
  bool has_max_packet_lifetime;  /* partial reliability by time ... */
  uint16_t max_packet_lifetime;  /* ... milliseconds (RFC 3758); not both */
  bool negotiated;         /* agreed out of band: no DCEP, both sides
                              create it with the same id */
  uint16_t id;             /* stream id when negotiated (0..65534) */
  uint16_t priority;       /* DCEP priority: 128 very low, 256 low,
                              512 medium, 1024 high; 0: 256 */
} p2psig_channel_config;

#define P2PSIG_CHANNEL_CONFIG_INIT .size = sizeof(p2psig_channel_config)

/**
 * p2psig_peer_create_channel:
 * @label: the channel's label (may be "")
 * @config: (nullable): options, copied; NULL for defaults
 * @error: (optional): where to store the error code on failure
 *
 * Creates a data channel.  It opens (on_open) once the SCTP association is
 * up and the DCEP open has been sent; the remote peer sees on_channel.  A
 * negotiated channel sends no DCEP and opens on both sides when the
 * association is up; the remote creates it too, with the same id.  Ids of
 * other channels follow the DTLS role: even for the DTLS client, odd for
 * the server.
 *
 * Returns: the channel, owned by the peer, or NULL: P2PSIG_EINVAL for both
 * max_retransmits and max_packet_lifetime, an id of 65535 or beyond the
 * association's streams; P2PSIG_EBUSY for an id in use, or, once the
 * association is up, when no stream id is left for a new channel (see
 * sctp_streams); another error when its DCEP open cannot be sent.  A
 * channel that gets no id when the association comes up closes
 * (on_close) instead.
 * Since: 0.1
 */
P2PSIG_API p2psig_channel *
p2psig_peer_create_channel(p2psig_peer *peer, const char *label,
                           const p2psig_channel_config *config, int *error);

/**
 * p2psig_channel_send:
 * @data: the message (may be NULL when len is 0)
 * @len: its length in bytes; 0 sends an empty message
 * @kind: text or binary
 *
 * Queues a message.  Never blocks: what SCTP cannot take at once waits in
 * the channel's buffer (see p2psig_channel_get_buffered_amount()).
 *
 * Returns: 0 or a negative p2psig_error: P2PSIG_ESTATE before the channel
 * is open, P2PSIG_ECLOSED after it closed, P2PSIG_ETOOBIG over the remote's
 * maximum message size, P2PSIG_EAGAIN when the peer's buffers already
 * hold send_buffer_limit bytes (16 MiB by default).
 * Since: 0.1
 */
P2PSIG_API int p2psig_channel_send(p2psig_channel *channel, const void *data,
                                   size_t len, p2psig_kind kind);

/**
 * p2psig_channel_send_text:
 * @text: a NUL-terminated UTF-8 string
 *
 * Same as p2psig_channel_send() with strlen(text) and P2PSIG_KIND_TEXT.
 * Since: 0.1
 */
P2PSIG_API int p2psig_channel_send_text(p2psig_channel *channel,
                                        const char *text);

/**
 * p2psig_channel_close:
 *
 * Closes the channel on both sides; on_close follows on each.
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.1
 */
P2PSIG_API int p2psig_channel_close(p2psig_channel *channel);

/**
 * p2psig_channel_get_label:
 *
 * Returns: the label, valid as long as the channel.
 * Since: 0.1
 */
P2PSIG_API const char *p2psig_channel_get_label(const p2psig_channel *channel);

/**
 * p2psig_channel_get_protocol:
 *
 * Returns: the sub-protocol ("" if none), valid as long as the channel.
 * Since: 0.1
 */
P2PSIG_API const char *
p2psig_channel_get_protocol(const p2psig_channel *channel);

/**
 * p2psig_channel_get_id:
 *
 * Returns: the SCTP stream id (0..65534), P2PSIG_CHANNEL_ID_UNASSIGNED
 * (65535) while not yet assigned (before the DTLS role is known; -1 before
 * 0.2, which was also P2PSIG_EINVAL), or P2PSIG_EINVAL for a NULL channel.
 * Since: 0.1
 */
P2PSIG_API int p2psig_channel_get_id(const p2psig_channel *channel);

/**
 * P2PSIG_CHANNEL_ID_UNASSIGNED:
 *
 * What p2psig_channel_get_id() returns before the channel has a stream id:
 * 65535, which RFC 8831 reserves, and which no error code equals.
 *
 * Since: 0.2
 */
#define P2PSIG_CHANNEL_ID_UNASSIGNED 65535

/**
 * p2psig_channel_is_open:
 *
 * Returns: whether messages can be sent on the channel now.
 * Since: 0.1
 */
P2PSIG_API bool p2psig_channel_is_open(const p2psig_channel *channel);

/**
 * p2psig_channel_get_peer:
 *
 * Returns: the peer the channel belongs to.
 * Since: 0.1
 */
P2PSIG_API p2psig_peer *p2psig_channel_get_peer(const p2psig_channel *channel);

/**
 * p2psig_channel_ref:
 *
 * Keeps the channel's memory valid past its on_close, until the matching
 * p2psig_channel_unref(), even after the peer is freed: functions called on
 * such a channel fail with P2PSIG_ECLOSED (getters return what they last
 * knew).  A thread that sends while another may see on_close takes a
 * reference under its own lock, as tools/common.c does.  Never takes the
 * library lock, so it is safe under any lock of the application's.
 *
 * Returns: the channel.
 * Since: 0.2
 */
P2PSIG_API p2psig_channel *p2psig_channel_ref(p2psig_channel *channel);

/**
 * p2psig_channel_unref:
 * @channel: (nullable)
 *
 * Drops a reference taken with p2psig_channel_ref().
 * Since: 0.2
 */
P2PSIG_API void p2psig_channel_unref(p2psig_channel *channel);

/**
 * p2psig_channel_set_user_data:
 *
 * Attaches a pointer of the application's to the channel.
 * Since: 0.1
 */
P2PSIG_API void p2psig_channel_set_user_data(p2psig_channel *channel,
                                             void *user_data);

/**
 * p2psig_channel_get_user_data:
 *
 * Returns: the pointer set with p2psig_channel_set_user_data(), or NULL.
 * Since: 0.1
 */
P2PSIG_API void *p2psig_channel_get_user_data(const p2psig_channel *channel);

/**
 * p2psig_channel_get_buffered_amount:
 *
 * Returns: bytes of messages accepted by p2psig_channel_send() that the
 * SCTP stack has not taken yet (W3C bufferedAmount).
 * Since: 0.2
 */
P2PSIG_API size_t
p2psig_channel_get_buffered_amount(const p2psig_channel *channel);

/**
 * p2psig_channel_set_buffered_amount_low_threshold:
 *
 * on_buffered_amount_low fires each time the buffered amount falls from
 * above @threshold to @threshold or below (W3C bufferedAmountLowThreshold;
 * 0 by default).
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.2
 */
P2PSIG_API int
p2psig_channel_set_buffered_amount_low_threshold(p2psig_channel *channel,
                                                 size_t threshold);

/**
 * p2psig_channel_get_max_message_size:
 *
 * Returns: the largest message the remote accepts (its
 * a=max-message-size, 65536 when its SDP has none), or 0 before the
 * remote description is known.
 * Since: 0.2
 */
P2PSIG_API size_t
p2psig_channel_get_max_message_size(const p2psig_channel *channel);

/**
 * p2psig_channel_stats:
 *
 * Since: 0.2
 */
typedef struct p2psig_channel_stats {
  size_t size;               /* sizeof, set by P2PSIG_STATS_INIT */
  uint64_t messages_sent;
  uint64_t bytes_sent;
  uint64_t messages_received;
  uint64_t bytes_received;
  size_t buffered_amount;
} p2psig_channel_stats;

/**
 * p2psig_peer_stats:
 *
 * Since: 0.2
 */
typedef struct p2psig_peer_stats {
  size_t size;               /* sizeof, set by P2PSIG_STATS_INIT */
  uint64_t messages_sent;    /* over every channel, closed ones too */
  uint64_t bytes_sent;
  uint64_t messages_received;
  uint64_t bytes_received;
  bool has_selected_pair;    /* the fields below are valid */
  char local_address[48];    /* IP address, NUL-terminated */
  uint16_t local_port;
  char local_type[8];        /* "host", "srflx", "prflx", "relay" */
  char remote_address[48];
  uint16_t remote_port;
  char remote_type[8];
  double rtt_ms;             /* smoothed round-trip time; 0: unknown */
  /* Since: 0.2 */
  char local_protocol[4];    /* "udp" or "tcp" (ICE-TCP) */
  char remote_protocol[4];
  char local_relay_protocol[4]; /* a local relay candidate: how we reach
                                   its TURN server, "udp", "tcp" or "tls";
                                   else "" */
} p2psig_peer_stats;

#define P2PSIG_STATS_INIT(type) { .size = sizeof(type) }

/**
 * p2psig_channel_get_stats:
 * @stats: filled in; set its size first (P2PSIG_STATS_INIT)
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.2
 */
P2PSIG_API int p2psig_channel_get_stats(const p2psig_channel *channel,
                                        p2psig_channel_stats *stats);

/**
 * p2psig_peer_get_stats:
 * @stats: filled in; set its size first (P2PSIG_STATS_INIT)
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.2
 */
P2PSIG_API int p2psig_peer_get_stats(const p2psig_peer *peer,
                                     p2psig_peer_stats *stats);

/**
 * p2psig_role:
 *
 * Which side of the pion-to-pion exchange a signaling object plays.
 *
 * Since: 0.1
 */
typedef enum p2psig_role {
  P2PSIG_ROLE_OFFER = 0,
  P2PSIG_ROLE_ANSWER = 1
} p2psig_role;

/**
 * p2psig_signaling_error_cb:
 * @signaling: the signaling object
 * @error: a p2psig_error
 * @message: one line saying what happened
 * @user_data: the signaling config's user_data
 *
 * Something went wrong in signaling that the application may want to log
 * (a request refused, a POST that failed).
 *
 * Since: 0.1
 */
typedef void (*p2psig_signaling_error_cb)(p2psig_signaling *signaling,
                                          int error, const char *message,
                                          void *user_data);

/**
 * p2psig_signaling_status:
 * @size: sizeof the struct as the library knows it: fields past it are
 *   absent (later versions append)
 * @final: our request failed for good and is not retried (a 4xx, a TLS
 *   handshake refused, an answer we cannot use); or p2psig_signaling_new()
 *   failed.  The session cannot complete: an application that has nothing
 *   else to signal for would stop
 * @served: a request the remote sent us was refused (@http_status is what
 *   we answered); not final, not retried: the remote may try again
 * @http_status: the status of the response (ours when @served), 0 when
 *   there was none (no connection, TLS, no response in time, new())
 * @error: a p2psig_error (P2PSIG_EUNAUTHORIZED for a 401, P2PSIG_EHTTP for
 *   another refusal, P2PSIG_ENETWORK for a connection or TLS failure,
 *   P2PSIG_EINVAL for an unusable configuration, ...)
 * @retry_in_ms: neither @final nor @served: our request failed in a way
 *   waiting may fix (connection refused, a 5xx, no response in time) and
 *   is sent again after this many milliseconds (backoff from 50 ms to 2 s)
 * @url: the URL of our request; when @served, the path requested; NULL
 *   from p2psig_signaling_new()
 * @reason: one line saying what happened, quoting at most 240 bytes of
 *   remote text
 *
 * What happened to a signaling request, for p2psig_signaling_status_cb.
 * The pointers are valid during the callback only.
 *
 * Since: 0.2
 */
typedef struct p2psig_signaling_status {
  size_t size;
  bool final;
  bool served;
  unsigned http_status;
  int error;
  unsigned retry_in_ms;
  const char *url;
  const char *reason;
} p2psig_signaling_status;

/**
 * p2psig_signaling_status_cb:
 * @signaling: (nullable): the signaling object; NULL when
 *   p2psig_signaling_new() fails
 * @status: what happened
 * @user_data: the signaling config's user_data
 *
 * Every report of on_error, with the HTTP status and whether it is final,
 * and also each retry of a request of ours, with its delay.  It runs on the
 * loop of the signaling object (its first peer's), outside libsoup, and
 * may free the signaling object; except when p2psig_signaling_new()
 * fails: then it runs once, on the caller's thread, before
 * p2psig_signaling_new() returns, with @final set
 * and the reason (the address that cannot be listened on and the system's
 * words, the TLS file that cannot be used and why, what is wrong with the
 * token or another field).
 *
 * Since: 0.2
 */
typedef void (*p2psig_signaling_status_cb)(
    p2psig_signaling *signaling, const p2psig_signaling_status *status,
    void *user_data);

/**
 * p2psig_signaling_config:
 *
 * Configuration of a signaling object; initialise with
 * P2PSIG_SIGNALING_CONFIG_INIT, which sets .size (a .size of 0, or a field
 * set past the end of this version's struct, fails p2psig_signaling_new()
 * with P2PSIG_EINVAL).  The access control (token, tls_*) is
 * opt-in: zero leaves it off.  p2psig_signaling_new() reads the TLS files
 * once; one of tls_certificate and tls_key without the other, tls_ca
 * without tls_remote, a token that is empty or not printable ASCII without
 * spaces, or a file that cannot be read or used fails with P2PSIG_EINVAL
 * (the reason is a debug line of the log domain p2psig-signaling, and
 * goes to on_status).  A
 * request refused for its token is reported through on_error as
 * P2PSIG_EUNAUTHORIZED on both sides (our POST answered 401 included); a
 * POST whose TLS handshake fails (remote certificate not trusted, plain
 * HTTP answered) as P2PSIG_ENETWORK.  Neither is retried; a handshake
 * that the remote cuts (a server over its limits) is, with backoff.
 *
 * Limits, fixed (Since: 0.2), so that a hostile client or server cannot
 * hold the descriptors, memory or POST queue of a signaling object:
 * - the server keeps at most 64 connections open; one more closes the
 *   oldest that is not in the middle of a request (else the oldest), so a
 *   real peer gets in while others hold sockets;
 * - at most 4 TLS handshakes run at once (one more closes the oldest), and
 *   a handshake starts only once the client has sent a byte; a connection
 *   must finish its handshake within 5 s of being accepted;
 * - the request headers must be in within 5 s (after the handshake), the
 *   body and response within 10 s of the headers, and a kept-alive
 *   connection may wait 10 s for its next request (every response closes
 *   its connection, though); a connection past its time is closed without
 *   a response and without a report;
 * - a request body is at most 64 KiB (413 above it; a Content-Length
 *   that is negative or longer than 18 digits gets 400), and POST /candidate
 *   takes at most 1000 candidates a session (400 beyond);
 * - one of our POSTs gets 15 s in all, however slowly the remote sends its
 *   response: then it is abandoned and retried with backoff, as a
 *   connection error is; of a response's body only the first 4 KiB are
 *   read (for the report of a refusal), the rest never.
 * Reports and refusal reasons quoting remote text are one line of at most
 * 240 bytes and "...".
 *
 * One round trip (Since: 0.2), for an offer that cannot listen, such as a
 * browser page.  The answer role serves it beside pion's protocol and
 * decides per offer: an offer POSTed to "/sdp?mode=one-round-trip" gets
 * its answer in the response body ({"type":"answer","sdp":...}, 200) with
 * the session's id in the response header "P2psig-Session" (32 hex
 * digits), and nothing is POSTed back.  The offer POSTs its candidates to
 * "/candidate?session=ID" and long-polls "GET /candidate?session=ID&from=N"
 * for the answer's: the response is {"candidates":[...],"next":M,
 * "complete":bool}, the answer's local candidates from index N (at most
 * 32 KiB of them), at once when there are any, else when one is gathered
 * or after 25 s (none).  The answer keeps every candidate of the session
 * (at most 1000), so a poll that is lost is asked again from the same N
 * and nothing is lost; "complete" is true once gathering is done and all
 * were returned.  At most 8 polls wait at once (one more answers the
 * oldest at once, empty).  A request naming another session than the
 * current one gets 409, as does a new one-round-trip offer while the
 * session has its offer (pion's offers still get 400); an ICE restart
 * re-POSTs to "/sdp?mode=one-round-trip&session=ID" and gets its answer
 * the same way.  p2psig_signaling_set_peer() starts a new session.
 *
 * Browsers (Since: 0.2): a request with an Origin header is served only
 * when the origin is the server's own (the Origin is the scheme and the
 * Host header, and that host is an IP address or "localhost": a DNS name
 * could be rebound to us by another site) or in cors_origins; any other
 * gets 403 before anything else is looked at.  Allowed origins get CORS
 * headers on every response, and an OPTIONS preflight is answered 204
 * without the token (browsers never send it there).  The token is also
 * taken as the query parameter "access_token" (RFC 6750 section 2.3), for
 * a browser opening the page.  With page set, GET / serves it (text/html,
 * with a Content-Security-Policy that lets it reach its own origin only).
 *
 * Since: 0.1; token, tls_certificate, tls_key, tls_ca, tls_remote,
 * one_round_trip, cors_origins, page, on_status: 0.2
 */
typedef struct p2psig_signaling_config {
  size_t size;               /* sizeof, set by P2PSIG_SIGNALING_CONFIG_INIT */
  p2psig_role role;          /* offer or answer */
  const char *listen_address; /* "[host]:port" to serve /sdp and
                                 /candidate on; NULL: pion's default for the
                                 role (":50000" offer, ":60000" answer);
                                 port 0 picks a free port */
  const char *remote_address; /* "host:port" of the other side; NULL: pion's
                                 default ("127.0.0.1:60000" for the offer,
                                 "localhost:50000" for the answer) */
  p2psig_signaling_error_cb on_error; /* may be NULL */
  void *user_data;

  const char *token;          /* shared secret: every request we send
                                 carries "Authorization: Bearer <token>",
                                 every request we serve must, else 401;
                                 NULL: none sent, none required */
  const char *tls_certificate; /* PEM file of our server's certificate
                                  (chain first): serve HTTPS; NULL: HTTP */
  const char *tls_key;        /* PEM file of its private key; NULL: none */
  const char *tls_ca;         /* PEM file of the certificates trusted for
                                 the remote (a self-signed one itself);
                                 NULL: the system's trust store */
  bool tls_remote;            /* the remote serves HTTPS; false: HTTP */
  /* Since: 0.2 */
  bool one_round_trip;        /* offer role: take the answer from the
                                 response to POST /sdp and the answer's
                                 candidates from GET /candidate, and serve
                                 nothing (listen_address unused,
                                 p2psig_signaling_get_port() 0); a POST
                                 answered 409 (the answer is busy) is
                                 reported and not retried.  Answer role:
                                 must be false (it serves both modes) */
  const char *const *cors_origins; /* NULL-terminated origins besides our
                                 own whose pages may use the server
                                 ("https://app.example:8443"; "*": any),
                                 at most 16 of at most 255 bytes; NULL:
                                 our own only */
  const char *page;           /* an HTML page served at GET / (UTF-8, at
                                 most 1 MiB), copied; NULL: none (404) */
  p2psig_signaling_status_cb on_status; /* may be NULL; beside on_error,
                                 which still gets its reports */
} p2psig_signaling_config;

#define P2PSIG_SIGNALING_CONFIG_INIT .size = sizeof(p2psig_signaling_config)

/**
 * p2psig_signaling_new:
 * @peer: the peer to signal for; must outlive the signaling object
 * @config: the configuration, copied
 * @error: (optional): where to store the error code on failure
 *
 * Starts the HTTP server of the pion-to-pion protocol for @peer.  Remote
 * descriptions and candidates it receives are applied to the peer; the
 * peer's local candidates are sent to the remote side once the remote
 * description is known.  The answer role answers offers by itself.
 *
 * Returns: the signaling object, or NULL (P2PSIG_ENETWORK when the address
 * cannot be listened on, P2PSIG_EADDRESS when it does not parse); the
 * config's on_status, when set, has then been told why.
 * Since: 0.1
 */
P2PSIG_API p2psig_signaling *
p2psig_signaling_new(p2psig_peer *peer, const p2psig_signaling_config *config,
                     int *error);

/**
 * p2psig_signaling_start:
 *
 * For the offer role: creates the offer and POSTs it to the answer's /sdp,
 * retrying with backoff until the answer is reachable.  Create channels
 * before.  For the answer role it does nothing.
 *
 * Returns: 0 or a negative p2psig_error.
 * Since: 0.1
 */
P2PSIG_API int p2psig_signaling_start(p2psig_signaling *signaling);

/**
 * p2psig_signaling_restart_ice:
 *
 * For the offer role, once the answer is in: restarts ICE
 * (p2psig_peer_restart_ice()) and POSTs the new offer to the answer's
 * /sdp, retrying as the first one; the answer role takes such a re-offer
 * from the same remote (the same DTLS fingerprint, new ICE credentials),
 * answers it with a POST to our /sdp, and still refuses any other second
 * offer.  Call it when the connection went disconnected, for instance.
 *
 * Returns: 0, or P2PSIG_ESTATE (the answer role, no answer yet, a restart
 * already waiting for its answer).
 * Since: 0.2
 */
P2PSIG_API int p2psig_signaling_restart_ice(p2psig_signaling *signaling);

/**
 * p2psig_signaling_set_peer:
 * @peer: the peer to signal for from now on; must outlive the signaling
 * object (or the next call)
 *
 * For the answer role: starts a new session for @peer, for instance once
 * the previous peer closed or failed and a browser page may send a new
 * offer.  What belonged to the previous session is dropped: POSTs not yet
 * sent, candidates held, the long-polls waiting (answered 409), and its
 * session id, which later requests get 409 for.  The previous peer is no
 * longer used and may be freed once this returns.
 *
 * Returns: 0, P2PSIG_EINVAL (NULL), or P2PSIG_ESTATE (the offer role).
 * Since: 0.2
 */
P2PSIG_API int p2psig_signaling_set_peer(p2psig_signaling *signaling,
                                         p2psig_peer *peer);

/**
 * p2psig_signaling_get_port:
 *
 * Returns: the TCP port the server listens on (useful with port 0).
 * Since: 0.1
 */
P2PSIG_API uint16_t
p2psig_signaling_get_port(const p2psig_signaling *signaling);

/**
 * p2psig_signaling_free:
 * @signaling: (nullable)
 *
 * Stops the server and drops pending requests.  No callback of the
 * signaling object runs after this returns; one running on another thread
 * is waited for, as p2psig_peer_free() waits for a peer's (called from
 * inside the object's own callback, it returns at once).
 * Since: 0.1
 */
P2PSIG_API void p2psig_signaling_free(p2psig_signaling *signaling);

#ifdef __cplusplus
}
#endif

#endif /* P2PSIG_H */
