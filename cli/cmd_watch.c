/* cli/cmd_watch.c: permit watch, following the node's GET /events (docs/rpc.md):
 * one line per event, reconnecting with Last-Event-ID after a disconnect so
 * nothing is missed or shown twice. */
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"
#include "rpc_client.h"

#define WATCH_LINE_MAX 16384
#define WATCH_IDLE_MS 60000      /* the node comments every 15 s by default */
#define WATCH_RETRIES 10         /* reconnections in a row before giving up */

typedef struct {
    char id[300];                /* the last id received ("" none) */
    char event[64];
    char *data;                  /* the message's data line */
    uint64_t shown, count;       /* messages printed; stop after count (0: never) */
} watch_state;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void print_human(FILE *f, json_t *d, const char *event)
{
    char t[CLI_TIME_LEN], lic[80], kind[64];
    cli_fmt_time((uint64_t)json_integer_value(json_object_get(d, "time")), t);
    cli_clean_text(lic, sizeof lic, json_string_value(json_object_get(d, "license_id")));
    cli_clean_text(kind, sizeof kind, event);
    if (strcmp(event, "reminder") == 0) {
        char opens[CLI_TIME_LEN], exp[CLI_TIME_LEN];
        cli_fmt_time((uint64_t)json_integer_value(json_object_get(d, "renewal_opens")), opens);
        cli_fmt_time((uint64_t)json_integer_value(json_object_get(d, "expires_at")), exp);
        fprintf(f, "%s  reminder  %s  renewal open since %s, expires %s (block %lld)\n", t, lic,
                opens, exp, (long long)json_integer_value(json_object_get(d, "height")));
        return;
    }
    fprintf(f, "%s  #%lld  %-14s %s  seq %lld  block %lld\n", t,
            (long long)json_integer_value(json_object_get(d, "id")), kind, lic,
            (long long)json_integer_value(json_object_get(d, "seq")),
            (long long)json_integer_value(json_object_get(d, "height")));
}

/* One complete message: print it. */
static int dispatch(cli_ctx *ctx, watch_state *w, cli_error *err)
{
    if (w->data == NULL)
        return CLI_EXIT_OK;
    json_error_t je;
    json_t *d = json_loads(w->data, 0, &je);
    free(w->data);
    w->data = NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "the node sent an event that is not JSON");
    }
    if (ctx->json) {
        char *s = json_dumps(d, JSON_COMPACT);
        if (s)
            fprintf(stdout, "%s\n", s);
        free(s);
    } else {
        print_human(stdout, d, w->event[0] ? w->event : "message");
    }
    json_decref(d);
    w->shown++;
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "writing the output failed");
    return CLI_EXIT_OK;
}

/* Read one connection's messages until it ends (0), count is reached (1),
 * or an error (-1: err). */
static int follow(cli_ctx *ctx, cli_stream *s, watch_state *w, cli_error *err)
{
    char *line = malloc(WATCH_LINE_MAX);
    if (line == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory"), -1;
    char pending_id[300] = "";
    int have_id = 0, rc = 0;
    w->event[0] = '\0';
    for (;;) {
        int r = cli_stream_line(s, line, WATCH_LINE_MAX, WATCH_IDLE_MS, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (line[0] == '\0') { /* the end of a message */
            if (dispatch(ctx, w, err) != CLI_EXIT_OK) {
                rc = -2;
                break;
            }
            if (have_id)
                snprintf(w->id, sizeof w->id, "%s", pending_id);
            have_id = 0;
            w->event[0] = '\0';
            if (w->count && w->shown >= w->count) {
                rc = 1;
                break;
            }
            continue;
        }
        if (line[0] == ':')
            continue; /* a comment: keep-alive */
        char *colon = strchr(line, ':');
        const char *val = colon ? colon + 1 : "";
        if (colon)
            *colon = '\0';
        if (*val == ' ')
            val++;
        if (strcmp(line, "id") == 0) {
            snprintf(pending_id, sizeof pending_id, "%s", val);
            have_id = 1;
        } else if (strcmp(line, "event") == 0) {
            snprintf(w->event, sizeof w->event, "%s", val);
        } else if (strcmp(line, "data") == 0) {
            free(w->data);
            w->data = strdup(val);
        }
    }
    free(line);
    free(w->data);
    w->data = NULL;
    return rc;
}

static int append_param(char *q, size_t cap, const char *name, const char *val, cli_error *err)
{
    size_t n = strlen(q);
    if (n + strlen(name) + 3 * strlen(val) + 3 >= cap)
        return cli_fail(err, CLI_EXIT_USAGE, "--%s: too long", name);
    n += (size_t)snprintf(q + n, cap - n, "%c%s=", strchr(q, '?') ? '&' : '?', name);
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            q[n++] = (char)*p;
        else
            n += (size_t)snprintf(q + n, cap - n, "%%%02X", *p);
    }
    q[n] = '\0';
    return CLI_EXIT_OK;
}

static int cmd_watch(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    static const char *const filters[] = {"license", "department", "kind"};
    char base[1024] = "/events";
    for (size_t i = 0; i < 3; i++) {
        const char *v = cli_arg(a, filters[i]);
        if (v && append_param(base, sizeof base, filters[i], v, err) != CLI_EXIT_OK)
            return CLI_EXIT_USAGE;
    }
    watch_state w;
    memset(&w, 0, sizeof w);
    uint64_t from = 0;
    const char *fromarg = cli_arg(a, "from");
    if (fromarg && cli_parse_u64("--from", fromarg, 0, UINT64_MAX - 1, &from, err) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    const char *countarg = cli_arg(a, "count");
    if (countarg && cli_parse_u64("--count", countarg, 1, UINT64_MAX, &w.count, err) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    cli_rpc *rpc;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    int failures = 0, connected_once = 0;
    for (;;) {
        char path[1100];
        snprintf(path, sizeof path, "%s", base);
        if (w.id[0] == '\0' && fromarg) {
            char n[24];
            snprintf(n, sizeof n, "%llu", (unsigned long long)from);
            if (append_param(path, sizeof path, "from", n, err) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
        }
        cli_stream *s = NULL;
        rc = cli_rpc_stream_open(rpc, path, w.id[0] ? w.id : NULL, &s, err);
        if (rc == CLI_EXIT_OK) {
            connected_once = 1;
            failures = 0;
            int r = follow(ctx, s, &w, err);
            cli_stream_free(s);
            if (r == 1)
                return CLI_EXIT_OK;
            if (r == -2)
                return err->exit;
            /* the node ended the stream or went silent: resume after w.id */
            if (r == 0)
                cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s ended the stream", cli_rpc_url(rpc));
        } else if (rc == CLI_EXIT_USAGE || !connected_once) {
            return rc; /* a bad filter, or no node to follow */
        }
        if (++failures > WATCH_RETRIES)
            return CLI_EXIT_UNAVAILABLE;
        fprintf(stderr, "permit: %s; reconnecting%s%s\n", err->msg, w.id[0] ? " after event " : "",
                w.id);
        sleep_ms(failures < 5 ? 500L * failures : 3000L);
    }
}

static const cli_option watch_opts[] = {
    {"license", "LICENSE", 0, "only this license's events and reminders"},
    {"department", "ID", 0, "only licenses with a permit item of this department"},
    {"kind", "KIND", 0, "only this kind: APPLY, APPROVE, ... or reminder"},
    {"from", "N", 0, "start at event N of the event log (0: the whole log); default: new events"},
    {"count", "N", 0, "exit (0) after N messages"},
    {NULL},
};

const cli_command cli_watch_commands[] = {
    {"watch", "", 0, 0, watch_opts, 0, 0,
     "follow the committed events and renewal reminders as they happen (GET /events)",
     "One line per event (one JSON object per line with --json).  After a disconnect it "
     "reconnects and resumes after the last event it printed (Last-Event-ID), so nothing is "
     "missed or shown twice; it gives up (exit 3) after 10 failed reconnections in a row.",
     cmd_watch},
    {NULL},
};
