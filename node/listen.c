/* node/listen.c: the accept-failure guard (listen.h). */
#include "listen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"

#define PAUSE_MS 100 /* how long accepting pauses after a failure */
#define MAX_GUARDS 8 /* listeners per process (a node has two) */

struct node_listen_guard {
    struct evconnlistener *lev;
    struct event *resume;
    const char *what;
    uint64_t failures;
    time_t logged_at;         /* the log speaks once a second at most */
};

/* libevent hands the error callback the listener's own argument (evhttp's,
 * or the p2p module's), so the guards are found by listener; all of this
 * runs on the loop thread. */
static node_listen_guard *g_guards[MAX_GUARDS];

static node_listen_guard *guard_of(const struct evconnlistener *lev)
{
    for (size_t i = 0; i < MAX_GUARDS; i++)
        if (g_guards[i] && g_guards[i]->lev == lev)
            return g_guards[i];
    return NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_listen_guard *g = arg;
    evconnlistener_enable(g->lev);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    int e = EVUTIL_SOCKET_ERROR();
    node_listen_guard *g = guard_of(lev);
    if (g == NULL)
        return;
    g->failures++;
    time_t now = time(NULL);
    if (now != g->logged_at) {
        LOG_WARN("%s: cannot accept connections (%s): pausing %d ms (%llu failures so far)",
                 g->what, strerror(e), PAUSE_MS, (unsigned long long)g->failures);
        g->logged_at = now;
    }
    /* whatever the error, do not spin on it: pause and try again */
    evconnlistener_disable(lev);
    struct timeval tv = {0, PAUSE_MS * 1000};
    if (evtimer_add(g->resume, &tv) != 0) {
        LOG_ERROR("%s: cannot arm the timer that resumes accepting (evtimer_add failed): "
                  "accepting again at once",
                  g->what);
        evconnlistener_enable(lev);
    }
}

node_listen_guard *node_listen_guard_new(struct event_base *base, struct evconnlistener *lev,
                                         const char *what)
{
    node_listen_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->lev = lev;
    g->what = what;
    g->resume = evtimer_new(base, on_resume, g);
    if (g->resume == NULL) {
        free(g);
        return NULL;
    }
    size_t i = 0;
    while (i < MAX_GUARDS && g_guards[i] != NULL)
        i++;
    if (i == MAX_GUARDS) {
        event_free(g->resume);
        free(g);
        return NULL;
    }
    g_guards[i] = g;
    evconnlistener_set_error_cb(lev, on_accept_error);
    return g;
}

uint64_t node_listen_guard_failures(const node_listen_guard *g)
{
    return g ? g->failures : 0;
}

void node_listen_guard_free(node_listen_guard *g)
{
    if (g == NULL)
        return;
    evconnlistener_set_error_cb(g->lev, NULL);
    for (size_t i = 0; i < MAX_GUARDS; i++)
        if (g_guards[i] == g)
            g_guards[i] = NULL;
    event_free(g->resume);
    free(g);
}
