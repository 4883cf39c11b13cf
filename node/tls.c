/* node/tls.c: the p2p TLS context and the exporter (tls.h). */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "handshake.h"
#include "ledger/keys.h"

/* The certificate is checked by no one; its validity only has to cover
 * the life of the process for the sake of tools that look at it. */
#define CERT_DAYS (10L * 365)

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    uint64_t serial;
    if (x == NULL || ledger_random(&serial, sizeof serial) != 0)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), CERT_DAYS * 86400L) || name == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"permitd",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

struct ssl_ctx_st *node_tls_ctx_new(ledger_err *err)
{
    SSL_CTX *ctx = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL || (cert = self_signed(key)) == NULL) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "p2p: cannot make a TLS key and certificate");
        goto out;
    }
    ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 || !SSL_CTX_set_num_tickets(ctx, 0)) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "p2p: cannot set up TLS 1.3");
        SSL_CTX_free(ctx);
        ctx = NULL;
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* a peer that goes away without a TLS close_notify has closed the link
     * (frames carry their own length, so a cut is seen at that level) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
out:
    X509_free(cert); /* the context holds its own references */
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ctx;
}

void node_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

int node_tls_exporter(struct ssl_st *ssl, uint8_t out[32])
{
    if (ssl == NULL || !SSL_is_init_finished(ssl) || SSL_version(ssl) != TLS1_3_VERSION)
        return -1;
    const char *label = NODE_HS_EXPORTER_LABEL;
    if (SSL_export_keying_material(ssl, out, NODE_HS_EXPORTER_LEN, label, strlen(label), NULL,
                                   0, 0) != 1) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

const char *node_tls_reason(unsigned long code)
{
    if (ERR_GET_LIB(code) == 0)
        return NULL; /* libevent also stores SSL_get_error() codes here */
    return ERR_reason_error_string(code);
}
