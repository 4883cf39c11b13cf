/* ledger/keys.h: secp256k1 keys and BIP340 Schnorr signatures.
 *
 * Secret keys are 32 bytes; public keys are 32-byte x-only keys as BIP340
 * defines.  A key file holds the secret key as 64 hex digits and a newline,
 * mode 0600; reading refuses a file that group or others can read. */
#ifndef PERMIT_LEDGER_KEYS_H
#define PERMIT_LEDGER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint8_t sec[32];
    uint8_t pub[32]; /* x-only */
} ledger_keypair;

/* A parsed x-only public key, ready for fast verification (opaque bytes of
 * secp256k1_xonly_pubkey). */
typedef struct {
    uint8_t raw[32];      /* the serialized key */
    uint8_t parsed[64];   /* secp256k1_xonly_pubkey */
} ledger_pubkey;

/* The process-wide secp256k1 context (created on first use, thread-safe for
 * verification and signing; randomised once from the OS RNG). */
const void *ledger_secp_ctx(void);

/* Fill buf with n bytes from the OS RNG (getrandom).  Returns 0 or -1. */
int ledger_random(void *buf, size_t n) LEDGER_WUR;

/* Generate a fresh key pair from the OS RNG. */
int ledger_keygen(ledger_keypair *kp, ledger_err *err) LEDGER_WUR;

/* Derive the key pair of a 32-byte secret; -1 if the secret is not a valid
 * secp256k1 scalar. */
int ledger_keypair_from_secret(ledger_keypair *kp, const uint8_t sec[32],
                               ledger_err *err) LEDGER_WUR;

/* Wipe the secret. */
void ledger_keypair_wipe(ledger_keypair *kp);

/* Parse a 32-byte x-only public key; -1 if it is not on the curve. */
int ledger_pubkey_parse(ledger_pubkey *pk, const uint8_t raw[32]) LEDGER_WUR;

/* BIP340 signature of a 32-byte message.  aux may be NULL (then 32 fresh
 * random bytes are used). */
int ledger_sign(const ledger_keypair *kp, const uint8_t msg[32],
                const uint8_t *aux32, uint8_t sig[64]) LEDGER_WUR;

/* BIP340 verification of a signature over an arbitrary-length message
 * (BIP340 permits any length; ours are 32 bytes).  1 valid, 0 invalid. */
int ledger_verify(const ledger_pubkey *pk, const uint8_t *msg, size_t msglen,
                  const uint8_t sig[64]);

/* Write a new key file at path (fails if it exists), mode 0600. */
int ledger_keyfile_write(const char *path, const ledger_keypair *kp,
                         ledger_err *err) LEDGER_WUR;

/* Read a key file; refuses files readable by group or others, files that are
 * not exactly 64 hex digits (optionally followed by a newline) and invalid
 * secrets. */
int ledger_keyfile_read(const char *path, ledger_keypair *kp,
                        ledger_err *err) LEDGER_WUR;

#endif
