/* ledger/codec.h: the canonical byte layouts of docs/formats.md are written
 * and read with these two helpers: fixed-width big-endian integers,
 * u16-length-prefixed strings and u32-length-prefixed byte strings.
 *
 * Both keep a sticky error flag so a sequence of calls is checked once at the
 * end.  The writer grows up to a caller-chosen maximum; the reader never reads
 * past its input. */
#ifndef PERMIT_LEDGER_CODEC_H
#define PERMIT_LEDGER_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;
    size_t len, cap, max;
    int err; /* set on allocation failure or when max would be exceeded */
} lbuf;

/* Start an empty buffer that refuses to grow past `max` bytes. */
void ledger_lbuf_init(lbuf *b, size_t max);
/* Free the buffer's memory (the lbuf itself is the caller's). */
void ledger_lbuf_free(lbuf *b);
/* Empty the buffer, keeping its memory. */
void ledger_lbuf_reset(lbuf *b);
/* Hand the bytes to the caller (who frees them); the lbuf is left empty. */
uint8_t *ledger_lbuf_take(lbuf *b, size_t *len);

void ledger_lbuf_put(lbuf *b, const void *p, size_t n);
void ledger_lbuf_u8(lbuf *b, uint8_t v);
void ledger_lbuf_u16(lbuf *b, uint16_t v);
void ledger_lbuf_u32(lbuf *b, uint32_t v);
void ledger_lbuf_u64(lbuf *b, uint64_t v);
/* u16 length then bytes; a string longer than 65535 bytes sets err. */
void ledger_lbuf_str(lbuf *b, const char *s);
void ledger_lbuf_strn(lbuf *b, const char *s, size_t n);
/* u32 length then bytes. */
void ledger_lbuf_bytes(lbuf *b, const void *p, size_t n);

typedef struct {
    const uint8_t *p;
    size_t len, off;
    int err; /* set when a read runs past the end or a value is invalid */
} lrd;

void ledger_lrd_init(lrd *r, const void *p, size_t len);
uint8_t ledger_lrd_u8(lrd *r);
uint16_t ledger_lrd_u16(lrd *r);
uint32_t ledger_lrd_u32(lrd *r);
uint64_t ledger_lrd_u64(lrd *r);
/* Copy n bytes into out (zero-filled on error). */
void ledger_lrd_copy(lrd *r, void *out, size_t n);
/* A u16-prefixed string as a freshly malloc'd NUL-terminated copy; refuses
 * strings longer than `max` or containing NUL.  NULL on error. */
char *ledger_lrd_str(lrd *r, size_t max);
/* A u32-prefixed byte string, pointing into the input (no copy); refuses
 * lengths over `max`. */
const uint8_t *ledger_lrd_bytes(lrd *r, size_t max, size_t *n);
/* 1 when everything was read without error and nothing is left over. */
int ledger_lrd_done(const lrd *r);

/* Big-endian helpers for keys. */
void ledger_be64(uint8_t out[8], uint64_t v);
uint64_t ledger_rd_be64(const uint8_t in[8]);
void ledger_be32(uint8_t out[4], uint32_t v);
uint32_t ledger_rd_be32(const uint8_t in[4]);

#endif
