// Assembles dist/ from build outputs: node build.mjs [--napi lib.so] [--wasm x.wasm
// --wasm-bindgen BIN --wasm-opt BIN]. scripts/test-js runs the cargo builds and calls this.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const { values: args } = parseArgs({
  options: {
    napi: { type: "string" },
    wasm: { type: "string" },
    "wasm-bindgen": { type: "string", default: "wasm-bindgen" },
    "wasm-opt": { type: "string", default: "wasm-opt" },
  },
});
mkdirSync(dist, { recursive: true });

// api.mjs has no imports and one export line; CommonJS differs only there.
const api = readFileSync(join(here, "src", "api.mjs"), "utf8");
const exportLine = "export { createApi };\n";
if (!api.endsWith(exportLine) || /^export /m.exec(api).index !== api.lastIndexOf(exportLine)) {
  throw new Error("src/api.mjs must end with its single `export { createApi };` line");
}
writeFileSync(
  join(dist, "api.cjs"),
  `"use strict";\n// Generated from src/api.mjs by build.mjs; do not edit.\n${api.slice(0, -exportLine.length)}module.exports = { createApi };\n`,
);

if (args.napi) copyFileSync(args.napi, join(dist, "keyseal.node"));

if (args.wasm) {
  const out = join(dist, "wasm");
  rmSync(out, { recursive: true, force: true });
  execFileSync(args["wasm-bindgen"], [
    "--target", "web", "--no-typescript", "--out-dir", out, "--out-name", "keyseal_wasm", args.wasm,
  ], { stdio: "inherit" });
  const wasm = join(out, "keyseal_wasm_bg.wasm");
  execFileSync(args["wasm-opt"], ["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
    "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
    wasm, "-o", wasm], { stdio: "inherit" });
}
