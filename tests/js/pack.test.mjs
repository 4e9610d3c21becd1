// What users install is what is tested: `npm pack` the package, install the tarball in a
// fresh folder, and load it with ESM `import` and CJS `require` (napi), plus `keyseal/wasm`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PKG } from "./helpers.mjs";

let dir;
let tarball;
const run = (args, cwd) => execFileSync(args[0], args.slice(1), { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

before(() => {
  dir = mkdtempSync(join(tmpdir(), "keyseal-pack-"));
  const packed = JSON.parse(run(["npm", "pack", "--json", "--pack-destination", dir], PKG));
  tarball = { path: join(dir, packed[0].filename), files: packed[0].files.map((f) => f.path).sort() };
  const app = join(dir, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
  run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", tarball.path], app);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the tarball holds the built addon, the wasm build, types and sources only", () => {
  assert.deepEqual(tarball.files, [
    "README.md",
    "dist/api.cjs",
    "dist/keyseal.node",
    "dist/wasm/keyseal_wasm.js",
    "dist/wasm/keyseal_wasm_bg.wasm",
    "index.d.ts",
    "package.json",
    "src/api.mjs",
    "src/client.mjs",
    "src/node.cjs",
    "src/node.mjs",
    "src/status.mjs",
    "src/verified.mjs",
    "src/wasm-node.mjs",
    "src/wasm.mjs",
  ]);
});

const SCRIPT = `
  const ks = new k.Keyset(new k.TokenKey("k1", "0123456789abcdef0123456789abcdef"));
  const t = ks.issue({ sub: "u", exp: 2000000000 });
  let code;
  try { k.parseKey("nope"); } catch (e) { code = e.name + ":" + e.code; }
  console.log(JSON.stringify({ backend: k.BACKEND, version: k.VERSION, sub: ks.verify(t, { now: 1 }).claims.sub, code }));
`;

function runIn(kind, source) {
  const args = kind === "esm" ? ["node", "--input-type=module", "-e", source] : ["node", "-e", source];
  return JSON.parse(run(args, join(dir, "app")).trim().split("\n").pop());
}

test("CommonJS require('keyseal') loads the napi addon", () => {
  const out = runIn("cjs", `const k = require("keyseal");${SCRIPT}`);
  const version = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")).version;
  assert.deepEqual(out, { backend: "napi", version, sub: "u", code: "MalformedError:malformed_key" });
});

test("ESM import 'keyseal' loads the same napi instance as require", () => {
  const out = runIn(
    "esm",
    `import * as k from "keyseal"; import d from "keyseal"; import { createRequire } from "node:module";
     if (createRequire(import.meta.url)("keyseal") !== d) throw new Error("ESM and CJS differ");
     if (k.KeyFormat !== d.KeyFormat) throw new Error("named and default exports differ");${SCRIPT}`,
  );
  assert.equal(out.backend, "napi");
  assert.equal(out.code, "MalformedError:malformed_key");
});

test("import 'keyseal/wasm' loads the wasm build in Node", () => {
  const out = runIn("esm", `import * as k from "keyseal/wasm";${SCRIPT}`);
  assert.equal(out.backend, "wasm");
  assert.equal(out.sub, "u");
});

test("the README's metering example runs as pasted and prints what its comments say", () => {
  const readme = readFileSync(join(PKG, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Metering in-process"));
  const block = /```js\n([\s\S]*?)```/.exec(section)[1];
  // Each console.log line ends with `// <what it prints>`.
  const want = [...block.matchAll(/^console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
  assert.ok(want.length >= 3, "the example prints its results");
  const got = run(["node", "--input-type=module", "-e", block], join(dir, "app")).trimEnd().split("\n");
  assert.deepEqual(got, want);
});
