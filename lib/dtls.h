/* SPDX-License-Identifier: MIT */
/*
 * DTLS 1.2 with OpenSSL over the ICE transport: a self-signed ECDSA P-256
 * certificate per peer (or one loaded from PEM), the remote certificate
 * checked against the SDP's sha-256 fingerprint.
 */
#ifndef P2PSIG_DTLS_H
#define P2PSIG_DTLS_H

#include "internal.h"
#include "sdp.h"

struct p2psig_dtls_cert;

int p2psig__dtls_cert_new(struct p2psig_dtls_cert **out);
/* Loads a certificate and its key from PEM text (key_pem NULL: the key is
 * in cert_pem too): P2PSIG_EINVAL and a reason in *detail (g_free) for a
 * PEM that does not parse, a key that does not match, or one DTLS with
 * pion and browsers cannot use (ECDSA P-256 or P-384, RSA >= 2048). */
int p2psig__dtls_cert_from_pem(const char *cert_pem, const char *key_pem,
                               struct p2psig_dtls_cert **out, char **detail);
/* PEM texts of the certificate and (key_pem not NULL) of its key, PKCS #8
 * unencrypted; g_free. */
int p2psig__dtls_cert_to_pem(const struct p2psig_dtls_cert *cert,
                             char **cert_pem, char **key_pem);
void p2psig__dtls_cert_free(struct p2psig_dtls_cert *cert);
const uint8_t *p2psig__dtls_cert_fingerprint(const struct p2psig_dtls_cert *c);

/* Upcalls on the library thread with the lock held. */
struct p2psig_dtls_callbacks {
  void (*send)(void *data, const uint8_t *buf, size_t len);
  void (*on_connected)(void *data);
  void (*on_failed)(void *data, int error);
  void (*on_data)(void *data, const uint8_t *buf, size_t len);
  void (*on_closed)(void *data); /* close_notify received */
};

struct p2psig_dtls *
p2psig__dtls_new(struct p2psig_loop *loop, const struct p2psig_dtls_cert *cert,
                 bool client,
                 const uint8_t remote_fingerprint[P2PSIG_FINGERPRINT_LEN],
                 const struct p2psig_dtls_callbacks *cbs, void *data);
void p2psig__dtls_free(struct p2psig_dtls *dtls);
/* Sends the first flight (client) or waits for it (server). */
void p2psig__dtls_start(struct p2psig_dtls *dtls);
/* Feeds one received datagram. */
void p2psig__dtls_feed(struct p2psig_dtls *dtls, const uint8_t *buf,
                       size_t len);
int p2psig__dtls_send(struct p2psig_dtls *dtls, const uint8_t *buf,
                      size_t len);
/* Sends close_notify. */
void p2psig__dtls_shutdown(struct p2psig_dtls *dtls);

#endif
