/* ledger/hex.h: hexadecimal and base64 conversions with explicit bounds. */
#ifndef PERMIT_LEDGER_HEX_H
#define PERMIT_LEDGER_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*n lowercase hex digits and a NUL to out (size >= 2*n + 1). */
void ledger_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decode exactly `n` bytes from the hex string `s` (either case, no
 * whitespace, strlen(s) must equal 2*n).  Returns 0 or -1. */
int ledger_hex_decode_exact(const char *s, uint8_t *out, size_t n);

/* Decode a hex string of even length into out (capacity cap); sets *outlen.
 * Returns -1 on a bad digit, odd length or overflow of cap. */
int ledger_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                      size_t *outlen);

/* Standard base64 (RFC 4648, with padding).  encode writes a NUL-terminated
 * string; out must hold ledger_b64_len(n) + 1 bytes. */
size_t ledger_b64_len(size_t n);
void ledger_b64_encode(const uint8_t *in, size_t n, char *out);

/* Strict decode (padding required, no whitespace).  Returns -1 on any invalid
 * character, bad padding or when the result would exceed cap. */
int ledger_b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                      size_t *outlen);

#endif
