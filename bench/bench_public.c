/* bench_public: the public site's pages (node/public.h) on a chain of a
 * million licenses.
 *
 * Builds a chain of PERMIT_BENCH_LICENSES (default 1,000,000) licenses in
 * blocks of PERMIT_BENCH_BLOCK_TXS (default 10,000) applications, executed
 * with signatures trusted (as bench_audit does), certifies the tip by three
 * of four validators, and then times what a public-site worker does for one
 * request, node_public_render (the ledger reads, the HTML with every field,
 * the QR code, or the proof bundle), for PERMIT_BENCH_PAGES (default 500)
 * licenses chosen at random:
 *
 *   page_p50_ms, page_p99_ms, page_max_ms     GET /l/<id>
 *   search_p50_ms, search_p99_ms               GET /?q=<USCC>
 *   bundle_p50_ms, bundle_p99_ms               GET /l/<id>/bundle
 *
 * The socket and evhttp are left out: they do the same for every page.
 * The target is a page in under 50 ms (issue 12).
 *
 * Prints last: RESULT bench=public licenses=.. page_p50_ms=.. ... */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/ledgertest.h"
#include "../tests/testutil.h"
#include "benchutil.h"
#include "ledger/hex.h"
#include "ledger/tx.h"
#include "node/public.h"

#define N_VAL 4

static lt_env *g_env;

static void bench_genesis(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t d = 0; d < N_VAL; d++) {
        char hex[65], p2p[32];
        ledger_hex_encode(g_env->node[d].pub, 32, hex);
        snprintf(p2p, sizeof p2p, "127.0.0.1:%zu", 9800 + d);
        json_object_set_new(json_array_get(depts, d), "validator",
                            json_pack("{s:s, s:s}", "node_key", hex, "p2p", p2p));
    }
}

static void die(const char *what, const ledger_err *err)
{
    fprintf(stderr, "bench_public: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void run_block(lt_env *env, uint8_t **txs, size_t *lens, size_t n, uint64_t time)
{
    ledger_err err;
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = time;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    ledger_exec *x;
    if (ledger_exec_begin(env->L, &ctx, &x, &err) != 0)
        die("begin", &err);
    for (size_t i = 0; i < n; i++)
        if (ledger_exec_tx(x, txs[i], lens[i], LEDGER_SIG_TRUSTED, NULL, &err) != 0)
            die("tx refused", &err);
    ledger_header h;
    if (ledger_exec_finish(x, &h, &err) != 0 || ledger_exec_commit_async(x, NULL, &err) != 0)
        die("commit", &err);
    env->now = time;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, unsigned p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (n * p + 99) / 100;
    return v[i == 0 ? 0 : i - 1];
}

int main(void)
{
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    size_t total = bench_env_size("PERMIT_BENCH_LICENSES", 1000000);
    size_t per = bench_env_size("PERMIT_BENCH_BLOCK_TXS", 10000);
    size_t pages = bench_env_size("PERMIT_BENCH_PAGES", 500);
    if (per == 0 || total < per || pages == 0) {
        fprintf(stderr, "bench_public: needs PERMIT_BENCH_LICENSES >= PERMIT_BENCH_BLOCK_TXS > 0 "
                        "and PERMIT_BENCH_PAGES > 0\n");
        return 1;
    }
    lt_env env;
    g_env = &env;
    lt_setup(&env, bench_genesis);
    printf("bench_public: %zu licenses in blocks of %zu applications, then %zu pages of each "
           "kind\n",
           total, per, pages);
    fflush(stdout);

    uint8_t **txs = calloc(per, sizeof *txs);
    size_t *lens = calloc(per, sizeof *lens);
    uint64_t time = LT_T0, seq = 0;
    double t0 = bench_now_s();
    size_t nblocks = total / per;
    for (size_t b = 0; b < nblocks; b++) {
        time += 2 * LT_SEC;
        env.now = time - LT_SEC;
        for (size_t i = 0; i < per; i++) {
            char u[19];
            lt_uscc((uint32_t)(seq + i + 1), u);
            txs[i] = lt_apply(&env, u, "convenience-store", 0, &lens[i]);
        }
        run_block(&env, txs, lens, per, time);
        for (size_t i = 0; i < per; i++)
            free(txs[i]);
        seq += per;
        if ((b + 1) % 10 == 0 || b + 1 == nblocks) {
            printf("  %zu licenses, %.0f s\n", (size_t)seq, bench_now_s() - t0);
            fflush(stdout);
        }
    }
    free(txs);
    free(lens);
    ledger_err err;
    if (ledger_sync(env.L, &err) != 0)
        die("sync", &err);

    /* certify the tip (3 of 4), so that bundles can be built */
    ledger_tip tip;
    ledger_get_tip(env.L, &tip);
    ledger_commit cert;
    memset(&cert, 0, sizeof cert);
    cert.height = tip.height;
    memcpy(cert.block_hash, tip.hash, 32);
    uint8_t msg[32];
    ledger_vote_sighash(env.g->chain_id, LEDGER_VOTE_PRECOMMIT, tip.height, 0, tip.hash, msg);
    for (uint32_t v = 0; v < 3; v++) {
        cert.sigs[v].validator = v;
        if (ledger_sign(&env.node[v], msg, NULL, cert.sigs[v].sig) != 0)
            return 1;
    }
    cert.n_sigs = 3;
    if (ledger_put_commit(env.L, &cert, &err) != 0)
        die("certificate", &err);

    char *gj = env.genesis_json;
    public_site site = {.L = env.L, .g = env.g, .base_url = "https://zz.example.gov.cn",
                        .genesis = (const uint8_t *)gj, .genesis_len = strlen(gj)};
    double *page = calloc(pages, sizeof *page), *search = calloc(pages, sizeof *search),
           *bundle = calloc(pages, sizeof *bundle);
    unsigned rng = 4242;
    size_t page_bytes = 0;
    for (size_t k = 0; k < pages; k++) {
        /* licenses are numbered 1..total within the year of their block */
        uint64_t s = 1 + (uint64_t)rand_r(&rng) % total;
        uint64_t block_time = LT_T0 + 2 * LT_SEC * (1 + (s - 1) / per);
        char path[128], q[19];
        snprintf(path, sizeof path, "/l/PL-320411-%04u-%06llu", ledger_year_of(block_time),
                 (unsigned long long)s);
        lt_uscc((uint32_t)s, q);
        public_reply r;
        double a = bench_now_s();
        if (node_public_render(&site, path, NULL, "0123456789abcdef", &r) != 0 || r.status != 200)
            die(path, NULL);
        page[k] = (bench_now_s() - a) * 1e3;
        page_bytes += r.len;
        node_public_reply_clear(&r);
        a = bench_now_s();
        if (node_public_render(&site, "/", q, "0123456789abcdef", &r) != 0 || r.status != 200 ||
            strstr(r.body, path) == NULL)
            die("search", NULL);
        search[k] = (bench_now_s() - a) * 1e3;
        node_public_reply_clear(&r);
        strcat(path, "/bundle");
        a = bench_now_s();
        if (node_public_render(&site, path, NULL, "0123456789abcdef", &r) != 0 || r.status != 200)
            die(path, NULL);
        bundle[k] = (bench_now_s() - a) * 1e3;
        node_public_reply_clear(&r);
    }
    double p50 = pct(page, pages, 50), p99 = pct(page, pages, 99), pmax = page[pages - 1];
    double s50 = pct(search, pages, 50), s99 = pct(search, pages, 99);
    double b50 = pct(bundle, pages, 50), b99 = pct(bundle, pages, 99);
    printf("  license page: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %zu bytes on average\n", p50,
           p99, pmax, page_bytes / pages);
    printf("  USCC search:  p50 %.2f ms, p99 %.2f ms\n", s50, s99);
    printf("  bundle:       p50 %.2f ms, p99 %.2f ms\n", b50, b99);
    printf("RESULT bench=public licenses=%zu pages=%zu page_p50_ms=%.2f page_p99_ms=%.2f "
           "page_max_ms=%.2f search_p50_ms=%.2f search_p99_ms=%.2f bundle_p50_ms=%.2f "
           "bundle_p99_ms=%.2f under_50ms=%s\n",
           (size_t)seq, pages, p50, p99, pmax, s50, s99, b50, b99,
           p99 < 50 && s99 < 50 && b99 < 50 ? "yes" : "no");
    free(page);
    free(search);
    free(bundle);
    lt_teardown(&env);
    return 0;
}
