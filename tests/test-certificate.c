/* SPDX-License-Identifier: MIT */
/*
 * A persistent DTLS certificate: the generated one exported as PEM and
 * loaded by other peers gives them its fingerprint, and a peer with a
 * loaded certificate (ECDSA, or RSA) connects; PEM that does not parse, a
 * key that does not match or of a kind DTLS peers do not take, an
 * encrypted key, or a key without a certificate fail p2psig_peer_new().
 */
#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p2psig/p2psig.h>
#include <string.h>

#include "testutil.h"

/* The a=fingerprint value of the peer's offer; g_free. */
static char *
offer_fingerprint(p2psig_peer *peer)
{
  char *sdp = NULL;
  const char *at;
  char *fp;

  g_assert_cmpint(p2psig_peer_create_offer(peer, &sdp), ==, 0);
  at = strstr(sdp, "a=fingerprint:sha-256 ");
  g_assert_nonnull(at);
  at += strlen("a=fingerprint:sha-256 ");
  fp = g_strndup(at, strcspn(at, "\r\n"));
  p2psig_free(sdp);
  return fp;
}

static p2psig_peer *
peer_with(const char *certificate, const char *key, int *error)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT,
                             .certificate_pem = certificate,
                             .private_key_pem = key };

  *error = 1;
  return p2psig_peer_new(&cfg, error);
}

static void
test_export_and_load(void)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer *first = p2psig_peer_new(&cfg, NULL);
  p2psig_peer *second, *third;
  char *certificate = NULL, *key = NULL, *again = NULL;
  g_autofree char *both = NULL;
  g_autofree char *fp1 = NULL, *fp2 = NULL, *fp3 = NULL;
  int error;

  g_assert_nonnull(first);
  g_assert_cmpint(p2psig_peer_get_certificate(first, &certificate, &key), ==,
                  0);
  g_assert_true(g_str_has_prefix(certificate, "-----BEGIN CERTIFICATE-----"));
  g_assert_true(g_str_has_prefix(key, "-----BEGIN PRIVATE KEY-----"));
  /* The certificate alone; the same each time. */
  g_assert_cmpint(p2psig_peer_get_certificate(first, &again, NULL), ==, 0);
  g_assert_cmpstr(again, ==, certificate);
  p2psig_free(again);
  g_assert_cmpint(p2psig_peer_get_certificate(first, NULL, NULL), ==,
                  P2PSIG_EINVAL);
  g_assert_cmpint(p2psig_peer_get_certificate(NULL, &again, NULL), ==,
                  P2PSIG_EINVAL);
  g_assert_null(again);

  /* Loaded from two texts, and from one holding both. */
  second = peer_with(certificate, key, &error);
  g_assert_cmpint(error, ==, 0);
  g_assert_nonnull(second);
  both = g_strconcat(certificate, key, NULL);
  third = peer_with(both, NULL, &error);
  g_assert_cmpint(error, ==, 0);
  g_assert_nonnull(third);
  fp1 = offer_fingerprint(first);
  fp2 = offer_fingerprint(second);
  fp3 = offer_fingerprint(third);
  g_assert_cmpuint(strlen(fp1), ==, 95);
  g_assert_cmpstr(fp1, ==, fp2);
  g_assert_cmpstr(fp1, ==, fp3);
  /* And exported again as loaded. */
  g_assert_cmpint(p2psig_peer_get_certificate(third, &again, NULL), ==, 0);
  g_assert_cmpstr(again, ==, certificate);

  p2psig_free(again);
  p2psig_free(certificate);
  p2psig_free(key);
  p2psig_peer_free(first);
  p2psig_peer_free(second);
  p2psig_peer_free(third);
}

/* A self-signed certificate of key, and a key of another, as PEM. */
struct pem {
  char *certificate;
  char *key;
};

static char *
bio_text(BIO *bio)
{
  char *data = NULL;
  long len = BIO_get_mem_data(bio, &data);
  char *text = g_strndup(data, (gsize)len);

  BIO_free(bio);
  return text;
}

static struct pem
make_pem(EVP_PKEY *key, const char *password)
{
  X509 *x509 = X509_new();
  BIO *bio;
  struct pem pem;

  g_assert_nonnull(key);
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509), 86400);
  X509_set_pubkey(x509, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC,
                             (const unsigned char *)"test", -1, -1, 0);
  X509_set_issuer_name(x509, X509_get_subject_name(x509));
  g_assert_cmpint(X509_sign(x509, key, EVP_PKEY_is_a(key, "ED25519")
                                         ? NULL : EVP_sha256()), >, 0);
  bio = BIO_new(BIO_s_mem());
  g_assert_cmpint(PEM_write_bio_X509(bio, x509), ==, 1);
  pem.certificate = bio_text(bio);
  bio = BIO_new(BIO_s_mem());
  if (password)
    g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, EVP_aes_128_cbc(),
                                             NULL, 0, NULL,
                                             (void *)password), ==, 1);
  else
    g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
                                             NULL), ==, 1);
  pem.key = bio_text(bio);
  X509_free(x509);
  EVP_PKEY_free(key);
  return pem;
}

static void
pem_clear(struct pem *pem)
{
  g_free(pem->certificate);
  g_free(pem->key);
}

/* The SHA-256 fingerprint of a PEM certificate as SDP writes it. */
static char *
pem_fingerprint(const char *pem)
{
  BIO *bio = BIO_new_mem_buf(pem, -1);
  X509 *x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  GString *s = g_string_new(NULL);

  g_assert_nonnull(x509);
  g_assert_cmpint(X509_digest(x509, EVP_sha256(), md, &len), ==, 1);
  for (unsigned int i = 0; i < len; i++)
    g_string_append_printf(s, "%s%02X", i ? ":" : "", md[i]);
  X509_free(x509);
  BIO_free(bio);
  return g_string_free(s, FALSE);
}

static void
refused(const char *certificate, const char *key, const char *what)
{
  int error;
  p2psig_peer *peer = peer_with(certificate, key, &error);

  g_test_message("%s", what);
  g_assert_null(peer);
  g_assert_cmpint(error, ==, P2PSIG_EINVAL);
}

static void
test_bad_inputs(void)
{
  struct pem ec = make_pem(EVP_EC_gen("P-256"), NULL);
  struct pem other = make_pem(EVP_EC_gen("P-256"), NULL);
  struct pem ed = make_pem(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL);
  struct pem p521 = make_pem(EVP_EC_gen("P-521"), NULL);
  struct pem small = make_pem(EVP_RSA_gen(1024), NULL);
  struct pem locked = make_pem(EVP_EC_gen("P-256"), "secret");
  g_autofree char *cut = g_strndup(ec.certificate,
                                   strlen(ec.certificate) / 2);
  int error;
  p2psig_peer *peer;

  /* What is good loads, and the SDP carries its SHA-256 fingerprint. */
  peer = peer_with(ec.certificate, ec.key, &error);
  g_assert_nonnull(peer);
  {
    g_autofree char *fp = offer_fingerprint(peer);
    g_autofree char *want = pem_fingerprint(ec.certificate);

    g_assert_cmpstr(fp, ==, want);
  }
  p2psig_peer_free(peer);

  refused("not PEM at all", ec.key, "garbage certificate");
  refused(cut, ec.key, "a certificate cut short");
  refused(ec.certificate, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                          "-----END PRIVATE KEY-----\n", "garbage key");
  refused(ec.certificate, NULL, "no key anywhere");
  refused(ec.certificate, other.key, "a key of another certificate");
  refused(ed.certificate, ed.key, "Ed25519");
  refused(p521.certificate, p521.key, "ECDSA on P-521");
  refused(small.certificate, small.key, "RSA of 1024 bits");
  refused(locked.certificate, locked.key, "an encrypted key");
  refused(NULL, ec.key, "a key without a certificate");
  pem_clear(&ec);
  pem_clear(&other);
  pem_clear(&ed);
  pem_clear(&p521);
  pem_clear(&small);
  pem_clear(&locked);
}

/* Two peers with loaded certificates connect, each seeing the other's
 * fingerprint: the one from an export on one side, an RSA one on the
 * other, the offer, which is the DTLS server here, so that an RSA cipher
 * suite is chosen. */
static void
test_connects(void)
{
  p2psig_peer_config cfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer *maker = p2psig_peer_new(&cfg, NULL);
  struct pem rsa = make_pem(EVP_RSA_gen(2048), NULL);
  struct pem exported = { NULL, NULL };
  p2psig_peer_config acfg = { P2PSIG_PEER_CONFIG_INIT };
  p2psig_peer_config ocfg = { P2PSIG_PEER_CONFIG_INIT,
                              .certificate_pem = rsa.certificate,
                              .private_key_pem = rsa.key };
  struct testutil_side offer, answer;

  g_assert_nonnull(maker);
  g_assert_cmpint(p2psig_peer_get_certificate(maker, &exported.certificate,
                                              &exported.key), ==, 0);
  p2psig_peer_free(maker);
  acfg.certificate_pem = exported.certificate;
  acfg.private_key_pem = exported.key;
  testutil_side_init(&offer, "offer", &answer, &ocfg);
  testutil_side_init(&answer, "answer", &offer, &acfg);
  testutil_open_pair(&offer, &answer);
  g_assert_cmpint(p2psig_channel_send_text(offer.channel, "hi"), ==, 0);
  TESTUTIL_WAIT(answer.messages->len == 1, 5000, "message");
  testutil_side_clear(&offer);
  testutil_side_clear(&answer);
  p2psig_free(exported.certificate);
  p2psig_free(exported.key);
  pem_clear(&rsa);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/certificate/export-and-load", test_export_and_load);
  g_test_add_func("/certificate/bad-inputs", test_bad_inputs);
  g_test_add_func("/certificate/connects", test_connects);
  return g_test_run();
}
