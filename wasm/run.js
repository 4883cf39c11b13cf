// wasm/run.js: run the browser verifier under node.js, as the page does:
//   node wasm/run.js VERIFIER_DIR GENESIS BUNDLE NOW_MS
// prints the verdict JSON (wasm/verifier.c); exit 0 verified, 4 failed.
'use strict';
const fs = require('fs');
const path = require('path');
const [dir, gfile, bfile, now] = process.argv.slice(2);
const factory = require(path.resolve(dir, 'verifier.js'));
// the wasm bytes are handed over: emscripten 3.1.6's loader would try
// node's fetch() on a file path
factory({ wasmBinary: fs.readFileSync(path.join(dir, 'verifier.wasm')) }).then((m) => {
  const put = (buf) => {
    const p = m._pv_alloc(buf.length);
    m.HEAPU8.set(buf, p);
    return p;
  };
  const g = fs.readFileSync(gfile), b = fs.readFileSync(bfile);
  const gp = put(g), bp = put(b);
  const out = m._pv_verify(gp, g.length, bp, b.length, Number(now));
  m._pv_free(gp);
  m._pv_free(bp);
  if (!out) { console.error('out of memory'); process.exit(1); }
  const s = m.UTF8ToString(out);
  m._pv_free(out);
  console.log(s);
  process.exit(JSON.parse(s).verified ? 0 : 4);
});
