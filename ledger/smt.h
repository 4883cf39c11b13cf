/* ledger/smt.h: the binary sparse Merkle tree behind state_root
 * (docs/formats.md, "State tree").
 *
 * Keys are 256-bit (k = SHA-256(license id)); bit 0 is the most significant
 * bit of k[0].  A subtree holding the set S of (key, value) pairs whose keys
 * share their first d bits hashes to
 *
 *   S empty        LEDGER_SMT_EMPTY (32 zero bytes)
 *   S = {(k, v)}   leaf  = SHA-256(0x00 || k || v)
 *   otherwise      inner = SHA-256(0x01 || hash(S0) || hash(S1)),
 *                  S0 / S1 the pairs whose bit d is 0 / 1
 *
 * so a leaf sits at the shortest prefix that tells its key from every other
 * (about log2 n deep) and no two trees of the same set hash differently.  A
 * value is SHA-256 of the license record.  The empty tree's root, the
 * state_root of height 0, is LEDGER_SMT_EMPTY.
 *
 * Storage is by pages, content-addressed: a page is the part of the tree
 * from a node at a depth that is a multiple of 4 down 4 levels (at most 15
 * inner nodes), with the leaves and empty subtrees in it inline and the inner
 * nodes 4 levels down as references to the pages below; it is stored under
 * its root node's hash (docs/formats.md gives the byte layout).  A path of
 * about 20 levels is then about 5 pages, and a block of 10,000 changes to a
 * tree of a million writes ~20,000 pages where one key per node would be
 * ~106,000, which is what RocksDB's write cost (per key) asks for, while
 * every hash and every proof is that of the plain binary tree above.  Updating never rewrites a page, so every root ever
 * committed stays provable.  Like merkle.h this code is storage-agnostic:
 * the caller supplies the page reader and writer.
 *
 * smt.c holds the hashes, the page layouts, proofs and the integrity walk;
 * smt_tree.c the updates and the tree kept in memory. */
#ifndef PERMIT_LEDGER_SMT_H
#define PERMIT_LEDGER_SMT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "workq.h"

#define SMT_KEY_BITS 256
#define SMT_MAX_PROOF 256    /* siblings in any proof: one per level */
#define SMT_PAGE_LEVELS 4    /* a page spans 4 levels */
/* A page in working form (below): at most 15 inner nodes of 36 bytes and
 * 16 leaves of 97. */
#define SMT_PAGE_MAX 2176
/* A page as stored: at most 15 inner tags and 16 leaves of 65 bytes. */
#define SMT_STORED_PAGE_MAX 1088

extern const uint8_t LEDGER_SMT_EMPTY[32];

/* Bit i (0 = most significant) of a 256-bit key. */
static inline unsigned smt_bit(const uint8_t key[32], unsigned i)
{
    return (key[i >> 3] >> (7 - (i & 7))) & 1u;
}

void ledger_smt_leaf_hash(const uint8_t key[32], const uint8_t value[32], uint8_t out[32]);
/* out may alias left or right. */
void ledger_smt_inner_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

/* Pages.  The stored form (what CF_SMT holds, docs/formats.md) is a
 * pre-order walk of the page's nodes:
 *
 *   0x00 || key || value     a leaf
 *   0x01 || left || right    an inner node less than 4 levels below the page root
 *   0x02                     an empty subtree
 *   0x03 || hash             an inner node 4 levels down: the root of the page below
 *
 * The working form, what the tree code uses in memory, carries each leaf's
 * and inner node's hash right after its tag (0x00 || hash || key || value),
 * and an inner node also the length in bytes of its whole subtree in the
 * page (u16) and the number of references in it (u8):
 * 0x01 || hash || length || refs || left || right.  So walking a page costs
 * no hashing and stepping over a subtree no parsing. */

/* The stored form of a working-form page; returns its length
 * (<= SMT_STORED_PAGE_MAX). */
size_t ledger_smt_page_stored(const uint8_t *page, size_t len, uint8_t *out);

/* Parse a stored page that must hash to h (a page whose root is at
 * `depth`, a multiple of 4) into working form (out: SMT_PAGE_MAX bytes).
 * Checks the layout strictly (tags, where inner nodes and references may
 * stand, no trailing bytes) and the root hash.  0, or -1 with err
 * (LEDGER_ERR_INVALID). */
int ledger_smt_page_parse(const uint8_t h[32], unsigned depth, const uint8_t *stored, size_t len,
                   uint8_t *out, size_t *out_len, ledger_err *err) LEDGER_WUR;

/* How the tree code reaches stored pages.
 *
 *  get       copies the page whose root hash is h (its root at `depth`, a
 *            multiple of 4) in working form into page (SMT_PAGE_MAX bytes);
 *            returns 1, 0 when there is no such page (then the store is
 *            corrupt or the root is not this tree's), -1 on I/O error (err);
 *  put       records a page an update created, in working form (may be NULL
 *            for a dry run), for the caller to store. */
typedef struct smt_page smt_page;

/* Where the pages a tree holds in memory live: a slab allocator (size
 * classes of 64 bytes, free lists, 1 MiB chunks kept for reuse), so that
 * the ~20,000 pages a block of 10,000 changes replaces cost no general
 * malloc.  Thread-safe (an update spreads over threads).  Free it after
 * releasing every tree that used it. */
typedef struct smt_mem smt_mem;

smt_mem *ledger_smt_mem_new(void);
void ledger_smt_mem_free(smt_mem *m);
/* Pages in use, and the bytes they take (with their class rounding). */
size_t ledger_smt_mem_pages(const smt_mem *m);
size_t ledger_smt_mem_bytes(const smt_mem *m);
/* Bytes held from the system (chunks), used or free. */
size_t ledger_smt_mem_reserved(const smt_mem *m);

typedef struct {
    int (*get)(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
               ledger_err *err);
    void (*put)(void *ctx, const uint8_t h[32], unsigned depth, const uint8_t *page,
                size_t len);
    void *ctx;
    smt_mem *mem;      /* where an update's pages live (required by ledger_smt_update_root) */
    uint64_t gen;      /* stamped on the pages an update creates */
    ledger_workq *par; /* helpers a large update spreads over (par.h); NULL: none */
} smt_store;

/* One change: set key to value. */
typedef struct {
    uint8_t key[32];
    uint8_t value[32];
} smt_update;

/* The tree in memory.  The caller keeps one tree, the head's, whose pages
 * not yet in memory are read through st->get when an update reaches them
 * (and stay attached to their parent page).  An update copies the pages on
 * the changed paths and shares every other page with the head's tree; it
 * records in `d` the pages it created and the pages of the head's tree its
 * result no longer uses.  The caller then either adopts the new tree
 * (ledger_smt_delta_commit: the replaced pages are freed) or drops it
 * (ledger_smt_delta_discard: the created pages are freed, the head's tree is as
 * it was).  No page is reference-counted: only one update may be pending
 * on a head at a time.
 *
 * Apply n updates (sorted by key, keys distinct) to the tree whose root hash
 * is `root_hash` and whose root page is *root (NULL before the root was
 * ever read: it is then read and stored in *root, as part of the head's
 * tree).  On success *new_root (NULL for the empty tree) and new_hash are
 * the new tree.  O(log n) hashes per update and O(log n / 4) pages; the top
 * of the tree, shared by many updates, is visited and hashed once, and the
 * subtrees below the root page are spread over the helpers st->par and
 * this thread.  Every created page goes to st->put when there is one (else
 * the caller stores the pages of d->created itself, ledger_smt_page_store_form).
 * Returns 0, or -1 with err (a missing page is LEDGER_ERR_INVALID, "state
 * tree page ... is missing"); the created pages are already freed then. */
typedef struct {
    smt_page **created;
    size_t n_created, cap_created;
    smt_page **replaced;
    size_t n_replaced, cap_replaced;
    int oom;
} smt_delta;

int ledger_smt_update_root(smt_page **root, const uint8_t root_hash[32], const smt_update *u,
                    size_t n, const smt_store *st, smt_delta *d, smt_page **new_root,
                    uint8_t new_hash[32], ledger_err *err) LEDGER_WUR;

/* Adopt / drop the result of an update (see above); d is emptied (its
 * arrays kept for the next update until ledger_smt_delta_clear). */
void ledger_smt_delta_commit(smt_delta *d, smt_mem *mem);
void ledger_smt_delta_discard(smt_delta *d, smt_mem *mem);
/* Free d's arrays (not the pages); NULL-safe. */
void ledger_smt_delta_clear(smt_delta *d);

/* A page in memory in its stored form (out: SMT_STORED_PAGE_MAX bytes),
 * with the hash it is stored under; returns the length.  Reads the page
 * only, so it may run on another thread than updates do, as long as the
 * page is not freed meanwhile. */
size_t ledger_smt_page_store_form(const smt_page *p, uint8_t hash[32], uint8_t *out);

/* Free a whole tree in memory (the head's, when it is dropped); NULL-safe. */
void ledger_smt_tree_free(smt_page *root, smt_mem *mem);

/* Unload from memory the pages at `depth` and below (a multiple of 4) that
 * hang off pages of generation <= durable_gen: they are read again when
 * needed.  Pages of later generations (possibly not yet stored) stay.  Only
 * for the head's tree while no update is pending. */
void ledger_smt_trim(smt_page *root, unsigned depth, uint64_t durable_gen, smt_mem *mem);

/* Bytes the tree's pages in memory take at each page depth (0, 4, 8, ...):
 * bytes[d / 4] for d < 4 * n. */
void ledger_smt_mem_by_depth(const smt_page *root, size_t *bytes, size_t n);

/* A proof for one key: the siblings of the path from the root down to
 * where it ends, root first (siblings[d] is the other child of the node at
 * depth d), and what the path ends in: the key's own leaf (membership), the
 * leaf of another key sharing the first n_siblings bits, or an empty
 * subtree (both prove absence). */
typedef enum { SMT_END_EMPTY = 0, SMT_END_LEAF = 1 } smt_end;

typedef struct {
    size_t n_siblings;                    /* <= SMT_MAX_PROOF */
    uint8_t siblings[SMT_MAX_PROOF][32];
    smt_end end;
    uint8_t leaf_key[32];                 /* SMT_END_LEAF only */
    uint8_t leaf_value[32];
} smt_proof;

/* Build the proof for `key` under `root` (st->get only).  Returns 0, or -1
 * with err when a page is missing or malformed. */
int ledger_smt_prove(const uint8_t root[32], const uint8_t key[32], const smt_store *st,
              smt_proof *p, ledger_err *err) LEDGER_WUR;

/* Verify a proof against root.  With value non-NULL: `key` maps to
 * `value`.  With value NULL: `key` is absent.  Checks the proof's length
 * (<= SMT_MAX_PROOF), that a leaf for another key shares the key's prefix
 * down to where the path ends, that the path is one a canonical tree can
 * have (a leaf's sibling is never empty), and recomputes the root.  Returns
 * 0, or -1 with err (LEDGER_ERR_VERIFY) saying why. */
int ledger_smt_verify(const uint8_t root[32], const uint8_t key[32], const uint8_t *value,
               const smt_proof *p, ledger_err *err) LEDGER_WUR;

/* Visit every leaf of the tree under root in key order (for integrity
 * checks): fn gets each key and value and returns 0 to go on, -1 to stop
 * (its error is passed through).  Checks that each leaf lies on the path
 * its key names and that the tree is canonical (no leaf or empty subtree
 * beside an empty one); the pages' hashes are the reader's to check. */
int ledger_smt_walk(const uint8_t root[32], const smt_store *st,
             int (*fn)(void *ctx, const uint8_t key[32], const uint8_t value[32],
                       ledger_err *err),
             void *ctx, ledger_err *err) LEDGER_WUR;

#endif
