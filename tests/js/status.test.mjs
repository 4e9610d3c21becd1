// One code -> HTTP status table: the npm helpers answer every keyseal error with the
// status and WWW-Authenticate value of server/errors.json (generated from the server's
// src/error.rs, which the server's tests keep fresh). Fails when they drift.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ROOT, nodeBackends } from "./helpers.mjs";

const table = JSON.parse(readFileSync(join(ROOT, "server", "errors.json"), "utf8"));

/** The error class of a family: `policy` -> `PolicyError`. */
const classOf = (api, family) => api[`${family[0].toUpperCase()}${family.slice(1)}Error`];

for (const { name, api } of await nodeBackends()) {
  describe(`status table (${name})`, () => {
    const key = new api.KeyFormat("ks").generate().expose();
    const request = () => new Request("https://x.example/", { headers: { "x-api-key": key } });

    test("the table covers every code of the core", () => {
      assert.deepEqual(table.codes.map((c) => c.code), [...api.ERROR_CODES]);
    });

    for (const row of table.codes) {
      test(row.code, async () => {
        const error = new (classOf(api, row.family))(row.code, `${row.code}: a test error`);
        const refused = api.verifyRequestSync(request(), {
          verifyKey: () => {
            throw error;
          },
        });
        assert.equal(refused.status, row.credential_status);
        const header = refused.response().headers.get("www-authenticate");
        assert.equal(header, refused.status === 401 ? table.www_authenticate : null);
      });
    }
  });
}
