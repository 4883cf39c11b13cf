#include "events.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ledger/eventlog.h"
#include "ledger/hex.h"
#include "ledger/tx.h"
#include "log.h"
#include "node.h"
#include "rpc_http.h"

#define KIND_ANY (-1)
#define KIND_REMINDER (-2)

enum { PHASE_EVENTS = 0, PHASE_REMINDERS = 1 };

typedef struct stream stream;

struct stream {
    node *n;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct event *wake;          /* deferred work: the next batch, or the drop */
    stream *next, *prev;
    /* filters ("" / KIND_ANY: any) */
    char license[LEDGER_MAX_LICENSE_ID + 1];
    char department[LEDGER_DEPT_ID_MAX + 1];
    int kind;
    /* position: the next message is in block `height`, phase `phase`:
     * event `next_ev`, or the reminder after (rem_opens, rem_id) */
    uint64_t height;
    int phase;
    uint64_t next_ev;
    int rem_after;
    uint64_t rem_opens;
    char rem_id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_log_block blk;        /* block `height`, once read (blk.height == height) */
    int at_tip;                  /* read up to the tip: fed by commits */
    int flushing;                /* a chunk is on its way to the socket */
    uint64_t flush_since;        /* since when (wall ms): a stalled reader is dropped */
    int dropping;
};

typedef struct node_events {
    stream *head;
    unsigned count;
    uint64_t dropped;
    struct event *keepalive;
    ledger_log_event *evbuf;     /* one batch's events (loop thread) */
    ledger_reminder *rembuf;
} node_events;

/* ---- lifecycle ---- */

static void stream_unlink_free(stream *s)
{
    node_events *ev = s->n->events;
    if (s->prev)
        s->prev->next = s->next;
    else if (ev->head == s)
        ev->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->count--;
    if (s->wake)
        event_free(s->wake);
    free(s);
}

/* The client went away (libevent frees the request after this). */
static void on_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    stream_unlink_free(arg);
}

static size_t unsent(const stream *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->conn);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Close the connection at once, whatever is unsent (outside libevent's
 * callbacks for it: from `wake`). */
static void drop_now(stream *s)
{
    struct evhttp_connection *conn = s->conn;
    evhttp_connection_set_closecb(conn, NULL, NULL);
    stream_unlink_free(s);
    evhttp_connection_free(conn);
}

static void schedule(stream *s)
{
    event_active(s->wake, EV_TIMEOUT, 0);
}

static void drop_later(stream *s, size_t held)
{
    if (s->dropping)
        return;
    s->dropping = 1;
    s->n->events->dropped++;
    LOG_WARN_RATE("events: dropped a stream that let %zu unsent bytes pile up (limit %llu)",
                  held, (unsigned long long)s->n->cfg.rpc_stream_buffer);
    schedule(s);
}

/* ---- messages ---- */

static json_t *departments_json(size_t n, char d[][LEDGER_DEPT_ID_MAX + 1])
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(d[i]));
    return a;
}

static int has_department(const char *want, size_t n, char d[][LEDGER_DEPT_ID_MAX + 1])
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i], want) == 0)
            return 1;
    return 0;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char h[129];
    ledger_hex_encode(p, n, h);
    return json_string(h);
}

static void add_message(struct evbuffer *out, const char *id, const char *event, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (text) /* compact JSON has no newline: one data line */
        evbuffer_add_printf(out, "id: %s\nevent: %s\ndata: %s\n\n", id, event, text);
    free(text);
    json_decref(data);
}

static void emit_event(stream *s, struct evbuffer *out, const ledger_log_event *e)
{
    const char *kind = ledger_tx_kind_name(e->ev.kind);
    /* kind=APPLY also follows the applications 秒批 approved (APPLY_INSTANT) */
    int kind_ok = s->kind == KIND_ANY || s->kind == e->ev.kind ||
                  (s->kind == PERMIT__TX_KIND__APPLY && e->ev.kind == LEDGER_EVENT_APPLY_INSTANT);
    if (!kind_ok ||
        (s->license[0] && strcmp(s->license, e->ev.license_id) != 0))
        return;
    if (s->department[0] &&
        !has_department(s->department, e->n_departments, (char(*)[LEDGER_DEPT_ID_MAX + 1])e->departments))
        return;
    json_t *d = json_pack("{s:I, s:s, s:I, s:s, s:o, s:I, s:I, s:o, s:o}", "id",
                          (json_int_t)e->index, "license_id", e->ev.license_id, "seq",
                          (json_int_t)e->ev.seq, "kind", kind, "tx_id", hex_json(e->ev.tx_id, 32),
                          "height", (json_int_t)e->ev.height, "time", (json_int_t)e->ev.time,
                          "signer", hex_json(e->signer, 32), "departments",
                          departments_json(e->n_departments,
                                           (char(*)[LEDGER_DEPT_ID_MAX + 1])e->departments));
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, e->index);
    add_message(out, id, kind, d);
}

static void emit_reminder(stream *s, struct evbuffer *out, const ledger_reminder *r)
{
    if ((s->kind != KIND_ANY && s->kind != KIND_REMINDER) ||
        (s->license[0] && strcmp(s->license, r->license_id) != 0))
        return;
    if (s->department[0] &&
        !has_department(s->department, r->n_departments, (char(*)[LEDGER_DEPT_ID_MAX + 1])r->departments))
        return;
    char id[128];
    snprintf(id, sizeof id, "r%" PRIu64 "-%" PRIu64 "-%s", r->height, r->opens, r->license_id);
    json_t *d = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:o}", "id", id,
                          "kind", "reminder", "license_id",
                          r->license_id, "height", (json_int_t)r->height, "time",
                          (json_int_t)r->time, "renewal_opens", (json_int_t)r->opens,
                          "expires_at", (json_int_t)r->expires_at, "industry", r->industry,
                          "status", ledger_status_name(r->status), "departments",
                          departments_json(r->n_departments,
                                           (char(*)[LEDGER_DEPT_ID_MAX + 1])r->departments));
    add_message(out, id, "reminder", d);
}

/* ---- reading a batch ---- */

/* Read from the position into out: at most NODE_EVENTS_BATCH messages read
 * (sent or filtered out) and NODE_EVENTS_BATCH_BLOCKS blocks.  Sets at_tip
 * when the position passed the tip.  0, or -1 on a database error. */
static int read_batch(stream *s, struct evbuffer *out)
{
    node_events *ev = s->n->events;
    ledger *L = s->n->L;
    uint64_t tip = ledger_height(L);
    size_t read = 0, blocks = 0;
    ledger_err err;
    s->at_tip = 0;
    while (read < NODE_EVENTS_BATCH && blocks < NODE_EVENTS_BATCH_BLOCKS) {
        if (s->height > tip) {
            s->at_tip = 1;
            return 0;
        }
        if (s->blk.height != s->height) {
            int r = ledger_log_block_get(L, s->height, &s->blk, &err);
            if (r <= 0) {
                LOG_WARN_RATE("events: block %llu: %s", (unsigned long long)s->height,
                              r == 0 ? "missing" : err.msg);
                return -1;
            }
            if (s->next_ev < s->blk.first)
                s->next_ev = s->blk.first;
        }
        if (s->phase == PHASE_EVENTS) {
            if (s->next_ev < s->blk.end) {
                size_t k = 0;
                if (ledger_log_events(L, &s->blk, s->next_ev, NODE_EVENTS_BATCH - read, ev->evbuf,
                                      &k, &err) != 0 || k == 0) {
                    LOG_WARN_RATE("events: reading event %llu: %s",
                                  (unsigned long long)s->next_ev, k == 0 ? "none" : err.msg);
                    return -1;
                }
                for (size_t i = 0; i < k; i++)
                    emit_event(s, out, &ev->evbuf[i]);
                s->next_ev += k;
                read += k;
                continue;
            }
            s->phase = PHASE_REMINDERS;
            s->rem_after = 0;
        }
        size_t want = NODE_EVENTS_BATCH - read, k = 0;
        if (ledger_log_reminders(L, &s->blk, s->rem_opens, s->rem_after ? s->rem_id : NULL, want,
                                 ev->rembuf, &k, &err) != 0) {
            LOG_WARN_RATE("events: reminders of block %llu: %s", (unsigned long long)s->height,
                          err.msg);
            return -1;
        }
        for (size_t i = 0; i < k; i++)
            emit_reminder(s, out, &ev->rembuf[i]);
        read += k;
        if (k > 0) {
            s->rem_after = 1;
            s->rem_opens = ev->rembuf[k - 1].opens;
            snprintf(s->rem_id, sizeof s->rem_id, "%s", ev->rembuf[k - 1].license_id);
        }
        if (k == want)
            continue; /* more reminders may follow in this block */
        /* the next block */
        s->next_ev = s->blk.end;
        s->height++;
        s->phase = PHASE_EVENTS;
        s->rem_after = 0;
        blocks++;
    }
    return 0;
}

static void on_flushed(struct evhttp_connection *conn, void *arg);

/* Send what is in out (if anything) and check the stream's bound. */
static void send_chunk(stream *s, struct evbuffer *out)
{
    /* what was still unsent before this chunk: a batch itself may be larger
     * than the bound, a reader that let the previous ones pile up is not */
    size_t held = unsent(s);
    if (evbuffer_get_length(out) > 0) {
        if (!s->flushing)
            s->flush_since = node_now_ms();
        s->flushing = 1;
        evhttp_send_reply_chunk_with_cb(s->req, out, on_flushed, s);
    }
    if (held > s->n->cfg.rpc_stream_buffer)
        drop_later(s, held);
}

/* Read and send the next batch.  A stream catching up waits for its last
 * batch to leave first; one at the tip (live) is fed everything a commit
 * brought, batch by batch, and pays for not reading with its bound. */
static void pump(stream *s, int live)
{
    if (s->dropping || (s->flushing && !live))
        return;
    do {
        struct evbuffer *out = evbuffer_new();
        if (out == NULL)
            return;
        if (read_batch(s, out) != 0) {
            /* a database error: end the stream; the client resumes elsewhere */
            evbuffer_free(out);
            s->dropping = 1;
            schedule(s);
            return;
        }
        send_chunk(s, out);
        evbuffer_free(out);
    } while (live && !s->at_tip && !s->dropping);
    if (!s->at_tip && !s->flushing && !s->dropping)
        schedule(s); /* everything read was filtered out: go on */
}

static void on_flushed(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    stream *s = arg;
    s->flushing = 0;
    if (!s->at_tip)
        schedule(s);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream *s = arg;
    if (s->dropping)
        drop_now(s);
    else
        pump(s, 0);
}

void node_events_committed(node *n)
{
    node_events *ev = n->events;
    if (ev == NULL)
        return;
    stream *next;
    for (stream *s = ev->head; s; s = next) {
        next = s->next;
        if (s->at_tip)
            pump(s, 1);
    }
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node *n = arg;
    stream *next;
    for (stream *s = n->events->head; s; s = next) {
        next = s->next;
        if (s->dropping)
            continue;
        if (s->flushing && node_now_ms() - s->flush_since > n->cfg.rpc_timeout_ms) {
            /* nothing left for the socket in rpc_timeout: the reader stalled */
            s->dropping = 1;
            n->events->dropped++;
            LOG_WARN_RATE("events: dropped a stream whose reader took nothing for %llu ms",
                          (unsigned long long)n->cfg.rpc_timeout_ms);
            schedule(s);
            continue;
        }
        struct evbuffer *out = evbuffer_new();
        if (out == NULL)
            continue;
        evbuffer_add_printf(out, ": keep-alive %llu\n\n", (unsigned long long)ledger_height(n->L));
        send_chunk(s, out);
        evbuffer_free(out);
    }
}

/* ---- the request ---- */

static int parse_u64(const char *p, uint64_t *v)
{
    if (p == NULL || *p < '0' || *p > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(p, &end, 10);
    if (errno || end == p)
        return -1;
    *v = x;
    return (int)(end - p);
}

/* The position after stream id `id` (Last-Event-ID): an event index, or a
 * reminder r<height>-<opens>-<license>.  0, or -1 with a reason in why. */
static int position_after(stream *s, const char *id, char *why, size_t cap)
{
    ledger_err err;
    uint64_t h, opens, index;
    int k;
    if (id[0] == 'r') {
        const char *p = id + 1;
        if ((k = parse_u64(p, &h)) < 0 || p[k] != '-' || h == 0 ||
            (k = parse_u64(p += k + 1, &opens)) < 0 || p[k] != '-' ||
            strlen(p + k + 1) == 0 || strlen(p + k + 1) > LEDGER_MAX_LICENSE_ID) {
            snprintf(why, cap, "Last-Event-ID \"%.80s\" is not an event id", id);
            return -1;
        }
        if (h > ledger_height(s->n->L)) {
            snprintf(why, cap, "Last-Event-ID %.80s: this node has no block %llu yet", id,
                     (unsigned long long)h);
            return -1;
        }
        s->height = h;
        s->phase = PHASE_REMINDERS;
        s->rem_after = 1;
        s->rem_opens = opens;
        snprintf(s->rem_id, sizeof s->rem_id, "%s", p + k + 1);
        return 0;
    }
    if ((k = parse_u64(id, &index)) < 0 || id[k] != '\0' || index == UINT64_MAX) {
        snprintf(why, cap, "Last-Event-ID \"%.80s\" is not an event id", id);
        return -1;
    }
    int r = ledger_log_find(s->n->L, index, &h, &err);
    if (r < 0) {
        snprintf(why, cap, "%.200s", err.msg);
        return -1;
    }
    if (r == 0) {
        snprintf(why, cap, "event %llu is not in this node's event log yet",
                 (unsigned long long)index);
        return -1;
    }
    s->height = h;
    s->phase = PHASE_EVENTS;
    s->next_ev = index + 1; /* at the block's end: its reminders come next */
    return 0;
}

/* The position of event `index` (?from=): at it, or at the tip when the log
 * ends there. */
static int position_from(stream *s, uint64_t index, char *why, size_t cap)
{
    ledger_tip tip;
    ledger_get_tip(s->n->L, &tip);
    uint64_t size = tip.height ? tip.header.log_size : 0;
    if (index > size) {
        snprintf(why, cap, "from=%llu: this node's event log has %llu events",
                 (unsigned long long)index, (unsigned long long)size);
        return -1;
    }
    if (index == size) {
        s->height = tip.height + 1;
        s->next_ev = size;
        return 0;
    }
    ledger_err err;
    uint64_t h;
    if (ledger_log_find(s->n->L, index, &h, &err) != 1) {
        snprintf(why, cap, "event %llu cannot be found", (unsigned long long)index);
        return -1;
    }
    s->height = h;
    s->next_ev = index;
    return 0;
}

static void bad_request(struct evhttp_request *req, const char *why)
{
    evhttp_send_error(req, 400, why);
}

void node_events_on_request(struct evhttp_request *req, void *arg)
{
    node *n = arg;
    node_events *ev = n->events;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        evhttp_send_error(req, 405, "GET /events only");
        return;
    }
    const char *token_name;
    if (node_rpc_authorize(n, req, &token_name) == RPC_ROLE_NONE)
        return; /* every role may read */
    if (n->stopping || ev == NULL) {
        evhttp_send_error(req, 503, "node is shutting down");
        return;
    }
    if (ev->count >= n->cfg.rpc_max_streams) {
        LOG_WARN_RATE("events: refused a stream: %u open (rpc_max_streams)", ev->count);
        evhttp_send_error(req, 503, "too many event streams open on this node "
                                    "(rpc_max_streams); try again later");
        return;
    }
    stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        evhttp_send_error(req, 503, "out of memory");
        return;
    }
    s->n = n;
    s->req = req;
    s->kind = KIND_ANY;
    char why[256];
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query && evhttp_parse_query_str(query, &q) != 0) {
        free(s);
        bad_request(req, "the query string is malformed");
        return;
    }
    const char *license = evhttp_find_header(&q, "license");
    const char *dept = evhttp_find_header(&q, "department");
    const char *kind = evhttp_find_header(&q, "kind");
    const char *from = evhttp_find_header(&q, "from");
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
    int bad = 0;
    for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
        if (strcmp(kv->key, "license") != 0 && strcmp(kv->key, "department") != 0 &&
            strcmp(kv->key, "kind") != 0 && strcmp(kv->key, "from") != 0) {
            snprintf(why, sizeof why, "unknown parameter \"%.40s\": /events takes license, "
                                      "department, kind and from", kv->key);
            bad = 1;
            break;
        }
    if (!bad && license && (strlen(license) == 0 || strlen(license) > LEDGER_MAX_LICENSE_ID)) {
        snprintf(why, sizeof why, "license: 1 to %d characters", LEDGER_MAX_LICENSE_ID);
        bad = 1;
    }
    if (!bad && dept && (strlen(dept) == 0 || strlen(dept) > LEDGER_DEPT_ID_MAX)) {
        snprintf(why, sizeof why, "department: 1 to %d characters", LEDGER_DEPT_ID_MAX);
        bad = 1;
    }
    if (!bad && kind) {
        s->kind = strcmp(kind, "reminder") == 0 ? KIND_REMINDER : ledger_tx_kind_parse(kind);
        if (s->kind == -1) {
            snprintf(why, sizeof why, "unknown kind \"%.40s\" (a transaction kind such as "
                                      "APPROVE, or reminder)", kind);
            bad = 1;
        }
    }
    if (!bad) {
        snprintf(s->license, sizeof s->license, "%s", license ? license : "");
        snprintf(s->department, sizeof s->department, "%s", dept ? dept : "");
        if (last && last[0]) {
            bad = position_after(s, last, why, sizeof why) != 0;
        } else if (from) {
            uint64_t v;
            int k = parse_u64(from, &v);
            if (k < 0 || from[k] != '\0') {
                snprintf(why, sizeof why, "from: an event index (0 for the whole log)");
                bad = 1;
            } else {
                bad = position_from(s, v, why, sizeof why) != 0;
            }
        } else {
            ledger_tip tip;
            ledger_get_tip(n->L, &tip);
            s->height = tip.height + 1;
            s->next_ev = tip.height ? tip.header.log_size : 0;
        }
    }
    evhttp_clear_headers(&q);
    if (bad) {
        free(s);
        bad_request(req, why);
        return;
    }
    s->wake = event_new(n->base, -1, 0, on_wake, s);
    s->conn = evhttp_request_get_connection(req);
    if (s->wake == NULL || s->conn == NULL) {
        if (s->wake)
            event_free(s->wake);
        free(s);
        evhttp_send_error(req, 503, "out of memory");
        return;
    }
    s->next = ev->head;
    if (ev->head)
        ev->head->prev = s;
    ev->head = s;
    ev->count++;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(s->conn, on_close, s);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    int sndbuf = NODE_EVENTS_SNDBUF;
    if (fd >= 0) /* the kernel's share of a stream's unsent bytes: bounded too */
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct evbuffer *out = evbuffer_new();
    if (out) {
        evbuffer_add_printf(out, "retry: 2000\n\n");
        send_chunk(s, out);
        evbuffer_free(out);
    }
    schedule(s);
}

unsigned node_events_count(const node *n)
{
    return n->events ? n->events->count : 0;
}

unsigned long long node_events_dropped(const node *n)
{
    return n->events ? (unsigned long long)n->events->dropped : 0;
}

int node_events_start(node *n, ledger_err *err)
{
    node_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    ev->evbuf = malloc(NODE_EVENTS_BATCH * sizeof *ev->evbuf);
    ev->rembuf = malloc(NODE_EVENTS_BATCH * sizeof *ev->rembuf);
    ev->keepalive = event_new(n->base, -1, EV_PERSIST, on_keepalive, n);
    uint64_t ms = n->cfg.rpc_stream_keepalive_ms ? n->cfg.rpc_stream_keepalive_ms : 1000;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (ev->evbuf == NULL || ev->rembuf == NULL || ev->keepalive == NULL ||
        event_add(ev->keepalive, &tv) != 0) {
        if (ev->keepalive)
            event_free(ev->keepalive);
        free(ev->evbuf);
        free(ev->rembuf);
        free(ev);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot set up the event streams");
    }
    n->events = ev;
    return 0;
}

void node_events_free(node *n)
{
    node_events *ev = n->events;
    if (ev == NULL)
        return;
    while (ev->head)
        drop_now(ev->head);
    event_free(ev->keepalive);
    free(ev->evbuf);
    free(ev->rembuf);
    free(ev);
    n->events = NULL;
}
