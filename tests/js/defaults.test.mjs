// The defaults index.d.ts (and the wrapper's doc comment) state are the ones every backend
// applies, which are the core's (the wrapper leaves an absent option absent, so the core's
// DEFAULT_MAX_TOKEN_LEN, DEFAULT_EXCHANGE_TTL and MAX_LEEWAY apply). Checked by behaviour.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PKG, nodeBackends } from "./helpers.mjs";

const dts = readFileSync(join(PKG, "index.d.ts"), "utf8");
const wrapper = readFileSync(join(PKG, "src", "api.mjs"), "utf8");
const NOW = 1767225600;
const SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t!";

/** The number in `pattern` (one capture group) in `text`, which must occur. */
function stated(text, pattern, what) {
  const m = pattern.exec(text);
  assert.ok(m, `${what} is not stated`);
  return Number(m[1]);
}

const maxTokenLen = stated(dts, /Size limit in bytes, \d+-\d+\. Defaults to (\d+)\.\s*\*\/\s*maxTokenLen\?/, "maxTokenLen's default");
const ttl = stated(dts, /Seconds, \d+-\d+\. Defaults to (\d+)\.\s*\*\/\s*ttl\?/, "ttl's default");

test("the wrapper's doc comment states index.d.ts's defaults", () => {
  assert.equal(stated(wrapper, /`maxTokenLen` \((\d+)\)/, "api.mjs maxTokenLen"), maxTokenLen);
});

for (const { name, api } of await nodeBackends()) {
  describe(`defaults on ${name}`, () => {
    const ks = new api.Keyset(new api.TokenKey("k1", SECRET));

    test("an exchange lasts the stated ttl", () => {
      const { claims } = ks.exchange({ keyId: "AbCdEfGh12345678", now: NOW });
      assert.equal(claims.exp - claims.iat, ttl);
    });

    test("tokens verify up to the stated size limit, and not beyond", () => {
      const token = (pad) => ks.issue({ exp: NOW + 60, pad: "x".repeat(pad) });
      // base64url makes 4 characters of 3 bytes: start below the limit, grow one at a time.
      let pad = Math.max(0, Math.floor(((maxTokenLen - token(0).length) * 3) / 4) - 8);
      while (token(pad + 1).length <= maxTokenLen) pad += 1;
      const fits = token(pad);
      const over = token(pad + 1);
      assert.ok(fits.length <= maxTokenLen && over.length > maxTokenLen);
      assert.equal(ks.verify(fits, { now: NOW }).claims.exp, NOW + 60);
      assert.throws(() => ks.verify(over, { now: NOW }), { code: "token_too_large" });
    });
  });
}
