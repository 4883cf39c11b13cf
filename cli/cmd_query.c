/* cli/cmd_query.c: read-only commands over the public RPC: status, show,
 * history, address list, search, pending, expiring, overdue. */
#include "commands.h"

#include <ctype.h>
#include <string.h>

#include "ledger/license.h"
#include "output.h"
#include "rpc_client.h"

int cli_query(cli_ctx *ctx, const char *method, json_t *params,
              void (*human)(FILE *, json_t *), cli_error *err)
{
    cli_rpc *rpc;
    json_t *res = NULL;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc == CLI_EXIT_OK)
        rc = cli_rpc_call(rpc, method, params, 0, &res, err);
    json_decref(params);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (ctx->json)
        cli_print_json(stdout, res);
    else
        human(stdout, res);
    json_decref(res);
    return CLI_EXIT_OK;
}

/* {"id": LICENSE}; NULL (usage error) when LICENSE is not UTF-8 text. */
static json_t *id_param(const cli_args *a, cli_error *err)
{
    json_t *p = json_pack("{s:s}", "id", a->pos[0]);
    if (p == NULL)
        cli_fail(err, CLI_EXIT_USAGE, "%s: LICENSE is not valid UTF-8 text", a->cmd->name);
    return p;
}

static int cmd_status(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)a;
    return cli_query(ctx, "status", NULL, cli_print_status, err);
}

static int cmd_show(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = id_param(a, err);
    return p ? cli_query(ctx, "license.get", p, cli_print_license, err) : CLI_EXIT_USAGE;
}

static int cmd_history(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = id_param(a, err);
    return p ? cli_query(ctx, "license.history", p, cli_print_history, err) : CLI_EXIT_USAGE;
}

static int cmd_address_list(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    cli_rpc *rpc;
    json_t *res = NULL, *p = id_param(a, err);
    if (p == NULL)
        return CLI_EXIT_USAGE;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc == CLI_EXIT_OK)
        rc = cli_rpc_call(rpc, "license.get", p, 0, &res, err);
    json_decref(p);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (ctx->json) {
        json_t *o = json_object();
        json_t *addrs = json_object_get(res, "addresses");
        json_object_set(o, "id", json_object_get(res, "id") ? json_object_get(res, "id")
                                                            : json_null());
        json_object_set(o, "addresses", addrs ? addrs : json_null());
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        cli_print_addresses(stdout, res);
    }
    json_decref(res);
    return CLI_EXIT_OK;
}

/* Add --limit and --cursor to params. */
static int paging(const cli_args *a, json_t *p, cli_error *err)
{
    const char *lim = cli_arg(a, "limit"), *cur = cli_arg(a, "cursor");
    if (lim) {
        uint64_t v;
        int rc = cli_parse_u64("--limit", lim, 1, 1000, &v, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        json_object_set_new(p, "limit", json_integer((json_int_t)v));
    }
    if (cur) {
        if (cur[0] == '\0')
            return cli_fail(err, CLI_EXIT_USAGE, "--cursor: empty");
        json_object_set_new(p, "cursor", json_string(cur));
    }
    return CLI_EXIT_OK;
}

/* Copy a string option into params; refuses invalid UTF-8 (jansson would). */
static int str_param(const cli_args *a, const char *opt, json_t *p, const char *key,
                     cli_error *err)
{
    const char *v = cli_arg(a, opt);
    if (v == NULL)
        return CLI_EXIT_OK;
    json_t *s = json_string(v);
    if (s == NULL)
        return cli_fail(err, CLI_EXIT_USAGE, "--%s: not valid UTF-8 text", opt);
    json_object_set_new(p, key, s);
    return CLI_EXIT_OK;
}

static int cmd_search(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = json_object();
    int rc;
    if ((rc = str_param(a, "uscc", p, "uscc", err)) != 0 ||
        (rc = str_param(a, "name", p, "name", err)) != 0 ||
        (rc = str_param(a, "address", p, "address", err)) != 0 ||
        (rc = str_param(a, "industry", p, "industry", err)) != 0 ||
        (rc = paging(a, p, err)) != 0)
        goto fail;
    const char *st = cli_arg(a, "status");
    if (st) {
        char up[32];
        size_t n = strlen(st);
        if (n >= sizeof up)
            n = sizeof up - 1;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)toupper((unsigned char)st[i]);
        up[n] = '\0';
        if (strlen(st) >= sizeof up || ledger_status_parse(up) < 0) {
            rc = cli_fail(err, CLI_EXIT_USAGE,
                          "--status: '%.40s' is not a status (PENDING, ISSUED_UNVERIFIED, "
                          "ISSUED, REJECTED, SUSPENDED, REVOKED, CANCELLED, EXPIRED, OVERDUE)", st);
            goto fail;
        }
        json_object_set_new(p, "status", json_string(up));
    }
    return cli_query(ctx, "license.search", p, cli_print_list, err);
fail:
    json_decref(p);
    return rc;
}

static int cmd_pending(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = json_object();
    int rc;
    if ((rc = str_param(a, "department", p, "department", err)) != 0 ||
        (rc = paging(a, p, err)) != 0) {
        json_decref(p);
        return rc;
    }
    return cli_query(ctx, "license.pending", p, cli_print_list, err);
}

static int cmd_expiring(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint64_t days;
    int rc = cli_parse_u64("--within", cli_arg(a, "within"), 0, 3650, &days, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *p = json_pack("{s:I}", "within_days", (json_int_t)days);
    if ((rc = paging(a, p, err)) != 0) {
        json_decref(p);
        return rc;
    }
    return cli_query(ctx, "license.expiring", p, cli_print_list, err);
}

static int cmd_overdue(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = json_object();
    int rc = paging(a, p, err);
    if (rc != CLI_EXIT_OK) {
        json_decref(p);
        return rc;
    }
    return cli_query(ctx, "license.overdue", p, cli_print_list, err);
}

#define PAGING_OPTS                                                                      \
    {"limit", "N", 0, "at most N licenses, 1..1000 (node default 100)"},                 \
    {"cursor", "CURSOR", 0, "continue after a previous page (its next_cursor)"}

static const cli_option search_opts[] = {
    {"uscc", "CODE", 0, "applicant's unified social credit code (exact)"},
    {"name", "NAME", 0, "business name (prefix)"},
    {"address", "TEXT", 0, "any business address (prefix)"},
    {"industry", "CODE", 0, "industry code (exact)"},
    {"status", "STATUS", 0, "PENDING, ISSUED_UNVERIFIED, ISSUED, REJECTED, SUSPENDED, REVOKED, "
                            "CANCELLED, EXPIRED or OVERDUE"},
    PAGING_OPTS,
    {NULL},
};

static const cli_option pending_opts[] = {
    {"department", "ID", CLI_OPT_REQUIRED, "department id (e.g. market)"},
    PAGING_OPTS,
    {NULL},
};

static const cli_option expiring_opts[] = {
    {"within", "DAYS", CLI_OPT_REQUIRED, "expiring within this many days, 0..3650"},
    PAGING_OPTS,
    {NULL},
};

static const cli_option overdue_opts[] = {
    PAGING_OPTS,
    {NULL},
};

const cli_command cli_query_commands[] = {
    {"status", "", 0, 0, NULL, 0, 0, "the node's chain, height, validators, peers and mempool",
     NULL, cmd_status},
    {"show", "LICENSE", 1, 1, NULL, 0, 0, "a license: status, holder, addresses, permit items",
     "Times are China Standard Time (UTC+8).", cmd_show},
    {"history", "LICENSE", 1, 1, NULL, 0, 0, "every event of a license, oldest first", NULL,
     cmd_history},
    {"address list", "LICENSE", 1, 1, NULL, 0, 0, "the business addresses of a license",
     "With --json prints {id, addresses} from license.get.", cmd_address_list},
    {"search", "", 0, 0, search_opts, 0, 0, "find licenses by USCC, name, address, industry, "
     "status", "Filters combine; without any, lists every license page by page.", cmd_search},
    {"pending", "", 0, 0, pending_opts, 0, 0,
     "licenses with an item awaiting a department's decision or verification", NULL,
     cmd_pending},
    {"expiring", "", 0, 0, expiring_opts, 0, 0,
     "active licenses expiring within DAYS (renewal reminders)", NULL, cmd_expiring},
    {"overdue", "", 0, 0, overdue_opts, 0, 0,
     "commitment-route licenses past their verification deadline", NULL, cmd_overdue},
    {NULL},
};
