/* SPDX-License-Identifier: MIT */
/*
 * What the offer and answer tools print of what a remote peer sends:
 * pion's lines byte for byte for its 15-letter messages, and remote labels
 * and messages shortened and with control bytes escaped, so that a peer
 * cannot write terminal escapes.  Links tools/common.c.
 *
 * /tools/run/...: the tools themselves ($P2PSIG_OFFER, $P2PSIG_ANSWER) over
 * 127.0.0.1, failing loudly: retries said on stderr, a refusal (401, a
 * second offer's 400) or an address in use ends them with status 1 and
 * the reason, as does a TLS handshake refused; an argument that is no
 * flag ends them with status 2.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common.h"
#include "testutil.h"

static struct tool tool = { .name = "test", .opt.interval = 5 };

static void
test_shown(void)
{
  char buf[TOOL_SHOWN_SIZE];
  char in[TOOL_SHOWN_MAX + 100];
  g_autofree char *as = g_strnfill(TOOL_SHOWN_MAX, 'a');
  g_autofree char *dots = g_strconcat(as, "...", NULL);

  g_assert_cmpstr(tool_shown("ABCDEFGHIJKLMNO", 15, buf), ==,
                  "ABCDEFGHIJKLMNO");
  g_assert_cmpstr(tool_shown("", 0, buf), ==, "");
  g_assert_cmpstr(tool_shown(NULL, 0, buf), ==, "");
  g_assert_cmpstr(tool_shown("\x1b[2J\x07ok\\\n\0\x7f\x9b\xff", 13, buf),
                  ==, "\\x1b[2J\\x07ok\\x5c\\x0a\\x00\\x7f\\x9b\\xff");
  memset(in, 'a', sizeof in);
  g_assert_cmpstr(tool_shown(in, TOOL_SHOWN_MAX, buf), ==, as);
  g_assert_cmpstr(tool_shown(in, TOOL_SHOWN_MAX + 1, buf), ==, dots);
  g_assert_cmpstr(tool_shown(in, sizeof in, buf), ==, dots);
  /* The worst case fills the buffer exactly. */
  memset(in, 0x1b, sizeof in);
  tool_shown(in, sizeof in, buf);
  g_assert_cmpuint(strlen(buf), ==, TOOL_SHOWN_SIZE - 1);
}

/* What fn printed on stdout (the TAP stream, set aside meanwhile). */
static char *
capture(void (*fn)(p2psig_channel *channel, const char *text),
        p2psig_channel *channel, const char *text)
{
  FILE *file = tmpfile();
  int saved;
  char *out;
  long size;

  g_assert_nonnull(file);
  fflush(stdout);
  saved = dup(STDOUT_FILENO);
  g_assert_cmpint(dup2(fileno(file), STDOUT_FILENO), >=, 0);
  fn(channel, text);
  fflush(stdout);
  g_assert_cmpint(dup2(saved, STDOUT_FILENO), >=, 0);
  close(saved);
  size = ftell(file);
  g_assert_cmpint(size, >=, 0);
  out = g_malloc0((size_t)size + 1);
  rewind(file);
  g_assert_cmpuint(fread(out, 1, (size_t)size, file), ==, (size_t)size);
  fclose(file);
  return out;
}

static void
print_message(p2psig_channel *channel, const char *text)
{
  tool_on_message(channel, text, strlen(text), P2PSIG_KIND_TEXT, &tool);
}

static void
print_open(p2psig_channel *channel, const char *unused)
{
  tool_on_open(channel, &tool);
}

static void
test_printed(void)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer *peer = p2psig_peer_new(&cfg, NULL);
  p2psig_channel *data, *evil;
  g_autofree char *label = g_strdup_printf("\x1b]0;owned\x07%0300d", 0);
  g_autofree char *zeros = g_strnfill(TOOL_SHOWN_MAX - 10, '0');
  g_autofree char *expect = NULL;
  char *out;

  g_assert_nonnull(peer);
  data = p2psig_peer_create_channel(peer, "data", NULL, NULL);
  evil = p2psig_peer_create_channel(peer, label, NULL, NULL);
  g_assert_nonnull(data);
  g_assert_nonnull(evil);

  /* pion's lines, byte for byte. */
  out = capture(print_message, data, "ABCDEFGHIJKLMNO");
  g_assert_cmpstr(out, ==,
                  "Message from DataChannel 'data': 'ABCDEFGHIJKLMNO'\n");
  g_free(out);
  /* Not connected: no stream id yet, P2PSIG_CHANNEL_ID_UNASSIGNED. */
  out = capture(print_open, data, NULL);
  g_assert_cmpstr(out, ==,
                  "Data channel 'data'-'65535' open. Random messages will now "
                  "be sent to any connected DataChannels every 5 seconds\n");
  g_free(out);

  out = capture(print_message, evil, "\x1b[2J\x1b[31mred\r\n");
  expect = g_strdup_printf("Message from DataChannel "
                           "'\\x1b]0;owned\\x07%s...': "
                           "'\\x1b[2J\\x1b[31mred\\x0d\\x0a'\n", zeros);
  g_assert_cmpstr(out, ==, expect);
  g_free(out);
  g_free(expect);
  out = capture(print_open, evil, NULL);
  expect = g_strdup_printf("Data channel '\\x1b]0;owned\\x07%s...'-'65535' "
                           "open. Random messages will now be sent to any "
                           "connected DataChannels every 5 seconds\n",
                           zeros);
  g_assert_cmpstr(out, ==, expect);
  g_free(out);

  p2psig_channel_unref(tool.channel);
  tool.channel = NULL;
  p2psig_peer_free(peer);
}

/* ---- The tools, run ---- */

/* A tool running, and what it printed so far. */
struct proc {
  const char *name;
  GSubprocess *sub;
  GString *out, *err;
  int streams;                /* still open */
  bool exited;
  int status;                 /* exit status, or 128 + signal */
};

struct line_read {
  struct proc *proc;
  GDataInputStream *in;
  GString *into;
};

static void
read_more(struct line_read *r);

static void
line_read(GObject *source, GAsyncResult *result, void *data)
{
  struct line_read *r = data;
  char *line = g_data_input_stream_read_line_finish(r->in, result, NULL,
                                                    NULL);

  if (!line) {
    r->proc->streams--;
    g_object_unref(r->in);
    g_free(r);
    return;
  }
  g_string_append(r->into, line);
  g_string_append_c(r->into, '\n');
  g_free(line);
  read_more(r);
}

static void
read_more(struct line_read *r)
{
  g_data_input_stream_read_line_async(r->in, G_PRIORITY_DEFAULT, NULL,
                                      line_read, r);
}

static void
read_lines(struct proc *proc, GInputStream *stream, GString *into)
{
  struct line_read *r = g_new0(struct line_read, 1);

  r->proc = proc;
  r->in = g_data_input_stream_new(stream);
  r->into = into;
  proc->streams++;
  read_more(r);
}

static void
exited(GObject *source, GAsyncResult *result, void *data)
{
  struct proc *proc = data;

  g_subprocess_wait_finish(proc->sub, result, NULL);
  proc->status = g_subprocess_get_if_exited(proc->sub)
                     ? g_subprocess_get_exit_status(proc->sub)
                     : 128 + g_subprocess_get_term_sig(proc->sub);
  proc->exited = true;
}

/* A tool that fails the test leaves no process behind. */
static void
die_with_parent(void *unused)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts the tool of $which (P2PSIG_OFFER or P2PSIG_ANSWER) with the arguments up
 * to NULL, in the C locale (the system's words are English), with
 * P2PSIG_TOKEN set to token unless it is NULL. */
static void G_GNUC_NULL_TERMINATED
proc_start(struct proc *proc, const char *which, const char *token, ...)
{
  const char *path = g_getenv(which);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list ap;

  memset(proc, 0, sizeof *proc);
  if (!path) {
    g_test_skip("no $P2PSIG_OFFER or $P2PSIG_ANSWER (run by meson test)");
    return;
  }
  proc->name = which;
  proc->out = g_string_new(NULL);
  proc->err = g_string_new(NULL);
  g_ptr_array_add(args, (char *)path);
  va_start(ap, token);
  while ((arg = va_arg(ap, const char *)))
    g_ptr_array_add(args, (char *)arg);
  va_end(ap);
  g_ptr_array_add(args, NULL);

  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv(launcher, "LC_ALL", "C", TRUE);
  if (token)
    g_subprocess_launcher_setenv(launcher, "P2PSIG_TOKEN", token, TRUE);
  else
    g_subprocess_launcher_unsetenv(launcher, "P2PSIG_TOKEN");
  g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL,
                                        NULL);
  proc->sub = g_subprocess_launcher_spawnv(
      launcher, (const char *const *)args->pdata, &error);
  g_assert_no_error(error);
  read_lines(proc, g_subprocess_get_stdout_pipe(proc->sub), proc->out);
  read_lines(proc, g_subprocess_get_stderr_pipe(proc->sub), proc->err);
  g_subprocess_wait_async(proc->sub, NULL, exited, proc);
}

/* Runs the main context until check(proc, arg), or fails the test after
 * ms with what the tool printed. */
static void
proc_wait(struct proc *proc, bool (*check)(struct proc *, const char *),
          const char *arg, unsigned ms, const char *what)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
  GSource *tick = g_timeout_source_new(50);

  /* A tick, so that the deadline is looked at without an event. */
  g_source_set_dummy_callback(tick);
  g_source_attach(tick, NULL);
  while (!check(proc, arg) && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_source_destroy(tick);
  g_source_unref(tick);
  if (!check(proc, arg))
    g_error("%s: no %s within %u ms; stdout:\n%s\nstderr:\n%s", proc->name,
            what, ms, proc->out->str, proc->err->str);
}

static bool
has_exited(struct proc *proc, const char *unused)
{
  /* Its last words too. */
  return proc->exited && proc->streams == 0;
}

static bool
err_has(struct proc *proc, const char *text)
{
  return strstr(proc->err->str, text) != NULL;
}

static bool
out_has(struct proc *proc, const char *text)
{
  return strstr(proc->out->str, text) != NULL;
}

/* Waits for the tool's exit and returns its status. */
static int
proc_exit_status(struct proc *proc, unsigned ms)
{
  proc_wait(proc, has_exited, NULL, ms, "exit");
  return proc->status;
}

static void
proc_stop(struct proc *proc)
{
  if (!proc->sub)
    return;
  if (!proc->exited)
    g_subprocess_send_signal(proc->sub, SIGTERM);
  proc_wait(proc, has_exited, NULL, 10000, "exit after SIGTERM");
  g_clear_object(&proc->sub);
  g_string_free(proc->out, TRUE);
  g_string_free(proc->err, TRUE);
}

/* A TCP port of 127.0.0.1 that nothing listens on (lest parallel tests
 * collide): the kernel's pick, closed again.  With keep, the socket stays
 * bound and listening, in *keep. */
static char *
free_address(GSocket **keep)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new(
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
      &error);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(
      G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) want = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) got = NULL;

  g_assert_no_error(error);
  g_assert_true(g_socket_bind(socket, want, FALSE, &error));
  g_assert_true(g_socket_listen(socket, &error));
  got = g_socket_get_local_address(socket, &error);
  g_assert_no_error(error);
  if (keep)
    *keep = g_steal_pointer(&socket);
  return g_strdup_printf(
      "127.0.0.1:%u",
      g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(got)));
}

/* No ICE server to reach: the host candidates do. */
#define NO_STUN "-ice-server", "stun:127.0.0.1:9"

/* Nothing listens at the answer's address: the offer says, once a retry,
 * where it posts, why it failed and when it tries again, on stderr; stdout
 * stays pion's. */
static void
test_run_no_answer(void)
{
  g_autofree char *answer = free_address(NULL);
  g_autofree char *line = g_strdup_printf(
      "offer: waiting for the answer at http://%s/sdp: ", answer);
  struct proc offer;
  const char *second;

  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             "127.0.0.1:0", "-answer-address", answer, NULL);
  if (!offer.sub)
    return;
  proc_wait(&offer, err_has, "; retrying in 0.1 s\n", 10000,
            "second retry line");
  g_assert_nonnull(strstr(offer.err->str, line));
  g_assert_nonnull(strstr(offer.err->str, "Connection refused; retrying in "
                                          "0.05 s\n"));
  second = strstr(offer.err->str, "retrying in 0.05 s\n") +
           strlen("retrying in 0.05 s\n");
  g_assert_true(g_str_has_prefix(second, line));
  g_assert_null(strstr(offer.out->str, "waiting"));
  g_assert_false(offer.exited);
  proc_stop(&offer);
}

/* The answer requires a token the offer does not have: the offer's POST
 * is answered 401, which no retry mends, and the offer exits 1 saying so
 * rather than running until Ctrl-C. */
static void
test_run_wrong_token(void)
{
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  struct proc answer, offer;

  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-token", "right",
             "-answer-address", answer_at, "-offer-address", offer_at, NULL);
  if (!answer.sub)
    return;
  proc_start(&offer, "P2PSIG_OFFER", "wrong", NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, NULL);
  g_assert_cmpint(proc_exit_status(&offer, 20000), ==, 1);
  g_assert_nonnull(strstr(offer.err->str, "offer: signaling failed: POST "));
  g_assert_nonnull(strstr(offer.err->str,
                          "/sdp refused: 401 Unauthorized: wrong Bearer "
                          "token\n"));
  /* The answer refused it, and goes on serving. */
  proc_wait(&answer, err_has, "answer: signaling: POST /sdp: 401", 10000,
            "report of the refusal");
  g_assert_false(answer.exited);
  proc_stop(&offer);
  proc_stop(&answer);
}

/* The offer stopped (SIGTERM: it closes its peer, which tells the
 * remote): the answer sees the connection closed by the remote at once,
 * says so as pion's newer examples do, and exits 0, instead of going
 * disconnected and failed 30 s later. */
static void
test_run_closed_by_remote(void)
{
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  struct proc answer, offer;
  gint64 start;

  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-answer-address",
             answer_at, "-offer-address", offer_at, NULL);
  if (!answer.sub)
    return;
  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, NULL);
  proc_wait(&answer, out_has, "Data channel 'data'-", 20000, "channel open");
  start = g_get_monotonic_time();
  g_subprocess_send_signal(offer.sub, SIGTERM);
  g_assert_cmpint(proc_exit_status(&answer, 5000), ==, 0);
  g_test_message("the answer exited %" G_GINT64_FORMAT " ms after the "
                 "offer's SIGTERM", (g_get_monotonic_time() - start) / 1000);
  g_assert_cmpint((g_get_monotonic_time() - start) / 1000, <, 3000);
  g_assert_nonnull(strstr(answer.out->str,
                          "Peer Connection State has changed: closed\n"
                          "Peer Connection has gone to closed exiting\n"));
  g_assert_null(strstr(answer.out->str, "disconnected"));
  g_assert_cmpint(proc_exit_status(&offer, 5000), ==, 0);
  proc_stop(&offer);
  proc_stop(&answer);
}

/* Writes a generated certificate and its key into dir as cert.pem,
 * key.pem and both.pem (the two in one). */
static void
write_certificate(const char *dir)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer *peer = p2psig_peer_new(&cfg, NULL);
  char *cert = NULL, *key = NULL;
  g_autofree char *both = NULL;
  g_autofree char *cert_path = g_build_filename(dir, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *both_path = g_build_filename(dir, "both.pem", NULL);

  g_assert_nonnull(peer);
  g_assert_cmpint(p2psig_peer_get_certificate(peer, &cert, &key), ==, 0);
  both = g_strconcat(cert, key, NULL);
  g_assert_true(g_file_set_contents(cert_path, cert, -1, NULL));
  g_assert_true(g_file_set_contents(key_path, key, -1, NULL));
  g_assert_true(g_file_set_contents(both_path, both, -1, NULL));
  p2psig_free(cert);
  p2psig_free(key);
  p2psig_peer_free(peer);
}

/* -dtls-cert and -dtls-key: the tools connect with certificates loaded
 * from files (one with its key apart, one with both in one file); a key
 * of another certificate, or a file that cannot be read, ends a tool with
 * status 1. */
static void
test_run_dtls_certificate(void)
{
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  g_autofree char *dir = g_dir_make_tmp("p2psig-tools-XXXXXX", NULL);
  g_autofree char *other = NULL;
  g_autofree char *cert = NULL, *key = NULL, *both = NULL, *other_key = NULL;
  struct proc answer, offer;

  g_assert_nonnull(dir);
  other = g_build_filename(dir, "other", NULL);
  g_assert_cmpint(g_mkdir(other, 0700), ==, 0);
  write_certificate(dir);
  write_certificate(other);
  cert = g_build_filename(dir, "cert.pem", NULL);
  key = g_build_filename(dir, "key.pem", NULL);
  both = g_build_filename(dir, "both.pem", NULL);
  other_key = g_build_filename(other, "key.pem", NULL);

  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-answer-address",
             answer_at, "-offer-address", offer_at, "-dtls-cert", both,
             NULL);
  if (!answer.sub)
    goto out;
  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, "-dtls-cert", cert,
             "-dtls-key", key, "-count", "1", "-interval", "0.1", NULL);
  g_assert_cmpint(proc_exit_status(&offer, 20000), ==, 0);
  g_assert_nonnull(strstr(offer.out->str, "Message from DataChannel"));
  proc_stop(&offer);
  proc_stop(&answer);

  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, "-dtls-cert", cert,
             "-dtls-key", other_key, NULL);
  g_assert_cmpint(proc_exit_status(&offer, 10000), ==, 1);
  g_assert_nonnull(strstr(offer.err->str, "offer: cannot create the peer: "
                                          "invalid argument\n"));
  proc_stop(&offer);
  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-dtls-cert", "/nonexistent",
             NULL);
  g_assert_cmpint(proc_exit_status(&offer, 10000), ==, 1);
  g_assert_nonnull(strstr(offer.err->str, "offer: cannot read -dtls-cert "
                                          "/nonexistent: No such file or "
                                          "directory\n"));
  proc_stop(&offer);
out:
  {
    const char *names[] = { "cert.pem", "key.pem", "both.pem" };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
      g_autofree char *a = g_build_filename(dir, names[i], NULL);
      g_autofree char *b = g_build_filename(other, names[i], NULL);

      g_unlink(a);
      g_unlink(b);
    }
    g_rmdir(other);
    g_rmdir(dir);
  }
}

/* A second offer to an answer that has one gets pion's 400: that offer
 * exits 1 with the answer's reason; the first pair stays up. */
static void
test_run_second_offer(void)
{
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *offer2_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  struct proc answer, offer, offer2;

  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-answer-address",
             answer_at, "-offer-address", offer_at, NULL);
  if (!answer.sub)
    return;
  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, NULL);
  proc_wait(&offer, out_has, "Peer Connection State has changed: connected",
            20000, "connection");
  proc_start(&offer2, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             offer2_at, "-answer-address", answer_at, NULL);
  g_assert_cmpint(proc_exit_status(&offer2, 20000), ==, 1);
  g_assert_nonnull(strstr(offer2.err->str,
                          "/sdp refused: 400 Bad Request: unexpected offer"));
  g_assert_false(offer.exited);
  g_assert_false(answer.exited);
  proc_stop(&offer2);
  proc_stop(&offer);
  proc_stop(&answer);
}

/* An address in use: the tool names it and the system's reason. */
static void
test_run_address_in_use(void)
{
  g_autoptr(GSocket) taken = NULL;
  g_autofree char *address = free_address(&taken);
  g_autofree char *expect = g_strdup_printf(
      "answer: cannot listen on %s: Address already in use\n", address);
  struct proc answer;

  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-answer-address",
             address, NULL);
  if (!answer.sub)
    return;
  g_assert_cmpint(proc_exit_status(&answer, 20000), ==, 1);
  g_assert_cmpstr(answer.err->str, ==, expect);
  g_assert_cmpstr(answer.out->str, ==, "");
  proc_stop(&answer);
}

/* "P2PSIG_TOKEN=" (a compose file's ${TOKEN} unset, say) is no token: both
 * sides start and connect without one. */
static void
test_run_empty_token(void)
{
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  struct proc answer, offer;

  proc_start(&answer, "P2PSIG_ANSWER", "", NO_STUN, "-answer-address",
             answer_at, "-offer-address", offer_at, NULL);
  if (!answer.sub)
    return;
  proc_start(&offer, "P2PSIG_OFFER", "", NO_STUN, "-offer-address",
             offer_at, "-answer-address", answer_at, NULL);
  proc_wait(&offer, out_has, "Peer Connection State has changed: connected",
            20000, "connection");
  g_assert_false(answer.exited);
  g_assert_null(strstr(answer.err->str, "401"));
  proc_stop(&offer);
  proc_stop(&answer);
}

/* The answer serves HTTPS with a self-signed certificate the offer does
 * not trust: the handshake is refused, which waiting will not mend, and
 * the offer exits 1 saying why. */
static void
test_run_tls_untrusted(void)
{
  g_autofree char *dir = g_dir_make_tmp("p2psig-tools-XXXXXX", NULL);
  g_autofree char *crt = g_build_filename(dir, "answer.crt", NULL);
  g_autofree char *key = g_build_filename(dir, "answer.key", NULL);
  g_autofree char *offer_at = free_address(NULL);
  g_autofree char *answer_at = free_address(NULL);
  const char *openssl[] = {
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
    "/CN=answer", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
    "-out", crt, NULL};
  g_autoptr(GError) error = NULL;
  struct proc answer, offer;
  int wait_status = 0;

  g_assert_nonnull(dir);
  if (!g_spawn_sync(NULL, (char **)openssl, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                        G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &wait_status, &error) ||
      !g_spawn_check_wait_status(wait_status, NULL)) {
    g_test_skip("no openssl to make a certificate");
    g_rmdir(dir);
    return;
  }
  proc_start(&answer, "P2PSIG_ANSWER", NULL, NO_STUN, "-answer-address",
             answer_at, "-offer-address", offer_at, "-tls-cert", crt,
             "-tls-key", key, NULL);
  if (answer.sub) {
    proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
               offer_at, "-answer-address", answer_at, "-tls-remote", NULL);
    g_assert_cmpint(proc_exit_status(&offer, 20000), ==, 1);
    g_assert_nonnull(strstr(offer.err->str, "offer: signaling failed: POST "
                                            "https://"));
    g_assert_nonnull(strstr(offer.err->str, "not signed by a trusted CA"));
    proc_stop(&offer);
    proc_stop(&answer);
  }
  g_unlink(crt);
  g_unlink(key);
  g_rmdir(dir);
}

/* An argument that is no flag (a typo, or a flag after it, which Go's
 * flag package would not read) is a bad command line: status 2 and the
 * usage, not a tool running with defaults. */
static void
test_run_extra_argument(void)
{
  struct proc offer, answer;

  proc_start(&offer, "P2PSIG_OFFER", NULL, NO_STUN, "-offer-address",
             "127.0.0.1:0", "-count", "3", "4", "-interval", "1", NULL);
  if (!offer.sub)
    return;
  g_assert_cmpint(proc_exit_status(&offer, 20000), ==, 2);
  g_assert_true(g_str_has_prefix(offer.err->str,
                                 "unexpected argument: 4\nUsage of offer:\n"));
  proc_stop(&offer);

  /* After "--" too. */
  proc_start(&answer, "P2PSIG_ANSWER", NULL, "-answer-address",
             "127.0.0.1:0", "--", "extra", NULL);
  g_assert_cmpint(proc_exit_status(&answer, 20000), ==, 2);
  g_assert_true(g_str_has_prefix(answer.err->str,
                                 "unexpected argument: extra\n"
                                 "Usage of answer:\n"));
  proc_stop(&answer);
}

int
main(int argc, char **argv)
{
  /* Blocks the signals the callbacks raise to wake the tool's main
   * thread, before the library's thread exists to inherit the mask. */
  tool_init(&tool);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tools/shown", test_shown);
  g_test_add_func("/tools/printed", test_printed);
  g_test_add_func("/tools/run/no-answer", test_run_no_answer);
  g_test_add_func("/tools/run/wrong-token", test_run_wrong_token);
  g_test_add_func("/tools/run/second-offer", test_run_second_offer);
  g_test_add_func("/tools/run/closed-by-remote", test_run_closed_by_remote);
  g_test_add_func("/tools/run/dtls-certificate", test_run_dtls_certificate);
  g_test_add_func("/tools/run/address-in-use", test_run_address_in_use);
  g_test_add_func("/tools/run/empty-token", test_run_empty_token);
  g_test_add_func("/tools/run/tls-untrusted", test_run_tls_untrusted);
  g_test_add_func("/tools/run/extra-argument", test_run_extra_argument);
  return g_test_run();
}
