/* ledger/sha256.h: SHA-256 (FIPS 180-4) written here, for builds without
 * OpenSSL: the browser verifier (wasm/) compiles ledger/hash.c with
 * PERMIT_OWN_SHA256 so that it runs on this instead of libcrypto.  The
 * native build keeps OpenSSL (faster) and tests this one against it
 * (tests/test_crypto.c). */
#ifndef PERMIT_LEDGER_SHA256_H
#define PERMIT_LEDGER_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;     /* message length so far */
    uint8_t buf[64];    /* the partial block */
    size_t n;           /* bytes in buf (< 64) */
} ledger_sha256_own;

void ledger_sha256_own_init(ledger_sha256_own *c);
/* data may be NULL when len is 0. */
void ledger_sha256_own_update(ledger_sha256_own *c, const void *data, size_t len);
/* Writes the digest; c must be initialised again before reuse. */
void ledger_sha256_own_final(ledger_sha256_own *c, uint8_t out[32]);

#endif
