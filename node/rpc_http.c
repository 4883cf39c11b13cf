#include "rpc_http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "events.h"
#include "ledger/gov.h"
#include "ledger/hex.h"
#include "listen.h"
#include "log.h"
#include "node.h"
#include "rpc_auth.h"
#include "rpc_json.h"
#include "rpc_methods.h"

#define RPC_LISTEN_BACKLOG 4096

struct rpc_req {
    node *n;
    struct evhttp_request *req;  /* NULL once the client has gone */
    struct evhttp_connection *conn;
    char *body;
    size_t len;
    rpc_body b;                  /* the calls, once a worker has run them */
    size_t pending;              /* calls waiting for a block */
    rpc_role role;               /* of its bearer token (submit when none is needed) */
    const char *token_name;
    struct event *timer;
    rpc_req *next_active;        /* in the node's list of requests in flight */
    rpc_req *prev_active;
};

struct waiter {
    uint8_t tx_id[32];
    rpc_req *rr;
    size_t call;
    waiter *next;
};


/* ---- JSON helpers ---- */

int node_json_too_deep(const char *s, size_t len, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                return 1;
        } else if (c == ']' || c == '}')
            depth--;
    }
    return 0;
}

static json_t *error_response(json_t *id, int code, const char *msg, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (err && data)
        json_object_set(err, "data", data);
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                     err ? err : json_null());
}

static json_t *result_response(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* ---- request lifecycle (loop thread) ---- */

static void rr_free(rpc_req *rr)
{
    node_rpc_body_clear(&rr->b);
    free(rr->body);
    if (rr->timer)
        event_free(rr->timer);
    free(rr);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    rpc_req *rr = arg;
    rr->req = NULL; /* libevent frees the request right after this */
    rr->conn = NULL;
}

static void send_json(struct evhttp_request *req, int status, json_t *body)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (buf == NULL || (body && text == NULL)) {
        free(text);
        if (buf)
            evbuffer_free(buf);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (text) {
        evbuffer_add(buf, text, strlen(text));
        free(text);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
    }
    evhttp_send_reply(req, status, status == 200 ? "OK" : "No Content", buf);
    evbuffer_free(buf);
}

static void active_unlink(rpc_req *rr)
{
    if (rr->prev_active)
        rr->prev_active->next_active = rr->next_active;
    else if (rr->n->rpc_active == rr)
        rr->n->rpc_active = rr->next_active;
    if (rr->next_active)
        rr->next_active->prev_active = rr->prev_active;
    rr->next_active = rr->prev_active = NULL;
}

/* Every call has its answer: send it (if the client is still there). */
static void rr_finish(rpc_req *rr)
{
    active_unlink(rr);
    if (rr->req == NULL) {
        rr_free(rr);
        return;
    }
    if (rr->conn)
        evhttp_connection_set_closecb(rr->conn, NULL, NULL);
    json_t *body = NULL;
    if (rr->b.whole_error) {
        body = json_incref(rr->b.whole_error);
    } else if (rr->b.batch) {
        body = json_array();
        for (size_t i = 0; body && i < rr->b.ncalls; i++)
            if (rr->b.calls[i].id && rr->b.calls[i].response)
                json_array_append(body, rr->b.calls[i].response);
        if (body && json_array_size(body) == 0) {
            json_decref(body);
            body = NULL;
        }
    } else if (rr->b.ncalls == 1 && rr->b.calls[0].id && rr->b.calls[0].response) {
        body = json_incref(rr->b.calls[0].response);
    }
    send_json(rr->req, body ? 200 : 204, body);
    json_decref(body);
    rr_free(rr);
}

static size_t waiter_bucket(node *n, const uint8_t id[32])
{
    uint64_t h;
    memcpy(&h, id, 8);
    return (size_t)(h & (n->n_waiter_buckets - 1));
}

static void waiter_remove(node *n, rpc_req *rr, size_t call)
{
    uint8_t *id = rr->b.calls[call].out.tx_id;
    waiter **pp = &n->waiters[waiter_bucket(n, id)];
    while (*pp) {
        if ((*pp)->rr == rr && (*pp)->call == call) {
            waiter *w = *pp;
            *pp = w->next;
            free(w);
            return;
        }
        pp = &(*pp)->next;
    }
}

static void call_answer(rpc_call *c, json_t *response)
{
    json_decref(c->response);
    c->response = response;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rpc_req *rr = arg;
    for (size_t i = 0; i < rr->b.ncalls; i++) {
        rpc_call *c = &rr->b.calls[i];
        if (!c->waiting)
            continue;
        waiter_remove(rr->n, rr, i);
        c->waiting = 0;
        rr->pending--;
        json_t *data = json_pack("{s:o}", "tx_id", node_json_hex(c->out.tx_id, 32));
        call_answer(c, error_response(c->id, RPC_TIMEOUT,
                                      "not committed before the timeout; it may still be",
                                      data));
        json_decref(data);
        node_metrics_rpc(&rr->n->metrics, c->method, RPC_TIMEOUT);
    }
    rr_finish(rr);
}

void node_tx_finished(node *n, const uint8_t tx_id[32], const ledger_tx_result *res,
                      uint64_t height, const ledger_err *err)
{
    waiter **pp = &n->waiters[waiter_bucket(n, tx_id)];
    while (*pp) {
        waiter *w = *pp;
        if (memcmp(w->tx_id, tx_id, 32) != 0) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        rpc_req *rr = w->rr;
        rpc_call *c = &rr->b.calls[w->call];
        free(w);
        c->waiting = 0;
        if (err) {
            rpc_outcome o;
            memset(&o, 0, sizeof o);
            node_rpc_outcome_ledger_error(&o, err, tx_id);
            call_answer(c, error_response(c->id, o.code, o.msg, o.data));
            node_metrics_rpc(&n->metrics, c->method, o.code);
            node_rpc_outcome_clear(&o);
        } else {
            json_t *r = json_pack("{s:o, s:s, s:I, s:I, s:s}", "tx_id",
                                  node_json_hex(tx_id, 32), "status", "committed", "height",
                                  (json_int_t)height, "index", (json_int_t)res->index, "kind",
                                  ledger_tx_kind_name(res->kind));
            if (r && res->kind == 1 /* APPLY */)
                json_object_set_new(r, "license_id", json_string(res->license_id));
            if (r && res->proposal_id != 0) { /* GOV_PROPOSE, GOV_APPROVE */
                json_object_set_new(r, "proposal_id", json_integer(res->proposal_id));
                json_object_set_new(r, "executed", json_boolean(res->gov_executed));
            }
            call_answer(c, result_response(c->id, r));
            json_decref(r);
            node_metrics_rpc(&n->metrics, c->method, 0);
        }
        if (--rr->pending == 0)
            rr_finish(rr);
    }
}

/* Back on the loop thread after the worker: admit submitted transactions,
 * register waiters, answer what can be answered. */
static void rr_complete(node *n, void *arg)
{
    rpc_req *rr = arg;
    uint64_t deadline = 0;
    int added = 0;
    for (size_t i = 0; i < rr->b.ncalls && rr->b.whole_error == NULL; i++) {
        rpc_call *c = &rr->b.calls[i];
        rpc_outcome *o = &c->out;
        if (!o->submit) {
            call_answer(c, node_rpc_call_response(c));
            node_metrics_rpc(&n->metrics, c->method, o->result ? 0 : o->code);
            continue;
        }
        int r = n->stopping ? MP_FULL
                            : node_mempool_add(n->mp, o->tx_id, o->env, o->env_len, o->kind,
                                               node_now_ms());
        if (r != MP_ADDED) {
            int code = r == MP_DUPLICATE ? RPC_DUPLICATE : r == MP_FULL ? RPC_MEMPOOL_FULL
                                                                         : RPC_INTERNAL;
            json_t *data = json_pack("{s:s?, s:o}", "rule",
                                     r == MP_DUPLICATE ? "tx_duplicate" : NULL, "tx_id",
                                     node_json_hex(o->tx_id, 32));
            const char *msg = r == MP_DUPLICATE ? "the transaction is already in the mempool"
                              : r == MP_FULL    ? "the mempool is full; try again shortly"
                                                : "out of memory";
            call_answer(c, error_response(c->id, code, msg, data));
            json_decref(data);
            node_metrics_rpc(&n->metrics, c->method, code);
            continue;
        }
        added = 1;
        node_engine_admitted(n->engine, o->env, o->env_len);
        if (!o->wait_commit) {
            json_t *res = json_pack("{s:o, s:s}", "tx_id", node_json_hex(o->tx_id, 32),
                                    "status", "pending");
            call_answer(c, result_response(c->id, res));
            json_decref(res);
            node_metrics_rpc(&n->metrics, c->method, 0);
            continue;
        }
        waiter *w = malloc(sizeof *w);
        if (w == NULL) {
            call_answer(c, error_response(c->id, RPC_INTERNAL, "out of memory", NULL));
            continue;
        }
        memcpy(w->tx_id, o->tx_id, 32);
        w->rr = rr;
        w->call = i;
        size_t b = waiter_bucket(n, o->tx_id);
        w->next = n->waiters[b];
        n->waiters[b] = w;
        c->waiting = 1;
        rr->pending++;
        uint64_t d = o->timeout_ms;
        if (deadline == 0 || d < deadline)
            deadline = d;
    }
    if (added) {
        node_mempool_changed(n);
        node_engine_kick(n->engine);
    }
    if (rr->pending == 0) {
        rr_finish(rr);
        return;
    }
    rr->timer = evtimer_new(n->base, on_timeout, rr);
    struct timeval tv = {(time_t)(deadline / 1000), (suseconds_t)(deadline % 1000) * 1000};
    if (rr->timer == NULL || evtimer_add(rr->timer, &tv) != 0)
        on_timeout(-1, 0, rr);
}

/* ---- worker thread: parse and run the calls ---- */

static int valid_id(json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_real(id) || json_is_null(id);
}

static void run_call(node *n, json_t *req, rpc_call *c, rpc_role role, const char *token)
{
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    c->method = -1;
    if (id)
        c->id = json_incref(valid_id(id) ? id : json_null());
    const char *ver = json_is_object(req) ? json_string_value(json_object_get(req, "jsonrpc"))
                                          : NULL;
    json_t *m = json_is_object(req) ? json_object_get(req, "method") : NULL;
    json_t *params = json_is_object(req) ? json_object_get(req, "params") : NULL;
    if (!json_is_object(req) || ver == NULL || strcmp(ver, "2.0") != 0 || !json_is_string(m) ||
        (id && !valid_id(id)) || (params && !json_is_object(params) && !json_is_array(params))) {
        if (c->id == NULL)
            c->id = json_null(); /* an invalid request is answered even without an id */
        node_rpc_outcome_error(&c->out, RPC_INVALID_REQUEST, NULL, "invalid JSON-RPC 2.0 request");
        return;
    }
    c->method = node_rpc_method_index(json_string_value(m));
    if (c->method < 0) {
        c->method = node_rpc_method_count() - 1;
        node_rpc_outcome_error(&c->out, RPC_UNKNOWN_METHOD,
                          json_pack("{s:s}", "method", json_string_value(m)),
                          "unknown method \"%.64s\"", json_string_value(m));
        return;
    }
    if (role != RPC_ROLE_SUBMIT && node_rpc_method_needs_submit(c->method)) {
        node_rpc_outcome_error(&c->out, RPC_FORBIDDEN, NULL,
                               "forbidden: the token \"%s\" has role read; %s needs a token of "
                               "role submit",
                               token ? token : "?", node_rpc_method_name(c->method));
        return;
    }
    node_rpc_call(n, c->method, params, &c->out);
}

void node_rpc_run_body(node *n, const char *body, size_t len, rpc_role role, const char *token,
                       rpc_body *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = NULL;
    if (node_json_too_deep(body, len, RPC_MAX_DEPTH)) {
        out->whole_error = error_response(NULL, RPC_PARSE_ERROR,
                                          "JSON nested deeper than 32 levels", NULL);
        node_metrics_rpc(&n->metrics, node_rpc_method_count() - 1, RPC_PARSE_ERROR);
        goto done;
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "parse error: %s", jerr.text);
        out->whole_error = error_response(NULL, RPC_PARSE_ERROR, msg, NULL);
        node_metrics_rpc(&n->metrics, node_rpc_method_count() - 1, RPC_PARSE_ERROR);
        goto done;
    }
    if (json_is_array(doc)) {
        size_t k = json_array_size(doc);
        if (k == 0 || k > RPC_MAX_BATCH) {
            out->whole_error = error_response(NULL, RPC_INVALID_REQUEST,
                                              k ? "batch of more than 100 requests"
                                                : "empty batch",
                                              NULL);
            node_metrics_rpc(&n->metrics, node_rpc_method_count() - 1, RPC_INVALID_REQUEST);
            goto done;
        }
        out->batch = 1;
        out->calls = calloc(k, sizeof *out->calls);
        if (out->calls == NULL) {
            out->whole_error = error_response(NULL, RPC_INTERNAL, "out of memory", NULL);
            goto done;
        }
        out->ncalls = k;
        for (size_t i = 0; i < k; i++)
            run_call(n, json_array_get(doc, i), &out->calls[i], role, token);
    } else {
        out->calls = calloc(1, sizeof *out->calls);
        if (out->calls == NULL) {
            out->whole_error = error_response(NULL, RPC_INTERNAL, "out of memory", NULL);
            goto done;
        }
        out->ncalls = 1;
        run_call(n, doc, &out->calls[0], role, token);
    }
done:
    json_decref(doc);
}

void node_rpc_body_clear(rpc_body *b)
{
    for (size_t i = 0; i < b->ncalls; i++) {
        json_decref(b->calls[i].id);
        json_decref(b->calls[i].response);
        node_rpc_outcome_clear(&b->calls[i].out);
    }
    free(b->calls);
    json_decref(b->whole_error);
    memset(b, 0, sizeof *b);
}

json_t *node_rpc_call_response(const rpc_call *c)
{
    const rpc_outcome *o = &c->out;
    return o->result ? result_response(c->id, o->result)
                     : error_response(c->id, o->code, o->msg, o->data);
}

static void rr_work(void *arg)
{
    rpc_req *rr = arg;
    node_rpc_run_body(rr->n, rr->body, rr->len, rr->role, rr->token_name, &rr->b);
    free(rr->body); /* the text is not needed any more */
    rr->body = NULL;
    node_post(rr->n, rr_complete, rr);
}

/* ---- HTTP callbacks (loop thread) ---- */

/* The role of the request's bearer token; RPC_ROLE_NONE, answered 401,
 * when one is needed and missing or unknown. */
rpc_role node_rpc_authorize(node *n, struct evhttp_request *req, const char **name)
{
    *name = NULL;
    if (!node_rpc_auth_required(n->rpc_auth))
        return RPC_ROLE_SUBMIT;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    rpc_role role = node_rpc_auth_check(n->rpc_auth, h, name);
    if (role == RPC_ROLE_NONE) {
        atomic_fetch_add(&n->metrics.http_unauthorized, 1);
        LOG_WARN_RATE("rpc: refused a request %s (401)",
                      h ? "with an unknown bearer token" : "without a bearer token");
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"permitd\"");
        evhttp_send_error(req, 401, h ? "the bearer token is not known to this node"
                                      : "this node needs \"Authorization: Bearer TOKEN\"");
    }
    return role;
}

static void on_rpc(struct evhttp_request *req, void *arg)
{
    node *n = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        evhttp_send_error(req, 405, "JSON-RPC takes POST");
        return;
    }
    const char *token_name;
    rpc_role role = node_rpc_authorize(n, req, &token_name);
    if (role == RPC_ROLE_NONE)
        return;
    if (n->stopping) {
        evhttp_send_error(req, 503, "node is shutting down");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > n->cfg.rpc_max_body) { /* evhttp enforces this too */
        evhttp_send_error(req, 413, "request body too large");
        return;
    }
    rpc_req *rr = calloc(1, sizeof *rr);
    if (rr == NULL || (rr->body = malloc(len ? len : 1)) == NULL) {
        free(rr);
        evhttp_send_error(req, 503, "out of memory");
        return;
    }
    evbuffer_remove(in, rr->body, len);
    rr->len = len;
    rr->n = n;
    rr->req = req;
    rr->role = role;
    rr->token_name = token_name; /* lives as long as the node's token table */
    rr->conn = evhttp_request_get_connection(req);
    if (node_workers_submit(n->workers, rr_work, rr) != 0) {
        atomic_fetch_add(&n->metrics.http_rejected_busy, 1);
        free(rr->body);
        free(rr);
        evhttp_send_error(req, 503, "node busy: too many requests waiting");
        return;
    }
    if (rr->conn)
        evhttp_connection_set_closecb(rr->conn, on_conn_close, rr);
    rr->next_active = n->rpc_active;
    if (n->rpc_active)
        n->rpc_active->prev_active = rr;
    n->rpc_active = rr;
}

/* The node's state for /health: "ok", or why a load balancer should look
 * elsewhere: "stopping", "syncing", or "stale" (no block for three
 * heartbeats, counted from the later of the last block and the start). */
static const char *health_of(node *n, const ledger_tip *tip)
{
    if (n->stopping)
        return "stopping";
    if (atomic_load(&n->syncing))
        return "syncing";
    uint64_t now = node_now_ms(), last = tip->time > n->started_ms ? tip->time : n->started_ms;
    if (now > last && now - last > 3 * n->g->params.heartbeat_ms)
        return "stale";
    return "ok";
}

static void on_health(struct evhttp_request *req, void *arg)
{
    node *n = arg;
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    const char *status = health_of(n, &tip);
    json_t *j = json_pack("{s:s, s:I, s:I, s:b, s:i}", "status", status, "height",
                          (json_int_t)tip.height, "block_time", (json_int_t)tip.time, "syncing",
                          atomic_load(&n->syncing), "peers", (int)atomic_load(&n->peers));
    send_json(req, strcmp(status, "ok") == 0 ? 200 : 503, j);
    json_decref(j);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    node *n = arg;
    const char *token_name;
    if (node_rpc_authorize(n, req, &token_name) == RPC_ROLE_NONE)
        return;
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    node_metrics_render(&n->metrics, buf, ledger_height(n->L), node_mempool_size(n->mp),
                        node_mempool_bytes(n->mp));
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    uint64_t now = node_now_ms(), target = atomic_load(&n->sync_target);
    evbuffer_add_printf(
        buf,
        "# HELP permit_peers Validators this node has a link with.\n"
        "# TYPE permit_peers gauge\npermit_peers %u\n"
        "# HELP permit_observers Observers linked to this validator.\n"
        "# TYPE permit_observers gauge\npermit_observers %u\n"
        "# HELP permit_consensus_round The round of the height being decided.\n"
        "# TYPE permit_consensus_round gauge\npermit_consensus_round %u\n"
        "# HELP permit_last_block_age_seconds Time since the last block's time.\n"
        "# TYPE permit_last_block_age_seconds gauge\npermit_last_block_age_seconds %.3f\n"
        "# HELP permit_syncing 1 while a block sync is under way.\n"
        "# TYPE permit_syncing gauge\npermit_syncing %d\n"
        "# HELP permit_sync_behind_blocks Heights known decided that this node lacks.\n"
        "# TYPE permit_sync_behind_blocks gauge\npermit_sync_behind_blocks %llu\n",
        atomic_load(&n->peers), atomic_load(&n->observers), (unsigned)atomic_load(&n->round),
        now > tip.time ? (double)(now - tip.time) / 1000.0 : 0.0, atomic_load(&n->syncing),
        (unsigned long long)(target > tip.height ? target - tip.height : 0));
    evbuffer_add_printf(buf,
                        "# HELP permit_event_streams GET /events streams open.\n"
                        "# TYPE permit_event_streams gauge\npermit_event_streams %u\n"
                        "# HELP permit_event_streams_dropped_total Streams dropped for "
                        "letting unsent bytes pile up past rpc_stream_buffer.\n"
                        "# TYPE permit_event_streams_dropped_total counter\n"
                        "permit_event_streams_dropped_total %llu\n",
                        node_events_count(n), (unsigned long long)node_events_dropped(n));
    /* the departments in force (governance adds and removes them) */
    ledger_gov *gv = ledger_gov_acquire(n->L);
    evbuffer_add_printf(buf, "# HELP permit_pending_items Permit items waiting for a "
                             "department's decision or verification.\n"
                             "# TYPE permit_pending_items gauge\n");
    for (size_t i = 0; gv && i < gv->m->n_departments; i++)
        evbuffer_add_printf(buf, "permit_pending_items{department=\"%s\"} %llu\n",
                            gv->m->departments[i].id,
                            (unsigned long long)ledger_pending_of(n->L, gv->m->departments[i].id));
    ledger_gov_release(gv);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

static void on_other(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 404, "not found: use POST /rpc, GET /health, GET /metrics or GET /events");
}

/* Each HTTPS connection: a TLS server session over the accepted socket. */
static struct bufferevent *https_bev(struct event_base *base, void *arg)
{
    node *n = arg;
    SSL *ssl = SSL_new(node_rpc_auth_tls(n->rpc_auth));
    if (ssl == NULL)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

int node_rpc_start(node *n, ledger_err *err)
{
    char host[256];
    uint16_t port;
    if (node_split_hostport(n->cfg.rpc_listen, host, sizeof host, &port) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "rpc_listen: \"%s\" is not host:port",
                           n->cfg.rpc_listen);
    n->rpc_auth = node_rpc_auth_new(&n->cfg, host, err);
    if (n->rpc_auth == NULL)
        return -1;
    n->http = evhttp_new(n->base);
    if (n->http == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "evhttp_new failed");
    if (node_rpc_auth_tls(n->rpc_auth))
        evhttp_set_bevcb(n->http, https_bev, n);
    evhttp_set_max_body_size(n->http, (ev_ssize_t)n->cfg.rpc_max_body);
    evhttp_set_max_headers_size(n->http, 8192);
    struct timeval tv = {(time_t)(n->cfg.rpc_timeout_ms / 1000),
                         (suseconds_t)(n->cfg.rpc_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(n->http, &tv);
    evhttp_set_allowed_methods(n->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_cb(n->http, "/rpc", on_rpc, n);
    evhttp_set_cb(n->http, "/health", on_health, n);
    evhttp_set_cb(n->http, "/metrics", on_metrics, n);
    evhttp_set_cb(n->http, "/events", node_events_on_request, n);
    evhttp_set_gencb(n->http, on_other, n);
    /* our own listener, for a deeper accept backlog than evhttp's 128: a
     * burst of clients connecting at once must not be dropped */
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST};
    struct evutil_addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (evutil_getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "rpc_listen: \"%s\" is not a numeric address", n->cfg.rpc_listen);
    struct evconnlistener *lev = evconnlistener_new_bind(
        n->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE,
        RPC_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (lev == NULL || evhttp_bind_listener(n->http, lev) == NULL) {
        if (lev)
            evconnlistener_free(lev);
        return ledger_fail(err, LEDGER_ERR_IO, NULL,
                           "cannot listen for RPC on %s (in use, or not an address of this "
                           "machine)", n->cfg.rpc_listen);
    }
    n->rpc_guard = node_listen_guard_new(n->base, lev, "rpc");
    LOG_INFO("rpc: listening on %s://%s/rpc%s", node_rpc_auth_tls(n->rpc_auth) ? "https" : "http",
             n->cfg.rpc_listen,
             node_rpc_auth_required(n->rpc_auth) ? " (bearer tokens required)" : "");
    return 0;
}

void node_rpc_drain(node *n)
{
    rpc_req *next;
    for (rpc_req *rr = n->rpc_active; rr; rr = next) {
        next = rr->next_active;
        if (rr->pending == 0)
            continue; /* still with a worker: answered when it returns */
        for (size_t i = 0; i < rr->b.ncalls; i++) {
            rpc_call *c = &rr->b.calls[i];
            if (!c->waiting)
                continue;
            waiter_remove(n, rr, i);
            c->waiting = 0;
            rr->pending--;
            call_answer(c, error_response(c->id, RPC_INTERNAL,
                                          "node shutting down before the block was made", NULL));
        }
        rr_finish(rr);
    }
}

void node_rpc_free(node *n)
{
    /* requests still in flight lose their client: drop their answers */
    while (n->rpc_active) {
        rpc_req *rr = n->rpc_active;
        active_unlink(rr);
        if (rr->conn)
            evhttp_connection_set_closecb(rr->conn, NULL, NULL);
        rr->req = NULL;
        rr->conn = NULL;
    }
    node_listen_guard_free(n->rpc_guard);
    n->rpc_guard = NULL;
    if (n->http) {
        evhttp_free(n->http);
        n->http = NULL;
    }
}
