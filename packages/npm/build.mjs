// `npm run build`: builds the napi addon and the wasm build from this checkout and
// assembles dist/ (what `files` in package.json ships). scripts/test-js runs it too, so
// what the suite tests is what `npm run build && npm pack` makes.
//
//   node build.mjs                 both backends
//   node build.mjs --only napi     one of napi, wasm, js (dist/api.cjs only)
//
// Needs cargo, the wasm32-unknown-unknown target, the wasm-bindgen CLI of the exact
// version of the wasm-bindgen crate in Cargo.lock, and binaryen's wasm-opt (a dev
// dependency here: `npm install` first). Overrides: CARGO_TARGET_DIR, WASM_BINDGEN,
// WASM_OPT.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const dist = join(here, "dist");
const { values: args } = parseArgs({
  options: { only: { type: "string" } },
});
const want = (part) => !args.only || args.only === part;
if (args.only && !["napi", "wasm", "js"].includes(args.only)) {
  throw new Error(`--only takes napi, wasm or js, not ${args.only}`);
}

const fail = (message) => {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
};
const log = (message) => console.error(`\n== ${message}`);

// `cargo build` with JSON messages; returns the paths of the cdylib `crate` made.
function cargoBuild(crate, extraArgs, env) {
  const out = execFileSync(
    "cargo",
    ["build", "-p", crate, "--release", "--message-format=json-render-diagnostics", ...extraArgs],
    { cwd: root, env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 },
  );
  const files = out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((m) => m.reason === "compiler-artifact" && m.target.kind.includes("cdylib"))
    .flatMap((m) => m.filenames);
  if (files.length === 0) fail(`cargo built no cdylib for ${crate}`);
  return files;
}

// A tool from an environment variable, else `local` if it exists, else the PATH.
const tool = (envName, local, name) => process.env[envName] || (local && existsSync(local) ? local : name);

mkdirSync(dist, { recursive: true });

// api.mjs imports only sibling modules without imports of their own, and has one export
// line; CommonJS inlines the siblings and differs only in the export line.
const inline = (text) =>
  text.replace(/^import \{[^}]*\} from "\.\/([a-z-]+\.mjs)";\n/gm, (_, file) => {
    const sibling = readFileSync(join(here, "src", file), "utf8");
    const last = /^export \{[^}]*\};\n$/m.exec(sibling);
    if (!last || last.index + last[0].length !== sibling.length || /^import /m.test(sibling)) {
      fail(`src/${file} must have no imports and end with its single export line`);
    }
    return sibling.slice(0, last.index);
  });
const api = inline(readFileSync(join(here, "src", "api.mjs"), "utf8"));
if (/^import /m.test(api)) fail("src/api.mjs may import only sibling modules");
const exportLine = "export { createApi };\n";
if (!api.endsWith(exportLine) || /^export /m.exec(api).index !== api.lastIndexOf(exportLine)) {
  fail("src/api.mjs must end with its single `export { createApi };` line");
}
writeFileSync(
  join(dist, "api.cjs"),
  `"use strict";\n// Generated from src/api.mjs by build.mjs; do not edit.\n${api.slice(0, -exportLine.length)}module.exports = { createApi };\n`,
);

if (want("napi")) {
  log("napi addon (cargo build -p keyseal-js --release)");
  const lib = cargoBuild("keyseal-js", [], {}).find((f) => /\.(so|dylib|dll)$/.test(f));
  if (!lib) fail("no shared library among the napi build's outputs");
  copyFileSync(lib, join(dist, "keyseal.node"));
}

if (want("wasm")) {
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const version = /\nname = "wasm-bindgen"\nversion = "([^"]+)"/.exec(lock)?.[1];
  if (!version) fail("wasm-bindgen not found in Cargo.lock");
  const wasmBindgen = tool("WASM_BINDGEN", null, "wasm-bindgen");
  let found = "";
  try {
    found = execFileSync(wasmBindgen, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    // Reported below.
  }
  if (found !== `wasm-bindgen ${version}`) {
    fail(`needs wasm-bindgen ${version} (found ${found || "none"}): cargo install wasm-bindgen-cli --version ${version}`);
  }
  const wasmOpt = tool("WASM_OPT", join(here, "node_modules", ".bin", "wasm-opt"), "wasm-opt");

  log("wasm (cargo build -p keyseal-js --release --target wasm32-unknown-unknown, opt-level z)");
  // Size over speed for the shipped .wasm; env overrides keep the root profile untouched.
  const wasmFile = cargoBuild("keyseal-js", ["--target", "wasm32-unknown-unknown"], {
    CARGO_PROFILE_RELEASE_OPT_LEVEL: "z",
    CARGO_PROFILE_RELEASE_PANIC: "abort",
  }).find((f) => f.endsWith(".wasm"));
  if (!wasmFile) fail("no .wasm among the wasm build's outputs");

  log("wasm-bindgen --target web, wasm-opt -Oz");
  const out = join(dist, "wasm");
  rmSync(out, { recursive: true, force: true });
  execFileSync(wasmBindgen, [
    "--target", "web", "--no-typescript", "--out-dir", out, "--out-name", "keyseal_wasm", wasmFile,
  ], { stdio: "inherit" });
  const wasm = join(out, "keyseal_wasm_bg.wasm");
  execFileSync(wasmOpt, ["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
    "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
    wasm, "-o", wasm], { stdio: "inherit" });
}
