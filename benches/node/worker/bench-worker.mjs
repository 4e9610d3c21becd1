// Runs inside workerd: `?lib=...&n=N` runs one operation N times on the posted token and
// returns how many succeeded. workerd's clocks do not advance during pure computation
// (Spectre mitigation: Date.now() and performance.now() only move on I/O), so timing in
// here would read 0; workerd.mjs times each request from outside and subtracts an n=0
// request of the same kind.
import * as jose from "../node_modules/jose/dist/webapi/index.js";
import * as keyseal from "../../../packages/npm/src/wasm.mjs";
import { AUD, CLAIMS, ISS, SECRET } from "../common.mjs";

const secret = new TextEncoder().encode(SECRET);
const ks = new keyseal.Keyset(new keyseal.TokenKey("k1", secret));
const options = { audience: AUD, issuer: ISS };
let cryptoKey;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    const lib = url.searchParams.get("lib");
    const token = await request.text();
    cryptoKey ??= await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    const input = new TextEncoder().encode(token.slice(0, token.lastIndexOf(".")));
    let ok = 0;
    if (lib === "keyseal") {
      for (let i = 0; i < n; i++) ok += ks.verify(token, options).claims.exp === CLAIMS.exp ? 1 : 0;
    } else if (lib === "jose") {
      const o = { algorithms: ["HS256"], audience: AUD, issuer: ISS };
      for (let i = 0; i < n; i++) ok += (await jose.jwtVerify(token, cryptoKey, o)).payload.exp === CLAIMS.exp ? 1 : 0;
    } else if (lib === "keyseal-hmac") {
      for (let i = 0; i < n; i++) ok += keyseal.hmacSha256(secret, input).length === 32 ? 1 : 0;
    } else if (lib === "webcrypto-hmac") {
      for (let i = 0; i < n; i++) ok += (await crypto.subtle.sign("HMAC", cryptoKey, input)).byteLength === 32 ? 1 : 0;
    }
    return new Response(String(ok));
  },
};
