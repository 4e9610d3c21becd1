// Interop with the libraries Node servers use today: tokens from jose and jsonwebtoken
// verify in keyseal, and keyseal's tokens verify in both. Runs on the Node backends.
import assert from "node:assert/strict";
import { createSecretKey, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import * as jose from "jose";
import jwt from "jsonwebtoken";
import { nodeBackends } from "./helpers.mjs";

const LEN = { HS256: 32, HS384: 48, HS512: 64 };
const now = Math.floor(Date.now() / 1000);
const claims = { iss: "https://auth.example", sub: "user_1", aud: "api", exp: now + 300, iat: now, scope: "keys:read", n: 1.5 };
const opts = { audience: "api", issuer: "https://auth.example" };

for (const { name, api } of await nodeBackends()) {
  describe(`interop on ${name}`, () => {
    for (const alg of ["HS256", "HS384", "HS512"]) {
      const secret = randomBytes(LEN[alg]);
      const kid = `k-${alg}`;
      const ks = new api.Keyset(new api.TokenKey(kid, secret, { alg }));

      test(`${alg}: jose -> keyseal`, async () => {
        const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid }).sign(secret);
        assert.deepEqual(ks.verify(token, opts), { kid, alg, claims });
      });

      test(`${alg}: jsonwebtoken -> keyseal`, () => {
        const token = jwt.sign(claims, secret, { algorithm: alg, keyid: kid });
        assert.deepEqual(ks.verify(token, opts).claims, claims);
      });

      test(`${alg}: keyseal -> jose`, async () => {
        const token = ks.issue(claims);
        const { payload, protectedHeader } = await jose.jwtVerify(token, secret, { algorithms: [alg], ...opts });
        assert.deepEqual(payload, claims);
        assert.deepEqual(protectedHeader, { alg, typ: "JWT", kid });
      });

      test(`${alg}: keyseal -> jsonwebtoken`, () => {
        const token = ks.issue(claims);
        const payload = jwt.verify(token, createSecretKey(secret), { algorithms: [alg], ...opts });
        assert.deepEqual(payload, claims);
      });

      test(`${alg}: a jose token under another secret is rejected`, async () => {
        const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid }).sign(randomBytes(LEN[alg]));
        assert.throws(() => ks.verify(token, opts), (e) => e.code === "bad_signature" && e.name === "SignatureError");
      });
    }

    test("jsonwebtoken's alg=none token is refused", () => {
      const ks = new api.Keyset(new api.TokenKey("k", randomBytes(32)));
      const token = jwt.sign({ exp: now + 60 }, null, { algorithm: "none" });
      // Empty signature segment: refused as malformed before the header is read.
      assert.throws(() => ks.verify(token), (e) => e.code === "malformed_token");
      assert.throws(() => ks.verify(`${token}c2ln`), (e) => e.code === "unsupported_algorithm");
    });
  });
}
