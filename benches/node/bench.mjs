// keyseal (napi) vs fast-jwt (no cache), jsonwebtoken (KeyObject), jose (pre-imported
// CryptoKey) and hand-written node:crypto, in one run; and what one in-process
// Meter.check costs. Not a test: prints Markdown tables.
//
//   cd benches/node && npm install && node bench.mjs
//   node bench.mjs --only meter      the Meter.check table alone
import { createHmac, createSecretKey, timingSafeEqual, webcrypto } from "node:crypto";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import { createSigner, createVerifier } from "fast-jwt";
import * as jose from "jose";
import jwt from "jsonwebtoken";
import * as keyseal from "keyseal";
import * as keysealWasm from "keyseal/wasm";
import { AUD, CLAIMS, ISS, SECRET, fmt, table } from "./common.mjs";

let sink = 0;
const consume = (v) => {
  sink ^= typeof v === "string" ? v.length : v ? 1 : 0;
};

// A full GC before each timed batch, so garbage one library leaves behind is not collected
// on the next one's time.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

/** ns per call of `fn` over one batch of `n` calls (async ones awaited one at a time). */
async function batch(fn, isAsync, n) {
  gc();
  const t0 = process.hrtime.bigint();
  if (isAsync) for (let i = 0; i < n; i++) consume(await fn());
  else for (let i = 0; i < n; i++) consume(fn());
  return Number(process.hrtime.bigint() - t0) / n;
}

/**
 * Median ns/op of each function, measured interleaved: each of 11 rounds times one batch
 * (about 20 ms) of every function in turn, so load that comes and goes on a shared
 * machine falls on all of them alike and their ratios hold. Warmed up first; a full GC
 * before each batch.
 */
async function compare(fns) {
  const plan = [];
  for (const [name, fn] of Object.entries(fns)) {
    const first = fn();
    const isAsync = first instanceof Promise;
    if (isAsync) await first;
    await batch(fn, isAsync, isAsync ? 1000 : 3000);
    let n = 100;
    while ((await batch(fn, isAsync, n)) * n < 20e6) n *= 2;
    plan.push({ name, fn, isAsync, n, samples: [] });
  }
  for (let r = 0; r < 11; r++) {
    for (const p of plan) p.samples.push(await batch(p.fn, p.isAsync, p.n));
  }
  return Object.fromEntries(plan.map((p) => [p.name, p.samples.sort((a, b) => a - b)[5]]));
}

// In-process metering: Meter.check with one limit and credits (daily refill), both large
// enough that every check is admitted and spends, on a hot subject. The raw addon call
// (the answer as a JSON string, not parsed) shows what JSON.parse and the wrapper add.
const BIG = 2 ** 53 - 1;
const meterOptions = {
  limits: [{ name: "per_minute", limit: BIG, windowMs: 60_000 }],
  credits: { remaining: BIG, refill: { amount: BIG, interval: "daily" } },
};
const HOT = "key_7Hq2kLm9PzX4";
const meterNow = { nowMs: Date.now() };
const addon = createRequire(fileURLToPath(import.meta.resolve("keyseal")))("../dist/keyseal.node");
const meters = { napi: new keyseal.Meter(meterOptions), wasm: new keysealWasm.Meter(meterOptions), addon: new addon.Meter(JSON.stringify(meterOptions)) };
if (!meters.napi.check(HOT).allowed || meters.napi.check(HOT).credits.remaining !== BIG - 2) throw new Error("meter check");
const metering = await compare({
  "keyseal Meter.check (napi)": () => meters.napi.check(HOT),
  "keyseal Meter.check (napi), nowMs given": () => meters.napi.check(HOT, meterNow),
  "keyseal Meter.check (wasm in Node)": () => meters.wasm.check(HOT),
  "addon Meter.check (napi call, answer as a JSON string)": () => meters.addon.check(HOT, meterNow.nowMs, 1, false),
});
const meterTable = () => {
  console.log("In-process Meter.check (one limit + credits, hot subject)\n");
  console.log(
    table(
      ["call", "ns/op", "k ops/s", "time vs keyseal (napi)"],
      Object.entries(metering).map(([name, ns]) => [name, fmt(ns), fmt(1e9 / ns / 1000), `${(ns / metering["keyseal Meter.check (napi)"]).toFixed(2)}x`]),
    ),
  );
};
if (process.argv.slice(2).join(" ") === "--only meter") {
  console.log(`Node ${process.version}, ${process.platform}/${process.arch}; load average ${loadavg()[0].toFixed(2)}; median of batches.\n`);
  meterTable();
  process.exit(0);
}

const secret = Buffer.from(SECRET);
const keyObject = createSecretKey(secret);
const cryptoKey = await webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
const ks = new keyseal.Keyset(new keyseal.TokenKey("k1", secret));
const ksWasm = new keysealWasm.Keyset(new keysealWasm.TokenKey("k1", secret));
const token = ks.issue(CLAIMS);
const signingInput = token.slice(0, token.lastIndexOf("."));
const verifyOptions = { audience: AUD, issuer: ISS };
const verifier = ks.verifier(verifyOptions);

// Every verifier checks the signature, exp/nbf, aud and iss, and gets the claims back.
const fastVerify = createVerifier({ key: secret, algorithms: ["HS256"], allowedAud: AUD, allowedIss: ISS, cache: false });
const fastSign = createSigner({ key: secret, algorithm: "HS256", kid: "k1", noTimestamp: true });
const check = [
  ks.verify(token, verifyOptions).claims.sub,
  verifier.verify(token).claims.sub,
  ksWasm.verify(token, verifyOptions).claims.sub,
  fastVerify(token).sub,
  jwt.verify(token, keyObject, { algorithms: ["HS256"], audience: AUD, issuer: ISS }).sub,
  (await jose.jwtVerify(token, cryptoKey, { algorithms: ["HS256"], audience: AUD, issuer: ISS })).payload.sub,
];
if (new Set(check).size !== 1) throw new Error(`verifiers disagree: ${check}`);

const verify = await compare({
  "keyseal (napi)": () => ks.verify(token, verifyOptions),
  "keyseal (napi), keyset.verifier()": () => verifier.verify(token),
  "keyseal (wasm in Node)": () => ksWasm.verify(token, verifyOptions),
  "fast-jwt (cache: false)": () => fastVerify(token),
  "jsonwebtoken (KeyObject)": () => jwt.verify(token, keyObject, { algorithms: ["HS256"], audience: AUD, issuer: ISS }),
  "jose (CryptoKey)": () => jose.jwtVerify(token, cryptoKey, { algorithms: ["HS256"], audience: AUD, issuer: ISS }),
  "floor: createHmac over the signing input": () => createHmac("sha256", secret).update(signingInput).digest(),
});
const issue = await compare({
  "keyseal (napi)": () => ks.issue(CLAIMS),
  "keyseal (wasm in Node)": () => ksWasm.issue(CLAIMS),
  "fast-jwt": () => fastSign(CLAIMS),
  "jsonwebtoken (KeyObject)": () => jwt.sign(CLAIMS, keyObject, { algorithm: "HS256", keyid: "k1" }),
  "jose (CryptoKey)": () => new jose.SignJWT(CLAIMS).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: "k1" }).sign(cryptoKey),
});

// API keys: keyseal's PepperSet.verify vs the hand-written node:crypto equivalent.
const pepper = Buffer.from("pepper-secret-pepper-secret-0123");
const peppers = new keyseal.PepperSet(new keyseal.Pepper("p1", pepper));
const apiKey = new keyseal.KeyFormat("acme_live").generate().expose();
const stored = peppers.digest(apiKey);
function nodeCryptoVerify(key, storedDigest) {
  const [version, pepperId, b64] = storedDigest.split(".");
  if (version !== "v1" || pepperId !== "p1") throw new Error("unknown digest");
  const expected = Buffer.from(b64, "base64url");
  const actual = createHmac("sha256", pepper).update(key).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
if (!nodeCryptoVerify(apiKey, stored) || peppers.verify(apiKey, stored) !== "current") throw new Error("digest check");
const apiKeys = await compare({
  "keyseal PepperSet.verify (napi)": () => peppers.verify(apiKey, stored),
  "node:crypto createHmac + timingSafeEqual": () => nodeCryptoVerify(apiKey, stored),
});

// Where keyseal's verify time goes: the raw addon call (the token written as UTF-8 into
// the shared buffer with encodeInto, core verify, one result string back), the JS wrapper
// (options lookup, clock, building {kid, alg, claims} from that string) as the
// difference, and the cost of an empty napi call. The core alone is measured by
// `cargo bench` in core/.
const native = createRequire(fileURLToPath(import.meta.resolve("keyseal")))("../dist/keyseal.node");
const nKs = new native.Keyset(new native.TokenKey("k1", secret, "HS256", undefined));
const nValidation = new native.Validation(JSON.stringify(verifyOptions));
const nowS = Math.floor(Date.now() / 1000);
const io = new Uint8Array(native.ioTokenOffset() + 4096);
const ioToken = io.subarray(native.ioTokenOffset());
const encoder = new TextEncoder();
const parts = await compare({
  public: () => ks.verify(token, verifyOptions),
  addon: () => nKs.verify(io, encoder.encodeInto(token, ioToken).written, nowS, nValidation),
  empty: () => native.version(),
});
const breakdown = {
  "keyseal.Keyset.verify (public API)": parts.public,
  "addon Keyset.verify (encodeInto + core + napi call, returns one string)": parts.addon,
  "JS wrapper (options, clock, object from the string): the difference": parts.public - parts.addon,
  "empty napi call (version())": parts.empty,
};

const rows = (results, base) =>
  Object.entries(results).map(([name, ns]) => [name, fmt(ns), fmt(1e9 / ns / 1000), `${(ns / results[base]).toFixed(2)}x`]);
const floor = verify["floor: createHmac over the signing input"];
const k = verify["keyseal (napi)"];

console.log(
  `Node ${process.version}, ${process.platform}/${process.arch}; load average ${loadavg()[0].toFixed(2)}; token signing input ${signingInput.length} bytes; median of batches.\n`,
);
console.log("Token verify (HS256, checks signature, exp, nbf, aud, iss)\n");
console.log(table(["library", "ns/op", "k ops/s", "time vs keyseal (napi)"], rows(verify, "keyseal (napi)")));
console.log("\nToken issue (HS256)\n");
console.log(table(["library", "ns/op", "k ops/s", "time vs keyseal (napi)"], rows(issue, "keyseal (napi)")));
console.log("\nAPI-key digest verify (HMAC-SHA256 with a pepper, constant-time compare)\n");
console.log(table(["implementation", "ns/op", "k ops/s", "time vs node:crypto"], rows(apiKeys, "node:crypto createHmac + timingSafeEqual")));
console.log("\nkeyseal (napi) verify, broken down\n");
console.log(table(["step", "ns/op"], Object.entries(breakdown).map(([n, ns]) => [n, fmt(ns)])));
console.log("");
meterTable();
console.log("\nTargets\n");
const target = (what, value, goal, ok) => [what, value, goal, ok ? "met" : "MISSED"];
console.log(
  table(["target", "measured", "goal", ""], [
    target("keyseal verify / createHmac floor", `${(k / floor).toFixed(2)}x`, "<= 1.0x", k / floor <= 1.0),
    target("fast-jwt verify / keyseal verify", `${(verify["fast-jwt (cache: false)"] / k).toFixed(1)}x`, ">= 4x", verify["fast-jwt (cache: false)"] / k >= 4),
    target("jose verify / keyseal verify", `${(verify["jose (CryptoKey)"] / k).toFixed(1)}x`, ">= 40x", verify["jose (CryptoKey)"] / k >= 40),
    target(
      "keyseal API-key verify / node:crypto",
      `${(apiKeys["keyseal PepperSet.verify (napi)"] / apiKeys["node:crypto createHmac + timingSafeEqual"]).toFixed(2)}x`,
      "<= 0.8x",
      apiKeys["keyseal PepperSet.verify (napi)"] / apiKeys["node:crypto createHmac + timingSafeEqual"] <= 0.8,
    ),
  ]),
);
if (sink === 0.5) console.log(sink);
