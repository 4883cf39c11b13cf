/* wasm/verifier.c: the browser verifier (DESIGN §12): `permit audit
 * --bundle FILE --genesis FILE` without the command line, compiled to
 * WebAssembly.  The checks are ledger_audit_verify and
 * ledger_audit_freshness, the very code the CLI runs; the verdict is the
 * JSON of ledger_audit_report_json, the CLI's --json, so the page and the
 * CLI cannot say different things about the same bundle.
 *
 * The exports, called by web/page.js (or wasm/run.js under node.js):
 *
 *   pv_alloc(n) / pv_free(p)   memory for the inputs and the verdict
 *   pv_verify(genesis, glen, bundle, blen, now_ms)
 *       verifies the bundle against the genesis file's bytes at the
 *       visitor's clock now_ms (ms since the epoch) and returns a
 *       NUL-terminated JSON verdict (free it with pv_free), NULL only when
 *       memory ran out:
 *         {"verified": true, "chain_id", "genesis_hash", "region",
 *          ...the fields of `permit audit --json`...}
 *         {"verified": false, "stage": "genesis" | "bundle", "chain_id"?,
 *          "genesis_hash"?, "check", "check_name", "event", "height",
 *          "reason", "message"}
 *       "message" is ledger_audit_failure_format's line, the one `permit
 *       audit` prints after "failed: ". */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/audit.h"
#include "ledger/audit_json.h"
#include "ledger/bundle.h"
#include "ledger/genesis.h"
#include "ledger/hex.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define PV_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define PV_EXPORT
#endif

PV_EXPORT void *pv_alloc(size_t n)
{
    return malloc(n ? n : 1);
}

PV_EXPORT void pv_free(void *p)
{
    free(p);
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

static char *failed(const ledger_genesis *g, const char *stage, const ledger_audit_failure *f)
{
    char msg[600], gh[65];
    ledger_audit_failure_format(f, msg, sizeof msg);
    json_t *j = json_pack("{s:b, s:s, s:i, s:s, s:I, s:I, s:s, s:s}", "verified", 0, "stage",
                          stage, "check", f->check, "check_name",
                          ledger_audit_check_name(f->check), "event", (json_int_t)f->event,
                          "height", (json_int_t)f->height, "reason", f->reason, "message", msg);
    if (j && g) {
        ledger_hex_encode(g->hash, 32, gh);
        json_object_set_new(j, "chain_id", json_string(g->chain_id));
        json_object_set_new(j, "genesis_hash", json_string(gh));
    }
    return dump(j);
}

PV_EXPORT char *pv_verify(const uint8_t *genesis, size_t glen, const uint8_t *bundle,
                          size_t blen, double now_ms)
{
    ledger_audit_failure f;
    memset(&f, 0, sizeof f);
    f.event = -1;
    ledger_genesis *g = NULL;
    ledger_err e;
    if (glen > LEDGER_MAX_GENESIS_BYTES ||
        ledger_genesis_parse((const char *)genesis, glen, &g, &e) != 0) {
        /* not one of the audit's checks: the trust anchor itself is bad */
        f.check = AUDIT_BUNDLE;
        snprintf(f.reason, sizeof f.reason, "the genesis file is not valid: %s",
                 glen > LEDGER_MAX_GENESIS_BYTES ? "too large" : e.msg);
        return failed(NULL, "genesis", &f);
    }
    /* the clock is the visitor's: a negative or absurd one is taken as 1 ms
     * past the epoch, which makes every block look fresh rather than
     * wrapping around */
    uint64_t now = now_ms >= 1.0 && now_ms < 9.0e15 ? (uint64_t)now_ms : 1u;
    ledger_audit_report rep;
    memset(&rep, 0, sizeof rep);
    char *out = NULL;
    if (blen > LEDGER_MAX_BUNDLE_BYTES) {
        f.check = AUDIT_BUNDLE;
        snprintf(f.reason, sizeof f.reason, "the bundle is larger than %u bytes",
                 LEDGER_MAX_BUNDLE_BYTES);
        out = failed(g, "bundle", &f);
        goto done;
    }
    if (ledger_audit_verify(g, bundle, blen, NULL, &rep, &f) != 0) {
        out = failed(g, "bundle", &f);
        goto done;
    }
    ledger_audit_age age;
    if (ledger_audit_freshness(g, &rep, now, 0, &age, &f) != 0) {
        out = failed(g, "bundle", &f);
        goto done;
    }
    json_t *j = ledger_audit_report_json(g, &rep, &age);
    if (j) {
        char gh[65];
        ledger_hex_encode(g->hash, 32, gh);
        json_t *head = json_pack("{s:b, s:s, s:s, s:s}", "verified", 1, "chain_id", g->chain_id,
                                 "genesis_hash", gh, "region", g->region_name);
        if (head == NULL || json_object_update(head, j) != 0) {
            json_decref(head);
            json_decref(j);
            goto done;
        }
        json_decref(j);
        j = head;
    }
    out = dump(j);
done:
    ledger_audit_report_clear(&rep);
    ledger_genesis_free(g);
    return out;
}
