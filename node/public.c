/* node/public.c: the public site's server (public.h): evhttp on
 * public_listen, the bounds, the headers, and handing each page to the
 * site's worker threads and its answer back to the loop.  The pages are
 * public_page.c's.  Loop thread, but for the worker job. */
#include "public.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "listen.h"
#include "log.h"
#include "node.h"
#include "workers.h"

#define PUBLIC_WORKERS 2
#define PUBLIC_QUEUE 256        /* pages waiting for a worker; beyond, 503 */
#define PUBLIC_TIMEOUT_S 20     /* slow or silent connections */
#define PUBLIC_MAX_HEADERS 8192

typedef struct pub_req pub_req;

struct node_public {
    node *n;
    struct evhttp *http;
    struct node_listen_guard *guard;
    node_workers *workers;
    public_site site;
    char base_url[sizeof ((node_config *)0)->public_url + 64];
    uint8_t *genesis;
    size_t genesis_len;
    pub_req *active;            /* requests with a worker */
    int stopping;
};

struct pub_req {
    struct node_public *p;
    struct evhttp_request *req; /* NULL once the client has gone */
    struct evhttp_connection *conn;
    char path[PUBLIC_MAX_URI + 1];
    char q[PUBLIC_MAX_QUERY + 1];
    int has_q;
    char nonce[33];
    public_reply reply;
    int failed;
    pub_req *next, *prev;
};

/* ---- answers (loop thread) ---- */

/* The policy: nothing from elsewhere, no inline script; a page that runs
 * the verifier may load this site's scripts, fetch from it and compile
 * WebAssembly ('wasm-unsafe-eval' allows nothing else). */
static void security_headers(struct evkeyvalq *h, const char *nonce, int scripts)
{
    char csp[384];
    snprintf(csp, sizeof csp,
             "default-src 'none'; style-src 'nonce-%s'; img-src 'self' data:; %s"
             "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
             nonce,
             scripts ? "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; " : "");
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cache-Control", "no-cache");
}

/* An error answered from the loop (no page): still with every header. */
static void send_plain(struct evhttp_request *req, int status, const char *reason,
                       const char *text)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    security_headers(h, "none", 0);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    struct evbuffer *buf = evbuffer_new();
    if (buf)
        evbuffer_add_printf(buf, "%s\n", text);
    evhttp_send_reply(req, status, reason, buf);
    if (buf)
        evbuffer_free(buf);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    default: return "Internal Server Error";
    }
}

static void unlink_req(pub_req *r)
{
    struct node_public *p = r->p;
    if (r->prev)
        r->prev->next = r->next;
    else if (p->active == r)
        p->active = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

static void req_done(node *n, void *arg)
{
    (void)n;
    pub_req *r = arg;
    unlink_req(r);
    if (r->req != NULL) {
        if (r->conn)
            evhttp_connection_set_closecb(r->conn, NULL, NULL);
        if (r->failed) {
            send_plain(r->req, 500, "Internal Server Error", "out of memory");
        } else {
            struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
            security_headers(h, r->nonce, r->reply.scripts);
            evhttp_add_header(h, "Content-Type", r->reply.type);
            if (r->reply.location[0])
                evhttp_add_header(h, "Location", r->reply.location);
            if (r->reply.filename[0]) {
                char cd[160];
                snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", r->reply.filename);
                evhttp_add_header(h, "Content-Disposition", cd);
            }
            struct evbuffer *buf = evbuffer_new();
            if (evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD) {
                /* the length the GET would have, and no body */
                char cl[24];
                snprintf(cl, sizeof cl, "%zu", r->reply.len);
                evhttp_add_header(h, "Content-Length", cl);
            } else if (buf && r->reply.len) {
                evbuffer_add(buf, r->reply.body, r->reply.len);
            }
            evhttp_send_reply(r->req, r->reply.status, reason_of(r->reply.status), buf);
            if (buf)
                evbuffer_free(buf);
        }
    }
    node_public_reply_clear(&r->reply);
    free(r);
}

/* worker thread */
static void req_work(void *arg)
{
    pub_req *r = arg;
    r->failed = node_public_render(&r->p->site, r->path, r->has_q ? r->q : NULL, r->nonce,
                                   &r->reply) != 0;
    node_post(r->p->n, req_done, r);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    pub_req *r = arg;
    r->req = NULL; /* libevent frees the request right after this */
    r->conn = NULL;
}

/* ---- requests (loop thread) ---- */

static void on_request(struct evhttp_request *req, void *arg)
{
    struct node_public *p = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        send_plain(req, 405, "Method Not Allowed", "read-only: GET and HEAD only");
        return;
    }
    if (p->stopping) {
        send_plain(req, 503, "Service Unavailable", "the node is stopping");
        return;
    }
    const char *uri = evhttp_request_get_uri(req);
    if (uri == NULL || strlen(uri) > PUBLIC_MAX_URI) {
        send_plain(req, 414, "URI Too Long", "request target too long");
        return;
    }
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    const char *query = u ? evhttp_uri_get_query(u) : NULL;
    if (path == NULL || path[0] != '/') {
        send_plain(req, 400, "Bad Request", "bad request target");
        return;
    }
    pub_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        send_plain(req, 503, "Service Unavailable", "out of memory");
        return;
    }
    r->p = p;
    snprintf(r->path, sizeof r->path, "%s", path);
    if (query && *query) {
        struct evkeyvalq qs; /* evhttp_parse_query_str initialises it */
        if (evhttp_parse_query_str(query, &qs) == 0) {
            const char *q = evhttp_find_header(&qs, "q");
            if (q != NULL) {
                /* bounded; surrounding blanks are a paste's, not the term's */
                while (*q == ' ')
                    q++;
                size_t n = strlen(q);
                while (n > 0 && q[n - 1] == ' ')
                    n--;
                if (n > PUBLIC_MAX_QUERY || memchr(q, '\0', n) != NULL) {
                    evhttp_clear_headers(&qs);
                    free(r);
                    send_plain(req, 400, "Bad Request", "search term too long");
                    return;
                }
                memcpy(r->q, q, n);
                r->q[n] = '\0';
                r->has_q = 1;
            }
        }
        evhttp_clear_headers(&qs);
    }
    uint8_t rnd[16];
    if (ledger_random(rnd, sizeof rnd) != 0) {
        free(r);
        send_plain(req, 503, "Service Unavailable", "no randomness");
        return;
    }
    ledger_hex_encode(rnd, sizeof rnd, r->nonce);
    r->req = req;
    r->conn = evhttp_request_get_connection(req);
    if (node_workers_submit(p->workers, req_work, r) != 0) {
        free(r);
        send_plain(req, 503, "Service Unavailable", "busy: too many requests waiting");
        return;
    }
    if (r->conn)
        evhttp_connection_set_closecb(r->conn, on_conn_close, r);
    r->next = p->active;
    if (p->active)
        p->active->prev = r;
    p->active = r;
}

/* ---- start and stop ---- */

static int read_genesis(struct node_public *p, ledger_err *err)
{
    node *n = p->n;
    char path[NODE_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/config/genesis.json", n->cfg.home);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "public site: cannot read %s", path);
    p->genesis = malloc(LEDGER_MAX_GENESIS_BYTES);
    size_t len = p->genesis ? fread(p->genesis, 1, LEDGER_MAX_GENESIS_BYTES, f) : 0;
    int bad = ferror(f) || p->genesis == NULL;
    fclose(f);
    uint8_t h[32];
    if (!bad)
        ledger_sha256(p->genesis, len, h);
    /* the bytes served are those of the genesis in force, or none */
    if (bad || memcmp(h, n->g->hash, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL,
                           "public site: %s changed since the node started", path);
    p->genesis_len = len;
    return 0;
}

/* The browser verifier's files, from public_web_dir or, by default,
 * share/permitchain/web beside the folder of permitd's binary (the build
 * tree and the package lay it out so).  Missing files leave the pages
 * without in-browser verification; a folder the operator named must hold
 * them. */
static int read_assets(struct node_public *p, ledger_err *err)
{
    node *n = p->n;
    char dir[2 * NODE_PATH_MAX + 64];
    const char *d = n->cfg.public_web_dir;
    if (d[0] == '/') {
        snprintf(dir, sizeof dir, "%s", d);
    } else if (d[0]) {
        snprintf(dir, sizeof dir, "%s/%s", n->cfg.home, d);
    } else {
        char exe[NODE_PATH_MAX];
        ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash = k > 0 ? (exe[k] = '\0', strrchr(exe, '/')) : NULL;
        if (slash == NULL) {
            LOG_WARN("public site: cannot tell permitd's folder: pages go without the browser "
                     "verifier (set public_web_dir)");
            return 0;
        }
        *slash = '\0';
        snprintf(dir, sizeof dir, "%s/../share/permitchain/web", exe);
    }
    int missing = 0;
    for (int i = 0; i < PUBLIC_N_ASSETS; i++) {
        char path[sizeof dir + 32];
        snprintf(path, sizeof path, "%s/%s", dir, node_public_asset_file(i));
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            missing++;
            continue;
        }
        uint8_t *buf = malloc(PUBLIC_MAX_ASSET + 1);
        size_t len = buf ? fread(buf, 1, PUBLIC_MAX_ASSET + 1, f) : 0;
        int bad = buf == NULL || ferror(f) || len > PUBLIC_MAX_ASSET;
        fclose(f);
        if (bad) {
            free(buf);
            return ledger_fail(err, LEDGER_ERR_IO, NULL,
                               "public site: cannot read %s (or larger than %u bytes)", path,
                               PUBLIC_MAX_ASSET);
        }
        p->site.assets[i] = (public_asset){.bytes = buf, .len = len};
    }
    if (missing && d[0])
        return ledger_fail(err, LEDGER_ERR_IO, NULL,
                           "public_web_dir: %s lacks %d of verifier.js, verifier.wasm, page.js "
                           "(the wasm build, wasm/README.md)",
                           dir, missing);
    p->site.verifier = missing == 0;
    if (missing)
        LOG_WARN("public site: no browser verifier in %s: license pages go without "
                 "in-browser verification (build it with emscripten, wasm/README.md)",
                 dir);
    else
        LOG_INFO("public site: license pages verify in the browser (%s, %zu bytes of wasm)", dir,
                 p->site.assets[PUBLIC_VERIFIER_WASM].len);
    return 0;
}

static int base_url_ok(const char *s)
{
    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f || *s == '"' || *s == '<' || *s == '>' || *s == '\\' ||
            *s == '#' || *s == '?')
            return 0;
    return 1;
}

int node_public_start(node *n, ledger_err *err)
{
    if (n->cfg.public_listen[0] == '\0')
        return 0;
    char host[256];
    uint16_t port;
    if (node_split_hostport(n->cfg.public_listen, host, sizeof host, &port) != 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "public_listen: \"%s\" is not host:port", n->cfg.public_listen);
    struct node_public *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    n->pub = p;
    p->n = n;
    if (n->cfg.public_url[0]) {
        snprintf(p->base_url, sizeof p->base_url, "%s", n->cfg.public_url);
    } else if (strchr(host, ':')) {
        snprintf(p->base_url, sizeof p->base_url, "http://[%s]:%u", host, port);
    } else {
        snprintf(p->base_url, sizeof p->base_url, "http://%s:%u", host, port);
    }
    size_t bl = strlen(p->base_url);
    while (bl > 0 && p->base_url[bl - 1] == '/')
        p->base_url[--bl] = '\0';
    if (strlen(n->cfg.public_url) > PUBLIC_MAX_BASE_URL || !base_url_ok(p->base_url))
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "public_url: \"%.80s\" is not an http:// or https:// URL of at most "
                           "%d characters without spaces, quotes, '#' or '?'",
                           n->cfg.public_url, PUBLIC_MAX_BASE_URL);
    if (read_genesis(p, err) != 0)
        return -1;
    p->site.L = n->L;
    p->site.g = n->g;
    p->site.base_url = p->base_url;
    p->site.genesis = p->genesis;
    p->site.genesis_len = p->genesis_len;
    if (read_assets(p, err) != 0)
        return -1;
    p->workers = node_workers_new(PUBLIC_WORKERS, PUBLIC_QUEUE);
    p->http = evhttp_new(n->base);
    if (p->workers == NULL || p->http == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "public site: cannot start");
    evhttp_set_max_body_size(p->http, 0);
    evhttp_set_max_headers_size(p->http, PUBLIC_MAX_HEADERS);
    evhttp_set_timeout(p->http, PUBLIC_TIMEOUT_S);
    /* every method reaches on_request, which answers 405 but to GET and HEAD */
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(p->http, on_request, p);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST};
    struct evutil_addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (evutil_getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "public_listen: \"%s\" is not a numeric address",
                           n->cfg.public_listen);
    struct evconnlistener *lev = evconnlistener_new_bind(
        n->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE,
        1024, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (lev == NULL || evhttp_bind_listener(p->http, lev) == NULL) {
        if (lev)
            evconnlistener_free(lev);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "cannot listen for the public site on %s",
                           n->cfg.public_listen);
    }
    p->guard = node_listen_guard_new(n->base, lev, "public");
    LOG_INFO("public site: listening on %s, pages at %s/l/<license id>", n->cfg.public_listen,
             p->base_url);
    return 0;
}

void node_public_stop(node *n)
{
    struct node_public *p = n->pub;
    if (p == NULL)
        return;
    p->stopping = 1;
    /* runs what is queued; the answers are posted to the loop */
    node_workers_free(p->workers);
    p->workers = NULL;
}

/* After node_public_stop and a run of the loop's posts (node_close): no
 * worker holds a request and every answer was handed to its connection. */
void node_public_free(node *n)
{
    struct node_public *p = n->pub;
    if (p == NULL)
        return;
    node_public_stop(n);
    /* answers not yet sent (a failed start) lose their client */
    while (p->active) {
        pub_req *r = p->active;
        unlink_req(r);
        if (r->conn)
            evhttp_connection_set_closecb(r->conn, NULL, NULL);
        node_public_reply_clear(&r->reply);
        free(r);
    }
    node_listen_guard_free(p->guard);
    if (p->http)
        evhttp_free(p->http);
    free(p->genesis);
    for (int i = 0; i < PUBLIC_N_ASSETS; i++)
        free((void *)p->site.assets[i].bytes);
    free(p);
    n->pub = NULL;
}
