/* ledger/merkle.c: RFC 6962 / RFC 9162 Merkle trees over stored perfect
 * subtrees.
 *
 * Every tree of `size` leaves that RFC 6962 describes splits at the largest
 * power of two below its width, so any subtree it names is either a perfect,
 * aligned subtree (one stored node) or a right-border range [lo, hi) whose lo
 * is a multiple of a power of two at least as wide as the range.  Such a range
 * is the fold of the perfect subtrees of the binary decomposition of its
 * width, all aligned, so it costs popcount(hi - lo) reads.  A descent from the
 * root meets at most one such partial range: once it steps into a left half,
 * everything below is perfect.  Roots, inclusion proofs and consistency proofs
 * therefore take O(log n) reads (at most about 2 * 64), never a scan, and work
 * for every historical size because no node is ever rewritten.
 *
 * The verifiers follow RFC 9162 2.1.3.2 and 2.1.4.2 step by step; the length
 * a proof must have is computed first (as transparency-dev/merkle does) so
 * that a refusal says why, and so that no entry past n is ever read. */
#include "merkle.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

_Static_assert(sizeof(unsigned long long) == sizeof(uint64_t),
               "the bit helpers assume a 64-bit unsigned long long");

/* ---- bit helpers ------------------------------------------------------- */

/* Number of significant bits: 0 for 0, 64 for values >= 2^63. */
static unsigned bit_len(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static unsigned pop_count(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

/* x must not be 0. */
static unsigned trailing_zeros(uint64_t x)
{
    return (unsigned)__builtin_ctzll(x);
}

/* RFC 6962's k: the largest power of two strictly below w (w >= 2). */
static uint64_t split_point(uint64_t w)
{
    return (uint64_t)1 << (bit_len(w - 1) - 1);
}

/* Hashes an inclusion proof of leaf `index` (< size) holds: the paths to index
 * and to size - 1 share their top; below the point where they part ("inner")
 * there is one sibling per level, above it one per left-hand subtree on the
 * right border ("border").  Never more than 64. */
static unsigned inclusion_len(uint64_t index, uint64_t size)
{
    unsigned inner = bit_len(index ^ (size - 1));
    unsigned border = inner < 64 ? pop_count(index >> inner) : 0;
    return inner + border;
}

/* Hashes a consistency proof between 0 < size1 < size2 holds: the inclusion
 * path of leaf size1 - 1 in the tree of size2, minus the levels inside the
 * perfect subtree that ends at size1 (its root stands in for them), plus that
 * root itself unless size1 is a power of two (then the verifier has it as
 * root1).  At most 65, for size2 > 2^63. */
static unsigned consistency_len(uint64_t size1, uint64_t size2)
{
    unsigned inner = bit_len((size1 - 1) ^ (size2 - 1));
    unsigned border = inner < 64 ? pop_count((size1 - 1) >> inner) : 0;
    unsigned shift = trailing_zeros(size1);
    assert(shift < inner); /* size1 < size2 leaves a differing bit above shift */
    unsigned start = (size1 & (size1 - 1)) == 0 ? 0u : 1u;
    return start + (inner - shift) + border;
}

size_t ledger_merkle_consistency_proof_len(uint64_t size1, uint64_t size2)
{
    assert(size1 > 0 && size1 <= size2);
    return size1 == size2 ? 0 : consistency_len(size1, size2);
}

/* ---- hashes ------------------------------------------------------------ */

void ledger_merkle_leaf_hash(const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t prefix = 0x00;
    ledger_sha256_ctx c;
    ledger_sha256_init(&c);
    ledger_sha256_update(&c, &prefix, 1);
    ledger_sha256_update(&c, data, len);
    ledger_sha256_final(&c, out);
}

/* out may alias left or right: both are absorbed before out is written. */
void ledger_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    static const uint8_t prefix = 0x01;
    ledger_sha256_ctx c;
    ledger_sha256_init(&c);
    ledger_sha256_update(&c, &prefix, 1);
    ledger_sha256_update(&c, left, 32);
    ledger_sha256_update(&c, right, 32);
    ledger_sha256_final(&c, out);
}

void ledger_merkle_empty_root(uint8_t out[32])
{
    ledger_sha256("", 0, out);
}

/* ---- frontier ---------------------------------------------------------- */

void ledger_merkle_frontier_init(merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

void ledger_merkle_frontier_append(merkle_frontier *f, const uint8_t leaf_hash[32],
                            merkle_put_fn put, void *ctx)
{
    /* A 64-bit size counts at most 2^64 - 1 leaves; carrying past that would
     * write nodes[64].  Not reachable by any real log, so a hard stop. */
    if (f->size == UINT64_MAX)
        abort();
    uint64_t pos = f->size; /* index of the new leaf */
    uint8_t h[32];
    memcpy(h, leaf_hash, 32);
    if (put != NULL)
        put(ctx, 0, pos, h);
    unsigned level = 0;
    /* Each trailing one bit of pos is a perfect subtree this leaf completes. */
    while ((pos >> level) & 1) {
        ledger_merkle_node_hash(f->nodes[level], h, h);
        /* the bit is cleared by the carry; zero the slot so that two frontiers
         * of the same log are byte-identical */
        memset(f->nodes[level], 0, 32);
        level++;
        if (put != NULL)
            put(ctx, level, pos >> level, h);
    }
    memcpy(f->nodes[level], h, 32);
    f->size = pos + 1;
}

void ledger_merkle_frontier_root(const merkle_frontier *f, uint8_t out[32])
{
    if (f->size == 0) {
        ledger_merkle_empty_root(out);
        return;
    }
    /* The root is H(P_high, H(..., H(P_2, P_low))): fold from the lowest
     * (rightmost) subtree upwards. */
    uint8_t acc[32];
    int have = 0;
    for (unsigned level = 0; level < MERKLE_MAX_LEVELS; level++) {
        if (!((f->size >> level) & 1))
            continue;
        if (have) {
            ledger_merkle_node_hash(f->nodes[level], acc, acc);
        } else {
            memcpy(acc, f->nodes[level], 32);
            have = 1;
        }
    }
    memcpy(out, acc, 32);
}

/* Root of leaves held in memory: the frontier's append without storage, so
 * the stack holds one hash per level (2 KiB) whatever n is. */
void ledger_merkle_root_of_leaves(const uint8_t (*leaves)[32], size_t n, uint8_t out[32])
{
    merkle_frontier f;
    ledger_merkle_frontier_init(&f);
    for (size_t i = 0; i < n; i++)
        ledger_merkle_frontier_append(&f, leaves[i], NULL, NULL);
    ledger_merkle_frontier_root(&f, out);
}

/* ---- reads from the store ---------------------------------------------- */

static int read_node(merkle_get_fn get, void *ctx, unsigned level, uint64_t index,
                     uint8_t out[32], ledger_err *err)
{
    if (get(ctx, level, index, out, err) == 0)
        return 0;
    char where[64];
    snprintf(where, sizeof where, "merkle node (%u, %" PRIu64 ")", level, index);
    ledger_err_prefix(err, where);
    return -1;
}

/* MTH of leaves [lo, hi), lo < hi, where lo is a multiple of a power of two
 * >= hi - lo (true of every range an RFC 6962 descent from the root meets).
 * The perfect subtrees of the decomposition of the width are then aligned;
 * they are folded from the right end so nothing has to be buffered. */
static int range_root(uint64_t lo, uint64_t hi, merkle_get_fn get, void *ctx,
                      uint8_t out[32], ledger_err *err)
{
    assert(lo < hi);
    uint64_t width = hi - lo;
    assert((lo & (((uint64_t)1 << (bit_len(width) - 1)) - 1)) == 0);
    uint64_t end = hi;
    uint8_t acc[32], h[32];
    int have = 0;
    for (unsigned level = 0; level < MERKLE_MAX_LEVELS; level++) {
        if (!((width >> level) & 1))
            continue;
        uint64_t start = end - ((uint64_t)1 << level);
        if (read_node(get, ctx, level, start >> level, h, err) != 0)
            return -1;
        if (have) {
            ledger_merkle_node_hash(h, acc, acc);
        } else {
            memcpy(acc, h, 32);
            have = 1;
        }
        end = start;
    }
    memcpy(out, acc, 32);
    return 0;
}

/* MTH of the perfect subtree [lo, lo + width), width a power of two. */
static int perfect_root(uint64_t lo, uint64_t width, merkle_get_fn get, void *ctx,
                        uint8_t out[32], ledger_err *err)
{
    assert(width != 0 && (width & (width - 1)) == 0);
    unsigned level = trailing_zeros(width);
    return read_node(get, ctx, level, lo >> level, out, err);
}

/* Proofs are gathered root first while descending; RFC 6962 lists them leaf
 * first. */
static void reverse_hashes(uint8_t (*p)[32], size_t n)
{
    uint8_t t[32];
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        memcpy(t, p[i], 32);
        memcpy(p[i], p[j - 1], 32);
        memcpy(p[j - 1], t, 32);
    }
}

int ledger_merkle_frontier_load(merkle_frontier *f, uint64_t size, merkle_get_fn get,
                         void *ctx, ledger_err *err)
{
    /* Built aside so that a failed read leaves *f untouched. */
    merkle_frontier tmp;
    ledger_merkle_frontier_init(&tmp);
    tmp.size = size;
    for (unsigned level = 0; level < MERKLE_MAX_LEVELS; level++) {
        if (!((size >> level) & 1))
            continue;
        /* the subtree for bit `level` is the last complete one on that level */
        if (read_node(get, ctx, level, (size >> level) - 1, tmp.nodes[level], err) != 0)
            return -1;
    }
    memcpy(f, &tmp, sizeof tmp);
    return 0;
}

int ledger_merkle_root_at(uint64_t size, merkle_get_fn get, void *ctx, uint8_t out[32],
                   ledger_err *err)
{
    if (size == 0) {
        ledger_merkle_empty_root(out);
        return 0;
    }
    return range_root(0, size, get, ctx, out, err);
}

/* ---- proofs ------------------------------------------------------------ */

/* PATH(m, D[0:size]) of RFC 6962 2.1.1, unrolled: at each split the sibling
 * half is recorded and the half holding the leaf is entered. */
int ledger_merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_get_fn get,
                           void *ctx, uint8_t (*proof)[32], size_t *n,
                           ledger_err *err)
{
    if (index >= size)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "no leaf %" PRIu64 " in a tree of %" PRIu64 " leaves",
                           index, size);
    uint64_t lo = 0, hi = size;
    size_t count = 0;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        uint64_t mid = lo + k;
        int rc;
        /* Each step at least halves the width, so 64 steps at most. */
        assert(count < MERKLE_MAX_PROOF);
        if (index < mid) {
            rc = range_root(mid, hi, get, ctx, proof[count], err);
            hi = mid;
        } else {
            rc = perfect_root(lo, k, get, ctx, proof[count], err);
            lo = mid;
        }
        if (rc != 0)
            return -1;
        count++;
    }
    assert(count == inclusion_len(index, size));
    reverse_hashes(proof, count);
    *n = count;
    return 0;
}

/* PROOF(m, D[0:size2]) of RFC 6962 2.1.2, unrolled.  `whole` is the RFC's b:
 * true while the range is still the tree of size1's own root, which the
 * verifier already holds. */
int ledger_merkle_consistency_proof(uint64_t size1, uint64_t size2, merkle_get_fn get,
                             void *ctx, uint8_t (*proof)[32], size_t *n,
                             ledger_err *err)
{
    if (size1 == 0 || size1 > size2)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "no consistency proof from %" PRIu64 " to %" PRIu64
                           " leaves: it needs 0 < size1 <= size2", size1, size2);
    if (size1 == size2) {
        *n = 0;
        return 0;
    }
    /* Only sizes past 2^63 can need 65 hashes; the proof buffer (and every
     * verifier) holds MERKLE_MAX_PROOF. */
    unsigned want = consistency_len(size1, size2);
    if (want > MERKLE_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "a consistency proof from %" PRIu64 " to %" PRIu64
                           " leaves needs %u hashes, more than %d",
                           size1, size2, want, MERKLE_MAX_PROOF);
    uint64_t lo = 0, hi = size2;
    size_t count = 0;
    int whole = 1;
    /* Invariant: lo < size1 <= hi. */
    for (;;) {
        int rc;
        assert(count < MERKLE_MAX_PROOF);
        if (size1 == hi) {
            if (whole)
                break;
            /* [lo, hi) lies inside a left half, so it is perfect */
            rc = perfect_root(lo, hi - lo, get, ctx, proof[count], err);
            if (rc != 0)
                return -1;
            count++;
            break;
        }
        uint64_t k = split_point(hi - lo);
        uint64_t mid = lo + k;
        if (size1 <= mid) {
            rc = range_root(mid, hi, get, ctx, proof[count], err);
            hi = mid;
        } else {
            rc = perfect_root(lo, k, get, ctx, proof[count], err);
            lo = mid;
            whole = 0;
        }
        if (rc != 0)
            return -1;
        count++;
    }
    assert(count == want);
    reverse_hashes(proof, count);
    *n = count;
    return 0;
}

/* ---- verification -------------------------------------------------------- */

int ledger_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[32],
                            const uint8_t (*proof)[32], size_t n,
                            const uint8_t root[32], ledger_err *err)
{
    assert(leaf_hash != NULL && root != NULL && (proof != NULL || n == 0));
    if (n > MERKLE_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "inclusion proof has %zu hashes; no 64-bit tree needs more than %d",
                           n, MERKLE_MAX_PROOF);
    /* RFC 9162 2.1.3.2 step 1 */
    if (index >= size)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "leaf index %" PRIu64 " is not below the tree size %" PRIu64,
                           index, size);
    unsigned want = inclusion_len(index, size);
    if (n != want)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "inclusion proof has %zu hashes; leaf %" PRIu64
                           " of a tree of %" PRIu64 " leaves needs %u",
                           n, index, size, want);
    /* steps 2 to 4 */
    uint64_t fn = index, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "inclusion proof reaches the root after %zu of %zu hashes",
                               i, n);
        if ((fn & 1) || fn == sn) {
            ledger_merkle_node_hash(proof[i], r, r);
            /* fn is the last node of its level: climb past the levels where
             * it has no right sibling */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ledger_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* step 5 */
    if (sn != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "inclusion proof of %zu hashes stops below the root", n);
    if (memcmp(r, root, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "inclusion proof of leaf %" PRIu64 " does not lead to the root"
                           " of the tree of %" PRIu64 " leaves", index, size);
    return 0;
}

int ledger_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                              const uint8_t root1[32], const uint8_t root2[32],
                              const uint8_t (*proof)[32], size_t n,
                              ledger_err *err)
{
    assert(root1 != NULL && root2 != NULL && (proof != NULL || n == 0));
    if (n > MERKLE_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "consistency proof has %zu hashes, more than %d",
                           n, MERKLE_MAX_PROOF);
    if (size1 > size2)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "tree size went back from %" PRIu64 " to %" PRIu64,
                           size1, size2);
    /* RFC 9162 defines the proof for 0 < size1 only; every tree extends the
     * empty one, so a "proof" from size 0 proves nothing and is refused
     * rather than accepted on no evidence. */
    if (size1 == 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "a consistency proof from the empty tree proves nothing");
    if (size1 == size2) {
        if (n != 0)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "equal tree sizes take an empty proof, not %zu hashes", n);
        if (memcmp(root1, root2, 32) != 0)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "two different roots for the tree of %" PRIu64 " leaves",
                               size1);
        return 0;
    }
    /* step 1 */
    if (n == 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "empty consistency proof from %" PRIu64 " to %" PRIu64 " leaves",
                           size1, size2);
    unsigned want = consistency_len(size1, size2);
    if (n != want)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "consistency proof has %zu hashes; %" PRIu64 " to %" PRIu64
                           " leaves needs %u", n, size1, size2, want);
    /* step 2: rather than prepend root1 to a copy, start from it */
    size_t i = 0;
    const uint8_t *seed = root1;
    if ((size1 & (size1 - 1)) != 0)
        seed = proof[i++];
    /* steps 3 to 5 */
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, seed, 32);
    memcpy(sr, seed, 32);
    /* step 6 */
    for (; i < n; i++) {
        if (sn == 0)
            return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                               "consistency proof reaches the root before hash %zu of %zu",
                               i, n);
        if ((fn & 1) || fn == sn) {
            ledger_merkle_node_hash(proof[i], fr, fr);
            ledger_merkle_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ledger_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* step 7 */
    if (sn != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "consistency proof of %zu hashes stops below the root", n);
    if (memcmp(fr, root1, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "consistency proof does not lead to the root of the first"
                           " tree (%" PRIu64 " leaves)", size1);
    if (memcmp(sr, root2, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, NULL,
                           "consistency proof does not lead to the root of the second"
                           " tree (%" PRIu64 " leaves)", size2);
    return 0;
}
