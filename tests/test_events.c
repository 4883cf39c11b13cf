/* GET /events against a live permitd (docs/rpc.md): events in order,
 * resuming with Last-Event-ID misses nothing and repeats nothing, filters,
 * renewal reminders, the stream limit, a reader that never reads is dropped
 * while others are served, and permit watch. */
#include "testutil.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <signal.h>

#include "nodetest.h"

static nt_node g_nd;
static uint32_t g_uscc = 100;

/* kiosk licenses open their renewal window a second after issue */
static void fast(json_t *root)
{
    json_t *inds = json_object_get(root, "industries");
    for (size_t i = 0; i < json_array_size(inds); i++) {
        json_t *ind = json_array_get(inds, i);
        if (strcmp(json_string_value(json_object_get(ind, "code")), "kiosk") == 0) {
            json_object_set_new(ind, "validity", json_string("4s"));
            json_object_set_new(ind, "renew_window", json_string("3s"));
            json_object_set_new(ind, "grace", json_string("180s"));
        }
    }
    json_object_set_new(json_object_get(root, "params"), "heartbeat", json_string("500ms"));
    /* 秒批: the bakery's first item is decided by the rule instant */
    for (size_t i = 0; i < json_array_size(inds); i++) {
        json_t *ind = json_array_get(inds, i);
        if (strcmp(json_string_value(json_object_get(ind, "code")), "bakery") == 0)
            json_object_set_new(json_array_get(json_object_get(ind, "items"), 0), "instant",
                                json_true());
    }
}

static int setup(void **state)
{
    (void)state;
    nt_init(&g_nd, fast);
    snprintf(g_nd.extra_conf, sizeof g_nd.extra_conf,
             "rpc_max_streams = 3\nrpc_stream_buffer = 16K\nrpc_stream_keepalive = 1s\n");
    nt_start(&g_nd, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int wst = nt_signal_wait(&g_nd, SIGTERM);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    nt_cleanup(&g_nd);
    return 0;
}

/* Apply for a new license of `industry` (on the commitment route, with the
 * holder's pledge, when commitment); its id in out (wait: commit). */
static void apply_route(const char *industry, int commitment, int wait, char out[80])
{
    char uscc[19];
    lt_uscc(g_uscc++, uscc);
    g_nd.env.now = nt_now_ms() - 1000;
    size_t len;
    uint8_t *tx = lt_apply(&g_nd.env, uscc, industry, commitment, &len);
    json_t *r = nt_submit(g_nd.port, tx, len, wait ? "commit" : "none");
    free(tx);
    assert_non_null(r);
    if (nt_error_code(r))
        fail_msg("%s", json_dumps(r, 0));
    if (out)
        snprintf(out, 80, "%s",
                 json_string_value(json_object_get(json_object_get(r, "result"), "license_id")));
    json_decref(r);
}

static void apply(const char *industry, int wait, char out[80])
{
    apply_route(industry, 0, wait, out);
}

/* A stream: the socket after the response head, and the head's status. */
static int sse_open(const char *query, const char *last_id, int rcvbuf, int *status)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_nd.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "GET /events%s HTTP/1.0\r\n%s%s%sHost: x\r\n\r\n", query,
                     last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
                     last_id ? "\r\n" : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    char head[4096];
    size_t got = 0;
    while (got < sizeof head - 1) { /* byte by byte up to the blank line */
        struct pollfd p = {fd, POLLIN, 0};
        assert_true(poll(&p, 1, 10000) == 1);
        if (read(fd, head + got, 1) != 1)
            break;
        got++;
        head[got] = '\0';
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[got] = '\0';
    *status = atoi(head + 9);
    return fd;
}

typedef struct {
    char buf[1 << 16];
    size_t len;
} sse_buf;

/* The ids (and names) of the messages that arrive within ms, up to max. */
static size_t sse_ids(int fd, sse_buf *b, char ids[][128], char names[][32], size_t max,
                      long ms)
{
    size_t n = 0;
    uint64_t until = nt_now_ms() + (uint64_t)ms;
    while (n < max) {
        char *end;
        while (n < max && (end = memmem(b->buf, b->len, "\n\n", 2)) != NULL) {
            size_t mlen = (size_t)(end - b->buf) + 2;
            char msg[8192];
            size_t cl = mlen < sizeof msg ? mlen : sizeof msg - 1;
            memcpy(msg, b->buf, cl);
            msg[cl] = '\0';
            memmove(b->buf, b->buf + mlen, b->len - mlen);
            b->len -= mlen;
            char *id = strstr(msg, "id: "), *ev = strstr(msg, "event: ");
            if (id == NULL || msg[0] == ':')
                continue; /* retry: or a keep-alive */
            sscanf(id + 4, "%127[^\n]", ids[n]);
            names[n][0] = '\0';
            if (ev)
                sscanf(ev + 7, "%31[^\n]", names[n]);
            n++;
        }
        if (n >= max)
            break;
        uint64_t now = nt_now_ms();
        if (now >= until)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(until - now)) != 1)
            break;
        ssize_t r = read(fd, b->buf + b->len, sizeof b->buf - b->len);
        if (r <= 0)
            break;
        b->len += (size_t)r;
    }
    return n;
}

static void test_resume_misses_nothing_and_repeats_nothing(void **state)
{
    (void)state;
    char ids[16][128], names[16][32];
    apply("convenience-store", 1, NULL);
    uint64_t start = nt_status_u64(g_nd.port, "height");
    (void)start;
    int st;
    int live = sse_open("", NULL, 0, &st); /* from the tip: new events only */
    assert_int_equal(st, 200);
    /* the log so far */
    int fd = sse_open("?from=0", NULL, 0, &st);
    assert_int_equal(st, 200);
    sse_buf *b = calloc(1, sizeof *b), *lb = calloc(1, sizeof *lb);
    size_t n = sse_ids(fd, b, ids, names, 16, 1500);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        char want[24];
        snprintf(want, sizeof want, "%zu", i);
        assert_string_equal(ids[i], want);
    }
    char last[128];
    snprintf(last, sizeof last, "%s", ids[n - 1]);
    uint64_t first_new = n;
    close(fd);
    /* three more commit while the subscriber is away */
    for (int i = 0; i < 3; i++)
        apply("convenience-store", 1, NULL);
    memset(b, 0, sizeof *b);
    fd = sse_open("", last, 0, &st);
    assert_int_equal(st, 200);
    n = sse_ids(fd, b, ids, names, 16, 2500);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        char want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)(first_new + i));
        assert_string_equal(ids[i], want);
        assert_string_equal(names[i], "APPLY");
    }
    /* one more: the resumed stream and the live one get it, once */
    apply("convenience-store", 1, NULL);
    n = sse_ids(fd, b, ids, names, 16, 2500);
    assert_int_equal(n, 1);
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)(first_new + 3));
    assert_string_equal(ids[0], want);
    n = sse_ids(live, lb, ids, names, 16, 2000);
    assert_int_equal(n, 4);
    assert_string_equal(ids[3], want);
    close(fd);
    close(live);
    free(b);
    free(lb);
}

static void test_filters(void **state)
{
    (void)state;
    char lic[80], ids[64][128], names[64][32];
    apply("kiosk", 1, lic);
    apply("convenience-store", 1, NULL);
    nt_sleep_ms(300); /* the streams of the test before are closed */
    int st;
    char q[200];
    snprintf(q, sizeof q, "?from=0&license=%s", lic);
    int fd = sse_open(q, NULL, 0, &st);
    assert_int_equal(st, 200);
    sse_buf *b = calloc(1, sizeof *b);
    size_t n = sse_ids(fd, b, ids, names, 64, 1500);
    assert_int_equal(n, 1); /* its APPLY only */
    assert_string_equal(names[0], "APPLY");
    close(fd);
    /* tobacco owns an item of convenience stores, not of kiosks */
    memset(b, 0, sizeof *b);
    fd = sse_open("?from=0&department=tobacco&kind=APPLY", NULL, 0, &st);
    assert_int_equal(st, 200);
    size_t nt = sse_ids(fd, b, ids, names, 64, 1500);
    close(fd);
    memset(b, 0, sizeof *b);
    fd = sse_open("?from=0&kind=APPLY", NULL, 0, &st);
    size_t na = sse_ids(fd, b, ids, names, 64, 1500);
    close(fd);
    assert_true(nt >= 5);
    assert_int_equal(na, nt + 1); /* all but the kiosk */
    fd = sse_open("?kind=NOPE", NULL, 0, &st);
    assert_int_equal(st, 400);
    close(fd);
    /* 秒批: the event names the rule; kind=APPLY follows it too */
    char inst[80];
    apply_route("bakery", 1, 1, inst);
    memset(b, 0, sizeof *b);
    fd = sse_open("?from=0&kind=APPLY_INSTANT", NULL, 0, &st);
    assert_int_equal(st, 200);
    n = sse_ids(fd, b, ids, names, 64, 1500);
    close(fd);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "APPLY_INSTANT");
    memset(b, 0, sizeof *b);
    fd = sse_open("?from=0&kind=APPLY", NULL, 0, &st);
    size_t na2 = sse_ids(fd, b, ids, names, 64, 1500);
    close(fd);
    assert_int_equal(na2, na + 1);
    free(b);
}

static void test_reminder_when_the_renewal_window_opens(void **state)
{
    (void)state;
    char lic[80], ids[8][128], names[8][32];
    apply("kiosk", 1, lic);
    int st;
    char q[200];
    snprintf(q, sizeof q, "?license=%s", lic);
    nt_sleep_ms(300);
    int fd = sse_open(q, NULL, 0, &st);
    assert_int_equal(st, 200);
    g_nd.env.now = nt_now_ms() - 1000;
    size_t len;
    uint8_t *tx = lt_decision(&g_nd.env, lt_dept(&g_nd.env, LT_MARKET), 2, lic, NULL, 0, NULL,
                              &len);
    json_t *r = nt_submit(g_nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);
    sse_buf *b = calloc(1, sizeof *b);
    /* issued for 4 s with a 3 s window: the reminder about a second later */
    size_t n = sse_ids(fd, b, ids, names, 8, 15000);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "APPROVE");
    assert_string_equal(names[1], "reminder");
    assert_true(ids[1][0] == 'r' && strstr(ids[1], lic) != NULL);
    /* once: nothing more for it while time goes on */
    assert_int_equal(sse_ids(fd, b, ids, names, 8, 2500), 0);
    close(fd);
    /* resumable: after the APPROVE the reminder comes again; after it, nothing */
    char approve_id[128];
    snprintf(q, sizeof q, "?license=%s&from=0", lic);
    memset(b, 0, sizeof *b);
    fd = sse_open(q, NULL, 0, &st);
    n = sse_ids(fd, b, ids, names, 8, 2000);
    close(fd);
    assert_int_equal(n, 3);
    snprintf(approve_id, sizeof approve_id, "%s", ids[1]);
    char rem[128];
    snprintf(rem, sizeof rem, "%s", ids[2]);
    snprintf(q, sizeof q, "?license=%s", lic);
    memset(b, 0, sizeof *b);
    fd = sse_open(q, approve_id, 0, &st);
    n = sse_ids(fd, b, ids, names, 8, 2000);
    close(fd);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], rem);
    memset(b, 0, sizeof *b);
    fd = sse_open(q, rem, 0, &st);
    assert_int_equal(st, 200);
    assert_int_equal(sse_ids(fd, b, ids, names, 8, 2000), 0);
    close(fd);
    free(b);
}

static void test_too_many_streams_are_refused(void **state)
{
    (void)state;
    nt_sleep_ms(500);
    int st, fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = sse_open("", NULL, 0, &st);
        assert_int_equal(st, 200);
    }
    int extra = sse_open("", NULL, 0, &st);
    assert_int_equal(st, 503);
    close(extra);
    close(fds[0]);
    nt_sleep_ms(500);
    fds[0] = sse_open("", NULL, 0, &st);
    assert_int_equal(st, 200);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

static uint64_t dropped(void)
{
    char *body = NULL;
    assert_int_equal(nt_http(g_nd.port, "GET", "/metrics", NULL, 0, &body, NULL), 200);
    const char *p = strstr(body, "\npermit_event_streams_dropped_total ");
    uint64_t v = p ? strtoull(p + 36, NULL, 10) : 999;
    free(body);
    return v;
}

static void test_a_reader_that_never_reads_is_dropped(void **state)
{
    (void)state;
    nt_sleep_ms(500);
    uint64_t before = dropped();
    int st;
    int stuck = sse_open("", NULL, 1024, &st); /* never read */
    assert_int_equal(st, 200);
    /* ~350 bytes a message: 600 events are far past 16 KiB and the sockets */
    for (int i = 0; i < 600; i++)
        apply("convenience-store", i == 599, NULL);
    uint64_t until = nt_now_ms() + 10000;
    while (dropped() == before && nt_now_ms() < until)
        nt_sleep_ms(200);
    assert_int_equal(dropped(), before + 1);
    /* the others are served */
    sse_buf *b = calloc(1, sizeof *b);
    char ids[4][128], names[4][32];
    int fd = sse_open("?from=0", NULL, 0, &st);
    assert_int_equal(st, 200);
    assert_int_equal(sse_ids(fd, b, ids, names, 4, 3000), 4);
    assert_string_equal(ids[3], "3");
    close(fd);
    close(stuck);
    free(b);
}

static void test_permit_watch(void **state)
{
    (void)state;
    char rpc[64], *out = NULL;
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d", g_nd.port);
    const char *const args[] = {"--json", "watch", "--from", "1", "--count", "3",
                                "--kind", "APPLY", NULL};
    assert_int_equal(nt_permitv(rpc, &out, args), 0);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
    assert_non_null(strstr(out, "{\"id\":1,"));
    assert_non_null(strstr(out, "{\"id\":2,"));
    free(out);
    const char *const bad[] = {"watch", "--kind", "NOPE", NULL};
    assert_int_equal(nt_permitv(rpc, NULL, bad), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_misses_nothing_and_repeats_nothing),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_reminder_when_the_renewal_window_opens),
        cmocka_unit_test(test_too_many_streams_are_refused),
        cmocka_unit_test(test_a_reader_that_never_reads_is_dropped),
        cmocka_unit_test(test_permit_watch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
