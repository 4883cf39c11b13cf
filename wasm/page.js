// wasm/page.js: the e-license page's own script (DESIGN §12).  It fetches
// the genesis file, the license's proof bundle and the verifier from the
// site that served the page, runs the audit of `permit audit` compiled to
// WebAssembly (verifier.js, wasm/verifier.c) in the visitor's browser, and
// says in words what it verified or which check failed.
//
// The trust anchor is the genesis file's SHA-256 that the QR code carries
// after the page URL (#<chain id>:<genesis hash>): a site that serves
// another chain's genesis, a forged bundle or altered pages cannot make the
// page say "verified" for a code printed on the license.  Opened without
// the fragment, the page falls back to the hash the site itself states, and
// says so.
//
// Nothing from the ledger is written as markup: every value is text
// (textContent).  The verdict is also left on the box as data-* attributes
// (verdict, status, check, ms) for the browser tests.
'use strict';
(function () {
  const box = document.getElementById('pv');
  if (!box) return;
  const t0 = performance.now();

  const STATUS = {
    PENDING: '审批中', ISSUED_UNVERIFIED: '有效（告知承诺，待核查）', ISSUED: '有效',
    REJECTED: '不予许可', SUSPENDED: '暂停', REVOKED: '已撤销', CANCELLED: '已注销',
    EXPIRED: '已过期', OVERDUE: '逾期未核查（告知承诺事项尚未全部核查）',
  };
  const DECISION = {
    PENDING: '待审批', APPROVED: '准予许可', REJECTED: '不予许可', COMMITTED: '告知承诺准予许可',
    INSTANT: '秒批（账本规则准予，无需核查）',
  };
  const CHECK = {
    bundle: '证明包格式', certificate: '区块签名（共识证书）', log: '事件日志包含证明',
    chain: '事件哈希链', state: '状态证明', replay: '规则重放', consistency: '日志一致性',
    rollback: '回滚检查', freshness: '时效检查',
  };

  function clear() {
    while (box.lastChild && box.lastChild.tagName !== 'H2') box.removeChild(box.lastChild);
  }
  function line(text, cls) {
    const p = document.createElement('p');
    if (cls) p.className = cls;
    p.textContent = text;
    box.appendChild(p);
    return p;
  }
  function finish(verdict, extra) {
    box.dataset.verdict = verdict;
    for (const k in extra || {}) box.dataset[k] = String(extra[k]);
    box.dataset.ms = String(Math.round(performance.now() - t0));
  }
  // ms since the epoch as Beijing time (UTC+8, no daylight saving), as the page prints dates
  function beijing(ms) {
    const d = new Date(Number(ms) + 8 * 3600 * 1000);
    const z = (n) => String(n).padStart(2, '0');
    return d.getUTCFullYear() + '年' + z(d.getUTCMonth() + 1) + '月' + z(d.getUTCDate()) + '日 ' +
      z(d.getUTCHours()) + ':' + z(d.getUTCMinutes()) + ':' + z(d.getUTCSeconds()) + '（北京时间）';
  }
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 120) return s + ' 秒';
    if (s < 7200) return Math.floor(s / 60) + ' 分钟';
    if (s < 172800) return Math.floor(s / 3600) + ' 小时';
    return Math.floor(s / 86400) + ' 天';
  }
  function fail(text, extra) {
    clear();
    line('✘ 核验失败', 'st bad');
    line(text);
    line('请勿信任本页显示的内容；可下载证明包，用 permit audit 离线核验。');
    finish('failed', extra);
  }

  // the anchor: the QR code's fragment, or the site's own word for it
  const chain = box.dataset.chain || '';
  let anchor = box.dataset.genesis || '';
  let fromQr = false;
  let frag = '';
  try { frag = decodeURIComponent(location.hash.slice(1)); } catch (e) { frag = ''; }
  if (frag) {
    const at = frag.lastIndexOf(':');
    const qrChain = at >= 0 ? frag.slice(0, at) : frag;
    const qrHash = at >= 0 ? frag.slice(at + 1).toLowerCase() : '';
    if (qrChain !== chain) {
      fail('二维码所指的区块链（' + qrChain + '）不是本站的区块链（' + chain + '）。',
           { check: 'chain_id' });
      return;
    }
    if (/^[0-9a-f]{64}$/.test(qrHash)) {
      anchor = qrHash;
      fromQr = true;
    }
  }

  async function bytes(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'omit' });
    if (!r.ok) throw new Error(url + '：HTTP ' + r.status);
    return new Uint8Array(await r.arrayBuffer());
  }

  async function run() {
    const id = box.dataset.license;
    const [g, b, w] = await Promise.all([
      bytes('/genesis.json'), bytes('/l/' + encodeURIComponent(id) + '/bundle'),
      bytes('/verifier.wasm')]);
    if (typeof PermitVerifier !== 'function') throw new Error('核验组件未加载');
    const m = await PermitVerifier({ wasmBinary: w });
    const put = (a) => { const p = m._pv_alloc(a.length); m.HEAPU8.set(a, p); return p; };
    const gp = put(g), bp = put(b);
    const out = m._pv_verify(gp, g.length, bp, b.length, Date.now());
    m._pv_free(gp);
    m._pv_free(bp);
    if (!out) throw new Error('内存不足');
    const v = JSON.parse(m.UTF8ToString(out));
    m._pv_free(out);
    return v;
  }

  function show(v) {
    if (v.genesis_hash && v.genesis_hash !== anchor) {
      fail((fromQr ? '本站提供的创世文件与二维码中的哈希不符' : '本站提供的创世文件与页面所示哈希不符') +
           '：它不是这张证照所属区块链的创世文件。', { check: 'genesis' });
      return;
    }
    if (!v.verified) {
      const name = CHECK[v.check_name] || v.check_name;
      fail('第 ' + v.check + ' 项检查（' + name + '）未通过' +
           (v.height ? '（区块 ' + v.height + '）' : '') + '：' + v.reason,
           { check: v.check_name });
      return;
    }
    if (v.license_id !== box.dataset.license) {
      fail('证明包证明的是另一张证照（' + v.license_id + '）。', { check: 'license' });
      return;
    }
    clear();
    const now = v.status_now && v.status_now !== v.status ? v.status_now : v.status;
    line('✔ 已在您的浏览器中核验', 'st ok');
    line('状态：' + (STATUS[now] || now) + (now !== v.status ? '（按当前时间；区块中为' +
         (STATUS[v.status] || v.status) + '）' : ''), now === 'ISSUED' ||
         now === 'ISSUED_UNVERIFIED' ? 'ok' : 'bad');
    line('持证主体：' + v.name + '（' + v.uscc + '）');
    const items = (v.items || []).map((it) => it.department_name + '：' + it.permit + '，' +
      (DECISION[it.decision] || it.decision) + (it.decision === 'COMMITTED' ?
        (it.verified ? '（已核查）' : '（待核查）') : ''));
    if (items.length) line('审批部门：' + items.join('；'));
    line('本证照的全部 ' + v.events + ' 条记录完整、未被篡改，每条都由当时有权的密钥签署；' +
         '截至区块高度 ' + v.height + '，' + beijing(v.time) + '。');
    const signers = (v.certified_by || []).map((s) => s.name);
    line('该区块由 ' + signers.join('、') + ' 的验证节点共同签署（' + signers.length + '/' +
         v.validators + '）。');
    if (v.stale) {
      line('注意：该区块距今已有 ' + duration(v.age_ms) + '，超过三个心跳周期，本站的数据可能不是最新的。',
           'bad');
    }
    line(fromQr ? '创世文件与二维码中的哈希一致：' + anchor.slice(0, 16) + '…'
                : '未经二维码打开：创世文件的哈希取自本站（' + anchor.slice(0, 16) +
                  '…）。扫描证照上的二维码，可对照区块链的创世文件核验。', 'mono');
    finish('verified', { status: now, height: v.height, stale: v.stale ? 1 : 0 });
  }

  run().then(show, (e) => {
    clear();
    line('✘ 无法完成核验：' + (e && e.message ? e.message : String(e)), 'st bad');
    finish('error', { check: 'fetch' });
  });
})();
