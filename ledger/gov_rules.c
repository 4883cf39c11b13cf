/* ledger/gov_rules.c: what GOV_PROPOSE, GOV_APPROVE and RETIRE_KEY do to the
 * governance record (gov.h, ledger_gov_step), free of storage, so that the
 * block (exec.c) and the mempool (admit.c) run the same rules.  Rule names:
 * docs/rules.md, "Governance". */
#include "gov.h"

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "genesis_int.h"
#include "hex.h"
#include "limits.h"
#include "permit.pb-c.h"
#include "text.h"

#define GOV_NAME_MAX 128
#define GOV_PERMIT_MAX 256

static int refuse(ledger_err *err, const char *rule, const char *msg)
{
    return ledger_fail(err, LEDGER_ERR_RULE, rule, "%s", msg);
}

/* ---- the change as the transaction carries it ---------------------------- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && ledger_utf8_valid(s, n);
}

/* The change of a GOV_PROPOSE as a ledger_gov_change, its form checked:
 * every field the type uses present and well-formed, no other. */
static int change_from_pb(const Permit__GovChange *pc, ledger_gov_change *c, ledger_err *err)
{
    memset(c, 0, sizeof *c);
    if (pc == NULL)
        return refuse(err, "gov_change_invalid", "the proposal carries no change");
    c->type = pc->type;
    c->name = dup_or_empty(pc->name);
    c->department = dup_or_empty(pc->department);
    c->p2p = dup_or_empty(pc->p2p);
    c->rpc = dup_or_empty(pc->rpc);
    c->code = dup_or_empty(pc->code);
    if (!c->name || !c->department || !c->p2p || !c->rpc || !c->code)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    if (pc->key.len != 0) {
        if (pc->key.len != 32)
            return refuse(err, "gov_change_invalid", "a key must be 32 bytes");
        c->has_key = 1;
        memcpy(c->key, pc->key.data, 32);
    }
    if (pc->node_key.len != 0) {
        if (pc->node_key.len != 32)
            return refuse(err, "gov_change_invalid", "a node key must be 32 bytes");
        c->has_node = 1;
        memcpy(c->node_key, pc->node_key.data, 32);
    }
    c->value = pc->value;
    if (pc->industry != NULL) {
        const Permit__GovIndustry *pi = pc->industry;
        ledger_industry *ind = &c->industry;
        c->has_industry = 1;
        if (pi->n_items < 1 || pi->n_items > LEDGER_MAX_ITEMS)
            return refuse(err, "gov_change_invalid", "an industry has 1 to 16 permit items");
        ind->code = dup_or_empty(pi->code);
        ind->name = dup_or_empty(pi->name);
        ind->items = calloc(pi->n_items, sizeof *ind->items);
        if (!ind->code || !ind->name || !ind->items)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        ind->n_items = pi->n_items;
        for (size_t j = 0; j < pi->n_items; j++) {
            ind->items[j].permit = dup_or_empty(pi->items[j]->permit);
            ind->items[j].department = dup_or_empty(pi->items[j]->department);
            ind->items[j].instant = pi->items[j]->instant ? 1 : 0;
            ind->items[j].dept = -1;
            if (!ind->items[j].permit || !ind->items[j].department)
                return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        }
        ind->validity_ms = pi->validity_ms;
        ind->renew_window_ms = pi->renew_window_ms;
        ind->grace_ms = pi->grace_ms;
        ind->commitment_allowed = pi->commitment_allowed;
        ind->verify_within_ms = pi->verify_within_ms;
    }
    /* which fields each type uses: N name, D department, K key, O node key,
     * P p2p/rpc, I industry, C code, V value */
    static const char *const uses[] = {
        [LEDGER_GOV_ADD_REGISTRAR] = "NDK",     [LEDGER_GOV_REMOVE_REGISTRAR] = "K",
        [LEDGER_GOV_ADD_DEPARTMENT] = "NDKOP",  [LEDGER_GOV_REMOVE_DEPARTMENT] = "D",
        [LEDGER_GOV_ROTATE_KEY] = "DKO",        [LEDGER_GOV_ADD_OBSERVER] = "NO",
        [LEDGER_GOV_REMOVE_OBSERVER] = "O",     [LEDGER_GOV_SET_INDUSTRY] = "I",
        [LEDGER_GOV_REMOVE_INDUSTRY] = "C",     [LEDGER_GOV_SET_PARAM] = "NV",
    };
    if (c->type < 1 || c->type > LEDGER_GOV_CHANGE_MAX)
        return ledger_fail(err, LEDGER_ERR_RULE, "gov_change_invalid",
                           "change type %u is unknown", (unsigned)c->type);
    const char *u = uses[c->type];
    struct {
        char f;
        int set;
    } fields[] = {
        {'N', c->name[0] != 0}, {'D', c->department[0] != 0}, {'K', c->has_key},
        {'O', c->has_node}, {'P', c->p2p[0] != 0 || c->rpc[0] != 0}, {'I', c->has_industry},
        {'C', c->code[0] != 0}, {'V', c->value != 0},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].set && strchr(u, fields[i].f) == NULL)
            return ledger_fail(err, LEDGER_ERR_RULE, "gov_change_invalid",
                               "%s carries a field it does not use",
                               ledger_gov_change_name(c->type));
    return 0;
}

/* ---- checks against the membership --------------------------------------- */

/* 1 when the key holds any role in m (a seal, retired or not, a node key, a
 * registrar or observer key) or was ever retired. */
static int key_used(const ledger_gov *gv, const uint8_t key[32])
{
    const ledger_genesis *m = gv->m;
    for (size_t i = 0; i < m->n_departments; i++) {
        if (memcmp(m->departments[i].seal.raw, key, 32) == 0)
            return 1;
        if (m->departments[i].validator && memcmp(m->departments[i].node.raw, key, 32) == 0)
            return 1;
    }
    for (size_t i = 0; i < m->n_registrars; i++)
        if (memcmp(m->registrars[i].key.raw, key, 32) == 0)
            return 1;
    return ledger_gov_observer(gv, key) >= 0;
}

static int check_new_key(const ledger_gov *gv, const uint8_t key[32], ledger_pubkey *pk,
                         ledger_err *err)
{
    if (ledger_pubkey_parse(pk, key) != 0)
        return refuse(err, "gov_change_invalid", "the key is not a valid x-only public key");
    if (ledger_gov_key_retired(gv, key))
        return refuse(err, "gov_key_retired",
                      "the key was retired or replaced and may never be used again");
    if (key_used(gv, key))
        return refuse(err, "gov_key_in_use", "the key already has a role in the membership");
    return 0;
}

static int add_retired(ledger_gov *gv, const uint8_t key[32], ledger_err *err)
{
    if (ledger_gov_key_retired(gv, key))
        return 0;
    if (gv->n_retired >= LEDGER_GOV_MAX_RETIRED)
        return refuse(err, "gov_limit", "too many retired keys");
    uint8_t(*nr)[32] = realloc(gv->retired, (gv->n_retired + 1) * 32);
    if (nr == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    gv->retired = nr;
    size_t at = 0;
    while (at < gv->n_retired && memcmp(gv->retired[at], key, 32) < 0)
        at++;
    memmove(gv->retired[at + 1], gv->retired[at], (gv->n_retired - at) * 32);
    memcpy(gv->retired[at], key, 32);
    gv->n_retired++;
    return 0;
}

/* After a change: at least one validator, and a quorum of departments that
 * can still sign (a seal key not retired) within reach. */
static int check_liveness(const ledger_gov *gv, ledger_err *err)
{
    const ledger_genesis *m = gv->m;
    size_t validators = 0, signing = 0;
    for (size_t i = 0; i < m->n_departments; i++) {
        validators += m->departments[i].validator ? 1 : 0;
        signing += m->departments[i].seal_retired ? 0 : 1;
    }
    if (validators == 0)
        return refuse(err, "gov_no_validator", "the change would leave no validator");
    if (signing < ledger_gov_needed(gv))
        return refuse(err, "gov_quorum_unreachable",
                      "the change would leave too few departments able to sign for a quorum");
    return 0;
}

/* After a change to the validators (DESIGN §11): the validators certifying
 * the block that executes it (`before`, the set in force at its height)
 * must be able to decide blocks without the ones the change adds, whose
 * nodes may not run yet: those kept make a quorum of the new set.  So no
 * more validators join (or node keys rotate) at once than the new set
 * tolerates faults, a change waits for the last one to certify, and a chain
 * of one or two validators only shrinks.  Until the newcomers run, the
 * chain tolerates that many faults fewer (docs/operations.md). */
static int check_validators(const ledger_gov *before, const ledger_gov *after, ledger_err *err)
{
    const ledger_genesis *a = after->m, *b = before->m;
    size_t kept = 0;
    for (size_t i = 0; i < a->n_validators; i++)
        if (ledger_genesis_validator_index(b, a->departments[a->validators[i]].node.raw) >= 0)
            kept++;
    if (kept == a->n_validators)
        return 0; /* nothing added: removing validators keeps what decides */
    if (kept < ledger_quorum(a->n_validators))
        return ledger_fail(err, LEDGER_ERR_RULE, "gov_validators_unreachable",
                           "the %zu validators kept would not make a quorum (%zu) of the %zu "
                           "after the change without the ones it adds: change one validator at "
                           "a time, on a chain of at least four",
                           kept, ledger_quorum(a->n_validators), a->n_validators);
    return 0;
}

/* A validator's node: its node key and p2p address ("host:port"). */
static int take_node(ledger_gov *gv, ledger_department *d, const ledger_gov_change *c,
                     ledger_err *err)
{
    ledger_pubkey nk;
    if (!c->has_node || !c->p2p[0] || ledger_hostport_problem(c->p2p) != NULL ||
        (c->rpc[0] && ledger_hostport_problem(c->rpc) != NULL))
        return refuse(err, "gov_change_invalid",
                      "a validator needs a node key and a p2p address host:port (and an "
                      "optional RPC address host:port)");
    if (memcmp(c->node_key, c->key, 32) == 0)
        return refuse(err, "gov_key_in_use", "the node key and the seal key must differ");
    if (check_new_key(gv, c->node_key, &nk, err) != 0)
        return -1;
    const ledger_genesis *m = gv->m;
    for (size_t i = 0; i < m->n_departments; i++)
        if (m->departments[i].validator && m->departments[i].p2p &&
            strcmp(m->departments[i].p2p, c->p2p) == 0)
            return refuse(err, "gov_change_invalid", "another validator has that p2p address");
    char *p2p = strdup(c->p2p), *rpc = c->rpc[0] ? strdup(c->rpc) : NULL;
    if (p2p == NULL || (c->rpc[0] && rpc == NULL)) {
        free(p2p);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    d->validator = 1;
    d->node = nk;
    d->p2p = p2p;
    d->rpc = rpc;
    return 0;
}

static int dept_in_use(const ledger_genesis *m, const char *id)
{
    for (size_t i = 0; i < m->n_registrars; i++)
        if (strcmp(m->registrars[i].department, id) == 0)
            return 1;
    for (size_t i = 0; i < m->n_industries; i++)
        for (size_t j = 0; j < m->industries[i].n_items; j++)
            if (strcmp(m->industries[i].items[j].department, id) == 0)
                return 1;
    return 0;
}

static int check_industry(const ledger_genesis *m, const ledger_industry *ind, ledger_err *err)
{
    if (!ledger_gj_id_matches(ind->code, 32, 1, "-"))
        return refuse(err, "gov_change_invalid",
                      "an industry code is a lower-case letter, then up to 31 of a-z 0-9 -");
    if (!text_ok(ind->name, GOV_NAME_MAX))
        return refuse(err, "gov_change_invalid", "the industry needs a name");
    if (ind->validity_ms == 0 || ind->validity_ms > LEDGER_MAX_DURATION_MS ||
        ind->renew_window_ms > LEDGER_MAX_DURATION_MS || ind->grace_ms > LEDGER_MAX_DURATION_MS ||
        ind->verify_within_ms > LEDGER_MAX_DURATION_MS)
        return refuse(err, "gov_change_invalid", "a duration is zero or over 100 years");
    if (ind->commitment_allowed && ind->verify_within_ms == 0)
        return refuse(err, "gov_change_invalid",
                      "verify_within is required when commitment is allowed");
    for (size_t j = 0; j < ind->n_items; j++) {
        if (!text_ok(ind->items[j].permit, GOV_PERMIT_MAX))
            return refuse(err, "gov_change_invalid", "a permit item needs a name");
        for (size_t k = 0; k < j; k++)
            if (strcmp(ind->items[k].permit, ind->items[j].permit) == 0)
                return refuse(err, "gov_change_invalid", "a permit item is named twice");
        if (ledger_genesis_dept_index(m, ind->items[j].department) < 0)
            return refuse(err, "gov_department_not_found",
                          "a permit item names a department that is not in force");
        if (ind->items[j].instant && !ind->commitment_allowed)
            return refuse(err, "instant_without_commitment",
                          "a permit item is instant (秒批) only where the industry allows the "
                          "commitment route");
    }
    return 0;
}

/* Move the strings of a change's industry into a new catalogue entry. */
static void take_industry(ledger_industry *dst, ledger_industry *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static void free_industry(ledger_industry *ind)
{
    free(ind->code);
    free(ind->name);
    for (size_t j = 0; j < ind->n_items; j++) {
        free(ind->items[j].permit);
        free(ind->items[j].department);
    }
    free(ind->items);
}

/* Grow an array of n elements of size sz to n + 1. */
static void *grow(void *p, size_t n, size_t sz)
{
    return realloc(p, (n + 1) * sz);
}

static int set_param(ledger_gov *gv, const ledger_gov_change *c, ledger_err *err)
{
    ledger_params *pp = &gv->m->params;
    const char *n = c->name;
    uint64_t v = c->value;
    if (strcmp(n, "max_block_txs") == 0) {
        if (v < 1 || v > LEDGER_MAX_BLOCK_TXS_HARD)
            return refuse(err, "gov_param_invalid", "max_block_txs must be 1..100000");
        pp->max_block_txs = (uint32_t)v;
    } else if (strcmp(n, "max_block_bytes") == 0) {
        if (v < LEDGER_MAX_ENVELOPE || v > LEDGER_MAX_BLOCK_BYTES_HARD)
            return refuse(err, "gov_param_invalid",
                          "max_block_bytes must hold one envelope of the largest size and at "
                          "most 32 MiB");
        pp->max_block_bytes = v;
    } else if (strcmp(n, "block_interval") == 0) {
        if (v < 1 || v > pp->heartbeat_ms)
            return refuse(err, "gov_param_invalid",
                          "block_interval must be 1 ms to the heartbeat in force");
        pp->block_interval_ms = v;
    } else if (strcmp(n, "heartbeat") == 0) {
        if (v < pp->block_interval_ms || v > LEDGER_MAX_DURATION_MS)
            return refuse(err, "gov_param_invalid",
                          "heartbeat must be the block_interval in force to 100 years");
        pp->heartbeat_ms = v;
    } else if (strcmp(n, "max_addresses") == 0) {
        if (v < 1 || v > LEDGER_MAX_ADDRESSES_HARD)
            return refuse(err, "gov_param_invalid", "max_addresses must be 1..1000");
        pp->max_addresses = (uint32_t)v;
    } else if (strcmp(n, "tx_window") == 0) {
        if (v < 1000 || v > LEDGER_MAX_DURATION_MS)
            return refuse(err, "gov_param_invalid", "tx_window must be 1 s to 100 years");
        pp->tx_window_ms = v;
    } else if (strcmp(n, "gov_window") == 0) {
        if (v < 1000 || v > LEDGER_MAX_DURATION_MS)
            return refuse(err, "gov_param_invalid", "gov_window must be 1 s to 100 years");
        pp->gov_window_ms = v;
    } else if (strcmp(n, "instant_ban") == 0) {
        if (v < 1000 || v > LEDGER_MAX_DURATION_MS)
            return refuse(err, "gov_param_invalid", "instant_ban must be 1 s to 100 years");
        pp->instant_ban_ms = v;
    } else {
        return ledger_fail(err, LEDGER_ERR_RULE, "gov_param_unknown",
                           "parameter \"%.40s\" is unknown", n);
    }
    return 0;
}

/* Carry out change c on gv->m (in place; the caller re-links the membership
 * and checks liveness afterwards). */
static int apply_change(ledger_gov *gv, ledger_gov_change *c, ledger_err *err)
{
    ledger_genesis *m = gv->m;
    ledger_pubkey pk;
    switch (c->type) {
    case LEDGER_GOV_ADD_REGISTRAR: {
        if (!text_ok(c->name, GOV_NAME_MAX))
            return refuse(err, "gov_change_invalid", "a registrar needs a name");
        if (ledger_genesis_dept_index(m, c->department) < 0)
            return refuse(err, "gov_department_not_found",
                          "the registrar's department is not in force");
        if (!c->has_key)
            return refuse(err, "gov_change_invalid", "add_registrar needs a key");
        if (check_new_key(gv, c->key, &pk, err) != 0)
            return -1;
        if (m->n_registrars >= LEDGER_MAX_REGISTRARS)
            return refuse(err, "gov_limit", "the membership holds the most registrars allowed");
        ledger_registrar *nr = grow(m->registrars, m->n_registrars, sizeof *nr);
        if (nr == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        m->registrars = nr;
        ledger_registrar *r = &nr[m->n_registrars];
        memset(r, 0, sizeof *r);
        r->name = strdup(c->name);
        r->department = strdup(c->department);
        r->key = pk;
        m->n_registrars++;
        return r->name && r->department ? 0 : ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "oom");
    }
    case LEDGER_GOV_REMOVE_REGISTRAR: {
        for (size_t i = 0; c->has_key && i < m->n_registrars; i++)
            if (memcmp(m->registrars[i].key.raw, c->key, 32) == 0) {
                free(m->registrars[i].name);
                free(m->registrars[i].department);
                memmove(&m->registrars[i], &m->registrars[i + 1],
                        (m->n_registrars - i - 1) * sizeof *m->registrars);
                m->n_registrars--;
                return 0;
            }
        return refuse(err, "gov_registrar_not_found", "no registrar in force has that key");
    }
    case LEDGER_GOV_ADD_DEPARTMENT: {
        if (!ledger_gj_id_matches(c->department, 32, 1, "_-"))
            return refuse(err, "gov_change_invalid",
                          "a department id is a lower-case letter, then up to 31 of a-z 0-9 _ -");
        if (ledger_genesis_dept_index(m, c->department) >= 0)
            return refuse(err, "gov_department_exists", "a department with that id is in force");
        if (!text_ok(c->name, GOV_NAME_MAX) || !c->has_key)
            return refuse(err, "gov_change_invalid", "a department needs a name and a seal key");
        if (!c->has_node && (c->p2p[0] || c->rpc[0]))
            return refuse(err, "gov_change_invalid", "an address without a node key");
        if (check_new_key(gv, c->key, &pk, err) != 0)
            return -1;
        if (m->n_departments >= LEDGER_MAX_DEPARTMENTS)
            return refuse(err, "gov_limit", "the membership holds the most departments allowed");
        ledger_department *nd = grow(m->departments, m->n_departments, sizeof *nd);
        if (nd == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        m->departments = nd;
        ledger_department *d = &nd[m->n_departments];
        memset(d, 0, sizeof *d);
        d->id = strdup(c->department);
        d->name = strdup(c->name);
        d->seal = pk;
        m->n_departments++;
        if (d->id == NULL || d->name == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "oom");
        /* with a node: a validator from two blocks after the change (DESIGN §5) */
        return c->has_node ? take_node(gv, d, c, err) : 0;
    }
    case LEDGER_GOV_REMOVE_DEPARTMENT: {
        int d = ledger_genesis_dept_index(m, c->department);
        if (d < 0)
            return refuse(err, "gov_department_not_found", "no department in force has that id");
        if (m->departments[d].validator && m->n_validators <= 1)
            return refuse(err, "gov_no_validator", "the change would leave no validator");
        if (dept_in_use(m, c->department))
            return refuse(err, "gov_department_in_use",
                          "the department still authorises registrars or owns catalogue items");
        if (add_retired(gv, m->departments[d].seal.raw, err) != 0 ||
            (m->departments[d].validator && add_retired(gv, m->departments[d].node.raw, err) != 0))
            return -1;
        free(m->departments[d].id);
        free(m->departments[d].name);
        free(m->departments[d].p2p);
        free(m->departments[d].rpc);
        memmove(&m->departments[d], &m->departments[d + 1],
                (m->n_departments - (size_t)d - 1) * sizeof *m->departments);
        m->n_departments--;
        return 0;
    }
    case LEDGER_GOV_ROTATE_KEY: {
        int d = ledger_genesis_dept_index(m, c->department);
        if (d < 0)
            return refuse(err, "gov_department_not_found", "no department in force has that id");
        if (c->has_key == c->has_node)
            return refuse(err, "gov_change_invalid",
                          "rotate_key names exactly one new key: seal or node");
        ledger_department *dp = &m->departments[d];
        if (c->has_node) {
            if (!dp->validator)
                return refuse(err, "gov_change_invalid", "the department runs no node");
            /* the validator's node signs with the new key from two blocks
             * after the change (DESIGN §5); the old one never again */
            if (check_new_key(gv, c->node_key, &pk, err) != 0 ||
                add_retired(gv, dp->node.raw, err) != 0)
                return -1;
            dp->node = pk;
            if (c->p2p[0]) {
                for (size_t i = 0; i < m->n_departments; i++)
                    if ((int)i != d && m->departments[i].validator && m->departments[i].p2p &&
                        strcmp(m->departments[i].p2p, c->p2p) == 0)
                        return refuse(err, "gov_change_invalid",
                                      "another validator has that p2p address");
                char *p2p = ledger_hostport_problem(c->p2p) ? NULL : strdup(c->p2p);
                if (p2p == NULL)
                    return refuse(err, "gov_change_invalid", "the p2p address is not host:port");
                free(dp->p2p);
                dp->p2p = p2p;
            }
            return 0;
        }
        if (check_new_key(gv, c->key, &pk, err) != 0 ||
            add_retired(gv, dp->seal.raw, err) != 0)
            return -1;
        dp->seal = pk;
        dp->seal_retired = 0;
        return 0;
    }
    case LEDGER_GOV_ADD_OBSERVER: {
        if (!text_ok(c->name, GOV_NAME_MAX) || !c->has_node)
            return refuse(err, "gov_change_invalid", "an observer needs a name and a node key");
        if (check_new_key(gv, c->node_key, &pk, err) != 0)
            return -1;
        if (gv->n_observers >= LEDGER_MAX_OBSERVERS)
            return refuse(err, "gov_limit", "the membership holds the most observers allowed");
        ledger_observer *no = grow(gv->observers, gv->n_observers, sizeof *no);
        if (no == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        gv->observers = no;
        no[gv->n_observers].name = strdup(c->name);
        no[gv->n_observers].node = pk;
        gv->n_observers++;
        return no[gv->n_observers - 1].name ? 0 : ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "oom");
    }
    case LEDGER_GOV_REMOVE_OBSERVER: {
        int o = c->has_node ? ledger_gov_observer(gv, c->node_key) : -1;
        if (o < 0)
            return refuse(err, "gov_observer_not_found", "no observer in force has that key");
        free(gv->observers[o].name);
        memmove(&gv->observers[o], &gv->observers[o + 1],
                (gv->n_observers - (size_t)o - 1) * sizeof *gv->observers);
        gv->n_observers--;
        return 0;
    }
    case LEDGER_GOV_SET_INDUSTRY: {
        if (!c->has_industry)
            return refuse(err, "gov_change_invalid", "set_industry needs an industry");
        if (check_industry(m, &c->industry, err) != 0)
            return -1;
        for (size_t i = 0; i < m->n_industries; i++)
            if (strcmp(m->industries[i].code, c->industry.code) == 0) {
                free_industry(&m->industries[i]);
                take_industry(&m->industries[i], &c->industry);
                return 0;
            }
        if (m->n_industries >= LEDGER_MAX_INDUSTRIES)
            return refuse(err, "gov_limit", "the catalogue holds the most industries allowed");
        ledger_industry *ni = grow(m->industries, m->n_industries, sizeof *ni);
        if (ni == NULL)
            return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        m->industries = ni;
        take_industry(&ni[m->n_industries++], &c->industry);
        return 0;
    }
    case LEDGER_GOV_REMOVE_INDUSTRY: {
        for (size_t i = 0; i < m->n_industries; i++)
            if (strcmp(m->industries[i].code, c->code) == 0) {
                if (m->n_industries == 1)
                    return refuse(err, "gov_industry_last",
                                  "the catalogue must keep at least one industry");
                free_industry(&m->industries[i]);
                memmove(&m->industries[i], &m->industries[i + 1],
                        (m->n_industries - i - 1) * sizeof *m->industries);
                m->n_industries--;
                return 0;
            }
        return refuse(err, "gov_industry_not_found", "no industry in the catalogue has that code");
    }
    case LEDGER_GOV_SET_PARAM:
        return set_param(gv, c, err);
    default:
        return refuse(err, "gov_change_invalid", "unknown change");
    }
}

/* The record after `c` is carried out on a copy of gv, re-linked (lookups
 * rebuilt) and checked for liveness.  c may be consumed (an industry moved). */
static int changed(const ledger_gov *gv, const ledger_gov *vset, ledger_gov_change *c,
                   ledger_gov **out, ledger_err *err)
{
    ledger_gov *w = NULL, *linked = NULL;
    if (ledger_gov_copy(gv->m, gv, &w, err) != 0)
        return -1;
    if (apply_change(w, c, err) != 0 || ledger_gov_copy(gv->m, w, &linked, err) != 0) {
        ledger_gov_release(w);
        return -1;
    }
    ledger_gov_release(w);
    if (check_liveness(linked, err) != 0 || check_validators(vset, linked, err) != 0) {
        ledger_gov_release(linked);
        return -1;
    }
    *out = linked;
    return 0;
}

/* ---- the transactions ---------------------------------------------------- */

void ledger_gov_outcome_clear(ledger_gov_outcome *o)
{
    if (o == NULL)
        return;
    ledger_gov_release(o->after);
    for (size_t i = 0; i < o->n_closed; i++)
        ledger_gov_proposal_clear(&o->closed[i]);
    free(o->closed);
    memset(o, 0, sizeof *o);
}

static int close_proposal(ledger_gov_outcome *o, ledger_gov_proposal *p, uint8_t status,
                          uint64_t height, ledger_err *err)
{
    ledger_gov_proposal *nc = grow(o->closed, o->n_closed, sizeof *nc);
    if (nc == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    o->closed = nc;
    nc[o->n_closed] = *p; /* takes over what p owns */
    nc[o->n_closed].status = status;
    nc[o->n_closed].closed_height = height;
    o->n_closed++;
    memset(p, 0, sizeof *p);
    return 0;
}

/* Drop open proposal i of gv (already moved out or cleared). */
static void drop_open(ledger_gov *gv, size_t i)
{
    memmove(&gv->open[i], &gv->open[i + 1], (gv->n_open - i - 1) * sizeof *gv->open);
    gv->n_open--;
}

/* Execute open proposal i of o->after when its approvals reach the quorum
 * of the membership in force. */
static int maybe_execute(ledger_gov_outcome *o, const ledger_gov *inforce,
                         const ledger_gov *vset, size_t i,
                         uint64_t height, ledger_err *err)
{
    ledger_gov_proposal *p = &o->after->open[i];
    if (ledger_gov_approvals(inforce, p) < ledger_gov_needed(inforce))
        return 0;
    ledger_gov *next = NULL, *tmp = NULL;
    /* carry out a copy of the change (it may be consumed): the proposal
     * keeps the change as proposed for its record */
    if (ledger_gov_copy(o->after->m, o->after, &tmp, err) != 0)
        return -1;
    int rc = changed(o->after, vset, &tmp->open[i].ch, &next, err);
    ledger_gov_release(tmp);
    if (rc != 0)
        return -1;
    /* the new membership keeps the proposal bookkeeping of o->after */
    next->next_proposal = o->after->next_proposal;
    ledger_gov_proposal *q = &next->open[i];
    if (close_proposal(o, q, LEDGER_GOV_EXECUTED, height, err) != 0) {
        ledger_gov_release(next);
        return -1;
    }
    drop_open(next, i);
    /* a removed department's approvals leave the proposals still open: a
     * department added later under the same id is another department (with
     * another seal key) and gives its own */
    if (o->closed[o->n_closed - 1].ch.type == LEDGER_GOV_REMOVE_DEPARTMENT) {
        const char *gone = o->closed[o->n_closed - 1].ch.department;
        for (size_t k = 0; k < next->n_open; k++) {
            ledger_gov_proposal *op = &next->open[k];
            size_t w = 0;
            for (size_t a = 0; a < op->n_approvals; a++)
                if (strcmp(op->approvals[a], gone) != 0)
                    memmove(op->approvals[w++], op->approvals[a], 33);
            op->n_approvals = w;
        }
    }
    ledger_gov_release(o->after);
    o->after = next;
    o->executed = 1;
    return 0;
}

static int find_open(const ledger_gov *gv, uint32_t id)
{
    for (size_t i = 0; i < gv->n_open; i++)
        if (gv->open[i].id == id)
            return (int)i;
    return -1;
}

static int retire_key(ledger_gov_outcome *o, const ledger_gov *vset, const uint8_t key[32],
                      ledger_err *err)
{
    ledger_gov *gv = o->after;
    ledger_genesis *m = gv->m;
    int d = ledger_genesis_seal_dept(m, key);
    if (d >= 0) {
        m->departments[d].seal_retired = 1;
    } else if (ledger_genesis_registrar(m, key) != NULL) {
        for (size_t i = 0; i < m->n_registrars; i++)
            if (memcmp(m->registrars[i].key.raw, key, 32) == 0) {
                free(m->registrars[i].name);
                free(m->registrars[i].department);
                memmove(&m->registrars[i], &m->registrars[i + 1],
                        (m->n_registrars - i - 1) * sizeof *m->registrars);
                m->n_registrars--;
                break;
            }
    } else if (ledger_genesis_validator_index(m, key) >= 0) {
        /* a validator's node key: the department runs no validator any more,
         * from two blocks after (DESIGN §5) */
        if (m->n_validators <= 1)
            return refuse(err, "gov_no_validator", "the change would leave no validator");
        int vd = m->validators[ledger_genesis_validator_index(m, key)];
        ledger_department *dp = &m->departments[vd];
        dp->validator = 0;
        free(dp->p2p);
        free(dp->rpc);
        dp->p2p = dp->rpc = NULL;
        memset(&dp->node, 0, sizeof dp->node);
        /* the validators left must decide without newcomers that may not
         * run yet (check_validators) */
        ledger_gov *linked = NULL;
        if (ledger_gov_copy(m, gv, &linked, err) != 0)
            return -1;
        int rc = check_validators(vset, linked, err);
        ledger_gov_release(linked);
        if (rc != 0)
            return -1;
    } else {
        int ob = ledger_gov_observer(gv, key);
        if (ob < 0)
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "retire_key_unknown",
                               "the key holds no role in the membership in force");
        free(gv->observers[ob].name);
        memmove(&gv->observers[ob], &gv->observers[ob + 1],
                (gv->n_observers - (size_t)ob - 1) * sizeof *gv->observers);
        gv->n_observers--;
    }
    if (add_retired(gv, key, err) != 0)
        return -1;
    /* re-link: the lookups must no longer find the key */
    ledger_gov *linked = NULL;
    if (ledger_gov_copy(m, gv, &linked, err) != 0)
        return -1;
    ledger_gov_release(o->after);
    o->after = linked;
    return 0;
}

int ledger_gov_step(const ledger_gov *base, const ledger_gov *inforce, const ledger_gov *vset,
                    const ledger_tx *tx,
                    int dept, uint64_t now, uint64_t height, ledger_gov_outcome *out,
                    ledger_err *err)
{
    memset(out, 0, sizeof *out);
    const Permit__TxBody *b = tx->body;
    uint32_t approve_id = tx->kind == PERMIT__TX_KIND__GOV_APPROVE ? b->gov_approve->proposal_id
                                                                   : 0;
    if (tx->kind == PERMIT__TX_KIND__GOV_APPROVE) {
        /* refusals that name the proposal come before it is dropped below */
        int i = find_open(base, approve_id);
        if (i >= 0 && base->open[i].expires_at <= now)
            return ledger_fail(err, LEDGER_ERR_RULE, "gov_proposal_expired",
                               "proposal %u expired without a quorum", (unsigned)approve_id);
        if (i < 0 && approve_id >= 1 && approve_id < base->next_proposal)
            return ledger_fail(err, LEDGER_ERR_RULE, "gov_proposal_closed",
                               "proposal %u is no longer open (executed or expired)",
                               (unsigned)approve_id);
        if (i < 0)
            return ledger_fail(err, LEDGER_ERR_NOTFOUND, "gov_proposal_not_found",
                               "there is no proposal %u", (unsigned)approve_id);
        const char *sd = dept >= 0 && (size_t)dept < inforce->m->n_departments
                             ? inforce->m->departments[dept].id
                             : "";
        for (size_t k = 0; k < base->open[i].n_approvals; k++)
            if (strcmp(base->open[i].approvals[k], sd) == 0)
                return ledger_fail(err, LEDGER_ERR_RULE, "gov_already_approved",
                                   "department %s already approved proposal %u", sd,
                                   (unsigned)approve_id);
    }
    if (ledger_gov_copy(base->m, base, &out->after, err) != 0)
        return -1;
    /* proposals past their expiry leave the open list with this transaction */
    for (size_t i = 0; i < out->after->n_open;) {
        if (out->after->open[i].expires_at <= now) {
            if (close_proposal(out, &out->after->open[i], LEDGER_GOV_EXPIRED, height, err) != 0)
                goto fail;
            drop_open(out->after, i);
        } else {
            i++;
        }
    }
    const char *signer_dept = dept >= 0 && (size_t)dept < inforce->m->n_departments
                                  ? inforce->m->departments[dept].id
                                  : NULL;
    switch (tx->kind) {
    case PERMIT__TX_KIND__GOV_PROPOSE: {
        if (signer_dept == NULL || ledger_genesis_dept_index(out->after->m, signer_dept) < 0) {
            ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "signer_not_department",
                        "the proposing department is no longer in force");
            goto fail;
        }
        uint64_t window = inforce->m->params.gov_window_ms;
        uint64_t exp = b->gov_propose->expires_at;
        if (exp == 0)
            exp = now + window;
        if (exp <= now || exp > now + window) {
            ledger_fail(err, LEDGER_ERR_RULE, "gov_expiry_invalid",
                        "expires_at must be after the block time and at most gov_window "
                        "(%llu ms) after it", (unsigned long long)window);
            goto fail;
        }
        if (out->after->n_open >= LEDGER_GOV_MAX_OPEN) {
            refuse(err, "gov_proposals_full", "too many proposals are open");
            goto fail;
        }
        ledger_gov_proposal p;
        memset(&p, 0, sizeof p);
        if (change_from_pb(b->gov_propose->change, &p.ch, err) != 0) {
            ledger_gov_change_clear(&p.ch);
            goto fail;
        }
        /* refused now if it could not be carried out now */
        ledger_gov *trial = NULL;
        ledger_gov_proposal *slot = grow(out->after->open, out->after->n_open, sizeof *slot);
        if (slot == NULL) {
            ledger_gov_change_clear(&p.ch);
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto fail;
        }
        out->after->open = slot;
        p.id = out->after->next_proposal;
        snprintf(p.proposer, sizeof p.proposer, "%s", signer_dept);
        p.height = height;
        p.expires_at = exp;
        p.n_approvals = 1;
        snprintf(p.approvals[0], sizeof p.approvals[0], "%s", signer_dept);
        p.status = LEDGER_GOV_OPEN;
        slot[out->after->n_open++] = p;
        out->after->next_proposal++;
        out->proposal_id = p.id;
        ledger_gov *probe = NULL;
        if (ledger_gov_copy(out->after->m, out->after, &probe, err) != 0)
            goto fail;
        int rc = changed(out->after, vset, &probe->open[out->after->n_open - 1].ch, &trial,
                         err);
        ledger_gov_release(probe);
        ledger_gov_release(trial);
        if (rc != 0)
            goto fail;
        if (maybe_execute(out, inforce, vset, out->after->n_open - 1, height, err) != 0)
            goto fail;
        return 0;
    }
    case PERMIT__TX_KIND__GOV_APPROVE: {
        int i = find_open(out->after, approve_id);
        if (i < 0) { /* cannot happen: checked on base above */
            refuse(err, "gov_proposal_closed", "the proposal is no longer open");
            goto fail;
        }
        ledger_gov_proposal *p = &out->after->open[i];
        if (signer_dept == NULL || ledger_genesis_dept_index(out->after->m, signer_dept) < 0) {
            ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "signer_not_department",
                        "the approving department is no longer in force");
            goto fail;
        }
        for (size_t k = 0; k < p->n_approvals; k++)
            if (strcmp(p->approvals[k], signer_dept) == 0) {
                ledger_fail(err, LEDGER_ERR_RULE, "gov_already_approved",
                            "department %s already approved proposal %u", signer_dept,
                            (unsigned)approve_id);
                goto fail;
            }
        if (p->n_approvals >= LEDGER_MAX_DEPARTMENTS) {
            refuse(err, "gov_limit", "the proposal has the most approvals allowed");
            goto fail;
        }
        snprintf(p->approvals[p->n_approvals++], 33, "%s", signer_dept);
        out->proposal_id = approve_id;
        if (maybe_execute(out, inforce, vset, (size_t)i, height, err) != 0)
            goto fail;
        return 0;
    }
    case PERMIT__TX_KIND__RETIRE_KEY:
        if (retire_key(out, vset, tx->signer, err) != 0)
            goto fail;
        return 0;
    default:
        refuse(err, "kind_unknown", "not a governance transaction");
        goto fail;
    }
fail:
    ledger_gov_outcome_clear(out);
    return -1;
}
