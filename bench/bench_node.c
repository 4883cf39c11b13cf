/* bench_node and bench_cluster4 (this file built with BENCH_NODES=4): real
 * permitd processes under load over JSON-RPC.
 *
 * bench_node: one node, a single validator.  bench_cluster4: four
 * validators on this one machine, each its own permitd, agreeing by BFT
 * consensus; the load is spread over the four RPC endpoints, and the bound is
 * a quarter of the machine's verification rate (each node verifies each
 * transaction once).
 *
 * Starts one node (single validator) on loopback, creates licenses to file
 * addresses on (not timed), pre-signs a mix of applications and address
 * filings, then:
 *   1. peak: PERMIT_BENCH_CONNS (150) keep-alive connections each submit
 *      requests back to back with wait "commit" -> committed_tx_per_s; a
 *      request carries PERMIT_BENCH_BATCH (16) transactions, as a JSON-RPC
 *      batch when more than one;
 *   2. half load: the same connections, paced to half that rate (open loop)
 *      -> p50_ms, p99_ms of submit-to-commit latency (of a whole request);
 *   3. raw BIP340 verification on all cores (the machine's limit): the
 *      best of three measurements before the node starts and three after
 *      it stopped.
 * The load generator runs on the same machine, in this process, on one
 * thread with epoll.  Prints last:
 *   RESULT bench=node committed_tx_per_s=.. p50_ms=.. p99_ms=..
 *          verify_per_s_all_cores=.. ratio=<committed/verify> */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tests/nodetest.h"
#include "../tests/testutil.h"
#include "benchutil.h"
#include "ledger/hex.h"
#include "ledger/tx.h"

#ifndef BENCH_NODES
#define BENCH_NODES 1
#endif


/* ---- requests: one HTTP request text per transaction ---- */

typedef struct {
    char *text;
    size_t len;
} request;

/* One HTTP request carrying `n` tx.submit calls (a JSON-RPC batch when n > 1). */
static request make_request(uint8_t *const *envs, const size_t *lens, size_t n, int id)
{
    size_t cap = 256;
    for (size_t i = 0; i < n; i++)
        cap += 2 * lens[i] + 160;
    char *body = malloc(cap);
    size_t bl = 0;
    if (n > 1)
        body[bl++] = '[';
    for (size_t i = 0; i < n; i++) {
        bl += (size_t)sprintf(body + bl,
                              "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tx.submit\",\"params\":"
                              "{\"wait\":\"commit\",\"timeout_ms\":60000,\"tx\":\"",
                              i ? "," : "", id + (int)i);
        ledger_hex_encode(envs[i], lens[i], body + bl);
        bl += 2 * lens[i];
        bl += (size_t)sprintf(body + bl, "\"}}");
    }
    if (n > 1)
        body[bl++] = ']';
    request r;
    r.text = malloc(bl + 200);
    r.len = (size_t)sprintf(r.text,
                            "POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                            "\r\nContent-Length: %zu\r\n\r\n",
                            bl);
    memcpy(r.text + r.len, body, bl);
    r.len += bl;
    free(body);
    return r;
}

/* ---- the epoll client ---- */

typedef struct {
    int fd;
    char in[65536];
    size_t in_len;
    size_t req;       /* index of the request in flight, or SIZE_MAX */
    double sent_at;
    size_t out_off;
    char last[200];   /* the last response's first bytes, for diagnostics */
} conn;

typedef struct {
    request *reqs;
    size_t n_reqs, next;
    size_t done, committed, errors;
    double *lat;      /* per completed request, seconds */
    size_t n_lat;
    double rate;      /* requests per second to pace to, 0 = as fast as possible */
    size_t batch;     /* transactions per request */
    double t0;
} load;

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "bench_node: connect: %s\n", strerror(errno));
        exit(1);
    }
    /* requests are small: blocking writes never stall the loop for long */
    return fd;
}

/* 1 when a whole response is buffered; sets *consumed and *ok (the number
 * of calls answered "committed"). */
static int parse_response(conn *c, size_t *consumed, size_t *ok)
{
    c->in[c->in_len] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (end == NULL)
        return 0;
    char *cl = strcasestr(c->in, "Content-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
    size_t total = (size_t)(end + 4 - c->in) + body;
    if (c->in_len < total)
        return 0;
    *ok = 0;
    for (const char *p = end; (p = strstr(p, "\"committed\"")) != NULL && p < c->in + total; p++)
        (*ok)++;
    *consumed = total;
    return 1;
}

static int send_next(load *ld, conn *c, double now)
{
    if (ld->next >= ld->n_reqs)
        return 0;
    if (ld->rate > 0 && now < ld->t0 + (double)ld->next / ld->rate)
        return 0; /* not yet due */
    c->req = ld->next++;
    c->sent_at = ld->rate > 0 ? ld->t0 + (double)c->req / ld->rate : now;
    c->out_off = 0;
    request *r = &ld->reqs[c->req];
    while (c->out_off < r->len) {
        ssize_t w = write(c->fd, r->text + c->out_off, r->len - c->out_off);
        if (w <= 0)
            break;
        c->out_off += (size_t)w;
    }
    return 1;
}

static const char *g_log; /* the node's log, shown when something goes wrong */

/* Connection i goes to node i mod nports. */
static void run_load(const int *ports, size_t nports, load *ld, size_t nconn)
{
    int ep = epoll_create1(0);
    conn *cs = calloc(nconn, sizeof *cs);
    for (size_t i = 0; i < nconn; i++) {
        cs[i].fd = connect_to(ports[i % nports]);
        cs[i].req = SIZE_MAX;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    ld->t0 = bench_now_s();
    struct epoll_event evs[256];
    while (ld->done < ld->n_reqs) {
        double now = bench_now_s();
        for (size_t i = 0; i < nconn; i++)
            if (cs[i].req == SIZE_MAX && !send_next(ld, &cs[i], now))
                break;
        int timeout = ld->rate > 0 ? 1 : 100;
        int k = epoll_wait(ep, evs, 256, timeout);
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
            if (r <= 0) {
                fprintf(stderr, "bench_node: connection lost (%s) after %zu answers; "
                        "request in flight: %s; last answer: %s\n",
                        r < 0 ? strerror(errno) : "closed by the node", ld->done,
                        c->req == SIZE_MAX ? "none" : "yes", c->last);
                char cmd[700];
                snprintf(cmd, sizeof cmd, "tail -20 %s >&2", g_log);
                if (system(cmd) != 0)
                    fprintf(stderr, "(no node log)\n");
                exit(1);
            }
            c->in_len += (size_t)r;
            size_t used;
            size_t ok;
            while (c->req != SIZE_MAX && parse_response(c, &used, &ok)) {
                double t = bench_now_s();
                ld->lat[ld->n_lat++] = t - c->sent_at;
                ld->done++;
                ld->committed += ok;
                if (ok < ld->batch && ld->errors++ == 0)
                    fprintf(stderr, "bench_node: first error: %.400s\n", strstr(c->in, "\r\n\r\n") + 4);
                snprintf(c->last, sizeof c->last, "%.*s", (int)(used < 199 ? used : 199), c->in);
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                c->req = SIZE_MAX;
                send_next(ld, c, t);
            }
        }
    }
    for (size_t i = 0; i < nconn; i++)
        close(cs[i].fd);
    free(cs);
    close(ep);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- raw verification rate ---- */

typedef struct {
    ledger_pubkey pk;
    uint8_t msg[32], sig[64];
    size_t rounds, ok;
} vjob;

static void *verify_thread(void *arg)
{
    vjob *j = arg;
    for (size_t r = 0; r < j->rounds; r++)
        j->ok += (size_t)ledger_verify(&j->pk, j->msg, 32, j->sig);
    return NULL;
}

/* CPU time (user + system, seconds) the node processes have used so far:
 * fields 14 and 15 of /proc/PID/stat.  Unlike a rate, it hardly depends on
 * what else the machine runs, so it shows the work a transaction costs. */
static double nodes_cpu_s(const pid_t *pids, unsigned n)
{
    double sum = 0;
    long tick = sysconf(_SC_CLK_TCK);
    for (unsigned i = 0; i < n; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        const char *p = strrchr(buf, ')'); /* the command may hold spaces */
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &st) == 2)
            sum += (double)(ut + st) / (double)(tick > 0 ? tick : 100);
    }
    return sum;
}

static double verify_rate(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    double best = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        vjob *jobs = calloc((size_t)cores, sizeof *jobs);
        pthread_t *th = calloc((size_t)cores, sizeof *th);
        for (long c = 0; c < cores; c++) {
            ledger_keypair kp;
            if (ledger_keygen(&kp, NULL) != 0 || ledger_pubkey_parse(&jobs[c].pk, kp.pub) != 0)
                exit(1);
            memset(jobs[c].msg, (int)c, 32);
            if (ledger_sign(&kp, jobs[c].msg, NULL, jobs[c].sig) != 0)
                exit(1);
            jobs[c].rounds = 10000;
        }
        double t0 = bench_now_s();
        for (long c = 0; c < cores; c++)
            pthread_create(&th[c], NULL, verify_thread, &jobs[c]);
        size_t total = 0;
        for (long c = 0; c < cores; c++) {
            pthread_join(th[c], NULL);
            total += jobs[c].ok;
        }
        double rate = (double)total / (bench_now_s() - t0);
        if (rate > best)
            best = rate;
        free(jobs);
        free(th);
    }
    return best;
}

/* ---- the workload ---- */

static void bench_genesis(json_t *root)
{
    json_t *params = json_object_get(root, "params");
    json_object_set_new(params, "max_addresses", json_integer(1000));
    const char *interval = getenv("PERMIT_BENCH_INTERVAL");
    if (interval && *interval)
        json_object_set_new(params, "block_interval", json_string(interval));
}

/* Submit txs (freed here) as JSON-RPC batches of up to 100 with wait
 * "commit"; with ids, keep each one's license id.  Exits on any error:
 * setup must succeed for the figures to mean anything. */
static void submit_all(int port, uint8_t **txs, const size_t *lens, size_t n, char (*ids)[64])
{
    for (size_t first = 0; first < n; first += 100) {
        size_t k = n - first < 100 ? n - first : 100;
        json_t *batch = json_array();
        for (size_t i = 0; i < k; i++) {
            char *hex = malloc(2 * lens[first + i] + 1);
            ledger_hex_encode(txs[first + i], lens[first + i], hex);
            json_array_append_new(batch, json_pack("{s:s, s:I, s:s, s:{s:s, s:s}}", "jsonrpc",
                                                   "2.0", "id", (json_int_t)(first + i),
                                                   "method", "tx.submit", "params", "tx", hex,
                                                   "wait", "commit"));
            free(hex);
            free(txs[first + i]);
        }
        char *body = json_dumps(batch, JSON_COMPACT);
        json_decref(batch);
        char *resp = NULL;
        size_t resp_len = 0;
        int status = nt_http(port, "POST", "/rpc", body, strlen(body), &resp, &resp_len);
        free(body);
        json_t *all = resp ? json_loadb(resp, resp_len, 0, NULL) : NULL;
        free(resp);
        if (status != 200 || !json_is_array(all) || json_array_size(all) != k) {
            fprintf(stderr, "bench: setup batch failed (HTTP %d)\n", status);
            exit(1);
        }
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r) {
            json_t *res = json_object_get(r, "result");
            json_int_t id = json_integer_value(json_object_get(r, "id"));
            if (res == NULL || id < (json_int_t)first || id >= (json_int_t)(first + k)) {
                fprintf(stderr, "bench: setup transaction refused: %s\n",
                        json_string_value(json_object_get(json_object_get(r, "error"),
                                                          "message")));
                exit(1);
            }
            if (ids)
                snprintf(ids[id], 64, "%s",
                         json_string_value(json_object_get(res, "license_id")));
        }
        json_decref(all);
    }
}

int main(void)
{
    size_t n_tx = bench_env_size("PERMIT_BENCH_TXS", 40000);
    size_t nconn = bench_env_size("PERMIT_BENCH_CONNS", 150);
    size_t batch = bench_env_size("PERMIT_BENCH_BATCH", 16);
    if (batch < 1 || batch > 100)
        batch = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    double verify = verify_rate();
    printf("bench_node: raw verification on all cores: %.0f/s\n", verify);

#if BENCH_NODES == 1
    nt_node nd;
    nt_init(&nd, bench_genesis);
    snprintf(nd.extra_conf, sizeof nd.extra_conf, "log_level = warn\nrpc_queue = 16384\n");
    nt_start(&nd, NULL);
    static char logpath[600];
    nt_path(&nd, "permitd.log", logpath, sizeof logpath);
    g_log = logpath;
    int ports[1] = {nd.port};
    lt_env *env = &nd.env;
    int port0 = nd.port;
#else
    static nt_cluster cl;
    nt_cluster_init(&cl, BENCH_NODES, bench_genesis);
    snprintf(cl.extra_conf, sizeof cl.extra_conf, "log_level = warn\nrpc_queue = 16384\n");
    int ports[BENCH_NODES];
    for (unsigned i = 0; i < BENCH_NODES; i++) {
        nt_cluster_start(&cl, i);
        ports[i] = cl.rpc_port[i];
    }
    static char logpath[600];
    snprintf(logpath, sizeof logpath, "%s/permitd.log", cl.home[0]);
    g_log = logpath;
    lt_env *env = &cl.env;
    int port0 = cl.rpc_port[0];
    /* wait until the validators see each other */
    for (int t = 0; t < 100; t++) {
        json_t *r = nt_rpc(port0, "status", NULL);
        json_int_t peers = json_integer_value(json_object_get(json_object_get(r, "result"),
                                                              "peers"));
        json_decref(r);
        if (peers == BENCH_NODES - 1)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
#endif

    /* licenses to file addresses on: applied and approved, not timed */
    enum { BASE = 200 };
    char ids[BASE][64];
    uint8_t *setup[BASE];
    size_t setup_len[BASE];
    env->now = nt_now_ms() - 1000;
    for (int i = 0; i < BASE; i++) {
        char u[19];
        lt_uscc(900000000u + (uint32_t)i, u);
        setup[i] = lt_apply(env, u, "convenience-store", 0, &setup_len[i]);
    }
    submit_all(port0, setup, setup_len, BASE, ids);
    int depts[2] = {LT_MARKET, LT_TOBACCO};
    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < BASE; i++)
            setup[i] = lt_decision(env, lt_dept(env, depts[d]), 2, ids[i], NULL, 0, NULL,
                                   &setup_len[i]);
        submit_all(port0, setup, setup_len, BASE, NULL);
    }

    /* pre-signed load: 70 % applications, 30 % address filings, `batch`
     * transactions per request */
    size_t n_req = (n_tx + batch - 1) / batch;
    n_tx = n_req * batch;
    request *reqs = calloc(n_req, sizeof *reqs);
    uint8_t **envs = calloc(batch, sizeof *envs);
    size_t *lens = calloc(batch, sizeof *lens);
    double ts = bench_now_s();
    env->now = nt_now_ms() - 1000;
    for (size_t i = 0; i < n_tx; i++) {
        size_t len;
        uint8_t *tx;
        if (i % 10 < 7) {
            char u[19];
            lt_uscc((uint32_t)i + 1, u);
            tx = lt_apply(env, u, i % 3 ? "convenience-store" : "hotel", 0, &len);
        } else {
            char text[96];
            snprintf(text, sizeof text, "常州市新北区太湖东路%zu号", i);
            tx = lt_add_address(env, &env->registrar, ids[(i / 10) % BASE], "320411001", text,
                                &len);
        }
        envs[i % batch] = tx;
        lens[i % batch] = len;
        if (i % batch == batch - 1) {
            reqs[i / batch] = make_request(envs, lens, batch, (int)(i - batch + 1));
            for (size_t k = 0; k < batch; k++)
                free(envs[k]);
        }
    }
    free(envs);
    free(lens);
    printf("signed %zu transactions in %.1f s (not timed)\n", n_tx, bench_now_s() - ts);
    fflush(stdout);

    /* 1. peak: the first half of the transactions, back to back */
    load peak = {.reqs = reqs, .n_reqs = n_req / 2, .lat = calloc(n_req, sizeof(double)),
                 .batch = batch};
#if BENCH_NODES == 1
    pid_t pids[1] = {nd.pid};
#else
    pid_t *pids = cl.pid;
#endif
    double cpu0 = nodes_cpu_s(pids, BENCH_NODES);
    double t0 = bench_now_s();
    run_load(ports, BENCH_NODES, &peak, nconn);
    double t_peak = bench_now_s() - t0;
    double cpu_us_tx = (nodes_cpu_s(pids, BENCH_NODES) - cpu0) * 1e6 /
                       (double)(peak.committed ? peak.committed : 1);
    double committed = (double)peak.committed / t_peak;
    fflush(stdout);
    printf("peak: %zu committed, %zu errors in %.2f s over %zu connections, %zu per request: "
           "%.0f tx/s\n",
           peak.committed, peak.errors, t_peak, nconn, batch, committed);

    /* 2. half the peak rate, paced, for the latency */
    load half = {.reqs = reqs + n_req / 2, .n_reqs = n_req - n_req / 2,
                 .lat = calloc(n_req, sizeof(double)), .rate = committed / 2 / (double)batch,
                 .batch = batch};
    t0 = bench_now_s();
    run_load(ports, BENCH_NODES, &half, nconn);
    double t_half = bench_now_s() - t0;
    qsort(half.lat, half.n_lat, sizeof(double), cmp_double);
    double p50 = half.lat[half.n_lat / 2] * 1000, p99 = half.lat[half.n_lat * 99 / 100] * 1000;
    printf("half load: %.0f tx/s offered, %zu committed, %zu errors in %.2f s; "
           "latency p50 %.1f ms, p99 %.1f ms\n",
           half.rate * (double)batch, half.committed, half.errors, t_half, p50, p99);

#if BENCH_NODES == 1
    nt_signal_wait(&nd, SIGTERM);
#endif
    for (size_t i = 0; i < n_req; i++)
        free(reqs[i].text);
    free(reqs);
    free(peak.lat);
    free(half.lat);
#if BENCH_NODES == 1
    nt_cleanup(&nd);
#else
    nt_cluster_cleanup(&cl);
#endif
    /* the machine's limit again, with the nodes gone: this VM's rate varies
     * by tens of percent from second to second, and the limit is the best
     * the machine showed in this run */
    double verify_after = verify_rate();
    printf("bench_node: raw verification on all cores, again after the load: %.0f/s\n",
           verify_after);
    if (verify_after > verify)
        verify = verify_after;
    /* the nodes' CPU per committed transaction, in units of one BIP340
     * verification on one core (all nodes together: ideally a little over
     * one verification per node) */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double verif_us = 1e6 * (double)(cores > 0 ? cores : 1) / verify;
    printf("peak: the nodes used %.0f us of CPU per committed transaction, %.1f "
           "verifications' worth\n",
           cpu_us_tx, cpu_us_tx / verif_us);
#if BENCH_NODES == 1
    printf("RESULT bench=node batch=%zu connections=%zu committed_tx_per_s=%.0f p50_ms=%.1f "
           "p99_ms=%.1f verify_per_s_all_cores=%.0f ratio=%.3f cpu_us_per_tx=%.0f "
           "cpu_verifs_per_tx=%.1f\n",
           batch, nconn, committed, p50, p99, verify, committed / verify, cpu_us_tx,
           cpu_us_tx / verif_us);
#else
    double bound = verify / BENCH_NODES;
    printf("RESULT bench=cluster%d batch=%zu connections=%zu committed_tx_per_s=%.0f p50_ms=%.1f "
           "p99_ms=%.1f verify_per_s_all_cores=%.0f bound_tx_per_s=%.0f ratio=%.3f "
           "cpu_us_per_tx=%.0f cpu_verifs_per_tx=%.1f\n",
           BENCH_NODES, batch, nconn, committed, p50, p99, verify, bound, committed / bound,
           cpu_us_tx, cpu_us_tx / verif_us);
#endif
    return peak.errors || half.errors ? 1 : 0;
}
