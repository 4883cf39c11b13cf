/* tests/sim/queue.c: the event queue (a binary min-heap on (time, seq)) and
 * the reference-counted data that events carry.
 *
 * seq is assigned at push, so two events at the same millisecond run in the
 * order they were scheduled: the order is a function of the seed alone. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        abort(); /* the simulator cannot go on without memory */
    return p;
}

sim_tx *sim_tx_new(const uint8_t *env, size_t len)
{
    sim_tx *t = xcalloc(1, sizeof *t);
    t->env = xcalloc(len ? len : 1, 1);
    memcpy(t->env, env, len);
    t->len = len;
    ledger_sha256(env, len, t->id);
    t->refs = 1;
    return t;
}

sim_tx *sim_tx_ref(sim_tx *t)
{
    t->refs++;
    return t;
}

void sim_tx_unref(sim_tx *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    free(t->env);
    free(t);
}

sim_msg *sim_msg_new(unsigned from, const uint8_t *frame, size_t len)
{
    sim_msg *m = xcalloc(1, sizeof *m + (len ? len : 1));
    m->refs = 1;
    m->from = from;
    m->len = len;
    memcpy(m->data, frame, len);
    return m;
}

sim_msg *sim_msg_ref(sim_msg *m)
{
    m->refs++;
    return m;
}

void sim_msg_unref(sim_msg *m)
{
    if (m == NULL || --m->refs > 0)
        return;
    free(m);
}

static int before(const sim_event *a, const sim_event *b)
{
    return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

int sim_queue_push(sim_queue *q, sim_event *ev)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 1024;
        sim_event *nv = realloc(q->v, nc * sizeof *nv);
        if (nv == NULL)
            return -1;
        q->v = nv;
        q->cap = nc;
    }
    ev->seq = q->next_seq++;
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(ev, &q->v[p]))
            break;
        q->v[i] = q->v[p];
        i = p;
    }
    q->v[i] = *ev;
    return 0;
}

int sim_queue_pop(sim_queue *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    *out = q->v[0];
    sim_event last = q->v[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(&q->v[c + 1], &q->v[c]))
            c++;
        if (!before(&q->v[c], &last))
            break;
        q->v[i] = q->v[c];
        i = c;
    }
    if (q->n > 0)
        q->v[i] = last;
    return 1;
}

static void release(sim_event *ev)
{
    if (ev->kind == EV_DELIVER)
        sim_msg_unref(ev->ptr);
    else if (ev->kind == EV_TX_ARRIVE)
        sim_tx_unref(ev->ptr);
    ev->ptr = NULL;
}

void sim_queue_free(sim_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        release(&q->v[i]);
    free(q->v);
    memset(q, 0, sizeof *q);
}
