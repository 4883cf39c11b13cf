/* RFC 6962 / RFC 9162 Merkle trees: the published inclusion and consistency
 * vectors, the reference tree, proofs from stored nodes at every historical
 * size checked against a naive recursive implementation, tampering, and
 * 64-bit tree sizes. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/merkle.h"

/* ---- a naive reference, straight from RFC 6962 2.1 ---------------------- */

static void ref_leaf(const void *data, size_t len, uint8_t out[32])
{
    uint8_t buf[256];
    assert_true(len < sizeof buf);
    buf[0] = 0x00;
    memcpy(buf + 1, data, len);
    ledger_sha256(buf, len + 1, out);
}

static void ref_node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    ledger_sha256(buf, sizeof buf, out);
}

/* The largest power of two below n (n >= 2), by repeated doubling. */
static uint64_t ref_split(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k *= 2;
    return k;
}

/* MTH(D[0:n]).  Recursion depth is log2(n) + 1: 9 for the sizes used here. */
static void ref_mth(const uint8_t (*d)[32], uint64_t n, uint8_t out[32])
{
    if (n == 0) {
        ledger_sha256("", 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, d[0], 32);
        return;
    }
    uint64_t k = ref_split(n);
    uint8_t l[32], r[32];
    ref_mth(d, k, l);
    ref_mth(d + k, n - k, r);
    ref_node(l, r, out);
}

/* PATH(m, D[0:n]), leaf first; returns the number of hashes written. */
static size_t ref_path(uint64_t m, const uint8_t (*d)[32], uint64_t n, uint8_t (*out)[32])
{
    if (n <= 1)
        return 0;
    uint64_t k = ref_split(n);
    size_t c;
    if (m < k) {
        c = ref_path(m, d, k, out);
        ref_mth(d + k, n - k, out[c]);
    } else {
        c = ref_path(m - k, d + k, n - k, out);
        ref_mth(d, k, out[c]);
    }
    return c + 1;
}

/* SUBPROOF(m, D[0:n], b). */
static size_t ref_subproof(uint64_t m, const uint8_t (*d)[32], uint64_t n, int b,
                           uint8_t (*out)[32])
{
    if (m == n) {
        if (b)
            return 0;
        ref_mth(d, n, out[0]);
        return 1;
    }
    uint64_t k = ref_split(n);
    size_t c;
    if (m <= k) {
        c = ref_subproof(m, d, k, b, out);
        ref_mth(d + k, n - k, out[c]);
    } else {
        c = ref_subproof(m - k, d + k, n - k, 0, out);
        ref_mth(d, k, out[c]);
    }
    return c + 1;
}

/* ---- an in-memory node store: one growable array per level -------------- */

typedef struct {
    uint8_t (*lv[MERKLE_MAX_LEVELS])[32];
    uint64_t count[MERKLE_MAX_LEVELS];
    uint64_t cap[MERKLE_MAX_LEVELS];
    /* Leaves the simulated log holds: nodes not complete within them read as
     * missing, so a proof at size s can only use what a log of s had. */
    uint64_t visible;
    unsigned reads;
} mem_store;

static void mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    mem_store *s = ctx;
    assert_true(level < MERKLE_MAX_LEVELS);
    /* each node is handed over exactly once, left to right on its level */
    assert_int_equal(index, s->count[level]);
    if (s->count[level] == s->cap[level]) {
        uint64_t cap = s->cap[level] ? 2 * s->cap[level] : 16;
        void *p = realloc(s->lv[level], cap * 32);
        assert_non_null(p);
        s->lv[level] = p;
        s->cap[level] = cap;
    }
    memcpy(s->lv[level][index], hash, 32);
    s->count[level]++;
}

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32],
                   ledger_err *err)
{
    mem_store *s = ctx;
    s->reads++;
    if (level >= MERKLE_MAX_LEVELS || index >= s->count[level] ||
        index >= (s->visible >> level))
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, NULL, "not stored");
    memcpy(out, s->lv[level][index], 32);
    return 0;
}

static void mem_free(mem_store *s)
{
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
        free(s->lv[l]);
    memset(s, 0, sizeof *s);
}

/* Appends leaves to a fresh store; snap (n + 1 entries, may be NULL) gets the
 * frontier after each append. */
static void mem_build(mem_store *s, merkle_frontier *f, const uint8_t (*leaves)[32],
                      size_t n, merkle_frontier *snap)
{
    memset(s, 0, sizeof *s);
    ledger_merkle_frontier_init(f);
    if (snap)
        snap[0] = *f;
    for (size_t i = 0; i < n; i++) {
        ledger_merkle_frontier_append(f, leaves[i], mem_put, s);
        if (snap)
            snap[i + 1] = *f;
    }
    s->visible = n;
}

/* ---- verification helpers ------------------------------------------------- */

/* The verifiers get a heap copy of exactly n hashes (NULL when n is 0), so
 * that ASan reports any read past the proof. */
static uint8_t (*exact_copy(const uint8_t (*p)[32], size_t n))[32]
{
    if (n == 0)
        return NULL;
    uint8_t (*c)[32] = malloc(n * 32);
    assert_non_null(c);
    memcpy(c, p, n * 32);
    return c;
}

static int verify_inc(uint64_t index, uint64_t size, const uint8_t leaf[32],
                      const uint8_t (*proof)[32], size_t n, const uint8_t root[32],
                      ledger_err *err)
{
    uint8_t (*c)[32] = exact_copy(proof, n);
    ledger_err_clear(err);
    int rc = ledger_merkle_verify_inclusion(index, size, leaf, (const uint8_t (*)[32])c, n,
                                     root, err);
    free(c);
    assert_true(rc == 0 || rc == -1);
    if (rc != 0) {
        assert_int_equal(err->code, LEDGER_ERR_VERIFY);
        assert_true(err->msg[0] != '\0');
    }
    return rc;
}

static int verify_con(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                      const uint8_t root2[32], const uint8_t (*proof)[32], size_t n,
                      ledger_err *err)
{
    uint8_t (*c)[32] = exact_copy(proof, n);
    ledger_err_clear(err);
    int rc = ledger_merkle_verify_consistency(size1, size2, root1, root2,
                                       (const uint8_t (*)[32])c, n, err);
    free(c);
    assert_true(rc == 0 || rc == -1);
    if (rc != 0) {
        assert_int_equal(err->code, LEDGER_ERR_VERIFY);
        assert_true(err->msg[0] != '\0');
    }
    return rc;
}

static unsigned bit_length(uint64_t x)
{
    unsigned n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* ---- hashing ---------------------------------------------------------------- */

static void test_hashes_follow_rfc6962(void **state)
{
    (void)state;
    uint8_t got[32], want[32];
    ledger_merkle_leaf_hash("abc", 3, got);
    ref_leaf("abc", 3, want);
    assert_memory_equal(got, want, 32);
    ledger_merkle_leaf_hash("", 0, got);
    ref_leaf("", 0, want);
    assert_memory_equal(got, want, 32);

    uint8_t l[32], r[32];
    memset(l, 0x11, 32);
    memset(r, 0x22, 32);
    ledger_merkle_node_hash(l, r, got);
    ref_node(l, r, want);
    assert_memory_equal(got, want, 32);
    /* the output may alias either input */
    memcpy(got, r, 32);
    ledger_merkle_node_hash(l, got, got);
    assert_memory_equal(got, want, 32);
    memcpy(got, l, 32);
    ledger_merkle_node_hash(got, r, got);
    assert_memory_equal(got, want, 32);

    ledger_merkle_empty_root(got);
    ledger_sha256("", 0, want);
    assert_memory_equal(got, want, 32);
    ledger_merkle_root_of_leaves(NULL, 0, got);
    assert_memory_equal(got, want, 32);
    merkle_frontier f;
    ledger_merkle_frontier_init(&f);
    ledger_merkle_frontier_root(&f, got);
    assert_memory_equal(got, want, 32);
}

/* ---- the reference tree of the vectors' README ------------------------------ */

#define REF_N 8

static void ref_tree_leaves(uint8_t leaves[REF_N][32])
{
    static const char *const data[REF_N] = {
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    };
    for (size_t i = 0; i < REF_N; i++) {
        size_t len;
        uint8_t *b = tu_unhex(data[i], &len);
        ledger_merkle_leaf_hash(b, len, leaves[i]);
        free(b);
    }
}

static void test_reference_tree_root(void **state)
{
    (void)state;
    uint8_t leaves[REF_N][32], got[32], want[32];
    ref_tree_leaves(leaves);
    mem_store st;
    merkle_frontier f;
    mem_build(&st, &f, (const uint8_t (*)[32])leaves, REF_N, NULL);
    ledger_err err;
    assert_int_equal(ledger_merkle_root_at(REF_N, mem_get, &st, got, &err), 0);
    /* README fallback; the vector tests compare with the roots in the JSON */
    char hex[65];
    ledger_hex_encode(got, 32, hex);
    assert_string_equal(hex, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    ledger_merkle_frontier_root(&f, want);
    assert_memory_equal(got, want, 32);
    ledger_merkle_root_of_leaves((const uint8_t (*)[32])leaves, REF_N, want);
    assert_memory_equal(got, want, 32);
    mem_free(&st);
}

/* ---- the published vectors ------------------------------------------------- */

typedef struct {
    char **paths;
    size_t n, cap;
    int failed;
} path_list;

/* nftw passes no context pointer. */
static path_list g_walk;

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int collect_json(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DNR || flag == FTW_NS) {
        g_walk.failed = 1;
        return 1;
    }
    if (flag != FTW_F || !has_suffix(path, ".json"))
        return 0;
    if (g_walk.n == g_walk.cap) {
        size_t cap = g_walk.cap ? 2 * g_walk.cap : 64;
        char **p = realloc(g_walk.paths, cap * sizeof *p);
        if (p == NULL) {
            g_walk.failed = 1;
            return 1;
        }
        g_walk.paths = p;
        g_walk.cap = cap;
    }
    if ((g_walk.paths[g_walk.n] = strdup(path)) == NULL) {
        g_walk.failed = 1;
        return 1;
    }
    g_walk.n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All *.json below dir, sorted.  Collected before any is checked, so that a
 * failing assertion (cmocka longjmps) never unwinds through nftw. */
static path_list walk_json(const char *dir)
{
    memset(&g_walk, 0, sizeof g_walk);
    int rc = nftw(dir, collect_json, 16, FTW_PHYS);
    path_list out = g_walk;
    memset(&g_walk, 0, sizeof g_walk);
    assert_int_equal(rc, 0);
    assert_false(out.failed);
    if (out.n > 0)
        qsort(out.paths, out.n, sizeof *out.paths, cmp_str);
    return out;
}

static void free_paths(path_list *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->paths[i]);
    free(p->paths);
}

/* An independent count (readdir, not nftw) of the *.json files on disk, to
 * hold the walk to account.  Returns -1 on a read error or a tree deeper than
 * any the vectors have. */
static long count_json(const char *dir, int depth)
{
    if (depth > 8)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while (n >= 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= sizeof sub ||
            lstat(sub, &st) != 0) {
            n = -1;
        } else if (S_ISDIR(st.st_mode)) {
            long m = count_json(sub, depth + 1);
            n = m < 0 ? -1 : n + m;
        } else if (S_ISREG(st.st_mode) && has_suffix(e->d_name, ".json")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* jansson keeps integers in a signed 64-bit json_int_t and refuses the whole
 * document when a vector's leafIdx is 2^64 - 1, so the unsigned size fields
 * are read from the raw text with strtoull and overwritten with 0 before
 * jansson parses the rest; load_vector then checks that jansson saw that key
 * holding that 0.  Returns 1 when the key holds an unsigned integer. */
static int take_u64(char *text, const char *key, uint64_t *out)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (char *p = strstr(text, pat); p != NULL; p = strstr(p + 1, pat)) {
        char *q = p + strlen(pat);
        q += strspn(q, " \t\r\n");
        if (*q != ':')
            continue; /* the name inside some string value, not a key */
        q++;
        q += strspn(q, " \t\r\n");
        if (*q < '0' || *q > '9')
            return 0;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(q, &end, 10);
        assert_int_equal(errno, 0); /* fits in 64 bits */
        assert_true(*end != '.' && *end != 'e' && *end != 'E');
        *out = v;
        memset(q, ' ', (size_t)(end - q));
        *q = '0';
        return 1;
    }
    return 0;
}

typedef struct {
    json_t *doc;
    uint64_t num[2];
} vector;

static void load_vector(const char *path, const char *const keys[2], vector *v)
{
    char *text = tu_read_file(path, NULL);
    if (text == NULL)
        fail_msg("%s: cannot read", path);
    int taken[2];
    for (int i = 0; i < 2; i++)
        taken[i] = take_u64(text, keys[i], &v->num[i]);
    json_error_t jerr;
    v->doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (v->doc == NULL)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(v->doc))
        fail_msg("%s: not a JSON object", path);
    for (int i = 0; i < 2; i++) {
        json_t *j = json_object_get(v->doc, keys[i]);
        if (!taken[i] || !json_is_integer(j) || json_integer_value(j) != 0)
            fail_msg("%s: %s is not an unsigned integer", path, keys[i]);
    }
}

static int want_err(const char *path, const json_t *doc)
{
    json_t *w = json_object_get(doc, "wantErr");
    if (!json_is_boolean(w))
        fail_msg("%s: wantErr is not a boolean", path);
    return json_is_true(w);
}

/* A hash field in base64.  Returns 1 when it holds exactly 32 bytes; else
 * (missing, null, not a string, bad base64, another length) 0, with out set to
 * a placeholder derived from the raw text: equal placeholders stay equal and
 * none can equal a real hash.  That is exact for roots, which a verifier only
 * ever compares; a leaf hash or proof entry must be hashed, so the callers
 * refuse those outright. */
static int b64_hash(const json_t *v, uint8_t out[32])
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    uint8_t buf[128];
    size_t len = 0;
    if (ledger_b64_decode(s, strlen(s), buf, sizeof buf, &len) == 0 && len == 32) {
        memcpy(out, buf, 32);
        return 1;
    }
    ledger_sha256_ctx c;
    ledger_sha256_init(&c);
    ledger_sha256_update(&c, "not a 32-byte hash:", 19);
    ledger_sha256_update(&c, json_is_string(v) ? "s" : "-", 1);
    ledger_sha256_update(&c, s, strlen(s));
    ledger_sha256_final(&c, out);
    return 0;
}

/* The proof array (null or missing means empty) into a heap array of exactly
 * its length.  *all32 is cleared when an entry is not a 32-byte hash. */
static uint8_t (*load_proof(const char *path, const json_t *doc, size_t *n, int *all32))[32]
{
    json_t *p = json_object_get(doc, "proof");
    *n = 0;
    *all32 = 1;
    if (p == NULL || json_is_null(p))
        return NULL;
    if (!json_is_array(p))
        fail_msg("%s: proof is not an array", path);
    *n = json_array_size(p);
    if (*n == 0)
        return NULL;
    uint8_t (*out)[32] = malloc(*n * 32);
    assert_non_null(out);
    for (size_t i = 0; i < *n; i++)
        if (!b64_hash(json_array_get(p, i), out[i]))
            *all32 = 0;
    return out;
}

/* The reference tree, to tie happy-path vectors to our own construction. */
typedef struct {
    uint8_t leaves[REF_N][32];
    uint8_t roots[REF_N + 1][32];
    mem_store st;
} ref_tree;

static void ref_tree_build(ref_tree *t)
{
    merkle_frontier f;
    ledger_err err;
    ref_tree_leaves(t->leaves);
    mem_build(&t->st, &f, (const uint8_t (*)[32])t->leaves, REF_N, NULL);
    for (uint64_t s = 0; s <= REF_N; s++)
        assert_int_equal(ledger_merkle_root_at(s, mem_get, &t->st, t->roots[s], &err), 0);
}

typedef struct {
    long files, verified, refused, refused_not_hash, ref_matches, ref_root8;
} vec_counts;

static void check_inclusion_vector(const char *path, ref_tree *t, vec_counts *c)
{
    static const char *const keys[2] = {"leafIdx", "treeSize"};
    vector v;
    load_vector(path, keys, &v);
    uint64_t index = v.num[0], size = v.num[1];
    int want = want_err(path, v.doc);
    uint8_t root[32], leaf[32];
    b64_hash(json_object_get(v.doc, "root"), root);
    int leaf32 = b64_hash(json_object_get(v.doc, "leafHash"), leaf);
    size_t n;
    int all32;
    uint8_t (*proof)[32] = load_proof(path, v.doc, &n, &all32);

    ledger_err err;
    ledger_err_clear(&err);
    int refused;
    if (!leaf32 || !all32) {
        /* cannot be a SHA-256 hash, so cannot be handed to a uint8_t[32]
         * API: refused before verification (transparency-dev/merkle refuses
         * a leaf hash of the wrong size the same way) */
        refused = 1;
        c->refused_not_hash++;
        snprintf(err.msg, sizeof err.msg, "a leaf hash or proof entry is not 32 bytes");
    } else {
        refused = verify_inc(index, size, leaf, (const uint8_t (*)[32])proof, n, root,
                             &err) != 0;
    }
    if (refused != want)
        fail_msg("%s: %s (wantErr %s): %s", path, refused ? "refused" : "verified",
                 want ? "true" : "false", err.msg);

    /* A happy path on the reference tree: our root and our proof must be the
     * published ones, byte for byte. */
    if (!want && size <= REF_N && memcmp(leaf, t->leaves[index], 32) == 0) {
        assert_memory_equal(root, t->roots[size], 32);
        uint8_t ours[MERKLE_MAX_PROOF][32];
        size_t on;
        assert_int_equal(ledger_merkle_inclusion_proof(index, size, mem_get, &t->st, ours,
                                                &on, &err), 0);
        assert_int_equal(on, n);
        if (n > 0)
            assert_memory_equal(ours, proof, n * 32);
        c->ref_matches++;
        if (size == REF_N)
            c->ref_root8++;
    }
    if (refused)
        c->refused++;
    else
        c->verified++;
    c->files++;
    free(proof);
    json_decref(v.doc);
}

static void check_consistency_vector(const char *path, ref_tree *t, vec_counts *c)
{
    static const char *const keys[2] = {"size1", "size2"};
    vector v;
    load_vector(path, keys, &v);
    uint64_t size1 = v.num[0], size2 = v.num[1];
    int want = want_err(path, v.doc);
    uint8_t root1[32], root2[32];
    int r1 = b64_hash(json_object_get(v.doc, "root1"), root1);
    int r2 = b64_hash(json_object_get(v.doc, "root2"), root2);
    size_t n;
    int all32;
    uint8_t (*proof)[32] = load_proof(path, v.doc, &n, &all32);

    ledger_err err;
    ledger_err_clear(&err);
    int refused;
    if (!all32) {
        refused = 1; /* as for inclusion: not something a hash array can hold */
        c->refused_not_hash++;
        snprintf(err.msg, sizeof err.msg, "a proof entry is not 32 bytes");
    } else {
        refused = verify_con(size1, size2, root1, root2, (const uint8_t (*)[32])proof, n,
                             &err) != 0;
    }
    if (refused != want)
        fail_msg("%s: %s (wantErr %s): %s", path, refused ? "refused" : "verified",
                 want ? "true" : "false", err.msg);

    if (!want && r1 && r2 && size1 >= 1 && size2 <= REF_N &&
        memcmp(root1, t->roots[size1], 32) == 0) {
        assert_memory_equal(root2, t->roots[size2], 32);
        uint8_t ours[MERKLE_MAX_PROOF][32];
        size_t on;
        assert_int_equal(ledger_merkle_consistency_proof(size1, size2, mem_get, &t->st, ours,
                                                  &on, &err), 0);
        assert_int_equal(on, n);
        if (n > 0)
            assert_memory_equal(ours, proof, n * 32);
        c->ref_matches++;
        if (size2 == REF_N)
            c->ref_root8++;
    }
    if (refused)
        c->refused++;
    else
        c->verified++;
    c->files++;
    free(proof);
    json_decref(v.doc);
}

typedef void (*vector_fn)(const char *path, ref_tree *t, vec_counts *c);

static vec_counts run_vectors(const char *kind, vector_fn check)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/rfc6962/%s", tu_vectors_dir(), kind);
    long on_disk = count_json(dir, 0);
    assert_true(on_disk > 0);
    path_list files = walk_json(dir);
    ref_tree t;
    ref_tree_build(&t);
    vec_counts c = {0};
    for (size_t i = 0; i < files.n; i++)
        check(files.paths[i], &t, &c);
    free_paths(&files);
    mem_free(&t.st);
    printf("[ INFO     ] rfc6962/%s: %ld files, %ld verified (wantErr false), %ld refused "
           "(wantErr true; %ld for a value that is not a 32-byte hash); %ld happy paths "
           "matched our tree and proofs\n",
           kind, c.files, c.verified, c.refused, c.refused_not_hash, c.ref_matches);
    assert_int_equal(c.files, on_disk);
    assert_true(c.verified > 0);
    assert_true(c.refused > 0);
    return c;
}

static void test_rfc6962_inclusion_vectors(void **state)
{
    (void)state;
    vec_counts c = run_vectors("inclusion", check_inclusion_vector);
    assert_true(c.ref_matches >= 4);
    assert_true(c.ref_root8 >= 1); /* the size-8 root is the published one */
}

static void test_rfc6962_consistency_vectors(void **state)
{
    (void)state;
    vec_counts c = run_vectors("consistency", check_consistency_vector);
    assert_true(c.ref_matches >= 3);
    assert_true(c.ref_root8 >= 1);
}

/* ---- every size up to 200 ------------------------------------------------------ */

#define PROP_N 200

typedef struct {
    uint8_t leaves[PROP_N][32];
    uint8_t roots[PROP_N + 1][32]; /* by the naive reference */
    merkle_frontier snap[PROP_N + 1];
    mem_store st;
} prop_fixture;

static int prop_setup(void **state)
{
    prop_fixture *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    for (uint32_t i = 0; i < PROP_N; i++) {
        char data[32];
        int len = snprintf(data, sizeof data, "event %" PRIu32, i);
        ref_leaf(data, (size_t)len, p->leaves[i]);
    }
    for (uint64_t s = 0; s <= PROP_N; s++)
        ref_mth((const uint8_t (*)[32])p->leaves, s, p->roots[s]);
    merkle_frontier f;
    mem_build(&p->st, &f, (const uint8_t (*)[32])p->leaves, PROP_N, p->snap);
    *state = p;
    return 0;
}

static int prop_teardown(void **state)
{
    prop_fixture *p = *state;
    mem_free(&p->st);
    free(p);
    return 0;
}

/* Bit flips: every bit of every hash for small trees and the largest, else
 * one bit per hash, its position varied with the case. */
static int flip_all_bits(uint64_t size)
{
    return size <= 8 || size == PROP_N;
}

static void test_roots_and_frontiers_at_every_size(void **state)
{
    prop_fixture *p = *state;
    ledger_err err;
    for (uint64_t s = 0; s <= PROP_N; s++) {
        uint8_t got[32];
        p->st.visible = s; /* exactly what a log of s leaves stores */
        p->st.reads = 0;
        assert_int_equal(ledger_merkle_root_at(s, mem_get, &p->st, got, &err), 0);
        assert_memory_equal(got, p->roots[s], 32);
        /* one read per perfect subtree of the size's decomposition */
        assert_int_equal(p->st.reads, __builtin_popcountll(s));

        ledger_merkle_root_of_leaves((const uint8_t (*)[32])p->leaves, s, got);
        assert_memory_equal(got, p->roots[s], 32);
        ledger_merkle_frontier_root(&p->snap[s], got);
        assert_memory_equal(got, p->roots[s], 32);

        /* the frontier rebuilt from stored nodes is the incremental one */
        merkle_frontier loaded;
        memset(&loaded, 0xa5, sizeof loaded);
        assert_int_equal(ledger_merkle_frontier_load(&loaded, s, mem_get, &p->st, &err), 0);
        assert_int_equal(loaded.size, s);
        for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
            if ((s >> l) & 1)
                assert_memory_equal(loaded.nodes[l], p->snap[s].nodes[l], 32);
        ledger_merkle_frontier_root(&loaded, got);
        assert_memory_equal(got, p->roots[s], 32);

        /* and it keeps growing into the same log */
        if (s < PROP_N) {
            ledger_merkle_frontier_append(&loaded, p->leaves[s], NULL, NULL);
            ledger_merkle_frontier_root(&loaded, got);
            assert_memory_equal(got, p->roots[s + 1], 32);
        }
    }
}

static void test_frontier_load_failure_leaves_frontier_untouched(void **state)
{
    prop_fixture *p = *state;
    ledger_err err;
    merkle_frontier f = p->snap[37], before = f;
    p->st.visible = 36; /* the log is one leaf short of what is asked */
    assert_int_equal(ledger_merkle_frontier_load(&f, 37, mem_get, &p->st, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "merkle node (0, 36)"));
    assert_memory_equal(&f, &before, sizeof f);

    uint8_t root[32], proof[MERKLE_MAX_PROOF][32];
    size_t n;
    assert_int_equal(ledger_merkle_root_at(37, mem_get, &p->st, root, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
    assert_int_equal(ledger_merkle_inclusion_proof(3, 37, mem_get, &p->st, proof, &n, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
    assert_int_equal(ledger_merkle_consistency_proof(5, 37, mem_get, &p->st, proof, &n, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_NOTFOUND);
}

static void expect_inc_refused(uint64_t index, uint64_t size, const uint8_t leaf[32],
                               const uint8_t (*proof)[32], size_t n,
                               const uint8_t root[32], const char *what)
{
    ledger_err err;
    if (verify_inc(index, size, leaf, proof, n, root, &err) == 0)
        fail_msg("inclusion (%" PRIu64 ", %" PRIu64 ") verified after %s", index, size, what);
}

static void tamper_inclusion(prop_fixture *p, uint64_t i, uint64_t s,
                             uint8_t (*proof)[32], size_t n)
{
    const uint8_t (*cp)[32] = (const uint8_t (*)[32])proof;
    const uint8_t *leaf = p->leaves[i];
    for (size_t j = 0; j < n; j++) {
        for (unsigned b = 0; b < 256; b++) {
            if (!flip_all_bits(s) && b != (unsigned)((j * 67 + i * 13 + s * 7) % 256))
                continue;
            proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_inc_refused(i, s, leaf, cp, n, p->roots[s], "a bit flip");
            proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    uint8_t bad[32];
    memcpy(bad, leaf, 32);
    bad[(i + s) % 32] ^= 0x10;
    expect_inc_refused(i, s, bad, cp, n, p->roots[s], "a changed leaf");
    memcpy(bad, p->roots[s], 32);
    bad[(i * 3) % 32] ^= 0x01;
    expect_inc_refused(i, s, leaf, cp, n, bad, "a changed root");
    if (n > 0)
        expect_inc_refused(i, s, leaf, cp, n - 1, p->roots[s], "dropping the last hash");
    {
        uint8_t longer[MERKLE_MAX_PROOF + 1][32];
        memcpy(longer, proof, n * 32);
        memcpy(longer[n], p->roots[s], 32);
        expect_inc_refused(i, s, leaf, (const uint8_t (*)[32])longer, n + 1, p->roots[s],
                           "an extra hash");
        if (n > 0) {
            memmove(longer[1], longer[0], n * 32);
            memcpy(longer[0], p->leaves[(i + 1) % s], 32);
            expect_inc_refused(i, s, leaf, (const uint8_t (*)[32])longer, n + 1,
                               p->roots[s], "a hash in front");
        }
    }
    /* another position, or another tree size with that size's own root */
    const uint64_t other_i[] = {i ^ 1, i + 1, i - 1, 0, s - 1, i ^ 2, i + s, UINT64_MAX};
    for (size_t k = 0; k < sizeof other_i / sizeof other_i[0]; k++) {
        uint64_t oi = other_i[k];
        if (oi == i)
            continue;
        expect_inc_refused(oi, s, leaf, cp, n, p->roots[s], "changing the index");
    }
    const uint64_t other_s[] = {s - 1, s + 1, 2 * s, s / 2, s + 7, 0};
    for (size_t k = 0; k < sizeof other_s / sizeof other_s[0]; k++) {
        uint64_t os = other_s[k];
        if (os == s || os > PROP_N)
            continue;
        expect_inc_refused(i, os, leaf, cp, n, p->roots[os], "changing the size");
    }
}

static void test_inclusion_at_every_size(void **state)
{
    prop_fixture *p = *state;
    ledger_err err;
    for (uint64_t s = 1; s <= PROP_N; s++) {
        p->st.visible = s;
        for (uint64_t i = 0; i < s; i++) {
            uint8_t proof[MERKLE_MAX_PROOF][32], want[MERKLE_MAX_PROOF][32];
            size_t n = 999;
            p->st.reads = 0;
            assert_int_equal(ledger_merkle_inclusion_proof(i, s, mem_get, &p->st, proof, &n, &err), 0);
            /* one read per level, plus the decomposition of one partial
             * subtree on the right border */
            assert_true(p->st.reads <= 2 * bit_length(s));
            size_t wn = ref_path(i, (const uint8_t (*)[32])p->leaves, s, want);
            assert_int_equal(n, wn);
            if (n > 0)
                assert_memory_equal(proof, want, n * 32);
            if (verify_inc(i, s, p->leaves[i], (const uint8_t (*)[32])proof, n, p->roots[s],
                           &err) != 0)
                fail_msg("inclusion (%" PRIu64 ", %" PRIu64 "): %s", i, s, err.msg);
            tamper_inclusion(p, i, s, proof, n);
        }
    }
}

static void expect_con_refused(uint64_t s1, uint64_t s2, const uint8_t r1[32],
                               const uint8_t r2[32], const uint8_t (*proof)[32], size_t n,
                               const char *what)
{
    ledger_err err;
    if (verify_con(s1, s2, r1, r2, proof, n, &err) == 0)
        fail_msg("consistency (%" PRIu64 ", %" PRIu64 ") verified after %s", s1, s2, what);
}

static void tamper_consistency(prop_fixture *p, uint64_t s1, uint64_t s2,
                               uint8_t (*proof)[32], size_t n)
{
    const uint8_t (*cp)[32] = (const uint8_t (*)[32])proof;
    const uint8_t *r1 = p->roots[s1], *r2 = p->roots[s2];
    for (size_t j = 0; j < n; j++) {
        for (unsigned b = 0; b < 256; b++) {
            if (!flip_all_bits(s2) && b != (unsigned)((j * 89 + s1 * 11 + s2 * 5) % 256))
                continue;
            proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_con_refused(s1, s2, r1, r2, cp, n, "a bit flip");
            proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    uint8_t bad[32];
    memcpy(bad, r1, 32);
    bad[s2 % 32] ^= 0x04;
    expect_con_refused(s1, s2, bad, r2, cp, n, "a changed first root");
    memcpy(bad, r2, 32);
    bad[s1 % 32] ^= 0x04;
    expect_con_refused(s1, s2, r1, bad, cp, n, "a changed second root");
    if (s1 != s2)
        expect_con_refused(s1, s2, r2, r1, cp, n, "swapping the roots");
    if (n > 0)
        expect_con_refused(s1, s2, r1, r2, cp, n - 1, "dropping the last hash");
    {
        uint8_t longer[MERKLE_MAX_PROOF + 1][32];
        memcpy(longer, proof, n * 32);
        memcpy(longer[n], r2, 32);
        expect_con_refused(s1, s2, r1, r2, (const uint8_t (*)[32])longer, n + 1,
                           "an extra hash");
        if (n > 0) {
            memmove(longer[1], longer[0], n * 32);
            memcpy(longer[0], r1, 32);
            expect_con_refused(s1, s2, r1, r2, (const uint8_t (*)[32])longer, n + 1,
                               "a hash in front");
        }
    }
    /* other sizes, each with its own true root */
    const uint64_t d[][2] = {{s1 - 1, s2}, {s1 + 1, s2}, {s1, s2 - 1}, {s1, s2 + 1},
                             {s1 ^ 1, s2}, {s1, s2 ^ 1}, {s2, s1}, {0, s2}};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        uint64_t a = d[k][0], b = d[k][1];
        if ((a == s1 && b == s2) || a > PROP_N || b > PROP_N)
            continue;
        expect_con_refused(a, b, p->roots[a], p->roots[b], cp, n, "changing a size");
    }
}

static void test_consistency_at_every_size(void **state)
{
    prop_fixture *p = *state;
    ledger_err err;
    for (uint64_t s2 = 1; s2 <= PROP_N; s2++) {
        p->st.visible = s2;
        for (uint64_t s1 = 1; s1 <= s2; s1++) {
            uint8_t proof[MERKLE_MAX_PROOF][32], want[MERKLE_MAX_PROOF][32];
            size_t n = 999;
            p->st.reads = 0;
            assert_int_equal(ledger_merkle_consistency_proof(s1, s2, mem_get, &p->st, proof, &n,
                                                      &err), 0);
            assert_true(p->st.reads <= 2 * bit_length(s2) + 1);
            size_t wn = s1 == s2 ? 0
                                 : ref_subproof(s1, (const uint8_t (*)[32])p->leaves, s2, 1,
                                                want);
            assert_int_equal(n, wn);
            if (n > 0)
                assert_memory_equal(proof, want, n * 32);
            if (verify_con(s1, s2, p->roots[s1], p->roots[s2], (const uint8_t (*)[32])proof,
                           n, &err) != 0)
                fail_msg("consistency (%" PRIu64 ", %" PRIu64 "): %s", s1, s2, err.msg);
            tamper_consistency(p, s1, s2, proof, n);
        }
    }
}

/* A log of 1000 leaves proves what its tree of 537 held. */
static void test_historical_proofs_from_a_larger_log(void **state)
{
    (void)state;
    enum { N = 1000, S = 537 };
    uint8_t (*leaves)[32] = malloc(N * 32);
    assert_non_null(leaves);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t data[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                           (uint8_t)i};
        ref_leaf(data, sizeof data, leaves[i]);
    }
    mem_store st;
    merkle_frontier f;
    mem_build(&st, &f, (const uint8_t (*)[32])leaves, N, NULL);
    ledger_err err;
    uint8_t root537[32], root1000[32], want[32];
    ref_mth((const uint8_t (*)[32])leaves, S, want);
    st.reads = 0;
    assert_int_equal(ledger_merkle_root_at(S, mem_get, &st, root537, &err), 0);
    assert_memory_equal(root537, want, 32);
    assert_int_equal(st.reads, __builtin_popcountll(S));
    assert_int_equal(ledger_merkle_root_at(N, mem_get, &st, root1000, &err), 0);
    ledger_merkle_frontier_root(&f, want);
    assert_memory_equal(root1000, want, 32);

    uint8_t proof[MERKLE_MAX_PROOF][32];
    size_t n;
    for (uint64_t i = 0; i < S; i++) {
        st.reads = 0;
        assert_int_equal(ledger_merkle_inclusion_proof(i, S, mem_get, &st, proof, &n, &err), 0);
        assert_true(st.reads <= 2 * bit_length(S));
        assert_int_equal(verify_inc(i, S, leaves[i], (const uint8_t (*)[32])proof, n,
                                    root537, &err), 0);
        /* not a proof in the tree of 1000 */
        assert_int_equal(verify_inc(i, N, leaves[i], (const uint8_t (*)[32])proof, n,
                                    root1000, &err), -1);
    }
    assert_int_equal(ledger_merkle_consistency_proof(S, N, mem_get, &st, proof, &n, &err), 0);
    assert_int_equal(verify_con(S, N, root537, root1000, (const uint8_t (*)[32])proof, n,
                                &err), 0);
    merkle_frontier g;
    assert_int_equal(ledger_merkle_frontier_load(&g, S, mem_get, &st, &err), 0);
    ledger_merkle_frontier_root(&g, want);
    assert_memory_equal(want, root537, 32);
    mem_free(&st);
    free(leaves);
}

/* ---- malformed input ---------------------------------------------------------- */

static void test_inclusion_refuses_malformed_cases(void **state)
{
    (void)state;
    uint8_t leaves[4][32], root[32], proof[MERKLE_MAX_PROOF + 1][32];
    for (int i = 0; i < 4; i++)
        ref_leaf(&i, sizeof i, leaves[i]);
    mem_store st;
    merkle_frontier f;
    mem_build(&st, &f, (const uint8_t (*)[32])leaves, 4, NULL);
    ledger_err err;
    size_t n;
    assert_int_equal(ledger_merkle_root_at(4, mem_get, &st, root, &err), 0);
    assert_int_equal(ledger_merkle_inclusion_proof(1, 4, mem_get, &st, proof, &n, &err), 0);
    assert_int_equal(n, 2);
    const uint8_t (*cp)[32] = (const uint8_t (*)[32])proof;

    assert_int_equal(verify_inc(1, 4, leaves[1], cp, 2, root, &err), 0);
    assert_int_equal(verify_inc(4, 4, leaves[1], cp, 2, root, &err), -1);
    assert_non_null(strstr(err.msg, "not below the tree size"));
    assert_int_equal(verify_inc(0, 0, leaves[1], cp, 0, root, &err), -1);
    assert_int_equal(verify_inc(UINT64_MAX, 4, leaves[1], cp, 2, root, &err), -1);
    assert_int_equal(verify_inc(1, 4, leaves[1], cp, 1, root, &err), -1);
    assert_non_null(strstr(err.msg, "needs 2"));
    assert_int_equal(verify_inc(1, 4, leaves[1], cp, 3, root, &err), -1);
    assert_int_equal(verify_inc(1, 4, leaves[1], NULL, 0, root, &err), -1);
    assert_int_equal(verify_inc(1, 4, leaves[0], cp, 2, root, &err), -1);
    assert_non_null(strstr(err.msg, "does not lead to the root"));
    /* more hashes than any tree needs: refused without reading them (the
     * heap copy of exactly n would show ASan any read past it) */
    memset(proof, 0, sizeof proof);
    assert_int_equal(verify_inc(1, 4, leaves[1], cp, MERKLE_MAX_PROOF + 1, root, &err), -1);
    assert_non_null(strstr(err.msg, "no 64-bit tree needs"));
    assert_int_equal(ledger_merkle_verify_inclusion(1, 4, leaves[1], cp, SIZE_MAX, root, &err), -1);
    /* a NULL err is allowed */
    assert_int_equal(ledger_merkle_verify_inclusion(1, 4, leaves[0], cp, 2, root, NULL), -1);

    /* proof requests outside the tree */
    assert_int_equal(ledger_merkle_inclusion_proof(4, 4, mem_get, &st, proof, &n, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_int_equal(ledger_merkle_inclusion_proof(0, 0, mem_get, &st, proof, &n, &err), -1);
    mem_free(&st);
}

static void test_consistency_refuses_malformed_cases(void **state)
{
    (void)state;
    uint8_t leaves[6][32], r3[32], r6[32], proof[MERKLE_MAX_PROOF + 1][32], empty[32];
    for (int i = 0; i < 6; i++)
        ref_leaf(&i, sizeof i, leaves[i]);
    mem_store st;
    merkle_frontier f;
    mem_build(&st, &f, (const uint8_t (*)[32])leaves, 6, NULL);
    ledger_err err;
    size_t n;
    ledger_merkle_empty_root(empty);
    assert_int_equal(ledger_merkle_root_at(3, mem_get, &st, r3, &err), 0);
    assert_int_equal(ledger_merkle_root_at(6, mem_get, &st, r6, &err), 0);
    assert_int_equal(ledger_merkle_consistency_proof(3, 6, mem_get, &st, proof, &n, &err), 0);
    assert_int_equal(n, 4);
    const uint8_t (*cp)[32] = (const uint8_t (*)[32])proof;

    assert_int_equal(verify_con(3, 6, r3, r6, cp, 4, &err), 0);
    assert_int_equal(verify_con(6, 3, r6, r3, cp, 4, &err), -1);
    assert_non_null(strstr(err.msg, "went back"));
    assert_int_equal(verify_con(3, 6, r3, r6, cp, 3, &err), -1);
    assert_non_null(strstr(err.msg, "needs 4"));
    assert_int_equal(verify_con(3, 6, r3, r6, cp, 5, &err), -1);
    assert_int_equal(verify_con(3, 6, r3, r6, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "empty consistency proof"));
    assert_int_equal(verify_con(3, 6, r6, r6, cp, 4, &err), -1);
    assert_non_null(strstr(err.msg, "first tree"));
    assert_int_equal(verify_con(3, 6, r3, r3, cp, 4, &err), -1);
    assert_non_null(strstr(err.msg, "second tree"));

    /* equal sizes: an empty proof and the same root, nothing else */
    assert_int_equal(verify_con(6, 6, r6, r6, NULL, 0, &err), 0);
    assert_int_equal(verify_con(6, 6, r6, r3, NULL, 0, &err), -1);
    assert_int_equal(verify_con(6, 6, r6, r6, cp, 1, &err), -1);
    assert_non_null(strstr(err.msg, "empty proof"));

    /* from the empty tree: RFC 9162 requires 0 < size1 */
    assert_int_equal(verify_con(0, 6, empty, r6, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "empty tree"));
    assert_int_equal(verify_con(0, 6, empty, r6, cp, 1, &err), -1);
    assert_int_equal(verify_con(0, 0, empty, empty, NULL, 0, &err), -1);
    assert_int_equal(verify_con(0, 0, empty, r6, NULL, 0, &err), -1);

    memset(proof, 0, sizeof proof);
    assert_int_equal(verify_con(3, 6, r3, r6, cp, MERKLE_MAX_PROOF + 1, &err), -1);
    assert_int_equal(ledger_merkle_verify_consistency(3, 6, r3, r6, cp, SIZE_MAX, &err), -1);
    assert_int_equal(ledger_merkle_verify_consistency(3, 6, r3, r6, cp, 3, NULL), -1);

    /* proof requests */
    assert_int_equal(ledger_merkle_consistency_proof(0, 6, mem_get, &st, proof, &n, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_int_equal(ledger_merkle_consistency_proof(5, 4, mem_get, &st, proof, &n, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    n = 99;
    assert_int_equal(ledger_merkle_consistency_proof(4, 4, mem_get, &st, proof, &n, &err), 0);
    assert_int_equal(n, 0);
    mem_free(&st);
}

/* ---- 64-bit sizes --------------------------------------------------------------- */

/* A log whose leaves are all the same: node (level, i) is the same for every
 * i, so trees of up to 2^64 - 1 leaves can be served.  Only good for positive
 * checks: such a tree cannot tell positions apart. */
typedef struct {
    uint8_t h[MERKLE_MAX_LEVELS][32];
    uint64_t visible;
} uniform_store;

static int uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32],
                       ledger_err *err)
{
    uniform_store *u = ctx;
    if (level >= MERKLE_MAX_LEVELS || index >= (u->visible >> level))
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, NULL, "not stored");
    memcpy(out, u->h[level], 32);
    return 0;
}

/* MTH of n uniform leaves.  Every step leaves a width with fewer bits, so the
 * recursion is at most 64 deep. */
static void uniform_mth(const uniform_store *u, uint64_t n, uint8_t out[32])
{
    if ((n & (n - 1)) == 0) {
        memcpy(out, u->h[bit_length(n) - 1], 32);
        return;
    }
    uint64_t k = (uint64_t)1 << (bit_length(n - 1) - 1);
    uint8_t r[32];
    uniform_mth(u, n - k, r);
    ref_node(u->h[bit_length(k) - 1], r, out);
}

typedef struct {
    uint64_t expect_index[MERKLE_MAX_LEVELS + 1];
    unsigned calls;
} put_log;

static void record_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    (void)hash;
    put_log *l = ctx;
    assert_int_equal(level, l->calls);
    assert_int_equal(index, l->expect_index[level]);
    l->calls++;
}

static void test_sizes_up_to_2_pow_64(void **state)
{
    (void)state;
    uniform_store u;
    ref_leaf("same", 4, u.h[0]);
    for (unsigned l = 1; l < MERKLE_MAX_LEVELS; l++)
        ref_node(u.h[l - 1], u.h[l - 1], u.h[l]);
    u.visible = UINT64_MAX;
    ledger_err err;
    uint8_t root[32], want[32], proof[MERKLE_MAX_PROOF][32];
    size_t n;
    const uint64_t two63 = (uint64_t)1 << 63;
    const uint64_t sizes[] = {UINT64_MAX, two63, two63 + 1, two63 - 1, ((uint64_t)1 << 32) + 5,
                              12345678901234567ull};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t s = sizes[k];
        assert_int_equal(ledger_merkle_root_at(s, uniform_get, &u, root, &err), 0);
        uniform_mth(&u, s, want);
        assert_memory_equal(root, want, 32);
        merkle_frontier f;
        assert_int_equal(ledger_merkle_frontier_load(&f, s, uniform_get, &u, &err), 0);
        ledger_merkle_frontier_root(&f, want);
        assert_memory_equal(root, want, 32);

        const uint64_t idx[] = {0, s - 1, s / 2, s - 2};
        for (size_t j = 0; j < sizeof idx / sizeof idx[0]; j++) {
            assert_int_equal(ledger_merkle_inclusion_proof(idx[j], s, uniform_get, &u, proof, &n,
                                                    &err), 0);
            assert_true(n <= MERKLE_MAX_PROOF);
            assert_int_equal(verify_inc(idx[j], s, u.h[0], (const uint8_t (*)[32])proof, n,
                                        root, &err), 0);
        }
    }
    /* the deepest leaf of the largest tree takes all 64 hashes */
    assert_int_equal(ledger_merkle_root_at(UINT64_MAX, uniform_get, &u, root, &err), 0);
    assert_int_equal(ledger_merkle_inclusion_proof(0, UINT64_MAX, uniform_get, &u, proof, &n, &err), 0);
    assert_int_equal(n, MERKLE_MAX_PROOF);
    assert_int_equal(verify_inc(0, UINT64_MAX, u.h[0], (const uint8_t (*)[32])proof, n, root,
                                &err), 0);

    const uint64_t pairs[][2] = {{two63 - 1, two63}, {2, UINT64_MAX}, {two63, UINT64_MAX},
                                 {(1ull << 62) + 3, two63}, {two63 + 2, UINT64_MAX},
                                 {UINT64_MAX - 1, UINT64_MAX}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        uint64_t s1 = pairs[k][0], s2 = pairs[k][1];
        uint8_t r1[32], r2[32];
        assert_int_equal(ledger_merkle_root_at(s1, uniform_get, &u, r1, &err), 0);
        assert_int_equal(ledger_merkle_root_at(s2, uniform_get, &u, r2, &err), 0);
        assert_int_equal(ledger_merkle_consistency_proof(s1, s2, uniform_get, &u, proof, &n, &err), 0);
        if (verify_con(s1, s2, r1, r2, (const uint8_t (*)[32])proof, n, &err) != 0)
            fail_msg("consistency (%" PRIu64 ", %" PRIu64 "): %s", s1, s2, err.msg);
    }
    /* Past 2^63 a consistency proof can need 65 hashes, one more than
     * MERKLE_MAX_PROOF: refused, not overflowed. */
    const uint64_t too_long[][2] = {{3, two63 + 5}, {two63 + 1, UINT64_MAX},
                                    {5, UINT64_MAX}};
    for (size_t k = 0; k < sizeof too_long / sizeof too_long[0]; k++) {
        assert_int_equal(ledger_merkle_consistency_proof(too_long[k][0], too_long[k][1], uniform_get,
                                                  &u, proof, &n, &err), -1);
        assert_int_equal(err.code, LEDGER_ERR_INVALID);
        assert_non_null(strstr(err.msg, "65 hashes"));
    }

    /* appending the leaf that completes 2^63 carries through all 63 levels */
    merkle_frontier f;
    assert_int_equal(ledger_merkle_frontier_load(&f, two63 - 1, uniform_get, &u, &err), 0);
    put_log pl = {{0}, 0};
    for (unsigned l = 0; l <= 63; l++)
        pl.expect_index[l] = (two63 - 1) >> l;
    ledger_merkle_frontier_append(&f, u.h[0], record_put, &pl);
    assert_int_equal(pl.calls, 64);
    assert_int_equal(f.size, two63);
    ledger_merkle_frontier_root(&f, root);
    assert_memory_equal(root, u.h[63], 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashes_follow_rfc6962),
        cmocka_unit_test(test_reference_tree_root),
        cmocka_unit_test(test_rfc6962_inclusion_vectors),
        cmocka_unit_test(test_rfc6962_consistency_vectors),
        cmocka_unit_test_setup_teardown(test_roots_and_frontiers_at_every_size, prop_setup,
                                        prop_teardown),
        cmocka_unit_test_setup_teardown(test_frontier_load_failure_leaves_frontier_untouched,
                                        prop_setup, prop_teardown),
        cmocka_unit_test_setup_teardown(test_inclusion_at_every_size, prop_setup,
                                        prop_teardown),
        cmocka_unit_test_setup_teardown(test_consistency_at_every_size, prop_setup,
                                        prop_teardown),
        cmocka_unit_test(test_historical_proofs_from_a_larger_log),
        cmocka_unit_test(test_inclusion_refuses_malformed_cases),
        cmocka_unit_test(test_consistency_refuses_malformed_cases),
        cmocka_unit_test(test_sizes_up_to_2_pow_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
