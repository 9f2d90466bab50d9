/* SPDX-License-Identifier: MIT */
/*
 * Who may use the signaling, opt-in: a shared token, sent by the client
 * as a Bearer credential and checked by the server on every request once
 * its headers are in; and HTTPS, for the server (a certificate and key)
 * and the client (a CA file, or the system's trust store).  TLS itself is
 * GIO's, through glib-networking: this file checks and loads the files,
 * and says which TLS failures of ours are final.  The server's handshakes
 * are connections' work (signaling-conn.c).
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <string.h>

#include "signaling-private.h"

void
p2psig__signal_auth_init(struct p2psig_signaling *sig, const char *token)
{
  if (token) {
    sig->authorization = g_strconcat("Bearer ", token, NULL);
    sig->token_required = true;
    SHA256((const unsigned char *)token, strlen(token), sig->token_digest);
  }
}

void
p2psig__signal_auth_clear(struct p2psig_signaling *sig)
{
  if (sig->authorization) {
    OPENSSL_cleanse(sig->authorization, strlen(sig->authorization));
    g_free(sig->authorization);
  }
}

/* Why the request does not carry our token, or NULL when it does.  The
 * credential's SHA-256 digest is compared with that of the token, computed
 * once in p2psig_signaling_new(), by CRYPTO_memcmp(), which reads all 32
 * bytes whatever differs: the time taken depends on the length of what the
 * client sent, never on the token's length or on how much of it matched.
 * RFC 7235 section 2.1: the scheme is case-insensitive, then spaces. */
const char *
p2psig__signal_token_refusal(const struct p2psig_signaling *sig,
                             SoupMessageHeaders *headers, GHashTable *query,
                             const char **challenge)
{
  const char *value = soup_message_headers_get_one(headers, "Authorization");
  uint8_t digest[SHA256_DIGEST_LENGTH];

  /* RFC 6750 section 3.1: an error code only for a Bearer token sent. */
  *challenge = "Bearer realm=\"p2psig\"";
  /* Section 2.3: a browser opening the page cannot send a header. */
  if (!value && query && g_hash_table_lookup(query, "access_token")) {
    value = g_hash_table_lookup(query, "access_token");
  } else if (!value) {
    return "missing Authorization: Bearer token";
  } else if (g_ascii_strncasecmp(value, "Bearer ", 7) != 0) {
    return "Authorization is not a Bearer token";
  } else {
    for (value += 7; *value == ' '; value++)
      ;
  }
  SHA256((const unsigned char *)value, strlen(value), digest);
  if (CRYPTO_memcmp(digest, sig->token_digest, sizeof digest) == 0)
    return NULL;
  *challenge = "Bearer realm=\"p2psig\", error=\"invalid_token\"";
  return "wrong Bearer token";
}

/* A TLS failure that waiting will not fix: a remote certificate we do not
 * trust, a remote that answers in plain HTTP (GnuTLS: "unexpected TLS
 * packet", G_TLS_ERROR_MISC), no TLS backend.  A connection cut in the
 * middle (G_TLS_ERROR_EOF) may be the remote restarting, one cut during
 * the handshake (G_TLS_ERROR_NOT_TLS) the remote busy; connection errors
 * are G_IO_ERROR and retried. */
bool
p2psig__signal_tls_refused(const GError *error)
{
  /* GIO's G_TLS_ERROR_NOT_TLS is also a handshake that the remote cut
   * (premature termination, reset): a server shedding load does that,
   * ours when handshakes are over their cap or time. */
  return error->domain == G_TLS_ERROR && error->code != G_TLS_ERROR_EOF &&
         error->code != G_TLS_ERROR_NOT_TLS;
}

/* What GIO found wrong with the remote's certificate, the likeliest
 * first, for the report. */
const char *
p2psig__signal_certificate_problem(GTlsCertificateFlags flags)
{
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return " (not signed by a trusted CA: see tls_ca)";
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return " (it does not name the remote address's host)";
  if (flags & (G_TLS_CERTIFICATE_EXPIRED | G_TLS_CERTIFICATE_NOT_ACTIVATED))
    return " (outside its validity period)";
  return flags ? " (certificate refused)" : "";
}

/* A token is sent in a header: printable ASCII, no spaces (RFC 6750's
 * b64token is narrower; passphrases with punctuation are common). */
static bool
valid_token(const char *token)
{
  if (token[0] == '\0')
    return false;
  for (const char *p = token; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return false;
  return true;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *data)
{
  return 0; /* encrypted keys are not supported: never prompt */
}

/* GIO takes a key that is not the certificate's, and every handshake would
 * then fail: check the pair once here. */
static bool
key_matches(const char *certificate, const char *key_path)
{
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  unsigned long err;
  BIO *bio;
  bool ok;

  ERR_clear_error();
  if ((bio = BIO_new_file(certificate, "r"))) {
    cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
  }
  if ((bio = BIO_new_file(key_path, "r"))) {
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
  }
  ok = cert && key && X509_check_private_key(cert, key) == 1;
  while ((err = ERR_get_error()))
    g_debug("OpenSSL: %s", ERR_error_string(err, NULL));
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

/* Checks the access-control fields and reads the TLS files, on the
 * caller's thread rather than on the library's. */
int
p2psig__signal_load_security(const p2psig_signaling_config *cfg,
                             struct new_args *args)
{
  g_autoptr(GError) error = NULL;
  GList *cas;
  bool have_ca;

  if (cfg->token && !valid_token(cfg->token)) {
    p2psig__signal_new_fail(
        args,
        cfg->token[0]
            ? "the token holds a space, a control "
              "character or a non-ASCII byte: it goes in an HTTP header as "
              "printable ASCII"
            : "the token is empty");
    return P2PSIG_EINVAL;
  }
  if (!cfg->tls_certificate != !cfg->tls_key) {
    p2psig__signal_new_fail(args, "tls_certificate and tls_key go together");
    return P2PSIG_EINVAL;
  }
  if (cfg->tls_ca && !cfg->tls_remote) {
    p2psig__signal_new_fail(args, "tls_ca without tls_remote");
    return P2PSIG_EINVAL;
  }
  if (cfg->tls_certificate) {
    args->certificate = g_tls_certificate_new_from_files(
        cfg->tls_certificate, cfg->tls_key, &error);
    if (!args->certificate) {
      p2psig__signal_new_fail(args, "cannot use certificate %s with key %s: %s",
                              cfg->tls_certificate, cfg->tls_key,
                              error->message);
      return P2PSIG_EINVAL;
    }
    if (!key_matches(cfg->tls_certificate, cfg->tls_key)) {
      p2psig__signal_new_fail(args, "key %s is not that of certificate %s",
                              cfg->tls_key, cfg->tls_certificate);
      return P2PSIG_EINVAL;
    }
  }
  if (cfg->tls_ca) {
    /* GTlsFileDatabase wants an absolute path (else a warning, and
     * nothing is trusted). */
    g_autofree char *ca = g_canonicalize_filename(cfg->tls_ca, NULL);

    /* A file without a certificate would make an empty database, which
     * trusts nothing: say so now rather than at the first POST. */
    cas = g_tls_certificate_list_new_from_file(ca, &error);
    have_ca = cas != NULL;
    g_list_free_full(cas, g_object_unref);
    if (have_ca)
      args->ca = g_tls_file_database_new(ca, &error);
    if (!args->ca) {
      p2psig__signal_new_fail(args, "cannot use CA file %s: %s", cfg->tls_ca,
                              error ? error->message : "no certificate in it");
      return P2PSIG_EINVAL;
    }
  }
  return 0;
}
