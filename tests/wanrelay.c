/* tests/wanrelay.c: a wide-area link in user space, for machines whose kernel
 * has no netem (test_wan.c).  It listens on LISTEN addresses and forwards
 * each TCP connection to its TARGET, holding every chunk it reads for a
 * one-way delay of DELAY ± JITTER ms (uniform); with probability LOSS
 * percent a chunk is held STALL ms longer, as TCP holds a stream after a
 * lost segment until its retransmission (TCP hides loss and reordering
 * within a connection from the application; what it shows is the stall).
 * A stream keeps its order: a chunk never leaves before the one read before
 * it.  Distinct connections are delayed independently, so messages on
 * different links are reordered against each other.
 *
 *   wanrelay [--delay MS] [--jitter MS] [--loss PCT] [--stall MS] [--seed N]
 *            LISTEN_IP:PORT=TARGET_IP:PORT ...
 *
 * It prints "ready" on stdout once it listens, and on SIGTERM or SIGINT a
 * summary line on stderr.  Memory is bounded: at most MAX_PAIRS connections
 * and QUEUE_MAX bytes held per direction (beyond it, reading stops, so TCP's
 * window pushes back on the sender). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 32
#define MAX_PAIRS 512
#define CHUNK 16384
#define QUEUE_MAX (4u << 20)

typedef struct chunk {
    struct chunk *next;
    uint64_t due_us;
    size_t len, off;
    unsigned char data[];
} chunk;

typedef struct {
    chunk *head, *tail;
    size_t bytes;
    uint64_t last_due_us;
    int eof;      /* the source has closed its side */
    int shut;     /* ... and the sink was told so */
} queue;

typedef struct {
    int used;
    int fd[2];     /* 0: the accepted side, 1: the target side */
    int connecting;
    queue q[2];    /* q[d] carries data read from fd[d] to fd[1 - d] */
} pair;

static struct {
    unsigned delay_ms, jitter_ms, stall_ms;
    double loss;
    uint64_t rng;
    struct sockaddr_in listen[MAX_LISTEN], target[MAX_LISTEN];
    int lfd[MAX_LISTEN];
    unsigned n_listen;
    pair pairs[MAX_PAIRS];
    unsigned long long accepted, chunks, stalls, bytes, refused;
} R;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t rnd(void)
{
    R.rng ^= R.rng << 13;
    R.rng ^= R.rng >> 7;
    R.rng ^= R.rng << 17;
    return R.rng;
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void set_socket_options(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void queue_clear(queue *q)
{
    while (q->head) {
        chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    memset(q, 0, sizeof *q);
}

static void pair_close(pair *p)
{
    for (int d = 0; d < 2; d++) {
        if (p->fd[d] >= 0)
            close(p->fd[d]);
        queue_clear(&p->q[d]);
    }
    memset(p, 0, sizeof *p);
}

static void on_accept(unsigned li)
{
    int fd = accept4(R.lfd[li], NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    pair *p = NULL;
    for (unsigned k = 0; k < MAX_PAIRS && p == NULL; k++)
        if (!R.pairs[k].used)
            p = &R.pairs[k];
    int out = p ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (out < 0) {
        R.refused++;
        close(fd);
        return;
    }
    set_socket_options(fd);
    set_socket_options(out);
    memset(p, 0, sizeof *p);
    p->used = 1;
    p->fd[0] = fd;
    p->fd[1] = out;
    R.accepted++;
    if (connect(out, (struct sockaddr *)&R.target[li], sizeof R.target[li]) == 0)
        return;
    if (errno == EINPROGRESS) {
        p->connecting = 1;
        return;
    }
    pair_close(p); /* the target is unreachable: the caller sees its connection closed */
}

/* Read what fd[d] has into q[d], stamped with when it may leave. */
static int pump_in(pair *p, int d)
{
    queue *q = &p->q[d];
    unsigned char buf[CHUNK];
    ssize_t r = read(p->fd[d], buf, sizeof buf);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r == 0) {
        q->eof = 1;
        return 0;
    }
    chunk *c = malloc(sizeof *c + (size_t)r);
    if (c == NULL)
        return -1;
    memcpy(c->data, buf, (size_t)r);
    c->len = (size_t)r;
    c->off = 0;
    c->next = NULL;
    int64_t delay = (int64_t)R.delay_ms * 1000;
    if (R.jitter_ms)
        delay += (int64_t)(rnd() % (2u * R.jitter_ms * 1000u + 1)) - (int64_t)R.jitter_ms * 1000;
    if (R.loss > 0 && (double)(rnd() % 1000000u) < R.loss * 10000.0) {
        delay += (int64_t)R.stall_ms * 1000;
        R.stalls++;
    }
    uint64_t due = now_us() + (uint64_t)(delay < 0 ? 0 : delay);
    if (due < q->last_due_us)
        due = q->last_due_us; /* the stream keeps its order */
    c->due_us = q->last_due_us = due;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += (size_t)r;
    R.chunks++;
    R.bytes += (unsigned long long)r;
    return 0;
}

/* Write what is due from q[d] to fd[1 - d]. */
static int pump_out(pair *p, int d, uint64_t now)
{
    queue *q = &p->q[d];
    int sink = p->fd[1 - d];
    while (q->head && q->head->due_us <= now) {
        chunk *c = q->head;
        ssize_t w = write(sink, c->data + c->off, c->len - c->off);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->off += (size_t)w;
        q->bytes -= (size_t)w;
        if (c->off < c->len)
            return 0;
        q->head = c->next;
        if (q->head == NULL)
            q->tail = NULL;
        free(c);
    }
    if (q->head == NULL && q->eof && !q->shut) {
        shutdown(sink, SHUT_WR);
        q->shut = 1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: wanrelay [--delay MS] [--jitter MS] [--loss PCT] [--stall MS] "
                    "[--seed N] LISTEN_IP:PORT=TARGET_IP:PORT ...\n");
    return 1;
}

int main(int argc, char **argv)
{
    R.delay_ms = 40;
    R.jitter_ms = 10;
    R.loss = 1.0;
    R.stall_ms = 200;
    R.rng = 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--delay") == 0)
            R.delay_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--jitter") == 0)
            R.jitter_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--loss") == 0)
            R.loss = strtod(argv[++i], NULL);
        else if (i + 1 < argc && strcmp(a, "--stall") == 0)
            R.stall_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--seed") == 0)
            R.rng = strtoull(argv[++i], NULL, 10) | 1u;
        else {
            char buf[128];
            char *eq = strchr(a, '=');
            if (eq == NULL || strlen(a) >= sizeof buf || R.n_listen == MAX_LISTEN)
                return usage();
            memcpy(buf, a, strlen(a) + 1);
            buf[eq - a] = '\0';
            if (parse_addr(buf, &R.listen[R.n_listen]) != 0 ||
                parse_addr(buf + (eq - a) + 1, &R.target[R.n_listen]) != 0)
                return usage();
            R.n_listen++;
        }
    }
    if (R.n_listen == 0 || R.jitter_ms > R.delay_ms || R.loss < 0 || R.loss > 100)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (unsigned i = 0; i < R.n_listen; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *)&R.listen[i], sizeof R.listen[i]) != 0 ||
            listen(fd, 64) != 0) {
            perror("wanrelay: listen");
            return 2;
        }
        R.lfd[i] = fd;
    }
    printf("ready\n");
    fflush(stdout);

    static struct pollfd pfd[MAX_LISTEN + 2 * MAX_PAIRS];
    static int who[MAX_LISTEN + 2 * MAX_PAIRS]; /* listener i, or 1000 + 2 * pair + side */
    while (!g_stop) {
        uint64_t now = now_us();
        int64_t wait_us = 1000000;
        unsigned n = 0;
        for (unsigned i = 0; i < R.n_listen; i++) {
            pfd[n] = (struct pollfd){.fd = R.lfd[i], .events = POLLIN};
            who[n++] = (int)i;
        }
        for (unsigned k = 0; k < MAX_PAIRS; k++) {
            pair *p = &R.pairs[k];
            if (!p->used)
                continue;
            for (int s = 0; s < 2; s++) {
                short ev = 0;
                if (p->connecting) {
                    if (s == 1)
                        ev = POLLOUT;
                } else {
                    /* read while there is room and the side is open */
                    if (!p->q[s].eof && p->q[s].bytes < QUEUE_MAX)
                        ev |= POLLIN;
                    /* write what is due to this side */
                    chunk *c = p->q[1 - s].head;
                    if (c && c->due_us <= now)
                        ev |= POLLOUT;
                    else if (c && (int64_t)(c->due_us - now) < wait_us)
                        wait_us = (int64_t)(c->due_us - now);
                }
                pfd[n] = (struct pollfd){.fd = p->fd[s], .events = ev};
                who[n++] = 1000 + (int)(2 * k) + s;
            }
        }
        int timeout = (int)((wait_us + 999) / 1000);
        int r = poll(pfd, n, timeout);
        if (r < 0 && errno != EINTR)
            break;
        now = now_us();
        for (unsigned j = 0; r > 0 && j < n; j++) {
            if (pfd[j].revents == 0)
                continue;
            if (who[j] < 1000) {
                on_accept((unsigned)who[j]);
                continue;
            }
            pair *p = &R.pairs[(who[j] - 1000) / 2];
            int s = (who[j] - 1000) % 2;
            if (!p->used)
                continue;
            if (p->connecting && s == 1) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0)
                    pair_close(p);
                else
                    p->connecting = 0;
                continue;
            }
            if (p->connecting)
                continue;
            if (pfd[j].revents & (POLLERR | POLLNVAL)) {
                pair_close(p); /* reset: the other side sees its connection closed */
                continue;
            }
            if ((pfd[j].revents & (POLLIN | POLLHUP | POLLERR)) && !p->q[s].eof &&
                pump_in(p, s) != 0) {
                pair_close(p);
                continue;
            }
            if ((pfd[j].revents & POLLOUT) && pump_out(p, 1 - s, now) != 0)
                pair_close(p);
        }
        /* what became due while nothing else happened, and the ends of streams */
        for (unsigned k = 0; k < MAX_PAIRS; k++) {
            pair *p = &R.pairs[k];
            if (!p->used || p->connecting)
                continue;
            if (pump_out(p, 0, now) != 0 || pump_out(p, 1, now) != 0) {
                pair_close(p);
                continue;
            }
            if (p->q[0].shut && p->q[1].shut)
                pair_close(p);
        }
    }
    fprintf(stderr,
            "wanrelay: %llu connections (%llu refused), %llu chunks, %llu bytes, %llu stalled "
            "(delay %u ± %u ms, loss %.2f%% as a %u ms stall)\n",
            R.accepted, R.refused, R.chunks, R.bytes, R.stalls, R.delay_ms, R.jitter_ms, R.loss,
            R.stall_ms);
    for (unsigned k = 0; k < MAX_PAIRS; k++)
        if (R.pairs[k].used)
            pair_close(&R.pairs[k]);
    return 0;
}
