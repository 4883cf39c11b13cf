/* consensus/engine.c: the rules of Algorithm 1 of the Tendermint paper, each
 * marked with its line number there.  Every event records what it brings
 * and then runs progress(), which fires rules until none applies. */
#include "engine.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t present;
    cons_hash value;
    uint8_t sig[64];
} vote_slot;

typedef struct {
    uint32_t round;
    int have_proposal;
    cons_hash prop_value;
    int32_t prop_pol;
    vote_slot prevotes[CONS_MAX_VALIDATORS];
    vote_slot precommits[CONS_MAX_VALIDATORS];
    /* the second value of a validator that equivocated, when others back it
     * (see record): one more slot each, so memory stays bounded */
    vote_slot prevotes2[CONS_MAX_VALIDATORS];
    vote_slot precommits2[CONS_MAX_VALIDATORS];
    uint8_t sender[CONS_MAX_VALIDATORS]; /* sent anything in this round (line 55) */
    int prevote_timeout_set;             /* line 34: "for the first time" */
    int precommit_timeout_set;           /* line 47 */
    int locked_here;                     /* line 36 */
} round_state;

enum { V_UNKNOWN = 0, V_PENDING, V_VALID, V_INVALID };

#define CONS_VALIDITY_CACHE 16

typedef struct {
    cons_hash value;
    int state;
} validity;

struct cons_engine {
    cons_config cfg;
    unsigned n;              /* validators of this height */
    int self;                /* our index among them, or -1 */
    unsigned quorum, weak;   /* 2f+1 and f+1 */
    uint64_t height;
    uint32_t round;
    cons_step step;
    cons_hash locked_value;
    int32_t locked_round;
    cons_hash valid_value;
    int32_t valid_round;
    int activated;
    int asked_value;         /* GET_VALUE issued for (height, round) */
    round_state *rounds;
    size_t n_rounds;
    validity vcache[CONS_VALIDITY_CACHE];
    size_t vnext;
    cons_action *q;          /* action queue: CONS_MAX_ACTIONS, allocated once */
    size_t qhead, qlen;
    int started;
    int failed;              /* an action was dropped (cons_failed) */
    uint64_t equivocations;
};

int cons_hash_is_nil(const cons_hash *h)
{
    static const cons_hash nil;
    return memcmp(h->b, nil.b, 32) == 0;
}

int cons_hash_eq(const cons_hash *a, const cons_hash *b)
{
    return memcmp(a->b, b->b, 32) == 0;
}

static const cons_hash NIL;

/* ---- actions ---- */

/* The queue is allocated once and never grows: the host takes every
 * action after each event, and one event yields a handful, so a full queue
 * means a host that stopped taking them.  A lost timeout or commit could
 * stall this node for good, so it is not dropped silently: the engine is
 * marked failed and the host stops the node. */
static cons_action *push_slot(cons_engine *e)
{
    if (e->qlen == CONS_MAX_ACTIONS) {
        e->failed = 1;
        return NULL;
    }
    cons_action *a = &e->q[(e->qhead + e->qlen) % CONS_MAX_ACTIONS];
    e->qlen++;
    memset(a, 0, offsetof(cons_action, signers));
    a->ev_round = CONS_NIL_ROUND;
    return a;
}

int cons_next_action(cons_engine *e, cons_action *out)
{
    if (e->qlen == 0)
        return 0;
    const cons_action *a = &e->q[e->qhead];
    /* copy only the signatures in use: an action is mostly its arrays */
    memcpy(out, a, offsetof(cons_action, signers));
    memcpy(out->signers, a->signers, a->n_sigs * sizeof a->signers[0]);
    memcpy(out->sigs, a->sigs, a->n_sigs * sizeof a->sigs[0]);
    e->qhead = (e->qhead + 1) % CONS_MAX_ACTIONS;
    e->qlen--;
    return 1;
}

int cons_failed(const cons_engine *e)
{
    return e->failed;
}

static uint64_t timeout_ms(uint64_t base, uint64_t delta, uint32_t round)
{
    uint64_t r = round > 10000 ? 10000 : round; /* timeouts grow, but stay finite */
    return base + r * delta;
}

static int i_propose(const cons_engine *e);

static void schedule(cons_engine *e, cons_step step, uint32_t round)
{
    cons_action *a = push_slot(e);
    if (a == NULL)
        return;
    a->kind = CONS_ACT_TIMEOUT;
    a->step = step;
    a->height = e->height;
    a->round = round;
    switch (step) {
    case CONS_STEP_PROPOSE:
        a->delay_ms = timeout_ms(e->cfg.propose_ms, e->cfg.propose_delta_ms, round);
        if (i_propose(e))
            a->delay_ms += e->cfg.own_propose_extra_ms;
        break;
    case CONS_STEP_PREVOTE:
        a->delay_ms = timeout_ms(e->cfg.prevote_ms, e->cfg.prevote_delta_ms, round);
        break;
    case CONS_STEP_PRECOMMIT:
        a->delay_ms = timeout_ms(e->cfg.precommit_ms, e->cfg.precommit_delta_ms, round);
        break;
    }
}

/* ---- message log ---- */

static round_state *find_round(cons_engine *e, uint32_t round, int create);

/* Rounds the rules may still need: ours, the lock's, the valid value's
 * (its proof of lock goes with a re-proposal), and the proof of lock our
 * round's proposal names (line 28). */
static int round_needed(cons_engine *e, uint32_t round)
{
    if (round == e->round || (int64_t)round == e->locked_round ||
        (int64_t)round == e->valid_round)
        return 1;
    for (size_t i = 0; i < e->n_rounds; i++)
        if (e->rounds[i].round == e->round)
            return e->rounds[i].have_proposal && (int64_t)round == e->rounds[i].prop_pol;
    return 0;
}

/* The slot to reuse for `round` when every slot is taken: the oldest round
 * before ours that is not needed, else the furthest round ahead of ours;
 * NULL when `round` is worth less than that one (older, or further ahead).
 * A round the rules need (the proof of lock of our round's proposal) takes
 * any slot that is not needed.
 * A height that lasts over CONS_MAX_ROUNDS rounds, or a Byzantine validator
 * voting in every round of the window, then keeps going on the rounds that
 * matter. */
static round_state *evict_for(cons_engine *e, uint32_t round)
{
    round_state *old = NULL, *far = NULL;
    for (size_t i = 0; i < e->n_rounds; i++) {
        round_state *r = &e->rounds[i];
        if (round_needed(e, r->round))
            continue;
        if (r->round < e->round) {
            if (old == NULL || r->round < old->round)
                old = r;
        } else if (far == NULL || r->round > far->round) {
            far = r;
        }
    }
    if (round != e->round && round_needed(e, round))
        return old ? old : far; /* the proof of lock our proposal names, however old */
    if (round < e->round) /* a past round only displaces an older one */
        return old && old->round < round ? old : NULL;
    if (old)
        return old;
    return far && (far->round > round || round == e->round) ? far : NULL;
}

static round_state *find_round(cons_engine *e, uint32_t round, int create)
{
    for (size_t i = 0; i < e->n_rounds; i++)
        if (e->rounds[i].round == round)
            return &e->rounds[i];
    if (!create)
        return NULL;
    round_state *r;
    if (e->n_rounds < CONS_MAX_ROUNDS)
        r = &e->rounds[e->n_rounds++];
    else if ((r = evict_for(e, round)) == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    r->round = round;
    r->prop_pol = CONS_NIL_ROUND;
    return r;
}

/* The vote of validator k for `value` (NULL: any), or NULL. */
static const vote_slot *vote_for(const round_state *r, cons_type type, unsigned k,
                                 const cons_hash *value)
{
    const vote_slot *v = &(type == CONS_PREVOTE ? r->prevotes : r->precommits)[k];
    const vote_slot *x = &(type == CONS_PREVOTE ? r->prevotes2 : r->precommits2)[k];
    if (!v->present)
        return NULL;
    if (value == NULL || cons_hash_eq(&v->value, value))
        return v;
    return x->present && cons_hash_eq(&x->value, value) ? x : NULL;
}

/* Validators (other than `skip`; CONS_MAX_VALIDATORS: none) voting `value`
 * (NULL: anything) in round r. */
static unsigned count_but(const round_state *r, cons_type type, const cons_hash *value,
                          unsigned skip)
{
    unsigned n = 0;
    for (unsigned k = 0; k < CONS_MAX_VALIDATORS; k++)
        if (k != skip && vote_for(r, type, k, value))
            n++;
    return n;
}

static unsigned count(const round_state *r, cons_type type, const cons_hash *value)
{
    return count_but(r, type, value, CONS_MAX_VALIDATORS);
}

/* Record a message; 0 when it adds nothing (duplicate, conflicting, out of
 * range). */
static int record(cons_engine *e, const cons_msg *m)
{
    if (m->height != e->height || m->validator >= e->n)
        return 0;
    if (m->round >= e->round + CONS_FUTURE_ROUNDS)
        return 0; /* bounded: a Byzantine sender cannot make us keep every round */
    round_state *r = find_round(e, m->round, 1);
    if (r == NULL)
        return 0;
    switch (m->type) {
    case CONS_PROPOSAL:
        if (m->validator != cons_proposer(e, m->height, m->round) ||
            cons_hash_is_nil(&m->value) || m->pol_round < CONS_NIL_ROUND ||
            (m->pol_round >= 0 && (uint32_t)m->pol_round >= m->round))
            return 0;
        if (r->have_proposal) {
            if (!cons_hash_eq(&r->prop_value, &m->value) || r->prop_pol != m->pol_round)
                e->equivocations++;
            return 0;
        }
        r->have_proposal = 1;
        r->prop_value = m->value;
        r->prop_pol = m->pol_round;
        break;
    case CONS_PREVOTE:
    case CONS_PRECOMMIT: {
        vote_slot *v = &(m->type == CONS_PREVOTE ? r->prevotes : r->precommits)[m->validator];
        if (v->present) {
            vote_slot *x =
                &(m->type == CONS_PREVOTE ? r->prevotes2 : r->precommits2)[m->validator];
            if (cons_hash_eq(&v->value, &m->value) ||
                (x->present && cons_hash_eq(&x->value, &m->value)))
                return 0;
            e->equivocations++;
            /* The rules count messages per value, so a validator that
             * equivocated sits in the tally of each value it signed (two
             * quorums for different values would still need a correct
             * validator in both: safety holds).  Dropping its second vote
             * instead loses liveness: a correct node locked on v (line 36)
             * with its vote in the proof can never show that proof to
             * peers who got its other vote first, and the chain stalls.
             * Keep the second value when other validators back it more
             * than the one kept so far: a relayed proof of lock then
             * completes, and votes for values nobody else holds cost
             * nothing. */
            unsigned s = count_but(r, m->type, &m->value, m->validator);
            if (s == 0 || (x->present && s <= count_but(r, m->type, &x->value, m->validator)))
                return 0;
            x->present = 1;
            x->value = m->value;
            memcpy(x->sig, m->sig, 64);
            return 1;
        }
        v->present = 1;
        v->value = m->value;
        memcpy(v->sig, m->sig, 64);
        break;
    }
    default:
        return 0;
    }
    r->sender[m->validator] = 1;
    return 1;
}

/* ---- validity of blocks (asked of the node) ---- */

static validity *vfind(cons_engine *e, const cons_hash *v)
{
    for (size_t i = 0; i < CONS_VALIDITY_CACHE; i++)
        if (e->vcache[i].state != V_UNKNOWN && cons_hash_eq(&e->vcache[i].value, v))
            return &e->vcache[i];
    return NULL;
}

static validity *vset(cons_engine *e, const cons_hash *v, int state)
{
    validity *c = vfind(e, v);
    if (c == NULL) {
        c = &e->vcache[e->vnext];
        e->vnext = (e->vnext + 1) % CONS_VALIDITY_CACHE;
        c->value = *v;
    }
    c->state = state;
    return c;
}

/* V_VALID / V_INVALID once known; otherwise asks the node (once) and
 * answers V_PENDING. */
static int valid(cons_engine *e, const cons_hash *v)
{
    validity *c = vfind(e, v);
    if (c && (c->state == V_VALID || c->state == V_INVALID || c->state == V_PENDING))
        return c->state;
    cons_action *a = push_slot(e);
    if (a == NULL)
        return V_PENDING;
    vset(e, v, V_PENDING);
    a->kind = CONS_ACT_VALIDATE;
    a->height = e->height;
    a->value = *v;
    return V_PENDING;
}

/* ---- our own messages ---- */

/* Our message of this round: `pol` is a proposal's proof-of-lock round;
 * `ev_round` the round whose prevotes for `value` justify it (attached as
 * evidence), or CONS_NIL_ROUND. */
static void broadcast(cons_engine *e, cons_type type, const cons_hash *value, int32_t pol,
                      int32_t ev_round)
{
    if (e->self < 0)
        return;
    cons_action *a = push_slot(e);
    if (a == NULL)
        return;
    a->kind = CONS_ACT_BROADCAST;
    a->msg.type = type;
    a->msg.height = e->height;
    a->msg.round = e->round;
    a->msg.value = *value;
    a->msg.pol_round = type == CONS_PROPOSAL ? pol : CONS_NIL_ROUND;
    a->msg.validator = (uint32_t)e->self;
    const round_state *r = ev_round >= 0 && !cons_hash_is_nil(value)
                               ? find_round(e, (uint32_t)ev_round, 0)
                               : NULL;
    if (r) {
        a->ev_round = ev_round;
        for (unsigned k = 0; k < e->n; k++) {
            const vote_slot *v = vote_for(r, CONS_PREVOTE, k, value);
            if (v) {
                a->signers[a->n_sigs] = k;
                memcpy(a->sigs[a->n_sigs], v->sig, 64);
                a->n_sigs++;
            }
        }
    }
    /* our own message counts once the node has signed it and hands it back
     * with cons_on_msg: a message it refused to sign (sign state) is not
     * counted, and certificates carry our real signature */
}

/* ---- the algorithm ---- */

unsigned cons_proposer(const cons_engine *e, uint64_t height, uint32_t round)
{
    return (unsigned)((height + round) % e->n);
}

static int i_propose(const cons_engine *e)
{
    return e->self >= 0 && cons_proposer(e, e->height, e->round) == (unsigned)e->self;
}

static void start_round(cons_engine *e, uint32_t round) /* line 11 */
{
    e->round = round;
    e->step = CONS_STEP_PROPOSE;
    e->asked_value = 0;
    /* "invalid" may have been transient (a block time ahead of our clock,
     * an executor error): each round asks again of a value it needs */
    for (size_t i = 0; i < CONS_VALIDITY_CACHE; i++)
        if (e->vcache[i].state == V_INVALID)
            e->vcache[i].state = V_UNKNOWN;
    find_round(e, round, 1);
    if (i_propose(e)) {
        if (e->valid_round != CONS_NIL_ROUND) {
            broadcast(e, CONS_PROPOSAL, &e->valid_value, e->valid_round,
                      e->valid_round); /* line 15 */
        } else {
            cons_action *a = push_slot(e); /* line 18: getValue() */
            if (a) {
                a->kind = CONS_ACT_GET_VALUE;
                a->height = e->height;
                a->round = round;
                e->asked_value = 1;
            }
        }
    }
    /* line 21, for the proposer too: a proposal of ours that never goes out
     * (no block made, the signer refused, the block gone) must not hold the
     * round forever */
    if (round > 0 || !e->cfg.wait_for_value || e->activated)
        schedule(e, CONS_STEP_PROPOSE, round);
}

static void prevote(cons_engine *e, const cons_hash *v, int32_t ev_round)
{
    broadcast(e, CONS_PREVOTE, v, CONS_NIL_ROUND, ev_round);
    e->step = CONS_STEP_PREVOTE;
}

static void precommit(cons_engine *e, const cons_hash *v, int32_t ev_round)
{
    broadcast(e, CONS_PRECOMMIT, v, CONS_NIL_ROUND, ev_round);
    e->step = CONS_STEP_PRECOMMIT;
}

/* The validators of `height`: the host's answer, or the configured set.
 * On a bad answer the engine stops (cons_failed). */
static void set_validators(cons_engine *e, uint64_t height)
{
    unsigned n = e->cfg.n;
    int self = e->cfg.self;
    if (e->cfg.validators != NULL &&
        (e->cfg.validators(e->cfg.ctx, height, &n, &self) != 0 || n == 0 ||
         n > CONS_MAX_VALIDATORS || (self >= 0 && (unsigned)self >= n))) {
        e->failed = 1;
        n = e->cfg.n;
        self = -1; /* sign nothing more */
    }
    e->n = n;
    e->self = self;
    e->quorum = 2 * n / 3 + 1;
    e->weak = n - e->quorum + 1;
}

static void reset_height(cons_engine *e, uint64_t height)
{
    if (e->started)
        set_validators(e, height);
    e->height = height;
    e->locked_value = NIL;
    e->locked_round = CONS_NIL_ROUND;
    e->valid_value = NIL;
    e->valid_round = CONS_NIL_ROUND;
    e->n_rounds = 0;
    e->activated = 0;
    memset(e->vcache, 0, sizeof e->vcache);
    e->vnext = 0;
}

/* Line 49: a decision in any round.  Returns 1 when the height advanced. */
static int try_decide(cons_engine *e)
{
    for (size_t i = 0; i < e->n_rounds; i++) {
        round_state *r = &e->rounds[i];
        if (!r->have_proposal || count(r, CONS_PRECOMMIT, &r->prop_value) < e->quorum)
            continue;
        if (valid(e, &r->prop_value) != V_VALID)
            continue;
        cons_action *a = push_slot(e);
        if (a == NULL)
            return 0;
        a->kind = CONS_ACT_COMMIT;
        a->height = e->height;
        a->round = r->round;
        a->value = r->prop_value;
        for (unsigned k = 0; k < e->n; k++) {
            const vote_slot *v = vote_for(r, CONS_PRECOMMIT, k, &r->prop_value);
            if (v) {
                a->signers[a->n_sigs] = k;
                memcpy(a->sigs[a->n_sigs], v->sig, 64);
                a->n_sigs++;
            }
        }
        reset_height(e, e->height + 1);
        start_round(e, 0);
        return 1;
    }
    return 0;
}

/* Line 55: f+1 validators are in a later round: join the latest such. */
static int try_skip(cons_engine *e)
{
    uint32_t best = e->round;
    for (size_t i = 0; i < e->n_rounds; i++) {
        round_state *r = &e->rounds[i];
        if (r->round <= best)
            continue;
        unsigned n = 0;
        for (unsigned k = 0; k < e->n; k++)
            n += r->sender[k];
        if (n >= e->weak)
            best = r->round;
    }
    if (best == e->round)
        return 0;
    start_round(e, best);
    return 1;
}

/* One pass over the rules of the current round; 1 when one fired. */
static int step_rules(cons_engine *e)
{
    round_state *r = find_round(e, e->round, 1);
    if (r == NULL)
        return 0;
    if (e->step == CONS_STEP_PROPOSE && r->have_proposal) {
        const cons_hash *v = &r->prop_value;
        if (r->prop_pol == CONS_NIL_ROUND) { /* line 22 */
            int ok = valid(e, v);
            if (ok == V_PENDING)
                return 0;
            if (ok == V_VALID &&
                (e->locked_round == CONS_NIL_ROUND || cons_hash_eq(&e->locked_value, v)))
                prevote(e, v, CONS_NIL_ROUND);
            else
                prevote(e, &NIL, CONS_NIL_ROUND);
            return 1;
        }
        round_state *pr = find_round(e, (uint32_t)r->prop_pol, 0);
        if (pr && count(pr, CONS_PREVOTE, v) >= e->quorum) { /* line 28 */
            int ok = valid(e, v);
            if (ok == V_PENDING)
                return 0;
            if (ok == V_VALID &&
                (e->locked_round <= r->prop_pol || cons_hash_eq(&e->locked_value, v)))
                prevote(e, v, r->prop_pol);
            else
                prevote(e, &NIL, CONS_NIL_ROUND);
            return 1;
        }
    }
    if (e->step == CONS_STEP_PREVOTE && !r->prevote_timeout_set &&
        count(r, CONS_PREVOTE, NULL) >= e->quorum) { /* line 34 */
        r->prevote_timeout_set = 1;
        schedule(e, CONS_STEP_PREVOTE, e->round);
        return 1;
    }
    if (e->step >= CONS_STEP_PREVOTE && !r->locked_here && r->have_proposal &&
        count(r, CONS_PREVOTE, &r->prop_value) >= e->quorum) { /* line 36 */
        int ok = valid(e, &r->prop_value);
        if (ok == V_VALID) {
            r->locked_here = 1;
            if (e->step == CONS_STEP_PREVOTE) {
                e->locked_value = r->prop_value;
                e->locked_round = (int32_t)e->round;
                precommit(e, &r->prop_value, (int32_t)e->round);
            }
            e->valid_value = r->prop_value;
            e->valid_round = (int32_t)e->round;
            return 1;
        }
    }
    if (e->step == CONS_STEP_PREVOTE && count(r, CONS_PREVOTE, &NIL) >= e->quorum) { /* line 44 */
        precommit(e, &NIL, CONS_NIL_ROUND);
        return 1;
    }
    if (!r->precommit_timeout_set && count(r, CONS_PRECOMMIT, NULL) >= e->quorum) { /* line 47 */
        r->precommit_timeout_set = 1;
        schedule(e, CONS_STEP_PRECOMMIT, e->round);
        return 1;
    }
    return 0;
}

static void progress(cons_engine *e)
{
    for (int guard = 0; guard < 1000; guard++) {
        if (try_decide(e) || try_skip(e) || step_rules(e))
            continue;
        return;
    }
}

/* ---- API ---- */

cons_engine *cons_new(const cons_config *cfg)
{
    if (cfg->n == 0 || cfg->n > CONS_MAX_VALIDATORS ||
        (cfg->self >= 0 && (unsigned)cfg->self >= cfg->n))
        return NULL;
    cons_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->rounds = calloc(CONS_MAX_ROUNDS, sizeof *e->rounds);
    e->q = malloc(CONS_MAX_ACTIONS * sizeof *e->q);
    if (e->rounds == NULL || e->q == NULL) {
        free(e->rounds);
        free(e->q);
        free(e);
        return NULL;
    }
    e->cfg = *cfg;
    e->n = cfg->n;
    e->self = cfg->self;
    e->quorum = 2 * cfg->n / 3 + 1;
    e->weak = cfg->n - e->quorum + 1;
    reset_height(e, 1);
    return e;
}

void cons_free(cons_engine *e)
{
    if (e == NULL)
        return;
    free(e->rounds);
    free(e->q);
    free(e);
}

int cons_start(cons_engine *e, uint64_t height, uint32_t round)
{
    if (e->started)
        return -1;
    e->started = 1;
    reset_height(e, height);
    start_round(e, round);
    progress(e);
    return 0;
}

int cons_advance(cons_engine *e, uint64_t height)
{
    if (!e->started || height <= e->height)
        return -1;
    reset_height(e, height);
    start_round(e, 0);
    progress(e);
    return 0;
}

void cons_restore_lock(cons_engine *e, int32_t locked_round, const cons_hash *locked_value)
{
    if (locked_round < 0 || (uint32_t)locked_round > e->round || cons_hash_is_nil(locked_value))
        return;
    e->locked_round = locked_round;
    e->locked_value = *locked_value;
    /* line 36 made the block the valid value too: restored with the lock, a
     * proposer re-proposes it (line 15) with its proof of lock.  Otherwise,
     * once every validator locked on it has restarted, nobody proposes the
     * one block they can vote for, and the height never ends (found by
     * tests/sim). */
    if (e->valid_round < locked_round) {
        e->valid_round = locked_round;
        e->valid_value = *locked_value;
    }
}

void cons_activate(cons_engine *e)
{
    if (e->activated)
        return;
    e->activated = 1;
    if (e->cfg.wait_for_value && e->round == 0 && e->step == CONS_STEP_PROPOSE)
        schedule(e, CONS_STEP_PROPOSE, 0);
}

void cons_on_msg(cons_engine *e, const cons_msg *m)
{
    if (record(e, m))
        progress(e);
}

void cons_on_timeout(cons_engine *e, cons_step step, uint64_t height, uint32_t round)
{
    if (height != e->height || round != e->round)
        return;
    if (step == CONS_STEP_PROPOSE && e->step == CONS_STEP_PROPOSE) /* line 57 */
        prevote(e, &NIL, CONS_NIL_ROUND);
    else if (step == CONS_STEP_PREVOTE && e->step == CONS_STEP_PREVOTE) /* line 61 */
        precommit(e, &NIL, CONS_NIL_ROUND);
    else if (step == CONS_STEP_PRECOMMIT) /* line 65 */
        start_round(e, e->round + 1);
    else
        return;
    progress(e);
}

void cons_on_value(cons_engine *e, uint64_t height, uint32_t round, const cons_hash *value)
{
    if (height != e->height || round != e->round || !e->asked_value ||
        e->step != CONS_STEP_PROPOSE || cons_hash_is_nil(value))
        return;
    e->asked_value = 0;
    vset(e, value, V_VALID); /* we made it */
    broadcast(e, CONS_PROPOSAL, value, CONS_NIL_ROUND, CONS_NIL_ROUND); /* line 19 */
    progress(e);
}

void cons_on_validated(cons_engine *e, uint64_t height, const cons_hash *value, int ok)
{
    if (height != e->height)
        return;
    vset(e, value, ok ? V_VALID : V_INVALID);
    progress(e);
}

uint64_t cons_height(const cons_engine *e)
{
    return e->height;
}

uint32_t cons_round(const cons_engine *e)
{
    return e->round;
}

cons_step cons_current_step(const cons_engine *e)
{
    return e->step;
}

int32_t cons_locked_round(const cons_engine *e, cons_hash *value)
{
    if (value)
        *value = e->locked_value;
    return e->locked_round;
}

int32_t cons_valid_round(const cons_engine *e, cons_hash *value)
{
    if (value)
        *value = e->valid_value;
    return e->valid_round;
}

unsigned cons_validators(const cons_engine *e)
{
    return e->n;
}

int cons_self(const cons_engine *e)
{
    return e->self;
}

uint64_t cons_equivocations(const cons_engine *e)
{
    return e->equivocations;
}
