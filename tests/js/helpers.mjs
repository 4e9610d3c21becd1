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

/**
 * A real `keyseal serve` on 127.0.0.1 (SQLite in a temporary folder) and an account with
 * its owner key, for the HTTP client and the framework middleware. The binary is
 * KEYSEAL_BIN (scripts/test-js builds it), else target/debug or target/release.
 */
export async function startServer() {
  const { spawn, execFileSync } = await import("node:child_process");
  const { existsSync, mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { createInterface } = await import("node:readline");
  const bin =
    process.env.KEYSEAL_BIN ??
    [join(ROOT, "target", "debug", "keyseal"), join(ROOT, "target", "release", "keyseal")].find((p) => existsSync(p));
  if (!bin) throw new Error("no keyseal server binary: set KEYSEAL_BIN (scripts/test-js builds one)");
  const dir = mkdtempSync(join(tmpdir(), "keyseal-js-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEYSEAL_")));
  Object.assign(env, { KEYSEAL_DB: join(dir, "keyseal.db"), KEYSEAL_CONFIG: join(dir, "keyseal.toml"), KEYSEAL_LOG: "warn" });
  const init = (account) =>
    JSON.parse(execFileSync(bin, ["init", "--json", "--account", account], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const owner = init("acct_js");
  const child = spawn(bin, ["serve", "--addr", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`keyseal serve exited with ${code} before listening`)));
  });
  if (!first.startsWith("keyseal listening on ")) throw new Error(`unexpected first line: ${first}`);
  lines.on("line", () => {}); // keep draining stdout
  return {
    url: first.slice("keyseal listening on ".length),
    account: owner.account,
    ownerKey: owner.secret,
    init: (account) => {
      const o = init(account);
      return { account: o.account, ownerKey: o.secret };
    },
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
