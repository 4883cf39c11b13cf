/* The low-level SHA256_* interface is deprecated in OpenSSL 3 but is still
 * shipped, allocation-free and markedly faster than EVP for the 65-byte inputs
 * Merkle trees hash by the million. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "hash.h"

#include <string.h>

#ifdef PERMIT_OWN_SHA256
/* the browser verifier (wasm/): no OpenSSL there, the SHA-256 of sha256.c */
#include "sha256.h"

_Static_assert(sizeof(ledger_sha256_own) <= sizeof(ledger_sha256_ctx),
               "ledger_sha256_ctx too small for ledger_sha256_own");
#define SHA256_CTX ledger_sha256_own
#define SHA256_Init(c) ledger_sha256_own_init(c)
#define SHA256_Update(c, d, n) ledger_sha256_own_update((c), (d), (n))
#define SHA256_Final(out, c) ledger_sha256_own_final((c), (out))
#else
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(ledger_sha256_ctx),
               "ledger_sha256_ctx too small for SHA256_CTX");
#endif

void ledger_sha256_init(ledger_sha256_ctx *c)
{
    SHA256_Init((SHA256_CTX *)c->opaque);
}

void ledger_sha256_update(ledger_sha256_ctx *c, const void *data, size_t len)
{
    SHA256_Update((SHA256_CTX *)c->opaque, data, len);
}

void ledger_sha256_final(ledger_sha256_ctx *c, uint8_t out[32])
{
    SHA256_Final(out, (SHA256_CTX *)c->opaque);
}

void ledger_sha256(const void *data, size_t len, uint8_t out[32])
{
    /* not SHA256(): in OpenSSL 3 it goes through EVP_Q_digest, several
     * times slower for short inputs */
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, len);
    SHA256_Final(out, &c);
}

void ledger_tag_init(ledger_tag *t, const char *tag)
{
    uint8_t th[32];
    ledger_sha256(tag, strlen(tag), th);
    ledger_sha256_init(&t->mid);
    ledger_sha256_update(&t->mid, th, 32);
    ledger_sha256_update(&t->mid, th, 32);
}

void ledger_tag_start(const ledger_tag *t, ledger_sha256_ctx *c)
{
    memcpy(c, &t->mid, sizeof *c);
}

void ledger_tagged_hash(const ledger_tag *t, const void *data, size_t len,
                        uint8_t out[32])
{
    ledger_sha256_ctx c;
    ledger_tag_start(t, &c);
    ledger_sha256_update(&c, data, len);
    ledger_sha256_final(&c, out);
}

int ledger_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
