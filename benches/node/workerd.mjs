// keyseal (wasm) vs jose inside the real workerd runtime (Miniflare), token verify.
//
//   cd benches/node && npm install && node workerd.mjs
import { readFileSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import * as keyseal from "keyseal";
import { CLAIMS, SECRET, fmt, table } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const mf = new Miniflare({
  modules: true,
  scriptPath: join(here, "worker", "bench-worker.mjs"),
  modulesRoot: root,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2025-09-01",
});
await mf.ready;
const token = new keyseal.Keyset(new keyseal.TokenKey("k1", SECRET)).issue(CLAIMS);

async function timed(lib, n) {
  const t0 = process.hrtime.bigint();
  const res = await mf.dispatchFetch(`http://localhost/?lib=${lib}&n=${n}`, { method: "POST", body: token });
  const ok = Number(await res.text());
  if (ok !== n) throw new Error(`${lib}: ${ok} of ${n} calls succeeded`);
  return Number(process.hrtime.bigint() - t0);
}

/** ns per call: median over 7 runs of (time(n) - time(0)) / n, timed from outside. */
async function perOp(lib, n) {
  await timed(lib, n); // warm up (JIT, key import)
  const out = [];
  for (let r = 0; r < 7; r++) {
    const base = await timed(lib, 0);
    out.push(((await timed(lib, n)) - base) / n);
  }
  return out.sort((a, b) => a - b)[3];
}

const results = { "keyseal (wasm)": await perOp("keyseal", 20000), "jose (WebCrypto CryptoKey)": await perOp("jose", 5000) };
// What bounds keyseal here: HMAC-SHA256 over the signing input alone, in software in the
// wasm build (no SHA instructions in wasm) vs WebCrypto's native HMAC.
const floors = {
  "keyseal hmacSha256 over the signing input (wasm)": await perOp("keyseal-hmac", 20000),
  "crypto.subtle.sign HMAC over the signing input": await perOp("webcrypto-hmac", 20000),
};
await mf.dispose();

const k = results["keyseal (wasm)"];
console.log(`Node ${process.version} driving workerd (Miniflare); load average ${loadavg()[0].toFixed(2)}; median of 7 runs.\n`);
console.log("Token verify inside workerd (Miniflare), HS256, signature + exp/nbf/aud/iss\n");
console.log(
  table(["library", "ns/op", "k ops/s", "time vs keyseal"], Object.entries(results).map(([n, ns]) => [n, fmt(ns), fmt(1e9 / ns / 1000), `${(ns / k).toFixed(2)}x`])),
);
console.log("\nHMAC-SHA256 alone inside workerd\n");
console.log(table(["implementation", "ns/op"], Object.entries(floors).map(([n, ns]) => [n, fmt(ns)])));
const wasm = join(root, "packages", "npm", "dist", "wasm", "keyseal_wasm_bg.wasm");
const raw = statSync(wasm).size;
const gz = gzipSync(readFileSync(wasm), { level: 9 }).length;
console.log(`\nShipped .wasm (after wasm-opt -Oz): ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip -9\n`);
console.log(
  table(["target", "measured", "goal", ""], [
    ["jose verify / keyseal verify in workerd", `${(results["jose (WebCrypto CryptoKey)"] / k).toFixed(1)}x`, ">= 10x", results["jose (WebCrypto CryptoKey)"] / k >= 10 ? "met" : "MISSED"],
    [".wasm size", `${(raw / 1024).toFixed(1)} KiB`, "<= 150 KB", raw <= 150 * 1000 ? "met" : "MISSED"],
  ]),
);
