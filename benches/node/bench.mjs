// keyseal (napi) vs fast-jwt (no cache), jsonwebtoken (KeyObject), jose (pre-imported
// CryptoKey) and hand-written node:crypto, in one run. Not a test: prints Markdown tables.
//
//   cd benches/node && npm install && node bench.mjs
import { createHmac, createSecretKey, timingSafeEqual, webcrypto } from "node:crypto";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
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

/** Median ns/op over 9 timed batches of a warmed-up synchronous function. */
function bench(fn) {
  for (let i = 0; i < 3000; i++) consume(fn());
  let n = 500;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) consume(fn());
    if (Number(process.hrtime.bigint() - t0) > 40e6) break;
    n *= 2;
  }
  const samples = [];
  for (let r = 0; r < 9; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) consume(fn());
    samples.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return samples.sort((a, b) => a - b)[4];
}

/** The same for an async function, awaited one call at a time. */
async function benchAsync(fn) {
  for (let i = 0; i < 1000; i++) consume(await fn());
  const n = 4000;
  const samples = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) consume(await fn());
    samples.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return samples.sort((a, b) => a - b)[3];
}

const secret = Buffer.from(SECRET);
const keyObject = createSecretKey(secret);
const cryptoKey = await webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
const ks = new keyseal.Keyset(new keyseal.TokenKey("k1", secret));
const ksWasm = new keysealWasm.Keyset(new keysealWasm.TokenKey("k1", secret));
const token = ks.issue(CLAIMS);
const signingInput = token.slice(0, token.lastIndexOf("."));
const verifyOptions = { audience: AUD, issuer: ISS };

// Every verifier checks the signature, exp/nbf, aud and iss, and gets the claims back.
const fastVerify = createVerifier({ key: secret, algorithms: ["HS256"], allowedAud: AUD, allowedIss: ISS, cache: false });
const fastSign = createSigner({ key: secret, algorithm: "HS256", kid: "k1", noTimestamp: true });
const check = [
  ks.verify(token, verifyOptions).claims.sub,
  ksWasm.verify(token, verifyOptions).claims.sub,
  fastVerify(token).sub,
  jwt.verify(token, keyObject, { algorithms: ["HS256"], audience: AUD, issuer: ISS }).sub,
  (await jose.jwtVerify(token, cryptoKey, { algorithms: ["HS256"], audience: AUD, issuer: ISS })).payload.sub,
];
if (new Set(check).size !== 1) throw new Error(`verifiers disagree: ${check}`);

const verify = {
  "keyseal (napi)": bench(() => ks.verify(token, verifyOptions)),
  "keyseal (wasm in Node)": bench(() => ksWasm.verify(token, verifyOptions)),
  "fast-jwt (cache: false)": bench(() => fastVerify(token)),
  "jsonwebtoken (KeyObject)": bench(() => jwt.verify(token, keyObject, { algorithms: ["HS256"], audience: AUD, issuer: ISS })),
  "jose (CryptoKey)": await benchAsync(() => jose.jwtVerify(token, cryptoKey, { algorithms: ["HS256"], audience: AUD, issuer: ISS })),
  "floor: createHmac over the signing input": bench(() => createHmac("sha256", secret).update(signingInput).digest()),
};
const issue = {
  "keyseal (napi)": bench(() => ks.issue(CLAIMS)),
  "keyseal (wasm in Node)": bench(() => ksWasm.issue(CLAIMS)),
  "fast-jwt": bench(() => fastSign(CLAIMS)),
  "jsonwebtoken (KeyObject)": bench(() => jwt.sign(CLAIMS, keyObject, { algorithm: "HS256", keyid: "k1" })),
  "jose (CryptoKey)": await benchAsync(() => new jose.SignJWT(CLAIMS).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: "k1" }).sign(cryptoKey)),
};

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
const apiKeys = {
  "keyseal PepperSet.verify (napi)": bench(() => peppers.verify(apiKey, stored)),
  "node:crypto createHmac + timingSafeEqual": bench(() => nodeCryptoVerify(apiKey, stored)),
};

// Where keyseal's verify time goes: the raw addon call (core verify + napi string
// marshalling, returns JSON text), JSON.parse of that text in the wrapper, and the cost of
// an empty napi call. The core alone is measured by `cargo bench` in core/.
const native = createRequire(fileURLToPath(import.meta.resolve("keyseal")))("../dist/keyseal.node");
const nKs = new native.Keyset(new native.TokenKey("k1", secret, "HS256", undefined));
const nValidation = new native.Validation(JSON.stringify(verifyOptions));
const nowS = Math.floor(Date.now() / 1000);
const text = nKs.verify(token, nowS, nValidation);
const breakdown = {
  "keyseal.Keyset.verify (public API)": k0(),
  "addon Keyset.verify (core + napi marshalling, returns JSON text)": bench(() => nKs.verify(token, nowS, nValidation)),
  "JSON.parse of the returned text": bench(() => JSON.parse(text)),
  "empty napi call (version())": bench(() => native.version()),
};
function k0() {
  return bench(() => ks.verify(token, verifyOptions));
}

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
