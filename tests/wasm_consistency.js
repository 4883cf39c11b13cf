// tests/wasm_consistency.js: the browser verifier (wasm/verifier.c under
// node.js) and `permit audit --bundle` give the same verdict on the same
// bundle: each seed bundle of tests/fuzz/corpus/bundle as it is and with one
// byte flipped at a dozen places.  Verified: the same report, field for
// field (permit audit --json); failed: the same check, block/event and
// reason (the CLI's message holds the wasm verifier's line).
//   node tests/wasm_consistency.js WASM_DIR PERMIT_BIN GENESIS BUNDLE...
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');
const { spawnSync } = require('child_process');

const [dir, permit, genesis, ...bundles] = process.argv.slice(2);
const NOW = 1800000000000;
const factory = require(path.resolve(dir, 'verifier.js'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-consistency-'));

factory({ wasmBinary: fs.readFileSync(path.join(dir, 'verifier.wasm')) }).then((m) => {
  const g = fs.readFileSync(genesis);
  const wasm = (b) => {
    const gp = m._pv_alloc(g.length), bp = m._pv_alloc(b.length);
    m.HEAPU8.set(g, gp);
    m.HEAPU8.set(b, bp);
    const out = m._pv_verify(gp, g.length, bp, b.length, NOW);
    m._pv_free(gp);
    m._pv_free(bp);
    assert.ok(out, 'pv_verify ran out of memory');
    const s = m.UTF8ToString(out);
    m._pv_free(out);
    return JSON.parse(s);
  };
  const native = (b) => {
    const f = path.join(tmp, 'b');
    fs.writeFileSync(f, b);
    return spawnSync(permit, ['audit', '--bundle', f, '--genesis', genesis, '--json', '--now',
      String(NOW)], { encoding: 'utf8' });
  };
  let verified = 0, failed = 0;
  for (const file of bundles) {
    const orig = fs.readFileSync(file);
    const cases = [[-1, orig]];
    for (let i = 0; i < 12; i++) {
      const at = Math.floor(i * orig.length / 12) + (i % 5);
      if (at >= orig.length) continue;
      const t = Buffer.from(orig);
      t[at] ^= 1 << (i % 8);
      cases.push([at, t]);
    }
    for (const [at, b] of cases) {
      const what = `${path.basename(file)} ${at < 0 ? 'as it is' : 'flipped at ' + at}`;
      const n = native(b), w = wasm(b);
      if (n.status === 0) {
        assert.strictEqual(w.verified, true, `${what}: native verified, wasm: ${w.message}`);
        const nj = JSON.parse(n.stdout);
        delete nj.evidence;
        for (const k of Object.keys(nj))
          assert.deepStrictEqual(w[k], nj[k], `${what}: field ${k} differs`);
        verified++;
      } else {
        assert.strictEqual(n.status, 4, `${what}: permit audit exited ${n.status}: ${n.stderr}`);
        assert.strictEqual(w.verified, false, `${what}: native failed (${n.stderr.trim()}), ` +
          'wasm verified');
        assert.ok(n.stderr.includes(w.message), `${what}: native says ${n.stderr.trim()}; ` +
          `wasm says ${w.message}`);
        failed++;
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.ok(verified >= 2 && failed >= 10, `too few of each verdict (${verified}, ${failed})`);
  console.log(`wasm and native agree: ${verified} verified, ${failed} failed`);
});
