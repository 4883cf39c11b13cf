// tests/browser.js: the e-license page in Debian's headless chromium (issue
// 12): the page of an issued license verifies in the browser, a revoked one
// shows revoked, a bundle with one flipped byte (served by a proxy in front
// of the site) shows the failing check, a genesis hash the QR code does not
// carry is refused, a hostile name is text and opens no dialog, the QR code
// in a screenshot decodes (zbarimg) to the page's URL, and the page prints on
// one A4 sheet (pdfinfo).  Prints the time to verified.
//
// It drives chromium over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ended by a NUL byte, fd 3 to the
// browser, fd 4 from it), so it needs nothing but node.js.
//
//   node tests/browser.js SPEC.json
// SPEC: {"site", "chain", "genesis_hash", "issued", "revoked", "hostile",
//        "hostile_name"}.  Exit 0 when every case passed, 1 otherwise.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const assert = require('assert');
const { spawn, execFileSync } = require('child_process');

//   node tests/browser.js --verdict URL
// opens one page and prints what its verification box says (make demo);
// exit 0 verified, 4 otherwise.
const verdictOnly = process.argv[2] === '--verdict';
const spec = verdictOnly ? {} : JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'permit-browser-'));
const WAIT_MS = 60000;

// ---- the DevTools protocol over a pipe ----

// End chromium and every process it started (they share its group), then
// remove the profile; a helper still closing its files is waited for.
let running = null; // the chromium process group, for the exits on failure

function killRunning() {
  if (running) try { process.kill(-running.pid, 'SIGKILL'); } catch (e) { /* gone */ }
}

async function stop(cdp) {
  const gone = new Promise((r) => cdp.proc.once('exit', r));
  try { process.kill(-cdp.proc.pid, 'SIGKILL'); } catch (e) { cdp.proc.kill('SIGKILL'); }
  await gone;
}

function removeTmp() {
  try {
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  } catch (e) {
    console.log('note: ' + tmp + ' not removed: ' + e.message);
  }
}

function launch() {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--remote-debugging-pipe', '--user-data-dir=' + path.join(tmp, 'profile'), '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--hide-scrollbars', '--mute-audio',
    'about:blank'];
  // its own process group: stop() ends the renderers and helpers with it
  const proc = spawn(process.env.CHROMIUM || 'chromium', args,
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  running = proc;
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-8000); });
  const cdp = { proc, next: 0, pending: new Map(), listeners: [], log: () => log };
  let buf = Buffer.alloc(0);
  proc.stdio[4].on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (let i; (i = buf.indexOf(0)) >= 0; buf = buf.subarray(i + 1)) {
      const m = JSON.parse(buf.subarray(0, i).toString('utf8'));
      if (m.id !== undefined) {
        const p = cdp.pending.get(m.id);
        cdp.pending.delete(m.id);
        if (p && m.error) p.reject(new Error(p.method + ': ' + m.error.message));
        else if (p) p.resolve(m.result);
      } else {
        for (const f of cdp.listeners) f(m);
      }
    }
  });
  proc.on('exit', (code) => {
    for (const p of cdp.pending.values()) p.reject(new Error('chromium exited (' + code + ')'));
    cdp.pending.clear();
  });
  cdp.send = (method, params, sessionId) => new Promise((resolve, reject) => {
    const id = ++cdp.next;
    const m = { id, method, params: params || {} };
    if (sessionId) m.sessionId = sessionId;
    cdp.pending.set(id, { resolve, reject, method });
    proc.stdio[3].write(JSON.stringify(m) + '\0');
  });
  return cdp;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fresh tab at `url`; resolves when the page has left a verdict.  With
// `clockMs`, the page's clock starts there (a visitor whose clock is ahead).
async function open(cdp, url, clockMs) {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const tab = { cdp, targetId, sessionId, dialogs: [] };
  cdp.listeners.push((m) => {
    if (m.sessionId === sessionId && m.method === 'Page.javascriptDialogOpening') {
      tab.dialogs.push(m.params.message);
      cdp.send('Page.handleJavaScriptDialog', { accept: true }, sessionId).catch(() => {});
    }
  });
  await cdp.send('Page.enable', {}, sessionId);
  await cdp.send('Emulation.setDeviceMetricsOverride',
    { width: 900, height: 1300, deviceScaleFactor: 1, mobile: false }, sessionId);
  if (clockMs) {
    // the clock is the renderer's: load the site's origin first, so the page
    // below stays in the process the policy is set on
    const loaded = new Promise((resolve) => cdp.listeners.push((m) => {
      if (m.sessionId === sessionId && m.method === 'Page.loadEventFired') resolve();
    }));
    await cdp.send('Page.navigate', { url: new URL(url).origin + '/' }, sessionId);
    await loaded;
    await cdp.send('Emulation.setVirtualTimePolicy',
      { policy: 'advance', initialVirtualTime: clockMs / 1000 }, sessionId);
  }
  const t0 = Date.now();
  await cdp.send('Page.navigate', { url }, sessionId);
  const expr = `(() => {
    const b = document.getElementById('pv');
    if (!b || !b.dataset.verdict) return null;
    const row = [...document.querySelectorAll('th')].find((th) => th.textContent === '名称（持证主体）');
    return { data: Object.assign({}, b.dataset), text: b.innerText, now: Date.now(),
             scripts: [...document.scripts].map((s) => s.getAttribute('src')),
             name: row ? row.nextElementSibling.textContent : null };
  })()`;
  for (;;) {
    const r = await cdp.send('Runtime.evaluate', { expression: expr, returnByValue: true },
      sessionId);
    if (r.result && r.result.value) {
      tab.ms = Date.now() - t0;
      tab.page = r.result.value;
      return tab;
    }
    if (Date.now() - t0 > WAIT_MS) throw new Error('no verdict on ' + url + ' within ' + WAIT_MS + ' ms');
    await sleep(10);
  }
}

async function close(tab) {
  await tab.cdp.send('Target.closeTarget', { targetId: tab.targetId });
}

// ---- a proxy that flips one byte of every bundle it passes ----

function tamperingProxy(site) {
  const up = new URL(site);
  const server = http.createServer((req, res) => {
    const f = http.request({ host: up.hostname, port: up.port, path: req.url, method: req.method,
      headers: req.headers }, (r) => {
      const parts = [];
      r.on('data', (d) => parts.push(d));
      r.on('end', () => {
        const body = Buffer.concat(parts);
        if (/\/bundle$/.test(req.url) && body.length > 0) {
          body[body.length >> 1] ^= 0x01;
          server.flipped = (server.flipped || 0) + 1;
        }
        res.writeHead(r.statusCode, r.headers);
        res.end(body);
      });
    });
    f.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    f.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- the cases ----

const frag = '#' + spec.chain + ':' + spec.genesis_hash;
const page = (site, id, fragment) => site + '/l/' + id + (fragment === undefined ? frag : fragment);
const results = [];
let failures = 0;

async function check(name, fn) {
  try {
    const note = await fn();
    results.push('ok   ' + name + (note ? ': ' + note : ''));
  } catch (e) {
    failures++;
    results.push('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e));
  }
}

async function main() {
  const cdp = launch();
  const proxy = await tamperingProxy(spec.site);
  const proxied = 'http://127.0.0.1:' + proxy.address().port;
  const times = [];

  await check('an issued license verifies in the browser', async () => {
    for (let i = 0; i < 5; i++) { // the first load compiles the wasm; report all
      const t = await open(cdp, page(spec.site, spec.issued));
      assert.strictEqual(t.page.data.verdict, 'verified', t.page.text);
      assert.strictEqual(t.page.data.status, 'ISSUED');
      assert.match(t.page.text, /已在您的浏览器中核验/);
      assert.match(t.page.text, /状态：有效/);
      assert.match(t.page.text, /创世文件与二维码中的哈希一致/);
      assert.deepStrictEqual(t.page.scripts, ['/verifier.js', '/page.js']);
      times.push(t.ms);
      await close(t);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return 'time to verified ' + times.join(', ') + ' ms (median ' + sorted[2] + ' ms)';
  });

  await check('a revoked license shows revoked', async () => {
    const t = await open(cdp, page(spec.site, spec.revoked));
    assert.strictEqual(t.page.data.verdict, 'verified', t.page.text);
    assert.strictEqual(t.page.data.status, 'REVOKED');
    assert.match(t.page.text, /状态：已撤销/);
    await close(t);
  });

  await check('a bundle with one flipped byte shows the failing check', async () => {
    const t = await open(cdp, page(proxied, spec.issued));
    assert.ok(proxy.flipped >= 1, 'the proxy passed no bundle');
    assert.strictEqual(t.page.data.verdict, 'failed', t.page.text);
    assert.ok(t.page.data.check && t.page.data.check !== 'genesis', 'no check named');
    assert.match(t.page.text, /核验失败/);
    assert.match(t.page.text, /第 \d 项检查（.+）未通过/);
    await close(t);
    return 'check ' + t.page.data.check;
  });

  await check('a block older than three heartbeats is flagged', async () => {
    const t = await open(cdp, page(spec.site, spec.issued), Date.now() + 86400000);
    assert.strictEqual(t.page.data.verdict, 'verified', t.page.text);
    assert.strictEqual(t.page.data.stale, '1', 'page clock ' + new Date(t.page.now).toISOString());
    // virtual time may run ahead while the page waits: hours, at least a day
    assert.match(t.page.text, /注意：该区块距今已有 (?:(?:2[4-9]|[3-9]\d|\d{3,}) 小时|\d+ 天)，超过三个心跳周期/);
    await close(t);
  });

  await check('a genesis the QR code does not name is refused', async () => {
    const other = spec.genesis_hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const t = await open(cdp, page(spec.site, spec.issued, '#' + spec.chain + ':' + other));
    assert.strictEqual(t.page.data.verdict, 'failed', t.page.text);
    assert.strictEqual(t.page.data.check, 'genesis');
    assert.match(t.page.text, /与二维码中的哈希不符/);
    await close(t);
  });

  await check('opened without the QR code, the page says whose hash it used', async () => {
    const t = await open(cdp, page(spec.site, spec.issued, ''));
    assert.strictEqual(t.page.data.verdict, 'verified', t.page.text);
    assert.match(t.page.text, /未经二维码打开/);
    await close(t);
  });

  await check('a hostile name renders as text and runs nothing', async () => {
    const t = await open(cdp, page(spec.site, spec.hostile));
    assert.strictEqual(t.page.name, spec.hostile_name);
    assert.deepStrictEqual(t.page.scripts, ['/verifier.js', '/page.js']);
    assert.strictEqual(t.page.data.verdict, 'verified', t.page.text);
    assert.ok(t.page.text.includes('持证主体：' + spec.hostile_name), t.page.text);
    await sleep(200);
    assert.deepStrictEqual(t.dialogs, [], 'a dialog opened');
    await close(t);
  });

  await check('the QR code in a screenshot decodes to the page URL', async () => {
    const t = await open(cdp, page(spec.site, spec.issued));
    const shot = await cdp.send('Page.captureScreenshot', { format: 'png' }, t.sessionId);
    const png = path.join(tmp, 'page.png');
    fs.writeFileSync(png, Buffer.from(shot.data, 'base64'));
    const text = execFileSync('zbarimg', ['--raw', '-q', png]).toString().trim();
    assert.strictEqual(text, page(spec.site, spec.issued));
    await close(t);
    return text;
  });

  await check('the page prints on one A4 sheet', async () => {
    const t = await open(cdp, page(spec.site, spec.issued));
    const pdf = await cdp.send('Page.printToPDF', { preferCSSPageSize: true }, t.sessionId);
    const file = path.join(tmp, 'page.pdf');
    fs.writeFileSync(file, Buffer.from(pdf.data, 'base64'));
    const info = execFileSync('pdfinfo', [file]).toString();
    assert.match(info, /^Pages:\s+1$/m, info);
    assert.match(info, /^Page size:\s+[\d.]+ x [\d.]+ pts \(A4\)$/m, info);
    await close(t);
  });

  proxy.close();
  await stop(cdp);
  for (const r of results) console.log(r);
  if (failures) console.log('chromium said, last:\n' + cdp.log().slice(-2000));
  const sorted = [...times].sort((a, b) => a - b);
  if (sorted.length) console.log('time to verified: median ' + sorted[sorted.length >> 1] + ' ms');
}

async function verdict(url) {
  const cdp = launch();
  let ok = false;
  try {
    const t = await open(cdp, url);
    console.log(t.page.text.replace(/\n+/g, '\n').trim());
    console.log('(headless chromium: ' + t.page.data.verdict + ' in ' + t.ms + ' ms)');
    ok = t.page.data.verdict === 'verified';
  } finally {
    await stop(cdp);
    removeTmp();
  }
  process.exit(ok ? 0 : 4);
}

if (verdictOnly) {
  verdict(process.argv[3]).catch((e) => {
    console.log('FAIL: ' + e.message);
    killRunning();
    process.exit(1);
  });
  return;
}

const guard = setTimeout(() => {
  console.log('FAIL: the browser test took over 5 minutes');
  killRunning();
  process.exit(1);
}, 300000);
main().then(() => {
  clearTimeout(guard);
  removeTmp();
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  killRunning();
  process.exit(1);
});
