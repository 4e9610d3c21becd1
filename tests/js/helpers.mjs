// Shared by the test files: the backends under test, the vectors, and a workerd runner.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PKG = join(ROOT, "packages", "npm");

/** The Node backends, optionally narrowed by KEYSEAL_BACKENDS=napi,wasm. */
export async function nodeBackends() {
  const want = (process.env.KEYSEAL_BACKENDS ?? "napi,wasm,workerd").split(",");
  const out = [];
  if (want.includes("napi")) out.push({ name: "napi", api: await import(join(PKG, "src", "node.mjs")) });
  if (want.includes("wasm")) out.push({ name: "wasm-node", api: await import(join(PKG, "src", "wasm-node.mjs")) });
  return out;
}

export const wantWorkerd = () => (process.env.KEYSEAL_BACKENDS ?? "napi,wasm,workerd").split(",").includes("workerd");

/** Every tests/vectors/*.json file, parsed, sorted by name. */
export function loadVectors() {
  const dir = join(ROOT, "tests", "vectors");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((name) => ({ name, data: JSON.parse(readFileSync(join(dir, name), "utf8")) }));
}

/** A Miniflare instance running `script` (a path under the repo) in the real workerd. */
export async function startWorker(script, extra = {}) {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(ROOT, script),
    modulesRoot: ROOT,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-09-01",
    ...extra,
  });
  await mf.ready;
  return mf;
}
