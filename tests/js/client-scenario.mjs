// The KeysealClient scenario, run against a real `keyseal serve` from Node (napi and wasm)
// and from inside workerd (tests/js/worker/client-worker.mjs): every operation of the API.
// No Node imports, so it runs in workerd as it is; it returns the list of failed checks.

export async function clientScenario(api, { url, ownerKey, account }) {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
  };
  const rejects = async (promise, code, what) => {
    try {
      await promise;
      failures.push(`${what}: did not throw`);
      return null;
    } catch (e) {
      check(e instanceof api.KeysealError && e.code === code, `${what}: ${e && e.name} ${e && e.code}`);
      return e;
    }
  };
  const unique = (p) => `${p}-${Math.random().toString(36).slice(2, 10)}`;
  const client = new api.KeysealClient({ url, key: ownerKey });

  check((await client.whoami()).account === account && (await client.account()) === account, "whoami and account");
  check(!JSON.stringify(client).includes(ownerKey), "client JSON hides the key");

  // Lifecycle.
  const name = unique("svc");
  const created = await client.createKey({ name, scopes: ["invoices:read"], role: "worker", metadata: { team: "b" } });
  check(created.key.name === name && created.id === created.key.id && created.accessKey.endsWith(created.id), "create");
  check(created.secret.endsWith(created.secretKey) && !JSON.stringify(created).includes(created.secretKey), "created key hides its secret");
  const ok = await client.verify(created.secret, { requiredScopes: ["invoices:read"] });
  check(ok.valid && ok.code === "ok" && ok.key.id === created.id && ok.status === 200, "verify ok");
  check((await client.verify(created.secret, { requiredScopes: ["x:write"] })).code === "insufficient_scope", "verify scope");
  const got = await client.getKey(name);
  check(got.id === created.id, "get by name");
  const updated = await client.updateKey(created.id, { version: got.version, description: "the worker" });
  check(updated.description === "the worker" && updated.version === got.version + 1, "update");
  const stale = await rejects(client.updateKey(created.id, { version: got.version, description: "x" }), "version_conflict", "stale update");
  check(stale && stale.status === 412 && stale instanceof api.RegistryError, "stale update is a 412 RegistryError");
  check((await client.disableKey(created.id)).enabled === false, "disable");
  check((await client.verify(created.secret)).code === "key_disabled", "verify disabled");
  check((await client.enableKey(created.id)).enabled === true, "enable");
  const rolled = await client.rollKey(created.id, { graceSeconds: 0 });
  check(rolled.id === created.id && (await client.verify(rolled.secret)).valid, "roll");
  check((await client.verify(created.secret)).code === "digest_mismatch", "old secret after roll");
  const actions = [];
  for await (const entry of client.audit({ keyId: created.id, pageSize: 2 })) actions.push(entry.action);
  check(actions.join() === "roll,update,update,update,create", `audit: ${actions.join()}`);
  await client.deleteKey(created.id);
  check((await client.verify(rolled.secret)).code === "key_revoked", "delete");
  const missing = await rejects(client.getKey(unique("nobody")), "not_found", "get missing");
  check(missing && missing.status === 404, "missing is 404");

  // Lists page through cursors.
  const owner = unique("owner");
  const ids = new Set();
  for (let i = 0; i < 5; i++) ids.add((await client.createKey({ name: unique("k"), owner })).id);
  const listed = [];
  for await (const k of client.listKeys({ owner, pageSize: 2 })) listed.push(k.id);
  check(listed.length === 5 && listed.every((id) => ids.has(id)), "list pages");

  // Metering: cost, dry run, headers, credits.
  const metered = await client.createKey({
    name: unique("metered"),
    limits: [{ name: "per_minute", limit: 3, window_ms: 60000 }],
    credits: { remaining: 10 },
  });
  const probe = await client.verify(metered.secret, { cost: 2, dryRun: true });
  check(probe.valid && probe.meter.dry_run && probe.meter.limits[0].remaining === 1, "dry run");
  const spent = await client.verify(metered.secret, { cost: 2 });
  check(spent.valid && spent.headers["RateLimit-Policy"] === '"per_minute";q=3;w=60', "RateLimit-Policy");
  const refused = await client.verify(metered.secret, { cost: 2 });
  check(!refused.valid && refused.code === "rate_limited" && refused.status === 429 && "Retry-After" in refused.headers, "429");
  check((await client.addCredits(metered.id, 5)) === 13, "add credits");

  // Owner meters.
  const tenant = unique("tenant");
  check((await client.getOwnerMeter(tenant)).version === 0, "owner meter unset");
  const meter = await client.updateOwnerMeter(tenant, { version: 0, credits: { remaining: 2 } });
  check(meter.credits.remaining === 2, "owner meter set");
  check((await client.addOwnerCredits(tenant, 3)) === 5, "owner credits");

  // Tokens.
  const tk = await client.createKey({ name: unique("tok"), scopes: ["a:read"] });
  const token = await client.exchangeToken(tk.secret);
  check(token.expiresIn > 0 && !JSON.stringify(token).includes(token.token), "exchange");
  const tv = await client.verifyToken(token.token, { account });
  check(tv.valid && tv.key_id === tk.id && tv.claims.scope === "a:read", "verify token");
  check((await client.verifyToken(token.token, { account: "acct_other" })).code === "invalid_claim", "token of another account");
  check((await client.whoami({ token: token.token })).kind === "token", "whoami with a token");
  await client.disableKey(tk.id);
  const denied = await rejects(client.exchangeToken(tk.secret), "key_disabled", "exchange a disabled key");
  check(denied && denied.status === 401 && !String(denied.message).includes(tk.secret), "exchange refusal");

  // Errors.
  const bad = ownerKey.slice(0, -1) + (ownerKey.endsWith("A") ? "B" : "A");
  const badErr = await rejects(new api.KeysealClient({ url, key: bad }).whoami(), "bad_checksum", "bad key");
  check(badErr instanceof api.MalformedError && !badErr.message.includes(bad), "bad key is a MalformedError");
  await rejects(new api.KeysealClient({ url, key: "" }).getKey("x"), "missing_credential", "no key");
  return failures;
}
