/* ledger/smt_page.h: what smt.c and smt_tree.c share about pages in their
 * working form (smt.h).  Private to the state tree: not part of the
 * ledger's interface. */
#ifndef PERMIT_LEDGER_SMT_PAGE_H
#define PERMIT_LEDGER_SMT_PAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smt.h"

enum { T_LEAF = 0x00, T_INNER = 0x01, T_EMPTY = 0x02, T_REF = 0x03 };

#define W_LEAF 97   /* tag, hash, key, value */
#define W_INNER 36  /* tag, hash, subtree length (u16), references (u8); children follow */
#define W_REF 33    /* tag, hash */

static inline int is_empty(const uint8_t h[32])
{
    static const uint8_t zero[32];
    return memcmp(h, zero, 32) == 0;
}

/* 1 when the first `bits` bits of a and b agree. */
static inline int same_prefix(const uint8_t a[32], const uint8_t b[32], unsigned bits)
{
    unsigned bytes = bits >> 3, rest = bits & 7;
    if (memcmp(a, b, bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

static inline void hex8(const uint8_t h[32], char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[16] = '\0';
}

/* ---- working-form pages ------------------------------------------------------
 *
 * Pages in working form come from this file or from ledger_smt_page_parse, so their
 * layout is trusted; the walkers still stop at the end of the buffer. */

static inline unsigned rd16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* The end of the node at p (NULL when the page is cut short). */
static inline const uint8_t *w_skip(const uint8_t *p, const uint8_t *end)
{
    size_t n;
    if (p >= end)
        return NULL;
    switch (*p) {
    case T_LEAF:
        n = W_LEAF;
        break;
    case T_EMPTY:
        n = 1;
        break;
    case T_REF:
        n = W_REF;
        break;
    case T_INNER:
        if (end - p < W_INNER)
            return NULL;
        n = rd16(p + 33);
        if (n < W_INNER + 2)
            return NULL;
        break;
    default:
        return NULL;
    }
    return (size_t)(end - p) >= n ? p + n : NULL;
}

/* References to pages below in the node at p. */
static inline unsigned w_refs(const uint8_t *p)
{
    return *p == T_REF ? 1u : *p == T_INNER ? p[35] : 0u;
}

/* The hash of the node at p. */
static inline const uint8_t *w_hash(const uint8_t *p)
{
    return *p == T_EMPTY ? LEDGER_SMT_EMPTY : p + 1;
}

/* A page being written: its bytes and the pages its references lead to. */
typedef struct {
    uint8_t b[SMT_PAGE_MAX];
    size_t n;
    smt_page *child[16];
    unsigned n_child;
} wbuf;

static inline void wb_put(wbuf *w, const void *p, size_t n)
{
    /* a page is at most 31 nodes; the layout bounds it below SMT_PAGE_MAX */
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void wb_leaf(wbuf *w, const uint8_t key[32], const uint8_t value[32], uint8_t out[32])
{
    uint8_t *p = w->b + w->n;
    ledger_smt_leaf_hash(key, value, out);
    p[0] = T_LEAF;
    memcpy(p + 1, out, 32);
    memcpy(p + 33, key, 32);
    memcpy(p + 65, value, 32);
    w->n += W_LEAF;
}

static inline void wb_ref(wbuf *w, const uint8_t h[32], smt_page *child)
{
    w->b[w->n] = T_REF;
    memcpy(w->b + w->n + 1, h, 32);
    w->n += W_REF;
    w->child[w->n_child++] = child;
}

/* Begin an inner node: hash, length and references are filled in by
 * wb_inner_end once the children are written. */
static inline size_t wb_inner_begin(wbuf *w, unsigned *refs_before)
{
    size_t at = w->n;
    w->b[at] = T_INNER;
    w->n += W_INNER;
    *refs_before = w->n_child;
    return at;
}

static inline void wb_inner_end(wbuf *w, size_t at, unsigned refs_before, const uint8_t l[32],
                         const uint8_t r[32], uint8_t out[32])
{
    ledger_smt_inner_hash(l, r, out);
    uint8_t *p = w->b + at;
    size_t len = w->n - at;
    memcpy(p + 1, out, 32);
    p[33] = (uint8_t)(len >> 8);
    p[34] = (uint8_t)len;
    p[35] = (uint8_t)(w->n_child - refs_before);
}

/* Read a page, insisting that it exists (smt.c). */
int ledger_smt_read_page(const smt_store *st, const uint8_t h[32], unsigned depth, uint8_t *page,
                  size_t *len, ledger_err *err);

#endif
