// One code -> HTTP status table: the npm helpers answer every keyseal error with the
// status and WWW-Authenticate value of server/errors.json (generated from the server's
// src/error.rs, which the server's tests keep fresh). Fails when they drift.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ROOT, nodeBackends } from "./helpers.mjs";

const table = JSON.parse(readFileSync(join(ROOT, "server", "errors.json"), "utf8"));

/**
 * Where the helpers still answer otherwise than the table, and what they answer. Each
 * entry is a decision not yet taken (tests/js/checks.mjs pins key_revoked at 403 and
 * storage_unavailable at 500); the test fails when an entry is stale or a code drifts
 * further, so this list only shrinks.
 */
const KNOWN_DIFFERENCES = {
  key_revoked: 403,
  key_disabled: 403,
  key_expired: 403,
  not_found: 500,
  version_conflict: 500,
  name_conflict: 500,
  invalid_name: 500,
  invalid_metadata: 500,
  invalid_cursor: 500,
  invalid_limit: 500,
  invalid_argument: 500,
  permission_denied: 500,
  payload_too_large: 500,
  storage_unavailable: 500,
};

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
        const want = KNOWN_DIFFERENCES[row.code] ?? row.credential_status;
        if (row.code in KNOWN_DIFFERENCES) {
          assert.notEqual(want, row.credential_status, "a stale entry of KNOWN_DIFFERENCES");
        }
        assert.equal(refused.status, want);
        const header = refused.response().headers.get("www-authenticate");
        assert.equal(header, refused.status === 401 ? table.www_authenticate : null);
      });
    }
  });
}
