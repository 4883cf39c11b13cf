#include "fuzzcommon.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/core.h"

static ledger_genesis *g_genesis;
static Permit__Frame *g_chain;
static char g_dirs[4][64];
static ledger *g_ledgers[4];
static size_t g_n_dirs;

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz: cannot open %s (make fuzz-seeds)\n", path);
        abort();
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        FZ_CHECK(buf != NULL);
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    *len = n;
    return buf;
}

const ledger_genesis *fz_genesis(void)
{
    if (g_genesis == NULL) {
        ledger_err err;
        if (ledger_genesis_load(PERMIT_FUZZ_DATA "/genesis.json", &g_genesis, &err) != 0) {
            fprintf(stderr, "fuzz: %s/genesis.json: %s\n", PERMIT_FUZZ_DATA, err.msg);
            abort();
        }
    }
    return g_genesis;
}

const Permit__SyncResponse *fz_chain(void)
{
    if (g_chain == NULL) {
        size_t len;
        uint8_t *bin = read_all(PERMIT_FUZZ_DATA "/chain.bin", &len);
        g_chain = permit__frame__unpack(NULL, len, bin);
        free(bin);
        FZ_CHECK(g_chain != NULL && g_chain->msg_case == PERMIT__FRAME__MSG_SYNC_RESPONSE);
    }
    return g_chain->sync_response;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    for (size_t i = 0; i < g_n_dirs; i++) {
        ledger_close(g_ledgers[i]);
        nftw(g_dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

ledger *fz_ledger(size_t upto)
{
    const Permit__SyncResponse *c = fz_chain();
    FZ_CHECK(g_n_dirs < 4 && upto <= c->n_blocks);
    char *dir = g_dirs[g_n_dirs];
    snprintf(dir, sizeof g_dirs[0], "/tmp/permit-fuzz-XXXXXX");
    FZ_CHECK(mkdtemp(dir) != NULL);
    ledger *L;
    ledger_err err;
    if (ledger_open(&L, dir, fz_genesis(), &err) != 0) {
        fprintf(stderr, "fuzz: ledger_open: %s\n", err.msg);
        abort();
    }
    g_ledgers[g_n_dirs++] = L;
    if (g_n_dirs == 1)
        atexit(cleanup);
    for (size_t i = 0; i < upto; i++) {
        core_block *b = core_block_from_pb(c->blocks[i], 100, 1u << 20, &err);
        FZ_CHECK(b != NULL);
        ledger_commit cert;
        FZ_CHECK(ledger_commit_from_pb(&cert, c->blocks[i]->commit, &err) == 0);
        if (ledger_apply_block(L, b->hdr_bytes, b->hdr_len, (const uint8_t *const *)b->txs,
                               b->lens, b->n, b->has_last_commit ? &b->last_commit : NULL, &cert,
                               0, &err) != 0) {
            fprintf(stderr, "fuzz: block %zu of chain.bin: %s (make fuzz-seeds)\n", i + 1,
                    err.msg);
            abort();
        }
        core_block_unref(b);
    }
    return L;
}
