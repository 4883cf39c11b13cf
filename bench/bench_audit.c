/* bench_audit: proof bundles and the state tree on a chain of a million
 * licenses.
 *
 * Builds a chain of PERMIT_BENCH_LICENSES (default 1,000,000) licenses in
 * blocks of PERMIT_BENCH_BLOCK_TXS (default 10,000) applications, executed
 * with signatures trusted (LEDGER_SIG_TRUSTED: they are real BIP340
 * signatures, only their verification is skipped), on a genesis of four
 * validators.  Then PERMIT_BENCH_MIXED (default 10) blocks of the mix
 * bench_ledger uses (approvals by each owning department, address filings,
 * applications), during which one license collects ten events (apply,
 * two approvals, three addresses, an amendment, suspend, resume, revoke).
 * The tip is certified by three of the four validators and that license's
 * bundle is built and verified offline.  Measures, on this machine:
 *
 *   smt_fraction        time spent on state_root (the sparse Merkle tree:
 *                       hashing the changed records, updating the tree, the
 *                       tree in memory) / the block's execution time (both
 *                       wall clock), over the mixed blocks (each of
 *                       PERMIT_BENCH_BLOCK_TXS transactions)
 *   smt_cpu_fraction    the same in CPU time, summed over the executing
 *                       thread and the threads the hashing spreads to: what
 *                       state_root costs, whatever else competes for the
 *                       cores (the wall clock fraction is lower than this on
 *                       an idle machine, higher on a busy one)
 *   smt_fraction_apply  the wall clock fraction over the application-only
 *                       blocks
 *   bundle_bytes        the bundle of the ten-event license
 *   verify_ms           its offline verification (median of 21 runs)
 *   build_ms            building it from the ledger
 *
 * Prints last: RESULT bench=audit licenses=.. events=10 bundle_bytes=..
 *              verify_ms=.. smt_fraction=.. ... */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/ledgertest.h"
#include "../tests/testutil.h"
#include "benchutil.h"
#include "ledger/audit.h"
#include "ledger/bundle.h"
#include "ledger/hex.h"
#include "ledger/par.h"
#include "ledger/tx.h"

#define N_VAL 4

static lt_env *g_env;

/* Four validators (approval, market, tobacco, fire) and room for the
 * address filings. */
static void bench_genesis(json_t *root)
{
    json_t *depts = json_object_get(root, "departments");
    for (size_t d = 0; d < N_VAL; d++) {
        char hex[65], p2p[32];
        ledger_hex_encode(g_env->node[d].pub, 32, hex);
        snprintf(p2p, sizeof p2p, "127.0.0.1:%zu", 9700 + d);
        json_object_set_new(json_array_get(depts, d), "validator",
                            json_pack("{s:s, s:s}", "node_key", hex, "p2p", p2p));
    }
    json_object_set_new(json_object_get(root, "params"), "max_addresses", json_integer(16));
}

typedef struct {
    uint8_t **tx;
    size_t *len;
    size_t n, cap;
} txlist;

static void push(txlist *l, uint8_t *tx, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->tx = realloc(l->tx, l->cap * sizeof *l->tx);
        l->len = realloc(l->len, l->cap * sizeof *l->len);
    }
    l->tx[l->n] = tx;
    l->len[l->n++] = len;
}

static void clear(txlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->tx[i]);
    l->n = 0;
}

typedef struct {
    double exec_s;   /* begin .. finish, plus the state work at commit */
    double state_s;  /* time on state_root */
    double exec_cpu; /* CPU time of the block: this thread and the helpers */
    double state_cpu;
} block_cost;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (double)ledger_par_helper_cpu_ns() / 1e9;
}

/* Execute one block of the list at `time` (signatures trusted). */
static void run_block(lt_env *env, const txlist *l, uint64_t time, block_cost *cost)
{
    ledger_err err;
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.time = time;
    memcpy(ctx.proposer, env->node[LT_MARKET].pub, 32);
    uint64_t s0 = ledger_state_root_ns(env->L), c0 = ledger_state_root_cpu_ns(env->L);
    double t0 = bench_now_s(), cpu0 = thread_cpu_s();
    ledger_exec *x;
    if (ledger_exec_begin(env->L, &ctx, &x, &err) != 0)
        goto fail;
    for (size_t i = 0; i < l->n; i++)
        if (ledger_exec_tx(x, l->tx[i], l->len[i], LEDGER_SIG_TRUSTED, NULL, &err) != 0) {
            fprintf(stderr, "bench_audit: tx %zu refused: %s\n", i, err.msg);
            exit(1);
        }
    ledger_header h;
    if (ledger_exec_finish(x, &h, &err) != 0)
        goto fail;
    double t1 = bench_now_s();
    uint64_t s1 = ledger_state_root_ns(env->L);
    double cpu1 = thread_cpu_s();
    if (ledger_exec_commit_async(x, NULL, &err) != 0)
        goto fail;
    uint64_t s2 = ledger_state_root_ns(env->L), c2 = ledger_state_root_cpu_ns(env->L);
    double cpu2 = thread_cpu_s();
    cost->exec_s += (t1 - t0) + (double)(s2 - s1) / 1e9;
    cost->state_s += (double)(s2 - s0) / 1e9;
    /* the commit's CPU is its state work (the wait for the previous write
     * costs none) */
    cost->exec_cpu += (cpu1 - cpu0) + (cpu2 - cpu1);
    cost->state_cpu += (double)(c2 - c0) / 1e9;
    env->now = time;
    return;
fail:
    fprintf(stderr, "bench_audit: %s\n", err.msg);
    exit(1);
}

static void license_id(uint64_t seq, uint64_t time, char out[64])
{
    snprintf(out, 64, "PL-320411-%04u-%06llu", ledger_year_of(time), (unsigned long long)seq);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    size_t total = bench_env_size("PERMIT_BENCH_LICENSES", 1000000);
    size_t per = bench_env_size("PERMIT_BENCH_BLOCK_TXS", 10000);
    size_t mixed = bench_env_size("PERMIT_BENCH_MIXED", 10);
    if (per == 0 || total < per || mixed < 9) {
        fprintf(stderr, "bench_audit: needs PERMIT_BENCH_LICENSES >= PERMIT_BENCH_BLOCK_TXS > 0 "
                        "and PERMIT_BENCH_MIXED >= 9\n");
        return 1;
    }
    lt_env env;
    g_env = &env;
    lt_setup(&env, bench_genesis);
    printf("bench_audit: %zu licenses in blocks of %zu applications, then %zu mixed blocks\n",
           total, per, mixed);
    fflush(stdout);

    /* ---- the chain of applications ---- */
    txlist l = {0};
    block_cost apply_cost = {0, 0, 0, 0};
    uint64_t time = LT_T0, seq = 0;
    double t_sign = 0, t_start = bench_now_s();
    size_t nblocks = total / per;
    for (size_t b = 0; b < nblocks; b++) {
        time += 2 * LT_SEC;
        env.now = time - LT_SEC; /* builders stamp now + 1 s */
        double s = bench_now_s();
        for (size_t i = 0; i < per; i++) {
            char u[19];
            lt_uscc((uint32_t)(seq + i + 1), u);
            size_t len;
            uint8_t *tx = lt_apply(&env, u, "convenience-store", 0, &len);
            push(&l, tx, len);
        }
        t_sign += bench_now_s() - s;
        run_block(&env, &l, time, &apply_cost);
        seq += per;
        clear(&l);
        if ((b + 1) % 10 == 0 || b + 1 == nblocks) {
            printf("  %zu licenses, %.0f s (signing %.0f s); state_root %.1f%% of execution\n",
                   (size_t)seq, bench_now_s() - t_start, t_sign,
                   100.0 * apply_cost.state_s / apply_cost.exec_s);
            fflush(stdout);
        }
    }
    ledger_err err;
    if (ledger_sync(env.L, &err) != 0) {
        fprintf(stderr, "bench_audit: %s\n", err.msg);
        return 1;
    }

    /* ---- mixed blocks; the audited license collects its events ---- */
    char audited[64];
    uint64_t audited_seq = seq / 2 + 1;
    license_id(audited_seq, time, audited);
    uint64_t next_pending = 1;  /* approvals go through the licenses in order */
    uint64_t approved_upto = 0; /* licenses approved by market, awaiting tobacco */
    uint64_t issued_lo = 0, issued_hi = 0;
    block_cost mixed_cost = {0, 0, 0, 0};
    const ledger_keypair *market = lt_dept(&env, LT_MARKET), *tobacco = lt_dept(&env, LT_TOBACCO);
    unsigned rng = 12345;
    for (size_t b = 0; b < mixed; b++) {
        time += 2 * LT_SEC;
        env.now = time - LT_SEC;
        size_t len;
        uint8_t *tx;
        /* the audited license's event of this block */
        switch (b) {
        case 0: tx = lt_decision(&env, market, PERMIT__TX_KIND__APPROVE, audited, NULL, 0, NULL, &len); break;
        case 1: tx = lt_decision(&env, tobacco, PERMIT__TX_KIND__APPROVE, audited, NULL, 0, NULL, &len); break;
        case 2: case 3: case 4: {
            char text[64];
            snprintf(text, sizeof text, "常州市新北区太湖东路%zu号", b);
            tx = lt_add_address(&env, &env.registrar, audited, "320411001", text, &len);
            break;
        }
        case 5: tx = lt_amend(&env, &env.registrar, audited, "常州新北便利有限公司", NULL, NULL, &len); break;
        case 6: tx = lt_reason_tx(&env, market, PERMIT__TX_KIND__SUSPEND, audited, "抽检不合格", &len); break;
        case 7: tx = lt_reason_tx(&env, market, PERMIT__TX_KIND__RESUME, audited, "整改完成", &len); break;
        case 8: tx = lt_reason_tx(&env, tobacco, PERMIT__TX_KIND__REVOKE, audited, "无证经营卷烟", &len); break;
        default: tx = NULL;
        }
        if (tx)
            push(&l, tx, len);
        uint64_t approved_now = 0;
        while (l.n < per) {
            unsigned r = (unsigned)rand_r(&rng) % 100;
            char id[64];
            if (r < 45) {
                /* tobacco for those market approved in an earlier block,
                 * else market for the next pending one */
                int second = approved_upto > issued_hi && (r & 1);
                uint64_t s = second ? ++issued_hi : next_pending++;
                if (s == audited_seq)
                    continue;
                license_id(s, LT_T0 + 2 * LT_SEC, id);
                tx = lt_decision(&env, second ? tobacco : market, PERMIT__TX_KIND__APPROVE, id,
                                 NULL, 0, NULL, &len);
                if (!second)
                    approved_now = s;
                if (second && issued_lo == 0)
                    issued_lo = s;
            } else if (r < 60 && issued_lo != 0 && issued_hi > issued_lo) {
                uint64_t s = issued_lo + (uint64_t)rand_r(&rng) % (issued_hi - issued_lo);
                if (s == audited_seq)
                    continue;
                char text[96];
                license_id(s, LT_T0 + 2 * LT_SEC, id);
                snprintf(text, sizeof text, "常州市新北区河海路%u号之%zu", (unsigned)rand_r(&rng) % 9999,
                         l.n);
                tx = lt_add_address(&env, &env.registrar, id, "320411001", text, &len);
            } else {
                char u[19];
                lt_uscc((uint32_t)(++seq), u);
                tx = lt_apply(&env, u, (rand_r(&rng) & 3) ? "convenience-store" : "hotel", 0,
                              &len);
            }
            push(&l, tx, len);
        }
        if (approved_now > approved_upto)
            approved_upto = approved_now;
        block_cost c = {0, 0, 0, 0};
        run_block(&env, &l, time, &c);
        printf("  mixed block %zu: %.1f ms, state_root %.1f ms (%.1f%%); CPU %.1f ms, state_root "
               "%.1f ms (%.1f%%)\n", b, c.exec_s * 1e3, c.state_s * 1e3,
               100.0 * c.state_s / c.exec_s, c.exec_cpu * 1e3, c.state_cpu * 1e3,
               100.0 * c.state_cpu / c.exec_cpu);
        fflush(stdout);
        mixed_cost.exec_s += c.exec_s;
        mixed_cost.state_s += c.state_s;
        mixed_cost.exec_cpu += c.exec_cpu;
        mixed_cost.state_cpu += c.state_cpu;
        clear(&l);
    }
    if (ledger_sync(env.L, &err) != 0) {
        fprintf(stderr, "bench_audit: %s\n", err.msg);
        return 1;
    }

    /* ---- certify the tip (3 of 4 validators), build and verify ---- */
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
    if (ledger_put_commit(env.L, &cert, &err) != 0) {
        fprintf(stderr, "bench_audit: %s\n", err.msg);
        return 1;
    }
    uint8_t *bundle = NULL;
    size_t blen = 0;
    uint64_t bh;
    double s = bench_now_s();
    if (ledger_bundle_build(env.L, audited, 0, &bundle, &blen, &bh, &err) != 0) {
        fprintf(stderr, "bench_audit: build: %s\n", err.msg);
        return 1;
    }
    double build_ms = (bench_now_s() - s) * 1e3;
    double runs[21];
    ledger_audit_report rep;
    ledger_audit_failure f;
    size_t depth = 0, events = 0;
    for (int i = 0; i < 21; i++) {
        s = bench_now_s();
        if (ledger_audit_verify(env.g, bundle, blen, NULL, &rep, &f) != 0) {
            char line[600];
            ledger_audit_failure_format(&f, line, sizeof line);
            fprintf(stderr, "bench_audit: %s\n", line);
            return 1;
        }
        runs[i] = (bench_now_s() - s) * 1e3;
        events = rep.n_events;
        ledger_audit_report_clear(&rep);
    }
    qsort(runs, 21, sizeof runs[0], cmp_double);
    ledger_bundle b;
    if (ledger_bundle_decode(&b, bundle, blen, &err) == 0)
        depth = b.state.n_siblings;
    ledger_bundle_free(&b);
    free(bundle);
    free(l.tx);
    free(l.len);
    printf("bundle of %s: %zu events, %zu bytes, state proof of %zu levels; built in %.2f ms, "
           "verified offline in %.2f ms (median of 21)\n", audited, events, blen, depth,
           build_ms, runs[10]);
    printf("state_root: %.1f%% of execution in the mixed blocks (%.1f of %.1f ms a block; in CPU "
           "time %.1f%%, %.1f of %.1f ms), %.1f%% in the application blocks\n",
           100.0 * mixed_cost.state_s / mixed_cost.exec_s,
           mixed_cost.state_s * 1e3 / (double)mixed, mixed_cost.exec_s * 1e3 / (double)mixed,
           100.0 * mixed_cost.state_cpu / mixed_cost.exec_cpu,
           mixed_cost.state_cpu * 1e3 / (double)mixed, mixed_cost.exec_cpu * 1e3 / (double)mixed,
           100.0 * apply_cost.state_s / apply_cost.exec_s);
    printf("RESULT bench=audit licenses=%zu events=%zu bundle_bytes=%zu verify_ms=%.2f "
           "build_ms=%.2f smt_fraction=%.3f smt_cpu_fraction=%.3f smt_fraction_apply=%.3f "
           "block_ms=%.1f smt_ms=%.1f block_cpu_ms=%.1f smt_cpu_ms=%.1f proof_depth=%zu\n",
           (size_t)seq, events, blen, runs[10], build_ms, mixed_cost.state_s / mixed_cost.exec_s,
           mixed_cost.state_cpu / mixed_cost.exec_cpu, apply_cost.state_s / apply_cost.exec_s,
           mixed_cost.exec_s * 1e3 / (double)mixed, mixed_cost.state_s * 1e3 / (double)mixed,
           mixed_cost.exec_cpu * 1e3 / (double)mixed, mixed_cost.state_cpu * 1e3 / (double)mixed,
           depth);
    lt_teardown(&env);
    return 0;
}
