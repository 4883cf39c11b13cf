#include "codec.h"

#include <stdlib.h>
#include <string.h>

void ledger_lbuf_init(lbuf *b, size_t max)
{
    b->buf = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->err = 0;
}

void ledger_lbuf_free(lbuf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

void ledger_lbuf_reset(lbuf *b)
{
    b->len = 0;
    b->err = 0;
}

uint8_t *ledger_lbuf_take(lbuf *b, size_t *len)
{
    uint8_t *p = b->buf;
    if (len)
        *len = b->len;
    b->buf = NULL;
    b->len = b->cap = 0;
    return p;
}

static int lbuf_reserve(lbuf *b, size_t n)
{
    if (b->err)
        return -1;
    if (n > b->max - b->len || b->len > b->max) {
        b->err = 1;
        return -1;
    }
    if (b->len + n <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + n)
        nc *= 2;
    if (nc > b->max)
        nc = b->max;
    uint8_t *nb = realloc(b->buf, nc ? nc : 1);
    if (nb == NULL) {
        b->err = 1;
        return -1;
    }
    b->buf = nb;
    b->cap = nc;
    return 0;
}

void ledger_lbuf_put(lbuf *b, const void *p, size_t n)
{
    if (n == 0 || lbuf_reserve(b, n) != 0)
        return;
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

void ledger_lbuf_u8(lbuf *b, uint8_t v)
{
    ledger_lbuf_put(b, &v, 1);
}

void ledger_lbuf_u16(lbuf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ledger_lbuf_put(b, t, 2);
}

void ledger_lbuf_u32(lbuf *b, uint32_t v)
{
    uint8_t t[4];
    ledger_be32(t, v);
    ledger_lbuf_put(b, t, 4);
}

void ledger_lbuf_u64(lbuf *b, uint64_t v)
{
    uint8_t t[8];
    ledger_be64(t, v);
    ledger_lbuf_put(b, t, 8);
}

void ledger_lbuf_strn(lbuf *b, const char *s, size_t n)
{
    if (n > 0xffff) {
        b->err = 1;
        return;
    }
    ledger_lbuf_u16(b, (uint16_t)n);
    ledger_lbuf_put(b, s, n);
}

void ledger_lbuf_str(lbuf *b, const char *s)
{
    ledger_lbuf_strn(b, s ? s : "", s ? strlen(s) : 0);
}

void ledger_lbuf_bytes(lbuf *b, const void *p, size_t n)
{
    if (n > 0xffffffffu) {
        b->err = 1;
        return;
    }
    ledger_lbuf_u32(b, (uint32_t)n);
    ledger_lbuf_put(b, p, n);
}

void ledger_lrd_init(lrd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

static const uint8_t *lrd_take(lrd *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t ledger_lrd_u8(lrd *r)
{
    const uint8_t *p = lrd_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t ledger_lrd_u16(lrd *r)
{
    const uint8_t *p = lrd_take(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t ledger_lrd_u32(lrd *r)
{
    const uint8_t *p = lrd_take(r, 4);
    return p ? ledger_rd_be32(p) : 0;
}

uint64_t ledger_lrd_u64(lrd *r)
{
    const uint8_t *p = lrd_take(r, 8);
    return p ? ledger_rd_be64(p) : 0;
}

void ledger_lrd_copy(lrd *r, void *out, size_t n)
{
    const uint8_t *p = lrd_take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

char *ledger_lrd_str(lrd *r, size_t max)
{
    size_t n = ledger_lrd_u16(r);
    if (r->err || n > max) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = lrd_take(r, n);
    if (p == NULL)
        return NULL;
    if (memchr(p, 0, n) != NULL) {
        r->err = 1;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        r->err = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

const uint8_t *ledger_lrd_bytes(lrd *r, size_t max, size_t *n)
{
    size_t len = ledger_lrd_u32(r);
    if (r->err || len > max) {
        r->err = 1;
        *n = 0;
        return NULL;
    }
    *n = len;
    return lrd_take(r, len);
}

int ledger_lrd_done(const lrd *r)
{
    return !r->err && r->off == r->len;
}

void ledger_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t ledger_rd_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

void ledger_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

uint32_t ledger_rd_be32(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
           (uint32_t)in[2] << 8 | in[3];
}
