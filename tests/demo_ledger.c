/* demo_ledger: the license workflow run directly against the ledger core, in
 * a temporary folder, printing each step.  `make demo` runs it until the
 * node (permitd) and the CLI take over the demo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"
#include "ledger/query.h"
#include "ledger/tx.h"
#include "ledgertest.h"

static void show(lt_env *env, const char *id)
{
    ledger_license l;
    lt_get(env, id, &l);
    printf("    %s  %s  %s  status=%s  seq=%u\n", l.id, l.name, l.uscc,
           ledger_status_name(ledger_license_status_at(&l, env->now)), l.seq);
    for (size_t i = 0; i < l.n_items; i++)
        printf("      item %zu: %s (%s) %s%s\n", i, l.items[i].permit, l.items[i].department,
               ledger_decision_name(l.items[i].decision), l.items[i].verified ? ", verified" : "");
    for (size_t i = 0; i < l.n_addresses; i++)
        printf("      address #%u %s %s%s\n", l.addresses[i].id, l.addresses[i].division,
               l.addresses[i].text, l.addresses[i].primary ? " (primary)" : "");
    ledger_license_clear(&l);
}

static void step(lt_env *env, const char *what, uint8_t *tx, const size_t *len, char *id_out)
{
    ledger_err err;
    char id[80] = "";
    if (lt_run_free(env, 0, tx, *len, id, &err) != 0) {
        printf("  %-44s REFUSED: %s (rule %s)\n", what, err.msg, err.rule ? err.rule : "-");
        return;
    }
    printf("  %-44s ok, block %llu\n", what, (unsigned long long)ledger_height(env->L));
    if (id_out)
        strcpy(id_out, id);
}

int main(void)
{
    lt_env env;
    lt_setup(&env, NULL);
    printf("PermitChain ledger demo: chain %s, region %s (%s), %zu departments\n\n",
           env.g->chain_id, env.g->region, env.g->region_name, env.g->n_departments);
    char a[80], b[80];
    size_t len;

    printf("1. A convenience store applies (registrar), market and tobacco approve:\n");
    step(&env, "APPLY convenience-store", lt_apply(&env, "91350100M000100Y43", "convenience-store", 0, &len), &len, a);
    step(&env, "APPROVE by market",
         lt_decision(&env, lt_dept(&env, LT_MARKET), PERMIT__TX_KIND__APPROVE, a, NULL, 0, NULL, &len), &len, NULL);
    step(&env, "APPROVE by fire (owns no item)",
         lt_decision(&env, lt_dept(&env, LT_FIRE), PERMIT__TX_KIND__APPROVE, a, NULL, 0, NULL, &len), &len, NULL);
    step(&env, "APPROVE by tobacco",
         lt_decision(&env, lt_dept(&env, LT_TOBACCO), PERMIT__TX_KIND__APPROVE, a, NULL, 0, NULL, &len), &len, NULL);
    show(&env, a);

    printf("\n2. The notify-and-commit route: issued at once, then verified:\n");
    char u[19];
    lt_uscc(4242, u);
    step(&env, "APPLY with commitment", lt_apply(&env, u, "convenience-store", 1, &len), &len, b);
    show(&env, b);
    step(&env, "VERIFY by market",
         lt_decision(&env, lt_dept(&env, LT_MARKET), PERMIT__TX_KIND__VERIFY, b, NULL, 0, NULL, &len), &len, NULL);
    step(&env, "VERIFY by tobacco",
         lt_decision(&env, lt_dept(&env, LT_TOBACCO), PERMIT__TX_KIND__VERIFY, b, NULL, 0, NULL, &len), &len, NULL);
    show(&env, b);

    printf("\n3. Two more business addresses (一照多址) and an amendment:\n");
    step(&env, "ADD_ADDRESS 320411001",
         lt_add_address(&env, &env.registrar, a, "320411001", "新北区珠江路5号", &len), &len, NULL);
    step(&env, "ADD_ADDRESS 320411002",
         lt_add_address(&env, &env.registrar, a, "320411002", "新北区衡山路8号", &len), &len, NULL);
    step(&env, "ADD_ADDRESS outside the region",
         lt_add_address(&env, &env.registrar, a, "320412", "武进区湖塘镇1号", &len), &len, NULL);
    step(&env, "AMEND legal representative",
         lt_amend(&env, &env.registrar, a, NULL, "李四", NULL, &len), &len, NULL);
    show(&env, a);

    printf("\n4. Search by USCC 91350100M000100Y43:\n");
    ledger_query q = {.kind = LEDGER_Q_SEARCH, .uscc = "91350100M000100Y43", .now = env.now};
    ledger_query_result r;
    ledger_err err;
    if (ledger_query_run(env.L, &q, &r, &err) == 0) {
        for (size_t i = 0; i < r.n; i++)
            printf("    %s %s %s\n", r.items[i].id, r.items[i].name,
                   ledger_status_name(ledger_license_status_at(&r.items[i], env.now)));
        ledger_query_result_free(&r);
    }

    printf("\n5. Licenses expiring within 6 years:\n");
    ledger_query e = {.kind = LEDGER_Q_EXPIRING, .within_ms = 6 * 365 * LT_DAY, .now = env.now};
    if (ledger_query_run(env.L, &e, &r, &err) == 0) {
        for (size_t i = 0; i < r.n; i++)
            printf("    %s expires at %llu (ms)\n", r.items[i].id,
                   (unsigned long long)r.items[i].expires_at);
        ledger_query_result_free(&r);
    }

    printf("\n6. History of %s (hash-chained events):\n", a);
    ledger_event_rec *evs;
    size_t n;
    if (ledger_get_events(env.L, a, &evs, &n, &err) == 1) {
        for (size_t i = 0; i < n; i++) {
            char h[65];
            ledger_hex_encode(evs[i].hash, 32, h);
            printf("    seq %u %-12s block %llu  event %.16s…\n", evs[i].ev.seq,
                   ledger_tx_kind_name(evs[i].ev.kind), (unsigned long long)evs[i].ev.height, h);
        }
        free(evs);
    }
    int ok = ledger_check_integrity(env.L, &err) == 0;
    printf("\nintegrity check: %s\n", ok ? "ok" : err.msg);
    lt_teardown(&env);
    return ok ? 0 : 1;
}
