#include "node.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "events.h"
#include "handshake.h"
#include "ledger/gov.h"
#include "ledger/hex.h"
#include "log.h"
#include "public.h"
#include "rpc_auth.h"
#include "rpc_http.h"

uint64_t node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- cross-thread posts ---- */

void node_post(node *n, node_post_fn fn, void *arg)
{
    post_item *it = malloc(sizeof *it);
    if (it == NULL) {
        /* cannot queue: run nothing rather than corrupt state; the work
         * item leaks its caller's memory, which is the lesser harm */
        LOG_ERROR("out of memory queueing work for the event loop");
        return;
    }
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&n->post_mu);
    if (n->post_tail)
        n->post_tail->next = it;
    else
        n->post_head = it;
    n->post_tail = it;
    pthread_mutex_unlock(&n->post_mu);
    event_active(n->post_ev, EV_READ, 0);
}

static void run_posts(node *n)
{
    for (;;) {
        pthread_mutex_lock(&n->post_mu);
        post_item *list = n->post_head;
        n->post_head = n->post_tail = NULL;
        pthread_mutex_unlock(&n->post_mu);
        if (list == NULL)
            return;
        while (list) {
            post_item *it = list;
            list = it->next;
            it->fn(n, it->arg);
            free(it);
        }
    }
}

static void on_post(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_posts(arg);
}

void node_mempool_changed(node *n)
{
    atomic_store(&n->mp_size, node_mempool_size(n->mp));
    atomic_store(&n->mp_bytes, node_mempool_bytes(n->mp));
}

/* ---- start ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    node *n = arg;
    if (sig == SIGHUP) {
        if (node_log_reopen() != 0)
            LOG_WARN("SIGHUP: cannot open the log file again; still writing to the old one");
        else
            LOG_INFO("SIGHUP: log file opened again");
        return;
    }
    LOG_INFO("received %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    node_stop(n);
}

static int ensure_dir(const char *path, ledger_err *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    return 0;
}

/* One permitd per home: an exclusive lock held for the process's life. */
static int take_lock(node *n, ledger_err *err)
{
    char path[NODE_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data/permitd.lock", n->cfg.home);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = read(fd, pid, sizeof pid - 1);
        if (r > 0)
            pid[r] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "another permitd%s%s%s is already running on %s",
                           pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", n->cfg.home);
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)len) != len)
        LOG_WARN("cannot record the pid in %s", path);
    n->lock_fd = fd;
    return 0;
}

/* An observer's key as the membership at its ledger's tip sees it: a
 * governance change in a block it has not synced yet can admit it later, so
 * this only informs the operator. */
static void log_observer_admission(node *n, uint64_t height)
{
    ledger_gov *gv = ledger_gov_acquire(n->L);
    int o = gv ? ledger_gov_observer(gv, n->key.pub) : -1;
    if (o >= 0 && !ledger_gov_key_retired(gv, n->key.pub))
        LOG_INFO("observer %s, admitted by the membership at height %llu", gv->observers[o].name,
                 (unsigned long long)height);
    else
        LOG_WARN("config/node.key is not an observer's node key in the membership at height "
                 "%llu: the validators refuse this node unless governance has admitted it in a "
                 "later block (permit gov propose add-observer)",
                 (unsigned long long)height);
    ledger_gov_release(gv);
}

int node_start(node *n, const node_config *cfg, ledger_err *err)
{
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    n->lock_fd = -1;
    n->validator = n->dept = n->observer = -1;
    pthread_mutex_init(&n->post_mu, NULL);
    node_log_set_level(cfg->log_level);

    char path[NODE_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/data", cfg->home);
    if (ensure_dir(path, err) != 0 || take_lock(n, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/config/genesis.json", cfg->home);
    if (ledger_genesis_load(path, &n->g, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/config/node.key", cfg->home);
    if (ledger_keyfile_read(path, &n->key, err) != 0)
        return -1;
    if (strcmp(cfg->role, "observer") == 0) {
        /* the validators decide who may follow, by the membership in force
         * (DESIGN §6, §11): an observer that governance added after genesis
         * starts from genesis like any other; one they do not admit is
         * refused by them, not here */
        if (ledger_genesis_validator_index(n->g, n->key.pub) >= 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "role = observer, but config/node.key is a validator's node key, "
                               "not an observer's node key");
        n->observer = 0;
    } else {
        n->validator = ledger_genesis_validator_index(n->g, n->key.pub);
        if (n->validator >= 0)
            n->dept = n->g->validators[n->validator];
        else if (ledger_genesis_observer_index(n->g, n->key.pub) >= 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "config/node.key is an observer's node key: set role = observer");
    }
    snprintf(path, sizeof path, "%s/data/db", cfg->home);
    if (ledger_open(&n->L, path, n->g, err) != 0)
        return -1;
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    char hash[65];
    ledger_hex_encode(tip.hash, 32, hash);
    LOG_INFO("chain %s (%s %s): height %llu, block %.16s", n->g->chain_id, n->g->region,
             n->g->region_name, (unsigned long long)tip.height, hash);
    if (n->observer >= 0)
        log_observer_admission(n, tip.height);

    n->started_ms = node_now_ms();
    evthread_use_pthreads();
    n->base = event_base_new();
    if (n->base == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "event_base_new failed");
    n->post_ev = event_new(n->base, -1, 0, on_post, n);
    n->sigint_ev = evsignal_new(n->base, SIGINT, on_signal, n);
    n->sigterm_ev = evsignal_new(n->base, SIGTERM, on_signal, n);
    n->sighup_ev = evsignal_new(n->base, SIGHUP, on_signal, n);
    if (!n->post_ev || !n->sigint_ev || !n->sigterm_ev || !n->sighup_ev ||
        evsignal_add(n->sigint_ev, NULL) != 0 || evsignal_add(n->sigterm_ev, NULL) != 0 ||
        evsignal_add(n->sighup_ev, NULL) != 0)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot set up the event loop");
    n->n_waiter_buckets = 4096;
    n->waiters = calloc(n->n_waiter_buckets, sizeof *n->waiters);
    n->mp = node_mempool_new(cfg->mempool_max_txs, cfg->mempool_max_bytes);
    n->workers = node_workers_new((unsigned)cfg->rpc_workers, cfg->rpc_queue);
    if (!n->waiters || !n->mp || !n->workers)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    n->engine = node_engine_new(n, err);
    if (n->engine == NULL)
        return -1;
    if (node_rpc_start(n, err) != 0 || node_events_start(n, err) != 0 ||
        node_public_start(n, err) != 0)
        return -1;
    return 0;
}

int node_run(node *n)
{
    if (n->observer >= 0)
        LOG_INFO("permitd %s running (observer)", PERMIT_VERSION);
    else
        LOG_INFO("permitd %s running (department %s)", PERMIT_VERSION,
                 n->dept >= 0 ? n->g->departments[n->dept].id : "-");
    int rc = event_base_dispatch(n->base);
    return rc < 0 ? -1 : 0;
}

void node_stop(node *n)
{
    if (n->stopping)
        return;
    n->stopping = 1;
    event_base_loopbreak(n->base);
}

void node_close(node *n)
{
    /* order: no new blocks (the one in progress is written), answers for
     * what it committed, no new requests, workers drained, then storage */
    node_engine_stop(n->engine);
    node_public_stop(n); /* the pages being made are finished, their answers posted */
    if (n->base)
        run_posts(n);
    if (n->workers) {
        node_workers_free(n->workers); /* runs what is queued; posts answers */
        n->workers = NULL;
    }
    if (n->base)
        run_posts(n);
    node_events_free(n); /* event streams end: their clients resume elsewhere */
    if (n->http) {
        /* answer whoever still waits, and give the answers a moment to leave */
        node_rpc_drain(n);
        struct timeval flush = {0, 200000};
        event_base_loopexit(n->base, &flush);
        event_base_dispatch(n->base);
        run_posts(n);
        node_rpc_free(n);
    }
    node_public_free(n);
    node_engine_free(n->engine);
    n->engine = NULL; /* what its threads still post finds no engine, and is freed */
    if (n->base)
        run_posts(n);
    node_rpc_auth_free(n->rpc_auth); /* no request is left to name a token */
    n->rpc_auth = NULL;
    free(n->waiters); /* empty: every waiter was answered */
    node_mempool_free(n->mp);
    if (n->sigint_ev)
        event_free(n->sigint_ev);
    if (n->sigterm_ev)
        event_free(n->sigterm_ev);
    if (n->sighup_ev)
        event_free(n->sighup_ev);
    if (n->post_ev)
        event_free(n->post_ev);
    if (n->base)
        event_base_free(n->base);
    if (n->L) {
        ledger_err err;
        if (ledger_sync(n->L, &err) != 0)
            LOG_ERROR("the last block could not be written: %s", err.msg);
        ledger_close(n->L);
    }
    ledger_genesis_free(n->g);
    ledger_keypair_wipe(&n->key);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    pthread_mutex_destroy(&n->post_mu);
    LOG_INFO("stopped");
}
