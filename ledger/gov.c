/* ledger/gov.c: the governance record (gov.h): its canonical bytes
 * (docs/formats.md, "Governance record"), decoding it under bounds, the
 * membership it holds shaped as a genesis, and the reference counts that let
 * threads share it.  What a governance transaction does: gov_exec.c. */
#include "gov.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "genesis_int.h"
#include "limits.h"
#include "permit.pb-c.h"

#define GOV_RECORD_VERSION 1
/* with instant items or an instant_ban other than the default (formats.md):
 * a record that needs neither stays version 1, bytes and state root alike */
#define GOV_RECORD_VERSION_INSTANT 2
#define GOV_STR_MAX 512

static const char *const change_names[] = {
    [LEDGER_GOV_ADD_REGISTRAR] = "add_registrar",
    [LEDGER_GOV_REMOVE_REGISTRAR] = "remove_registrar",
    [LEDGER_GOV_ADD_DEPARTMENT] = "add_department",
    [LEDGER_GOV_REMOVE_DEPARTMENT] = "remove_department",
    [LEDGER_GOV_ROTATE_KEY] = "rotate_key",
    [LEDGER_GOV_ADD_OBSERVER] = "add_observer",
    [LEDGER_GOV_REMOVE_OBSERVER] = "remove_observer",
    [LEDGER_GOV_SET_INDUSTRY] = "set_industry",
    [LEDGER_GOV_REMOVE_INDUSTRY] = "remove_industry",
    [LEDGER_GOV_SET_PARAM] = "set_param",
};

const char *ledger_gov_change_name(uint32_t type)
{
    if (type < 1 || type > LEDGER_GOV_CHANGE_MAX)
        return "unknown";
    return change_names[type];
}

int ledger_gov_change_parse(const char *name)
{
    for (int t = 1; t <= LEDGER_GOV_CHANGE_MAX; t++)
        if (strcmp(name, change_names[t]) == 0)
            return t;
    return -1;
}

void ledger_gov_record_id(const ledger_genesis *g, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", LEDGER_GOV_ID_PREFIX, g->region);
}

int ledger_gov_is_record_id(const char *id)
{
    return id != NULL && strncmp(id, LEDGER_GOV_ID_PREFIX, strlen(LEDGER_GOV_ID_PREFIX)) == 0;
}

/* ---- freeing ------------------------------------------------------------- */

static void industry_clear(ledger_industry *ind)
{
    free(ind->code);
    free(ind->name);
    for (size_t j = 0; j < ind->n_items; j++) {
        free(ind->items[j].permit);
        free(ind->items[j].department);
    }
    free(ind->items);
    memset(ind, 0, sizeof *ind);
}

void ledger_gov_change_clear(ledger_gov_change *c)
{
    if (c == NULL)
        return;
    free(c->name);
    free(c->department);
    free(c->p2p);
    free(c->rpc);
    free(c->code);
    industry_clear(&c->industry);
    memset(c, 0, sizeof *c);
}

void ledger_gov_proposal_clear(ledger_gov_proposal *p)
{
    if (p == NULL)
        return;
    ledger_gov_change_clear(&p->ch);
    memset(p, 0, sizeof *p);
}

static void gov_free(ledger_gov *gv)
{
    if (gv == NULL)
        return;
    ledger_genesis_free(gv->m);
    for (size_t i = 0; i < gv->n_observers; i++)
        free(gv->observers[i].name);
    free(gv->observers);
    free(gv->retired);
    for (size_t i = 0; i < gv->n_open; i++)
        ledger_gov_proposal_clear(&gv->open[i]);
    free(gv->open);
    free(gv);
}

ledger_gov *ledger_gov_ref(ledger_gov *gv)
{
    if (gv != NULL)
        __atomic_add_fetch(&gv->refs, 1, __ATOMIC_RELAXED);
    return gv;
}

void ledger_gov_release(ledger_gov *gv)
{
    if (gv == NULL)
        return;
    if (__atomic_sub_fetch(&gv->refs, 1, __ATOMIC_ACQ_REL) == 0)
        gov_free(gv);
}

/* ---- writing ------------------------------------------------------------- */

static void put_opt(lbuf *b, const char *s)
{
    ledger_lbuf_str(b, s ? s : "");
}

static void put_industry(lbuf *b, const ledger_industry *ind)
{
    ledger_lbuf_str(b, ind->code);
    ledger_lbuf_str(b, ind->name);
    ledger_lbuf_u64(b, ind->validity_ms);
    ledger_lbuf_u64(b, ind->renew_window_ms);
    ledger_lbuf_u64(b, ind->grace_ms);
    ledger_lbuf_u8(b, ind->commitment_allowed ? 1 : 0);
    ledger_lbuf_u64(b, ind->verify_within_ms);
    ledger_lbuf_u8(b, (uint8_t)ind->n_items);
    for (size_t j = 0; j < ind->n_items; j++) {
        ledger_lbuf_str(b, ind->items[j].permit);
        ledger_lbuf_str(b, ind->items[j].department);
    }
}

static void put_change(lbuf *b, const ledger_gov_change *c)
{
    ledger_lbuf_u8(b, (uint8_t)c->type);
    put_opt(b, c->name);
    put_opt(b, c->department);
    ledger_lbuf_u8(b, c->has_key ? 1 : 0);
    if (c->has_key)
        ledger_lbuf_put(b, c->key, 32);
    ledger_lbuf_u8(b, c->has_node ? 1 : 0);
    if (c->has_node)
        ledger_lbuf_put(b, c->node_key, 32);
    put_opt(b, c->p2p);
    put_opt(b, c->rpc);
    ledger_lbuf_u8(b, c->has_industry ? 1 : 0);
    if (c->has_industry)
        put_industry(b, &c->industry);
    put_opt(b, c->code);
    ledger_lbuf_u64(b, c->value);
}

static void put_proposal(lbuf *b, const ledger_gov_proposal *p)
{
    ledger_lbuf_u32(b, p->id);
    ledger_lbuf_str(b, p->proposer);
    ledger_lbuf_u64(b, p->height);
    ledger_lbuf_u64(b, p->expires_at);
    put_change(b, &p->ch);
    ledger_lbuf_u8(b, (uint8_t)p->n_approvals);
    for (size_t i = 0; i < p->n_approvals; i++)
        ledger_lbuf_str(b, p->approvals[i]);
}

/* Bit j: item j of ind is instant (16 items at most, genesis.h). */
static uint16_t instant_mask(const ledger_industry *ind)
{
    uint16_t m = 0;
    for (size_t j = 0; j < ind->n_items && j < 16; j++)
        if (ind->items[j].instant)
            m |= (uint16_t)(1u << j);
    return m;
}

/* Set the items' instant flags from a mask read back; 0, or -1 when a bit
 * names no item (one encoding). */
static int set_instant(ledger_industry *ind, uint16_t m)
{
    if (ind->n_items < 16 && (m >> ind->n_items) != 0)
        return -1;
    for (size_t j = 0; j < ind->n_items; j++)
        ind->items[j].instant = (m >> j) & 1;
    return 0;
}

static int needs_instant_version(const ledger_gov *gv)
{
    const ledger_genesis *m = gv->m;
    int any = m->params.instant_ban_ms != LEDGER_INSTANT_BAN_DEFAULT_MS;
    for (size_t i = 0; i < m->n_industries; i++)
        any |= instant_mask(&m->industries[i]) != 0;
    for (size_t i = 0; i < gv->n_open; i++)
        any |= gv->open[i].ch.has_industry && instant_mask(&gv->open[i].ch.industry) != 0;
    return any;
}

int ledger_gov_encode(const ledger_gov *gv, const char *record_id, uint8_t **out, size_t *len,
                      ledger_err *err)
{
    int v2 = needs_instant_version(gv);
    const ledger_genesis *m = gv->m;
    lbuf b;
    ledger_lbuf_init(&b, LEDGER_MAX_GOV_RECORD);
    ledger_lbuf_u8(&b, v2 ? GOV_RECORD_VERSION_INSTANT : GOV_RECORD_VERSION);
    ledger_lbuf_str(&b, record_id);
    ledger_lbuf_u32(&b, gv->seq);
    ledger_lbuf_put(&b, gv->head, 32);
    ledger_lbuf_u32(&b, gv->next_proposal);
    const ledger_params *pp = &m->params;
    ledger_lbuf_u32(&b, pp->max_addresses);
    ledger_lbuf_u64(&b, pp->tx_window_ms);
    ledger_lbuf_u32(&b, pp->max_block_txs);
    ledger_lbuf_u64(&b, pp->max_block_bytes);
    ledger_lbuf_u64(&b, pp->block_interval_ms);
    ledger_lbuf_u64(&b, pp->heartbeat_ms);
    ledger_lbuf_u64(&b, pp->gov_window_ms);
    ledger_lbuf_u16(&b, (uint16_t)m->n_departments);
    for (size_t i = 0; i < m->n_departments; i++) {
        const ledger_department *d = &m->departments[i];
        ledger_lbuf_str(&b, d->id);
        ledger_lbuf_str(&b, d->name);
        ledger_lbuf_put(&b, d->seal.raw, 32);
        ledger_lbuf_u8(&b, d->seal_retired ? 1 : 0);
        ledger_lbuf_u8(&b, d->validator ? 1 : 0);
        if (d->validator) {
            ledger_lbuf_put(&b, d->node.raw, 32);
            put_opt(&b, d->p2p);
            put_opt(&b, d->rpc);
        }
    }
    ledger_lbuf_u16(&b, (uint16_t)m->n_registrars);
    for (size_t i = 0; i < m->n_registrars; i++) {
        ledger_lbuf_str(&b, m->registrars[i].name);
        ledger_lbuf_str(&b, m->registrars[i].department);
        ledger_lbuf_put(&b, m->registrars[i].key.raw, 32);
    }
    ledger_lbuf_u16(&b, (uint16_t)gv->n_observers);
    for (size_t i = 0; i < gv->n_observers; i++) {
        ledger_lbuf_str(&b, gv->observers[i].name);
        ledger_lbuf_put(&b, gv->observers[i].node.raw, 32);
    }
    ledger_lbuf_u16(&b, (uint16_t)m->n_industries);
    for (size_t i = 0; i < m->n_industries; i++)
        put_industry(&b, &m->industries[i]);
    ledger_lbuf_u16(&b, (uint16_t)gv->n_retired);
    for (size_t i = 0; i < gv->n_retired; i++)
        ledger_lbuf_put(&b, gv->retired[i], 32);
    ledger_lbuf_u16(&b, (uint16_t)gv->n_open);
    for (size_t i = 0; i < gv->n_open; i++)
        put_proposal(&b, &gv->open[i]);
    if (v2) {
        ledger_lbuf_u64(&b, pp->instant_ban_ms);
        for (size_t i = 0; i < m->n_industries; i++)
            ledger_lbuf_u16(&b, instant_mask(&m->industries[i]));
        for (size_t i = 0; i < gv->n_open; i++)
            if (gv->open[i].ch.has_industry)
                ledger_lbuf_u16(&b, instant_mask(&gv->open[i].ch.industry));
    }
    if (b.err) {
        ledger_lbuf_free(&b);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "governance record cannot be encoded");
    }
    *out = ledger_lbuf_take(&b, len);
    return 0;
}

int ledger_gov_proposal_encode(const ledger_gov_proposal *p, uint8_t **out, size_t *len,
                               ledger_err *err)
{
    lbuf b;
    ledger_lbuf_init(&b, LEDGER_MAX_GOV_RECORD);
    ledger_lbuf_u8(&b, p->status);
    ledger_lbuf_u64(&b, p->closed_height);
    put_proposal(&b, p);
    if (p->ch.has_industry && instant_mask(&p->ch.industry) != 0)
        ledger_lbuf_u16(&b, instant_mask(&p->ch.industry)); /* only when there is one */
    if (b.err) {
        ledger_lbuf_free(&b);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "proposal cannot be encoded");
    }
    *out = ledger_lbuf_take(&b, len);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

/* A key that must name a point on the curve. */
static void get_key(lrd *r, ledger_pubkey *pk)
{
    uint8_t raw[32];
    ledger_lrd_copy(r, raw, 32);
    if (!r->err && ledger_pubkey_parse(pk, raw) != 0)
        r->err = 1;
}

static char *get_str(lrd *r)
{
    return ledger_lrd_str(r, GOV_STR_MAX);
}

/* An optional string: NULL when empty. */
static char *get_opt(lrd *r)
{
    char *s = get_str(r);
    if (s != NULL && s[0] == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

static void get_industry(lrd *r, ledger_industry *ind)
{
    ind->code = get_str(r);
    ind->name = get_str(r);
    ind->validity_ms = ledger_lrd_u64(r);
    ind->renew_window_ms = ledger_lrd_u64(r);
    ind->grace_ms = ledger_lrd_u64(r);
    uint8_t ca = ledger_lrd_u8(r);
    if (ca > 1)
        r->err = 1;
    ind->commitment_allowed = ca;
    ind->verify_within_ms = ledger_lrd_u64(r);
    uint8_t n = ledger_lrd_u8(r);
    if (n > LEDGER_MAX_ITEMS) {
        r->err = 1;
        return;
    }
    if (r->err)
        return;
    ind->items = calloc(n ? n : 1, sizeof *ind->items);
    if (ind->items == NULL) {
        r->err = 1;
        return;
    }
    ind->n_items = n;
    for (size_t j = 0; j < n && !r->err; j++) {
        ind->items[j].permit = get_str(r);
        ind->items[j].department = get_str(r);
        ind->items[j].dept = -1;
    }
}

static void get_change(lrd *r, ledger_gov_change *c)
{
    c->type = ledger_lrd_u8(r);
    c->name = get_str(r);
    c->department = get_str(r);
    uint8_t f = ledger_lrd_u8(r);
    if (f > 1)
        r->err = 1;
    c->has_key = f;
    if (f)
        ledger_lrd_copy(r, c->key, 32);
    f = ledger_lrd_u8(r);
    if (f > 1)
        r->err = 1;
    c->has_node = f;
    if (f)
        ledger_lrd_copy(r, c->node_key, 32);
    c->p2p = get_str(r);
    c->rpc = get_str(r);
    f = ledger_lrd_u8(r);
    if (f > 1)
        r->err = 1;
    c->has_industry = f;
    if (f && !r->err)
        get_industry(r, &c->industry);
    c->code = get_str(r);
    c->value = ledger_lrd_u64(r);
    if (c->type < 1 || c->type > LEDGER_GOV_CHANGE_MAX)
        r->err = 1;
}

static void get_fixed_id(lrd *r, char out[33])
{
    char *s = ledger_lrd_str(r, 32);
    if (s == NULL) {
        r->err = 1;
        out[0] = '\0';
        return;
    }
    snprintf(out, 33, "%s", s);
    free(s);
}

static void get_proposal(lrd *r, ledger_gov_proposal *p)
{
    p->id = ledger_lrd_u32(r);
    get_fixed_id(r, p->proposer);
    p->height = ledger_lrd_u64(r);
    p->expires_at = ledger_lrd_u64(r);
    get_change(r, &p->ch);
    uint8_t n = ledger_lrd_u8(r);
    if (n > LEDGER_MAX_DEPARTMENTS) {
        r->err = 1;
        return;
    }
    p->n_approvals = n;
    for (size_t i = 0; i < n && !r->err; i++)
        get_fixed_id(r, p->approvals[i]);
    p->status = LEDGER_GOV_OPEN;
}

int ledger_gov_proposal_decode(const uint8_t *b, size_t n, ledger_gov_proposal *p,
                               ledger_err *err)
{
    memset(p, 0, sizeof *p);
    lrd r;
    ledger_lrd_init(&r, b, n);
    uint8_t status = ledger_lrd_u8(&r);
    uint64_t closed = ledger_lrd_u64(&r);
    get_proposal(&r, p);
    p->status = status;
    p->closed_height = closed;
    if (!r.err && r.off < r.len) {
        uint16_t im = ledger_lrd_u16(&r);
        if (im == 0 || !p->ch.has_industry || set_instant(&p->ch.industry, im) != 0)
            r.err = 1;
    }
    if (!ledger_lrd_done(&r) || status < LEDGER_GOV_OPEN || status > LEDGER_GOV_EXPIRED) {
        ledger_gov_proposal_clear(p);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "stored proposal is malformed");
    }
    return 0;
}

/* The identity of the chain (never changed by governance) from genesis. */
static int copy_identity(const ledger_genesis *g, ledger_genesis *m)
{
    m->chain_id = strdup(g->chain_id);
    m->region = strdup(g->region);
    m->region_name = strdup(g->region_name ? g->region_name : "");
    m->genesis_time_ms = g->genesis_time_ms;
    memcpy(m->hash, g->hash, 32);
    memcpy(m->genesis_vhash, g->genesis_vhash, 32);
    memcpy(m->genesis_nodes, g->genesis_nodes, 32);
    return m->chain_id && m->region && m->region_name ? 0 : -1;
}

/* After departments, registrars and industries are read: the department
 * indices of registrars and items, the validator list, the lookup index
 * (which also refuses a key used twice).  Sets r->err on anything wrong. */
static int link_membership(ledger_genesis *m, ledger_err *err)
{
    for (size_t i = 0; i < m->n_registrars; i++) {
        m->registrars[i].dept = ledger_genesis_dept_index(m, m->registrars[i].department);
        if (m->registrars[i].dept < 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "governance record: registrar of an unknown department");
    }
    for (size_t i = 0; i < m->n_industries; i++)
        for (size_t j = 0; j < m->industries[i].n_items; j++) {
            ledger_item_def *it = &m->industries[i].items[j];
            it->dept = ledger_genesis_dept_index(m, it->department);
            if (it->dept < 0)
                return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                   "governance record: item of an unknown department");
        }
    size_t nv = 0;
    for (size_t i = 0; i < m->n_departments; i++)
        nv += m->departments[i].validator ? 1 : 0;
    m->validators = calloc(nv ? nv : 1, sizeof *m->validators);
    if (m->validators == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < m->n_departments; i++)
        if (m->departments[i].validator)
            m->validators[m->n_validators++] = (int)i;
    ledger_err ie;
    if (ledger_genesis_index_build(m, &ie) != 0)
        return ledger_fail(err, ie.code == LEDGER_ERR_NOMEM ? LEDGER_ERR_NOMEM : LEDGER_ERR_INVALID,
                           NULL, "governance record: %s", ie.msg);
    return 0;
}

int ledger_gov_decode(const ledger_genesis *g, const uint8_t *p, size_t n, ledger_gov **out,
                      ledger_err *err)
{
    *out = NULL;
    if (n > LEDGER_MAX_GOV_RECORD)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "governance record too large");
    ledger_gov *gv = calloc(1, sizeof *gv);
    if (gv == NULL || (gv->m = calloc(1, sizeof *gv->m)) == NULL) {
        free(gv);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    gv->refs = 1;
    ledger_genesis *m = gv->m;
    lrd r;
    ledger_lrd_init(&r, p, n);
    if (copy_identity(g, m) != 0)
        r.err = 1;
    uint8_t version = ledger_lrd_u8(&r);
    if (version != GOV_RECORD_VERSION && version != GOV_RECORD_VERSION_INSTANT)
        r.err = 1;
    char *id = get_str(&r);
    char want[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(g, want, sizeof want);
    if (id == NULL || strcmp(id, want) != 0)
        r.err = 1;
    free(id);
    gv->seq = ledger_lrd_u32(&r);
    ledger_lrd_copy(&r, gv->head, 32);
    gv->exists = 1;
    gv->next_proposal = ledger_lrd_u32(&r);
    ledger_params *pp = &m->params;
    pp->max_addresses = ledger_lrd_u32(&r);
    pp->tx_window_ms = ledger_lrd_u64(&r);
    pp->max_block_txs = ledger_lrd_u32(&r);
    pp->max_block_bytes = ledger_lrd_u64(&r);
    pp->block_interval_ms = ledger_lrd_u64(&r);
    pp->heartbeat_ms = ledger_lrd_u64(&r);
    pp->gov_window_ms = ledger_lrd_u64(&r);
    pp->instant_ban_ms = LEDGER_INSTANT_BAN_DEFAULT_MS;

    size_t cnt = ledger_lrd_u16(&r);
    if (cnt < 1 || cnt > LEDGER_MAX_DEPARTMENTS)
        r.err = 1;
    if (!r.err && (m->departments = calloc(cnt, sizeof *m->departments)) == NULL)
        r.err = 1;
    if (!r.err)
        m->n_departments = cnt;
    for (size_t i = 0; i < m->n_departments && !r.err; i++) {
        ledger_department *d = &m->departments[i];
        d->id = ledger_lrd_str(&r, 32);
        d->name = get_str(&r);
        get_key(&r, &d->seal);
        uint8_t ret = ledger_lrd_u8(&r), val = ledger_lrd_u8(&r);
        if (ret > 1 || val > 1)
            r.err = 1;
        d->seal_retired = ret;
        d->validator = val;
        if (val) {
            get_key(&r, &d->node);
            d->p2p = get_opt(&r);
            d->rpc = get_opt(&r);
        }
    }
    cnt = ledger_lrd_u16(&r);
    if (cnt > LEDGER_MAX_REGISTRARS)
        r.err = 1;
    if (!r.err && (m->registrars = calloc(cnt ? cnt : 1, sizeof *m->registrars)) == NULL)
        r.err = 1;
    if (!r.err)
        m->n_registrars = cnt;
    for (size_t i = 0; i < m->n_registrars && !r.err; i++) {
        m->registrars[i].name = get_str(&r);
        m->registrars[i].department = ledger_lrd_str(&r, 32);
        get_key(&r, &m->registrars[i].key);
    }
    cnt = ledger_lrd_u16(&r);
    if (cnt > LEDGER_MAX_OBSERVERS)
        r.err = 1;
    if (!r.err && (gv->observers = calloc(cnt ? cnt : 1, sizeof *gv->observers)) == NULL)
        r.err = 1;
    if (!r.err)
        gv->n_observers = cnt;
    for (size_t i = 0; i < gv->n_observers && !r.err; i++) {
        gv->observers[i].name = get_str(&r);
        get_key(&r, &gv->observers[i].node);
    }
    cnt = ledger_lrd_u16(&r);
    if (cnt < 1 || cnt > LEDGER_MAX_INDUSTRIES)
        r.err = 1;
    if (!r.err && (m->industries = calloc(cnt, sizeof *m->industries)) == NULL)
        r.err = 1;
    if (!r.err)
        m->n_industries = cnt;
    for (size_t i = 0; i < m->n_industries && !r.err; i++)
        get_industry(&r, &m->industries[i]);
    cnt = ledger_lrd_u16(&r);
    if (cnt > LEDGER_GOV_MAX_RETIRED)
        r.err = 1;
    if (!r.err && (gv->retired = calloc(cnt ? cnt : 1, 32)) == NULL)
        r.err = 1;
    if (!r.err)
        gv->n_retired = cnt;
    for (size_t i = 0; i < gv->n_retired && !r.err; i++) {
        ledger_lrd_copy(&r, gv->retired[i], 32);
        if (i > 0 && memcmp(gv->retired[i - 1], gv->retired[i], 32) >= 0)
            r.err = 1; /* ascending, no repeats: one encoding */
    }
    cnt = ledger_lrd_u16(&r);
    if (cnt > LEDGER_GOV_MAX_OPEN)
        r.err = 1;
    if (!r.err && (gv->open = calloc(cnt ? cnt : 1, sizeof *gv->open)) == NULL)
        r.err = 1;
    if (!r.err)
        gv->n_open = cnt;
    for (size_t i = 0; i < gv->n_open && !r.err; i++)
        get_proposal(&r, &gv->open[i]);
    if (version == GOV_RECORD_VERSION_INSTANT && !r.err) {
        pp->instant_ban_ms = ledger_lrd_u64(&r);
        if (pp->instant_ban_ms > LEDGER_MAX_DURATION_MS)
            r.err = 1;
        for (size_t i = 0; i < m->n_industries && !r.err; i++)
            if (set_instant(&m->industries[i], ledger_lrd_u16(&r)) != 0)
                r.err = 1;
        for (size_t i = 0; i < gv->n_open && !r.err; i++)
            if (gv->open[i].ch.has_industry &&
                set_instant(&gv->open[i].ch.industry, ledger_lrd_u16(&r)) != 0)
                r.err = 1;
        if (!r.err && !needs_instant_version(gv))
            r.err = 1; /* one encoding: this record is version 1 */
    }
    /* every string read must be there (a NULL is a failed read) */
    for (size_t i = 0; i < m->n_departments && !r.err; i++)
        if (!m->departments[i].id || !m->departments[i].name)
            r.err = 1;
    for (size_t i = 0; i < m->n_registrars && !r.err; i++)
        if (!m->registrars[i].name || !m->registrars[i].department)
            r.err = 1;
    if (!ledger_lrd_done(&r)) {
        ledger_gov_release(gv);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "governance record is malformed");
    }
    if (link_membership(m, err) != 0) {
        ledger_gov_release(gv);
        return -1;
    }
    ledger_set_validators_hash(m);
    *out = gv;
    return 0;
}

int ledger_gov_from_genesis(const ledger_genesis *g, ledger_gov **out, ledger_err *err)
{
    /* the genesis membership written as a record and read back: one code
     * path builds every membership */
    ledger_gov tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.m = (ledger_genesis *)g;
    tmp.next_proposal = 1;
    /* observers admitted by genesis (read only: tmp is not freed) */
    tmp.observers = g->observers;
    tmp.n_observers = g->n_observers;
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(g, id, sizeof id);
    uint8_t *b;
    size_t n;
    if (ledger_gov_encode(&tmp, id, &b, &n, err) != 0)
        return -1;
    int rc = ledger_gov_decode(g, b, n, out, err);
    free(b);
    if (rc == 0)
        (*out)->exists = 0;
    return rc;
}

int ledger_gov_copy(const ledger_genesis *g, const ledger_gov *gv, ledger_gov **out,
                    ledger_err *err)
{
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(g, id, sizeof id);
    uint8_t *b;
    size_t n;
    if (ledger_gov_encode(gv, id, &b, &n, err) != 0)
        return -1;
    int rc = ledger_gov_decode(g, b, n, out, err);
    free(b);
    if (rc == 0)
        (*out)->exists = gv->exists;
    return rc;
}

/* ---- questions ----------------------------------------------------------- */

int ledger_gov_observer(const ledger_gov *gv, const uint8_t key[32])
{
    for (size_t i = 0; i < gv->n_observers; i++)
        if (memcmp(gv->observers[i].node.raw, key, 32) == 0)
            return (int)i;
    return -1;
}

int ledger_gov_key_retired(const ledger_gov *gv, const uint8_t key[32])
{
    size_t lo = 0, hi = gv->n_retired;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(gv->retired[mid], key, 32);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

size_t ledger_gov_approvals(const ledger_gov *gv, const ledger_gov_proposal *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_approvals; i++)
        if (ledger_genesis_dept_index(gv->m, p->approvals[i]) >= 0)
            n++;
    return n;
}

size_t ledger_gov_needed(const ledger_gov *gv)
{
    return gv->m->n_departments * 2 / 3 + 1;
}

int ledger_gov_authorize(const ledger_gov *gv, const ledger_tx *tx, const ledger_pubkey **pk,
                         int *dept, ledger_err *err)
{
    if (ledger_tx_authorize(gv->m, tx, pk, dept, err) == 0)
        return 0;
    if (tx->kind != PERMIT__TX_KIND__RETIRE_KEY)
        return -1;
    int o = ledger_gov_observer(gv, tx->signer); /* observers are not in m */
    if (o < 0)
        return -1;
    ledger_err_clear(err);
    *pk = &gv->observers[o].node;
    *dept = -1;
    return 0;
}
