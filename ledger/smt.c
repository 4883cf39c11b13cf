/* ledger/smt.c: the sparse Merkle tree of license records (smt.h): hashes,
 * the page layouts, proofs and their verification, and the walk the
 * integrity check makes.  Updates and the tree in memory: smt_tree.c. */
#include "smt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "smt_page.h"

const uint8_t LEDGER_SMT_EMPTY[32] = {0};

void ledger_smt_leaf_hash(const uint8_t key[32], const uint8_t value[32], uint8_t out[32])
{
    uint8_t node[65];
    node[0] = 0x00;
    memcpy(node + 1, key, 32);
    memcpy(node + 33, value, 32);
    ledger_sha256(node, sizeof node, out);
}

void ledger_smt_inner_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    uint8_t node[65];
    node[0] = 0x01;
    memcpy(node + 1, left, 32);
    memcpy(node + 33, right, 32);
    ledger_sha256(node, sizeof node, out);
}

size_t ledger_smt_page_stored(const uint8_t *page, size_t len, uint8_t *out)
{
    const uint8_t *p = page, *end = page + len;
    size_t n = 0;
    while (p < end) {
        switch (*p) {
        case T_LEAF:
            out[n] = T_LEAF;
            memcpy(out + n + 1, p + 33, 64);
            n += 65;
            p += W_LEAF;
            break;
        case T_INNER:
            out[n++] = T_INNER;
            p += W_INNER;
            break;
        case T_REF:
            memcpy(out + n, p, W_REF);
            n += W_REF;
            p += W_REF;
            break;
        default:
            out[n++] = *p++;
        }
    }
    return n;
}

/* ---- parsing stored pages -------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
    wbuf *w;
    int bad;
} parser;

/* Parse the node at relative depth rel; writes its hash to out. */
static void parse_node(parser *ps, unsigned rel, uint8_t out[32])
{
    if (ps->bad || ps->p >= ps->end) {
        ps->bad = 1;
        return;
    }
    uint8_t tag = *ps->p++;
    size_t left = (size_t)(ps->end - ps->p);
    switch (tag) {
    case T_LEAF:
        if (left < 64) {
            ps->bad = 1;
            return;
        }
        wb_leaf(ps->w, ps->p, ps->p + 32, out);
        ps->p += 64;
        return;
    case T_EMPTY:
        if (rel == 0) { /* a page never is an empty subtree */
            ps->bad = 1;
            return;
        }
        ps->w->b[ps->w->n++] = T_EMPTY;
        memset(out, 0, 32);
        return;
    case T_REF:
        if (rel != SMT_PAGE_LEVELS || left < 32 || is_empty(ps->p)) {
            ps->bad = 1;
            return;
        }
        wb_ref(ps->w, ps->p, NULL);
        memcpy(out, ps->p, 32);
        ps->p += 32;
        return;
    case T_INNER: {
        if (rel >= SMT_PAGE_LEVELS) {
            ps->bad = 1;
            return;
        }
        unsigned before;
        size_t at = wb_inner_begin(ps->w, &before);
        uint8_t l[32], r[32];
        parse_node(ps, rel + 1, l);
        parse_node(ps, rel + 1, r);
        if (!ps->bad)
            wb_inner_end(ps->w, at, before, l, r, out);
        return;
    }
    }
    ps->bad = 1;
}

int ledger_smt_page_parse(const uint8_t h[32], unsigned depth, const uint8_t *stored, size_t len,
                   uint8_t *out, size_t *out_len, ledger_err *err)
{
    char hx[17];
    wbuf w;
    w.n = 0;
    w.n_child = 0;
    parser ps = {stored, stored + len, &w, 0};
    uint8_t root[32];
    if (len == 0 || len > SMT_STORED_PAGE_MAX)
        ps.bad = 1;
    else
        parse_node(&ps, 0, root);
    if (ps.bad || ps.p != ps.end) {
        hex8(h, hx);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "state tree page %s... (depth %u) is malformed", hx, depth);
    }
    if (memcmp(root, h, 32) != 0) {
        hex8(h, hx);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "state tree page %s... (depth %u) does not hash to its key", hx,
                           depth);
    }
    memcpy(out, w.b, w.n);
    *out_len = w.n;
    return 0;
}

/* Read a page, insisting that it exists. */
int ledger_smt_read_page(const smt_store *st, const uint8_t h[32], unsigned depth, uint8_t *page,
                     size_t *len, ledger_err *err)
{
    int r = st->get(st->ctx, h, depth, page, len, err);
    if (r < 0)
        return -1;
    if (r == 0 || *len == 0 || *len > SMT_PAGE_MAX) {
        char hx[17];
        hex8(h, hx);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "state tree page %s... (depth %u) is missing", hx, depth);
    }
    return 0;
}

/* ---- proofs -------------------------------------------------------------- */

int ledger_smt_prove(const uint8_t root[32], const uint8_t key[32], const smt_store *st,
              smt_proof *p, ledger_err *err)
{
    memset(p->leaf_key, 0, 32);
    memset(p->leaf_value, 0, 32);
    p->end = SMT_END_EMPTY;
    p->n_siblings = 0;
    if (is_empty(root))
        return 0;
    uint8_t page[SMT_PAGE_MAX], cur[32];
    size_t len;
    memcpy(cur, root, 32);
    unsigned depth = 0;
    for (;;) {
        if (ledger_smt_read_page(st, cur, depth, page, &len, err) != 0)
            return -1;
        const uint8_t *q = page, *end = page + len;
        for (;;) {
            if (q >= end)
                return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                   "state tree: a page is cut short at depth %u", depth);
            if (*q == T_LEAF) {
                if (end - q < W_LEAF)
                    return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                       "state tree: a page is cut short at depth %u", depth);
                p->n_siblings = depth;
                p->end = SMT_END_LEAF;
                memcpy(p->leaf_key, q + 33, 32);
                memcpy(p->leaf_value, q + 65, 32);
                return 0;
            }
            if (*q == T_EMPTY) {
                p->n_siblings = depth;
                p->end = SMT_END_EMPTY;
                return 0;
            }
            if (*q == T_REF && end - q >= W_REF) {
                memcpy(cur, q + 1, 32);
                break; /* the page below; same depth */
            }
            if (*q != T_INNER || depth >= SMT_MAX_PROOF)
                return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                   "state tree: a malformed page at depth %u", depth);
            const uint8_t *l = q + W_INNER, *r = w_skip(l, end);
            if (r == NULL || r >= end)
                return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                   "state tree: a page is cut short at depth %u", depth);
            unsigned bit = smt_bit(key, depth);
            memcpy(p->siblings[depth], w_hash(bit ? l : r), 32);
            q = bit ? r : l;
            depth++;
        }
    }
}

int ledger_smt_verify(const uint8_t root[32], const uint8_t key[32], const uint8_t *value,
               const smt_proof *p, ledger_err *err)
{
    size_t n = p->n_siblings;
    if (n > SMT_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "state proof has %zu siblings; a 256-bit key has at most %d levels",
                           n, SMT_MAX_PROOF);
    uint8_t h[32];
    if (p->end == SMT_END_EMPTY) {
        if (value != NULL)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "state proof ends in an empty subtree: the key is absent");
        memcpy(h, LEDGER_SMT_EMPTY, 32);
    } else if (p->end == SMT_END_LEAF) {
        int mine = memcmp(p->leaf_key, key, 32) == 0;
        if (value != NULL && !mine)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "state proof ends in the leaf of another key: the key is absent");
        if (value != NULL && memcmp(p->leaf_value, value, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "state proof holds another value for the key");
        if (value == NULL && mine)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "state proof ends in the key's own leaf: the key is present");
        if (value == NULL && !same_prefix(p->leaf_key, key, (unsigned)n))
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "state proof ends in a leaf whose key leaves the path above "
                               "depth %zu: it proves nothing about this key", n);
        ledger_smt_leaf_hash(p->leaf_key, p->leaf_value, h);
    } else {
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL, "state proof has no valid end");
    }
    /* a canonical tree never pairs a leaf or an empty subtree with an empty
     * sibling: their parent would hold at most one key */
    if (n > 0 && is_empty(p->siblings[n - 1]))
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "state proof is not canonical: an empty sibling at depth %zu", n);
    for (size_t i = n; i-- > 0;) {
        if (smt_bit(key, (unsigned)i))
            ledger_smt_inner_hash(p->siblings[i], h, h);
        else
            ledger_smt_inner_hash(h, p->siblings[i], h);
    }
    if (memcmp(h, root, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "state proof does not lead to the state root");
    return 0;
}

/* ---- walk ------------------------------------------------------------------ */

typedef struct {
    const smt_store *st;
    int (*fn)(void *, const uint8_t *, const uint8_t *, ledger_err *);
    void *ctx;
    ledger_err *err;
    uint8_t path[32];
} walk_ctx;

static int walk_page(walk_ctx *w, const uint8_t h[32], unsigned depth, int sibling_empty);

static void set_bit(uint8_t path[32], unsigned i, unsigned v)
{
    uint8_t mask = (uint8_t)(0x80u >> (i & 7));
    if (v)
        path[i >> 3] |= mask;
    else
        path[i >> 3] &= (uint8_t)~mask;
}

static int walk_node(walk_ctx *w, const uint8_t **pp, const uint8_t *end, unsigned depth,
                     int sibling_empty)
{
    const uint8_t *p = *pp;
    const uint8_t *q = w_skip(p, end);
    if (q == NULL)
        return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                           "state tree: a page is cut short at depth %u", depth);
    *pp = q;
    switch (*p) {
    case T_EMPTY:
        if (depth > 0 && sibling_empty)
            return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                               "state tree: an inner node with two empty children at depth %u",
                               depth - 1);
        return 0;
    case T_LEAF:
        if (depth > 0 && sibling_empty)
            return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                               "state tree: a leaf at depth %u has an empty sibling "
                               "(it should sit higher)", depth);
        if (!same_prefix(p + 33, w->path, depth))
            return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                               "state tree: a leaf at depth %u lies off its key's path", depth);
        return w->fn(w->ctx, p + 33, p + 65, w->err);
    case T_REF:
        return walk_page(w, p + 1, depth, sibling_empty);
    case T_INNER: {
        if (depth >= SMT_KEY_BITS)
            return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                               "state tree: an inner node below the last key bit");
        const uint8_t *l = p + W_INNER, *r = w_skip(l, end);
        if (r == NULL || r >= end)
            return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                               "state tree: a page is cut short at depth %u", depth);
        int le = *l == T_EMPTY, re = *r == T_EMPTY;
        const uint8_t *c = l;
        set_bit(w->path, depth, 0);
        if (walk_node(w, &c, end, depth + 1, re) != 0)
            return -1;
        set_bit(w->path, depth, 1);
        int rc = walk_node(w, &c, end, depth + 1, le);
        set_bit(w->path, depth, 0);
        return rc;
    }
    }
    return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                       "state tree: an unknown node at depth %u", depth);
}

static int walk_page(walk_ctx *w, const uint8_t h[32], unsigned depth, int sibling_empty)
{
    uint8_t page[SMT_PAGE_MAX];
    size_t len;
    if (ledger_smt_read_page(w->st, h, depth, page, &len, w->err) != 0)
        return -1;
    const uint8_t *p = page;
    if (walk_node(w, &p, page + len, depth, sibling_empty) != 0)
        return -1;
    if (p != page + len)
        return ledger_fail(w->err, LEDGER_ERR_INVALID, NULL,
                           "state tree: a page with trailing bytes at depth %u", depth);
    return 0;
}

int ledger_smt_walk(const uint8_t root[32], const smt_store *st,
             int (*fn)(void *ctx, const uint8_t key[32], const uint8_t value[32],
                       ledger_err *err),
             void *ctx, ledger_err *err)
{
    walk_ctx w;
    memset(&w, 0, sizeof w);
    w.st = st;
    w.fn = fn;
    w.ctx = ctx;
    w.err = err;
    if (is_empty(root))
        return 0;
    return walk_page(&w, root, 0, 0);
}
