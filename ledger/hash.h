/* ledger/hash.h: SHA-256 (OpenSSL libcrypto) and BIP340 tagged hashes.
 *
 * Everything here is allocation-free and thread-safe: contexts live on the
 * caller's stack. */
#ifndef PERMIT_LEDGER_HASH_H
#define PERMIT_LEDGER_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_HASH_LEN 32

/* Opaque-sized incremental SHA-256 state (large enough for OpenSSL's). */
typedef struct {
    uint64_t opaque[16];
} ledger_sha256_ctx;

void ledger_sha256_init(ledger_sha256_ctx *c);
void ledger_sha256_update(ledger_sha256_ctx *c, const void *data, size_t len);
void ledger_sha256_final(ledger_sha256_ctx *c, uint8_t out[32]);

/* out = SHA-256(data). */
void ledger_sha256(const void *data, size_t len, uint8_t out[32]);

/* A tagged-hash prefix: SHA-256 state after absorbing
 * SHA-256(tag) || SHA-256(tag), as BIP340 defines. Computed once per tag. */
typedef struct {
    ledger_sha256_ctx mid;
} ledger_tag;

void ledger_tag_init(ledger_tag *t, const char *tag);

/* Start a tagged hash: c continues from the tag's midstate. */
void ledger_tag_start(const ledger_tag *t, ledger_sha256_ctx *c);

/* out = TaggedHash(tag, data) in one call. */
void ledger_tagged_hash(const ledger_tag *t, const void *data, size_t len,
                        uint8_t out[32]);

/* Constant-time comparison of n bytes: 1 when equal, 0 otherwise. */
int ledger_ct_equal(const void *a, const void *b, size_t n);

#endif
