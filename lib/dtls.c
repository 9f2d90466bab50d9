/* SPDX-License-Identifier: MIT */
/*
 * DTLS layer: OpenSSL on a datagram BIO of our own.  Its write side hands
 * each record flight to the ICE layer as one datagram; its read side lends
 * OpenSSL the one datagram being fed, so datagram boundaries survive and
 * nothing is copied into an intermediate memory buffer.  Retransmission
 * uses OpenSSL's DTLS timer driven from the library context.
 */
#define G_LOG_DOMAIN "p2psig-dtls"

#include "dtls.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

/* IPv6 minimum MTU minus IP, UDP and some room for TURN framing. */
#define DTLS_MTU 1200

struct p2psig_dtls_cert {
  EVP_PKEY *key;
  X509 *x509;
  uint8_t fingerprint[P2PSIG_FINGERPRINT_LEN];
};

struct p2psig_dtls {
  struct p2psig_loop *loop;  /* its timer's */
  SSL *ssl;
  BIO *bio;
  bool client;
  bool connected;
  bool failed;
  bool fingerprint_mismatch;
  uint8_t remote_fingerprint[P2PSIG_FINGERPRINT_LEN];
  struct p2psig_dtls_callbacks cbs;
  void *data;
  const uint8_t *in_buf; /* the datagram being fed, lent to OpenSSL */
  size_t in_len;
  GSource *timer;
};

static SSL_CTX *shared_ctx;
static BIO_METHOD *bio_method;

static void
log_openssl_errors(const char *what)
{
  unsigned long e;
  char buf[256];

  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    g_debug("%s: %s", what, buf);
  }
}

static int
bio_write(BIO *bio, const char *buf, int len)
{
  struct p2psig_dtls *dtls = BIO_get_data(bio);

  dtls->cbs.send(dtls->data, (const uint8_t *)buf, (size_t)len);
  return len;
}

static int
bio_read(BIO *bio, char *buf, int len)
{
  struct p2psig_dtls *dtls = BIO_get_data(bio);
  size_t n;

  BIO_clear_retry_flags(bio);
  if (!dtls->in_buf) {
    BIO_set_retry_read(bio);
    return -1;
  }
  /* A datagram larger than OpenSSL's buffer is truncated, as a UDP socket
   * would; the record layer then drops it. */
  n = MIN(dtls->in_len, (size_t)len);
  memcpy(buf, dtls->in_buf, n);
  dtls->in_buf = NULL;
  dtls->in_len = 0;
  return (int)n;
}

static long
bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
    return DTLS_MTU;
  case BIO_CTRL_WPENDING:
  case BIO_CTRL_PENDING:
  case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
    return 0;
  default:
    return 0;
  }
}

static int
bio_create(BIO *bio)
{
  BIO_set_init(bio, 1);
  return 1;
}

static bool fingerprint_matches(struct p2psig_dtls *dtls, X509 *cert);

/* Self-signed certificates fail the usual chain check; what counts is the
 * SDP fingerprint.  Checking it here, during the handshake, makes OpenSSL
 * send a fatal alert, so that the remote fails too instead of believing
 * itself connected. */
static int
verify_certificate(int preverify_ok, X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data(store,
                                        SSL_get_ex_data_X509_STORE_CTX_idx());
  struct p2psig_dtls *dtls = ssl ? SSL_get_app_data(ssl) : NULL;
  X509 *cert = X509_STORE_CTX_get_current_cert(store);

  if (X509_STORE_CTX_get_error_depth(store) != 0)
    return 1;
  if (!dtls || !cert || !fingerprint_matches(dtls, cert)) {
    if (dtls)
      dtls->fingerprint_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

static gpointer
init_openssl(gpointer unused)
{
  SSL_CTX *ctx;

  bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                            "p2psig-ice");
  BIO_meth_set_write(bio_method, bio_write);
  BIO_meth_set_read(bio_method, bio_read);
  BIO_meth_set_ctrl(bio_method, bio_ctrl);
  BIO_meth_set_create(bio_method, bio_create);

  ctx = SSL_CTX_new(DTLS_method());
  if (!ctx)
    return NULL;
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  /* The RSA suites serve a loaded RSA certificate (pion and browsers
   * offer them too); a generated one is ECDSA. */
  SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:"
                               "ECDHE-ECDSA-AES256-GCM-SHA384:"
                               "ECDHE-ECDSA-CHACHA20-POLY1305:"
                               "ECDHE-RSA-AES128-GCM-SHA256:"
                               "ECDHE-RSA-AES256-GCM-SHA384");
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     verify_certificate);
  /* pion (as a DTLS client) refuses a server that selects no SRTP
   * profile, even for data channels only; browsers offer one too.  Note
   * the inverted return value: 0 is success. */
  if (SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:"
                                       "SRTP_AES128_CM_SHA1_80") != 0)
    log_openssl_errors("use_srtp");
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  SSL_CTX_set_read_ahead(ctx, 1);
  shared_ctx = ctx;
  return ctx;
}

static SSL_CTX *
get_ctx(void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once(&once, init_openssl, NULL);
}

static bool
compute_fingerprint(struct p2psig_dtls_cert *cert)
{
  unsigned int fp_len = 0;

  return X509_digest(cert->x509, EVP_sha256(), cert->fingerprint, &fp_len) &&
         fp_len == P2PSIG_FINGERPRINT_LEN;
}

int
p2psig__dtls_cert_new(struct p2psig_dtls_cert **out)
{
  struct p2psig_dtls_cert *cert = g_new0(struct p2psig_dtls_cert, 1);
  X509_NAME *name;
  uint64_t serial;

  ERR_clear_error();
  cert->key = EVP_EC_gen("P-256");
  cert->x509 = X509_new();
  if (!cert->key || !cert->x509)
    goto fail;
  RAND_bytes((unsigned char *)&serial, sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert->x509),
                          serial >> 1);
  X509_set_version(cert->x509, 2);
  /* A day back for clocks out of step; WebRTC certificates are checked by
   * fingerprint, their validity period matters little. */
  X509_gmtime_adj(X509_getm_notBefore(cert->x509), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert->x509), 30L * 86400);
  X509_set_pubkey(cert->x509, cert->key);
  name = X509_get_subject_name(cert->x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"libp2psig", -1, -1, 0);
  X509_set_issuer_name(cert->x509, name);
  if (!X509_sign(cert->x509, cert->key, EVP_sha256()))
    goto fail;
  if (!compute_fingerprint(cert))
    goto fail;
  *out = cert;
  return 0;

fail:
  log_openssl_errors("certificate");
  p2psig__dtls_cert_free(cert);
  return P2PSIG_EDTLS;
}

/* Never ask for a passphrase (OpenSSL would prompt on the terminal): an
 * encrypted key does not load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *data)
{
  return -1;
}

/* What DTLS with pion and browsers takes: ECDSA on P-256 or P-384, RSA of
 * 2048 bits or more.  A reason in *detail otherwise. */
static bool
key_usable(EVP_PKEY *key, char **detail)
{
  char curve[64] = "";
  size_t len = 0;

  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) >= 2048)
      return true;
    *detail = g_strdup_printf("the RSA key has %d bits: 2048 at least",
                              EVP_PKEY_get_bits(key));
    return false;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                       curve, sizeof curve, &len) &&
        (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "secp384r1") == 0))
      return true;
    *detail = g_strdup_printf("the ECDSA key is on curve %s: P-256 or "
                              "P-384 only", curve[0] ? curve : "(unknown)");
    return false;
  }
  *detail = g_strdup_printf("the key is %s: ECDSA or RSA only",
                            EVP_PKEY_get0_type_name(key)
                              ? EVP_PKEY_get0_type_name(key) : "unknown");
  return false;
}

int
p2psig__dtls_cert_from_pem(const char *cert_pem, const char *key_pem,
                           struct p2psig_dtls_cert **out, char **detail)
{
  struct p2psig_dtls_cert *cert = g_new0(struct p2psig_dtls_cert, 1);
  BIO *bio;

  ERR_clear_error();
  bio = BIO_new_mem_buf(cert_pem, -1);
  cert->x509 = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  if (!cert->x509) {
    *detail = g_strdup("certificate_pem holds no PEM certificate");
    goto fail;
  }
  /* Without key_pem, the key follows the certificate in the same text. */
  bio = BIO_new_mem_buf(key_pem ? key_pem : cert_pem, -1);
  cert->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                  : NULL;
  BIO_free(bio);
  if (!cert->key) {
    *detail = g_strdup_printf("%s holds no PEM private key (or an "
                              "encrypted one)",
                              key_pem ? "private_key_pem" : "certificate_pem");
    goto fail;
  }
  if (!key_usable(cert->key, detail))
    goto fail;
  if (X509_check_private_key(cert->x509, cert->key) != 1) {
    *detail = g_strdup("the private key does not match the certificate");
    goto fail;
  }
  if (!compute_fingerprint(cert)) {
    *detail = g_strdup("cannot compute the certificate's fingerprint");
    goto fail;
  }
  ERR_clear_error();
  *out = cert;
  return 0;

fail:
  ERR_clear_error();
  p2psig__dtls_cert_free(cert);
  return P2PSIG_EINVAL;
}

/* A PEM text of what write() puts in a memory BIO; g_free. */
static char *
to_pem(int (*write)(BIO *bio, const void *object), const void *object)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  char *text = NULL;
  long len;

  if (bio && write(bio, object) == 1) {
    len = BIO_get_mem_data(bio, &data);
    if (len > 0)
      text = g_strndup(data, (gsize)len);
  }
  BIO_free(bio);
  return text;
}

static int
write_x509(BIO *bio, const void *x509)
{
  return PEM_write_bio_X509(bio, (X509 *)x509);
}

static int
write_key(BIO *bio, const void *key)
{
  /* PKCS #8, not encrypted. */
  return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)key, NULL, NULL, 0, NULL,
                                  NULL);
}

int
p2psig__dtls_cert_to_pem(const struct p2psig_dtls_cert *cert, char **cert_pem,
                         char **key_pem)
{
  ERR_clear_error();
  *cert_pem = to_pem(write_x509, cert->x509);
  if (key_pem)
    *key_pem = to_pem(write_key, cert->key);
  ERR_clear_error();
  if (!*cert_pem || (key_pem && !*key_pem)) {
    g_clear_pointer(cert_pem, g_free);
    if (key_pem)
      g_clear_pointer(key_pem, g_free);
    return P2PSIG_ENOMEM;
  }
  return 0;
}

void
p2psig__dtls_cert_free(struct p2psig_dtls_cert *cert)
{
  if (!cert)
    return;
  EVP_PKEY_free(cert->key);
  X509_free(cert->x509);
  g_free(cert);
}

const uint8_t *
p2psig__dtls_cert_fingerprint(const struct p2psig_dtls_cert *cert)
{
  return cert->fingerprint;
}

static void arm_timer(struct p2psig_dtls *dtls);

static void
fail(struct p2psig_dtls *dtls, int error)
{
  if (dtls->failed)
    return;
  dtls->failed = true;
  if (dtls->timer) {
    g_source_destroy(dtls->timer);
    g_clear_pointer(&dtls->timer, g_source_unref);
  }
  dtls->cbs.on_failed(dtls->data, error);
}

static bool
fingerprint_matches(struct p2psig_dtls *dtls, X509 *cert)
{
  uint8_t fp[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  return X509_digest(cert, EVP_sha256(), fp, &len) &&
         len == P2PSIG_FINGERPRINT_LEN &&
         CRYPTO_memcmp(fp, dtls->remote_fingerprint, len) == 0;
}

/* The verify callback has checked it already; check again after the
 * handshake so that no path can skip it. */
static bool
peer_certificate_matches(struct p2psig_dtls *dtls)
{
  X509 *peer = SSL_get1_peer_certificate(dtls->ssl);
  bool ok = peer && fingerprint_matches(dtls, peer);

  X509_free(peer);
  return ok;
}

/* Drives the handshake, then reads application data, until OpenSSL wants
 * more input. */
static void
process(struct p2psig_dtls *dtls)
{
  uint8_t buf[16384 + 256];

  if (dtls->failed)
    return;
  if (!dtls->connected) {
    int ret;

    ERR_clear_error();
    ret = SSL_do_handshake(dtls->ssl);
    if (ret == 1) {
      if (!peer_certificate_matches(dtls)) {
        g_debug("remote certificate does not match the SDP fingerprint");
        fail(dtls, P2PSIG_EFINGERPRINT);
        return;
      }
      dtls->connected = true;
      if (dtls->timer) {
        g_source_destroy(dtls->timer);
        g_clear_pointer(&dtls->timer, g_source_unref);
      }
      g_debug("handshake done (%s, %s)", dtls->client ? "client" : "server",
              SSL_get_cipher_name(dtls->ssl));
      dtls->cbs.on_connected(dtls->data);
      if (dtls->failed)
        return;
    } else {
      int err = SSL_get_error(dtls->ssl, ret);

      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        log_openssl_errors("handshake");
        fail(dtls, dtls->fingerprint_mismatch ? P2PSIG_EFINGERPRINT
                                              : P2PSIG_EDTLS);
        return;
      }
      arm_timer(dtls);
      return;
    }
  }
  /* Once per datagram, not per record: SSL_get_error() below must see only
   * what SSL_read() left, and the queue lookup is what records cost most
   * after the cipher. */
  ERR_clear_error();
  for (;;) {
    int n = SSL_read(dtls->ssl, buf, sizeof buf);

    if (n > 0) {
      dtls->cbs.on_data(dtls->data, buf, (size_t)n);
      if (dtls->failed || !dtls->ssl)
        return;
      /* The datagram is used up (read-ahead took it whole): another
       * SSL_read() would only fail with WANT_READ. */
      if (!dtls->in_buf && !SSL_has_pending(dtls->ssl))
        return;
      continue;
    }
    switch (SSL_get_error(dtls->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return;
    case SSL_ERROR_ZERO_RETURN:
      g_debug("close_notify received");
      dtls->cbs.on_closed(dtls->data);
      return;
    default:
      /* A damaged or forged record is dropped by OpenSSL without an
       * error; what gets here is fatal for the association. */
      log_openssl_errors("read");
      fail(dtls, P2PSIG_EDTLS);
      return;
    }
  }
}

static gboolean
on_timer(gpointer user_data)
{
  struct p2psig_dtls *dtls = user_data;

  g_clear_pointer(&dtls->timer, g_source_unref);
  ERR_clear_error();
  if (DTLSv1_handle_timeout(dtls->ssl) < 0) {
    log_openssl_errors("timeout");
    fail(dtls, P2PSIG_ETIMEDOUT);
    return G_SOURCE_REMOVE;
  }
  arm_timer(dtls);
  return G_SOURCE_REMOVE;
}

static void
arm_timer(struct p2psig_dtls *dtls)
{
  struct timeval tv;
  unsigned ms;

  if (dtls->timer || dtls->connected || dtls->failed)
    return;
  if (!DTLSv1_get_timeout(dtls->ssl, &tv))
    return;
  ms = (unsigned)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  dtls->timer = p2psig__loop_timeout(dtls->loop, ms, on_timer, dtls, NULL);
}

/* OpenSSL starts retransmitting a lost flight after one second and doubles
 * up to a minute: on a link that loses packets that stalls the handshake
 * for many seconds.  Start at 100 ms (WebRTC stacks use 50 to 100), cap at
 * 3 s. */
static unsigned int
retransmit_timer(SSL *ssl, unsigned int previous_us)
{
  if (previous_us == 0)
    return 100 * 1000;
  return MIN(previous_us * 2, 3 * 1000 * 1000);
}

struct p2psig_dtls *
p2psig__dtls_new(struct p2psig_loop *loop, const struct p2psig_dtls_cert *cert,
                 bool client,
                 const uint8_t remote_fingerprint[P2PSIG_FINGERPRINT_LEN],
                 const struct p2psig_dtls_callbacks *cbs, void *data)
{
  struct p2psig_dtls *dtls;
  SSL_CTX *ctx = get_ctx();

  if (!ctx)
    return NULL;
  dtls = g_new0(struct p2psig_dtls, 1);
  dtls->loop = loop;
  dtls->client = client;
  dtls->cbs = *cbs;
  dtls->data = data;
  memcpy(dtls->remote_fingerprint, remote_fingerprint,
         P2PSIG_FINGERPRINT_LEN);
  ERR_clear_error();
  dtls->ssl = SSL_new(ctx);
  dtls->bio = BIO_new(bio_method);
  if (!dtls->ssl || !dtls->bio ||
      SSL_use_certificate(dtls->ssl, cert->x509) != 1 ||
      SSL_use_PrivateKey(dtls->ssl, cert->key) != 1) {
    log_openssl_errors("setup");
    BIO_free(dtls->bio);
    SSL_free(dtls->ssl);
    g_free(dtls);
    return NULL;
  }
  BIO_set_data(dtls->bio, dtls);
  SSL_set_app_data(dtls->ssl, dtls);
  SSL_set_bio(dtls->ssl, dtls->bio, dtls->bio);
  SSL_set_mtu(dtls->ssl, DTLS_MTU);
  DTLS_set_timer_cb(dtls->ssl, retransmit_timer);
  DTLS_set_link_mtu(dtls->ssl, DTLS_MTU);
  if (client)
    SSL_set_connect_state(dtls->ssl);
  else
    SSL_set_accept_state(dtls->ssl);
  return dtls;
}

void
p2psig__dtls_free(struct p2psig_dtls *dtls)
{
  if (!dtls)
    return;
  if (dtls->timer) {
    g_source_destroy(dtls->timer);
    g_source_unref(dtls->timer);
  }
  SSL_free(dtls->ssl); /* frees the BIO too */
  g_free(dtls);
}

void
p2psig__dtls_start(struct p2psig_dtls *dtls)
{
  process(dtls);
}

void
p2psig__dtls_feed(struct p2psig_dtls *dtls, const uint8_t *buf, size_t len)
{
  if (dtls->failed)
    return;
  dtls->in_buf = buf;
  dtls->in_len = len;
  process(dtls);
  /* Never keep a pointer to the caller's buffer past this call. */
  dtls->in_buf = NULL;
  dtls->in_len = 0;
}

int
p2psig__dtls_send(struct p2psig_dtls *dtls, const uint8_t *buf, size_t len)
{
  int n;

  if (!dtls->connected || dtls->failed)
    return P2PSIG_ESTATE;
  /* No ERR_clear_error(): a failure is fatal whatever SSL_get_error()
   * would say, and its queue is drained into the log. */
  n = SSL_write(dtls->ssl, buf, (int)len);
  if (n <= 0) {
    log_openssl_errors("write");
    return P2PSIG_EDTLS;
  }
  return 0;
}

void
p2psig__dtls_shutdown(struct p2psig_dtls *dtls)
{
  if (!dtls->connected || dtls->failed)
    return;
  ERR_clear_error();
  SSL_shutdown(dtls->ssl);
  ERR_clear_error();
}
