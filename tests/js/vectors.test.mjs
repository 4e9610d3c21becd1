// Every case in tests/vectors/ on three backends: the napi addon, the wasm build in Node,
// and the wasm build inside the real workerd runtime (Miniflare). Results must equal the
// vectors' expectations and be byte-for-byte the same on all backends.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { loadVectors, nodeBackends, startWorker, wantWorkerd } from "./helpers.mjs";
import { runVectorFiles } from "./vectors.mjs";

const files = loadVectors();
const expected = new Map();
for (const { name, data } of files) for (const c of data.cases ?? []) expected.set(`${name}/${c.id}`, c.expect);

const runs = [];
for (const b of await nodeBackends()) runs.push({ name: b.name, results: runVectorFiles(b.api, files) });

let mf;
if (wantWorkerd()) {
  mf = await startWorker("tests/js/worker/vector-worker.mjs");
  const res = await mf.dispatchFetch("http://localhost/vectors", { method: "POST", body: JSON.stringify(files) });
  assert.equal(res.status, 200, "the vector worker answered");
  runs.push({ name: "wasm-workerd", results: await res.json() });
}
after(async () => mf?.dispose());

/** Canonical JSON (sorted keys) so "compare as JSON values" ignores key order. */
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

for (const run of runs) {
  describe(`vectors on ${run.name}`, () => {
    test("ran every case", () => assert.equal(run.results.length, expected.size));
    for (const r of run.results) {
      test(`${r.op} ${r.file} ${r.id}`, () => {
        assert.equal(r.got.failure, undefined, r.got.failure);
        assert.deepEqual(canon(r.got), canon(expected.get(`${r.file}/${r.id}`)));
      });
    }
  });
}

test("all backends return byte-identical results", () => {
  assert.ok(runs.length >= 1);
  const first = JSON.stringify(runs[0].results);
  for (const run of runs.slice(1)) assert.equal(JSON.stringify(run.results), first, `${run.name} differs from ${runs[0].name}`);
});
