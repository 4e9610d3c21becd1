// Runs inside workerd: `?lib=keyseal|jose&n=N` verifies the same token N times and returns
// a checksum. workerd's clocks do not advance during pure computation (Spectre
// mitigation), so workerd.mjs times the requests from outside and subtracts an n=0 call.
import * as jose from "../node_modules/jose/dist/webapi/index.js";
import * as keyseal from "../../../packages/npm/src/wasm.mjs";
import { AUD, ISS, SECRET } from "../common.mjs";

const secret = new TextEncoder().encode(SECRET);
const ks = new keyseal.Keyset(new keyseal.TokenKey("k1", secret));
const options = { audience: AUD, issuer: ISS };
let cryptoKey;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    const token = await request.text();
    cryptoKey ??= await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    let sum = 0;
    if (url.searchParams.get("lib") === "keyseal") {
      for (let i = 0; i < n; i++) sum += ks.verify(token, options).claims.exp & 1;
    } else {
      const o = { algorithms: ["HS256"], audience: AUD, issuer: ISS };
      for (let i = 0; i < n; i++) sum += (await jose.jwtVerify(token, cryptoKey, o)).payload.exp & 1;
    }
    return new Response(String(sum));
  },
};
