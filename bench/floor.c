/* SPDX-License-Identifier: MIT */
/*
 * floor: what the machine's OpenSSL costs our setup, before any of our
 * code runs.  Not libp2psig: OpenSSL alone, configured as lib/dtls.c does
 * (DTLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256, X25519 then P-256, a fresh
 * self-signed P-256 certificate on each side, both sides authenticated).
 *
 *   floor [-r RUNS]
 *   floor [-r RUNS] -s PROGRAM [ARG...]
 *
 * Prints, one line each ("floor <figure> <value>"):
 *   cert_first_us        the process's first certificate: OpenSSL's lazy
 *                        set-up (providers, method caches) plus one key and
 *                        signature;
 *   cert_us              median of the next ones;
 *   handshake_us         median CPU of one whole handshake, both sides on
 *                        one thread, records passed in memory: no network,
 *                        no timers, no waiting;
 *   handshake_client_us  the DTLS client's share of it (the answer's, as
 *                        the tools connect), the server's is the rest.
 *
 * A setup in one process runs both sides' handshakes on one thread too, so
 * handshake_us is a floor under it; ICE and SCTP come on top.
 *
 * With -s, it runs PROGRAM RUNS times instead (output to /dev/null) and
 * prints the median from spawning it to its exit, "floor start_us": run on
 * bench/start (an empty main linked with libp2psig) it is what loading our
 * dependencies costs every tool before main.
 */
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct side {
  EVP_PKEY *key;
  X509 *cert;
  SSL *ssl;
  BIO *in, *out; /* memory BIOs: records to read, records written */
};

static double
now_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
  fprintf(stderr, "floor: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static void
make_cert(struct side *s)
{
  X509_NAME *name;

  s->key = EVP_EC_gen("P-256");
  s->cert = X509_new();
  if (!s->key || !s->cert)
    die("key");
  ASN1_INTEGER_set(X509_get_serialNumber(s->cert), 1);
  X509_set_version(s->cert, 2);
  X509_gmtime_adj(X509_getm_notBefore(s->cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(s->cert), 30L * 86400);
  X509_set_pubkey(s->cert, s->key);
  name = X509_get_subject_name(s->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"floor", -1, -1, 0);
  X509_set_issuer_name(s->cert, name);
  if (!X509_sign(s->cert, s->key, EVP_sha256()))
    die("X509_sign");
}

/* The library checks the remote certificate's fingerprint here; what
 * costs is OpenSSL's chain building around the callback, kept. */
static int
accept_any(int preverify_ok, X509_STORE_CTX *store)
{
  unsigned char fp[EVP_MAX_MD_SIZE];
  unsigned int len;
  X509 *cert = X509_STORE_CTX_get_current_cert(store);

  return cert && X509_digest(cert, EVP_sha256(), fp, &len);
}

static SSL_CTX *
make_ctx(void)
{
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());

  if (!ctx)
    die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     accept_any);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  return ctx;
}

static void
side_start(struct side *s, SSL_CTX *ctx, int client)
{
  s->ssl = SSL_new(ctx);
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  if (!s->ssl || !s->in || !s->out ||
      SSL_use_certificate(s->ssl, s->cert) != 1 ||
      SSL_use_PrivateKey(s->ssl, s->key) != 1)
    die("SSL_new");
  BIO_set_mem_eof_return(s->in, -1);
  SSL_set_bio(s->ssl, s->in, s->out);
  SSL_set_mtu(s->ssl, 1200);
  if (client)
    SSL_set_connect_state(s->ssl);
  else
    SSL_set_accept_state(s->ssl);
}

static void
side_free(struct side *s)
{
  SSL_free(s->ssl); /* frees the BIOs */
  EVP_PKEY_free(s->key);
  X509_free(s->cert);
}

/* Moves what from wrote to to's input. */
static void
pass(struct side *from, struct side *to)
{
  char buf[4096];
  int n;

  while ((n = BIO_read(from->out, buf, sizeof buf)) > 0)
    BIO_write(to->in, buf, n);
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
  qsort(v, n, sizeof *v, cmp_double);
  return v[(n - 1) / 2];
}

static int
time_starts(int runs, char **argv)
{
  double *v = calloc(runs, sizeof *v);
  posix_spawn_file_actions_t actions;

  if (!v)
    die("calloc");
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  for (int i = 0; i < runs; i++) {
    double t0 = now_us();
    pid_t pid;
    int status;

    if (posix_spawn(&pid, argv[0], &actions, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid) {
      fprintf(stderr, "floor: cannot run %s\n", argv[0]);
      return 1;
    }
    v[i] = now_us() - t0;
  }
  posix_spawn_file_actions_destroy(&actions);
  printf("floor start_us %.1f\n", median(v, runs));
  free(v);
  return 0;
}

int
main(int argc, char **argv)
{
  int runs = 200, opt, spawn = 0;
  double *cert_us, *hs_us, *client_us, t0, first;
  SSL_CTX *ctx;

  /* "+": options end at the first operand, PROGRAM's own are left alone. */
  while ((opt = getopt(argc, argv, "+r:s")) != -1) {
    if (opt == 'r' && atoi(optarg) > 0) {
      runs = atoi(optarg);
    } else if (opt == 's') {
      spawn = 1;
    } else {
      fprintf(stderr, "usage: floor [-r RUNS] [-s PROGRAM [ARG...]]\n");
      return 2;
    }
  }
  if (spawn) {
    if (optind >= argc) {
      fprintf(stderr, "floor: -s needs a program\n");
      return 2;
    }
    return time_starts(runs, argv + optind);
  }
  cert_us = calloc(runs, sizeof *cert_us);
  hs_us = calloc(runs, sizeof *hs_us);
  client_us = calloc(runs, sizeof *client_us);
  if (!cert_us || !hs_us || !client_us)
    die("calloc");

  {
    struct side s = { 0 };

    t0 = now_us();
    make_cert(&s);
    first = now_us() - t0;
    EVP_PKEY_free(s.key);
    X509_free(s.cert);
  }
  ctx = make_ctx();
  for (int i = 0; i < runs; i++) {
    struct side client = { 0 }, server = { 0 };
    double t, in_client = 0;
    int round;

    t = now_us();
    make_cert(&client);
    cert_us[i] = now_us() - t;
    make_cert(&server);
    side_start(&client, ctx, 1);
    side_start(&server, ctx, 0);

    t0 = now_us();
    for (round = 0; round < 10; round++) {
      t = now_us();
      SSL_do_handshake(client.ssl);
      in_client += now_us() - t;
      pass(&client, &server);
      SSL_do_handshake(server.ssl);
      pass(&server, &client);
      if (SSL_is_init_finished(client.ssl) &&
          SSL_is_init_finished(server.ssl))
        break;
    }
    hs_us[i] = now_us() - t0;
    client_us[i] = in_client;
    if (round == 10)
      die("handshake");
    side_free(&client);
    side_free(&server);
  }
  SSL_CTX_free(ctx);
  printf("floor cert_first_us %.1f\n", first);
  printf("floor cert_us %.1f\n", median(cert_us, runs));
  printf("floor handshake_us %.1f\n", median(hs_us, runs));
  printf("floor handshake_client_us %.1f\n", median(client_us, runs));
  printf("floor openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
  free(cert_us);
  free(hs_us);
  free(client_us);
  return 0;
}
