/* cli/i18n.c: the CLI's words in Chinese when the locale asks for it
 * (i18n.h).  A table, not gettext: the words are few, the binary carries
 * them, and nothing is looked up on disk. */
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

static int g_zh = -1; /* unknown until first asked */

static int locale_is_zh(void)
{
    /* POSIX precedence: the first of these that is set and not empty */
    const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strncmp(v, "zh", 2) == 0;
    }
    return 0;
}

int cli_zh(void)
{
    if (g_zh < 0)
        g_zh = locale_is_zh();
    return g_zh;
}

typedef struct {
    const char *en, *zh;
} pair;

/* labels, column heads, sections, statuses and decisions; sorted by en */
static const pair WORDS[] = {
    {"APPLIED", "申请时间"},
    {"APPROVED", "准予许可"},
    {"Addresses", "经营地址"},
    {"Applied", "申请时间"},
    {"Block", "区块"},
    {"Block hash", "区块哈希"},
    {"Block time", "区块时间"},
    {"CANCELLED", "已注销"},
    {"COMMITTED", "告知承诺准予"},
    {"Chain", "区块链"},
    {"Commit", "共识证书"},
    {"Commitment", "告知承诺"},
    {"Documents", "材料"},
    {"EXPIRED", "已过期"},
    {"EXPIRES", "有效期至"},
    {"Expires", "有效期至"},
    {"Hash", "哈希"},
    {"Head", "最新事件"},
    {"Height", "高度"},
    {"Holder key", "持证主体密钥"},
    {"ID", "编号"},
    {"INDUSTRY", "行业"},
    {"INSTANT", "秒批准予"},
    {"ISSUED", "有效"},
    {"ISSUED_UNVERIFIED", "有效（告知承诺，待核查）"},
    {"Industry", "行业"},
    {"Instant", "秒批"},
    {"Issued", "发证时间"},
    {"Kind", "类型"},
    {"Last commit", "上一证书"},
    {"Legal rep", "法定代表人"},
    {"License", "许可证"},
    {"Log root", "日志根"},
    {"Log size", "日志长度"},
    {"Mempool", "待处理交易"},
    {"NAME", "名称"},
    {"Name", "名称"},
    {"Node", "节点"},
    {"OVERDUE", "逾期未核查"},
    {"PENDING", "审批中"},
    {"Peers", "连接节点"},
    {"Permit items", "许可事项"},
    {"Pledge", "承诺书"},
    {"Previous", "上一区块"},
    {"Proposer", "提议者"},
    {"REJECTED", "不予许可"},
    {"REVOKED", "已撤销"},
    {"Role", "角色"},
    {"STATUS", "状态"},
    {"SUSPENDED", "暂停"},
    {"Scope", "经营范围"},
    {"Seq", "事件数"},
    {"Signer", "签名者"},
    {"State root", "状态根"},
    {"Status", "状态"},
    {"Syncing", "同步中"},
    {"Time", "时间"},
    {"Transactions", "交易"},
    {"Tx", "交易"},
    {"Tx root", "交易根"},
    {"USCC", "统一社会信用代码"},
    {"Validators", "验证节点"},
    {"Version", "版本"},
    {"WAITING", "已等待"},
};

static int cmp_pair(const void *k, const void *p)
{
    return strcmp((const char *)k, ((const pair *)p)->en);
}

const char *cli_tr(const char *en)
{
    if (en == NULL || !cli_zh())
        return en;
    const pair *p = bsearch(en, WORDS, sizeof WORDS / sizeof WORDS[0], sizeof WORDS[0],
                            cmp_pair);
    return p ? p->zh : en;
}

/* what a refusal means, for the rules a registrar or a department meets
 * at the desk; sorted by rule name */
static const pair RULES[] = {
    {"address_limit", "地址数量已达上限"},
    {"body_malformed", "交易格式错误"},
    {"commitment_not_allowed", "该行业不适用告知承诺"},
    {"department_not_owner", "该部门不负责此许可事项"},
    {"evidence_invalid", "核查材料不符合要求"},
    {"holder_key_invalid", "持证主体密钥无效"},
    {"industry_unknown", "行业不在事项清单中"},
    {"item_already_decided", "该许可事项已作出决定"},
    {"license_duplicate", "该统一社会信用代码在此行业已有未终结的许可证"},
    {"license_events_full", "该许可证的记录已达上限"},
    {"license_expired", "许可证已过期"},
    {"license_not_active", "许可证不在有效状态"},
    {"license_not_found", "没有这个许可证"},
    {"license_not_pending", "许可证不在审批中"},
    {"license_overdue", "告知承诺核查已逾期，须先完成核查"},
    {"pledge_invalid", "承诺书签名无效"},
    {"pledge_required", "告知承诺须附持证主体签署的承诺书"},
    {"renew_window", "不在延续办理期内"},
    {"signature_invalid", "签名无效"},
    {"signer_not_department", "签名者不是部门"},
    {"signer_not_holder", "签名者不是持证主体"},
    {"signer_not_registrar", "签名者不是登记窗口"},
    {"timestamp_window", "交易时间与区块时间相差过大（请检查签名设备的时钟）"},
    {"tx_duplicate", "重复提交的交易"},
    {"uscc_invalid", "统一社会信用代码无效"},
};

const char *cli_rule_words(const char *rule)
{
    if (rule == NULL || !cli_zh())
        return NULL;
    const pair *p = bsearch(rule, RULES, sizeof RULES / sizeof RULES[0], sizeof RULES[0],
                            cmp_pair);
    return p ? p->zh : NULL;
}
