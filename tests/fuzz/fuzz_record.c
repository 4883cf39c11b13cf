/* libFuzzer target: the canonical license record and event
 * (ledger/license.h), the governance record (ledger/gov.h) and the USCC
 * record (ledger/instant.h).  The first byte chooses: odd, an event; 2 mod
 * 4, a governance record (of the seeds' genesis); 4 mod 8, a USCC record;
 * otherwise a license record; the rest is the bytes.
 *
 * Both layouts are canonical: whatever decodes encodes back to exactly the
 * input (state_root and the event log commit to these bytes).  A record
 * whose text is UTF-8 (every stored one: its text passed the field rules)
 * has the JSON of license.get. */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/gov.h"
#include "ledger/instant.h"
#include "ledger/license.h"
#include "ledger/text.h"
#include "node/rpc_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int utf8(const char *s)
{
    return s == NULL || ledger_utf8_valid_multiline(s, strlen(s));
}

static int all_utf8(const ledger_license *l)
{
    int ok = utf8(l->id) && utf8(l->uscc) && utf8(l->name) && utf8(l->legal_rep) &&
             utf8(l->industry) && utf8(l->scope) && utf8(l->suspended_by);
    for (size_t i = 0; i < l->n_addresses; i++)
        ok = ok && utf8(l->addresses[i].division) && utf8(l->addresses[i].text);
    for (size_t i = 0; i < l->n_items; i++)
        ok = ok && utf8(l->items[i].permit) && utf8(l->items[i].department);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    ledger_err err;
    if ((data[0] & 3) == 2) {
        ledger_gov *gv = NULL;
        if (ledger_gov_decode(fz_genesis(), p, n, &gv, &err) != 0)
            return 0;
        char id[LEDGER_MAX_LICENSE_ID + 1];
        ledger_gov_record_id(fz_genesis(), id, sizeof id);
        uint8_t *out;
        size_t len;
        FZ_CHECK(ledger_gov_encode(gv, id, &out, &len, &err) == 0);
        FZ_CHECK(len == n && memcmp(out, p, n) == 0);
        free(out);
        ledger_gov_release(gv);
    } else if ((data[0] & 7) == 4) {
        ledger_uscc_record u;
        if (ledger_uscc_record_decode(&u, p, n, &err) != 0)
            return 0;
        uint8_t *out;
        size_t len;
        FZ_CHECK(ledger_uscc_record_encode(&u, &out, &len, &err) == 0);
        FZ_CHECK(len == n && memcmp(out, p, n) == 0);
        FZ_CHECK(u.n <= LEDGER_USCC_REVOCATIONS_MAX);
        FZ_CHECK(!u.full || u.n == LEDGER_USCC_REVOCATIONS_MAX);
        free(out);
    } else if ((data[0] & 1) == 0) {
        ledger_license l;
        if (ledger_license_decode(&l, p, n, &err) != 0)
            return 0;
        uint8_t *out;
        size_t len;
        FZ_CHECK(ledger_license_encode(&l, &out, &len, &err) == 0);
        FZ_CHECK(len == n && memcmp(out, p, n) == 0);
        free(out);
        json_t *j = node_json_license(&l, 0);
        FZ_CHECK(j != NULL || !all_utf8(&l));
        json_decref(j);
        ledger_license_clear(&l);
    } else {
        ledger_event e;
        if (ledger_event_decode(&e, p, n) != 0)
            return 0;
        uint8_t out[LEDGER_EVENT_MAX_BYTES];
        size_t len;
        FZ_CHECK(ledger_event_encode(&e, out, sizeof out, &len) == 0);
        FZ_CHECK(len == n && memcmp(out, p, n) == 0);
    }
    return 0;
}
