// Runs the cross-language vectors (tests/vectors/*.json) against one keyseal API object.
// No Node imports: the same file runs in Node (napi and wasm) and inside workerd.
// Dispatches on each file's "op" (never on its name), as tests/vectors/README.md says.

export function hexToBytes(hex) {
  if (hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) throw new Error(`bad hex in a vector: ${hex.length} chars`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Drops null (the vectors' "not set") and undefined fields. */
function set(o) {
  const out = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function keyset(api, keys) {
  const made = keys.map(
    (k) => new api.TokenKey(k.kid, hexToBytes(k.secret_hex), set({ alg: k.alg, verifyUntil: k.verify_until })),
  );
  return new api.Keyset(made[0], made.slice(1));
}

function pepperSet(api, peppers) {
  const made = peppers.map((p) => new api.Pepper(p.id, hexToBytes(p.secret_hex)));
  return new api.PepperSet(made[0], made.slice(1));
}

function keyParts(k) {
  return { prefix: k.prefix, id: k.id, secret: k.exposeSecret(), checksum: k.checksum };
}

/** The vectors' snake_case names of a JS answer's camelCase keys (runner side only). */
function snake(v) {
  if (Array.isArray(v)) return v.map(snake);
  if (v === null || typeof v !== "object") return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = snake(x);
  return out;
}

/** A `meter` vector's spec as `Meter` options (null: not set). */
function meterOptions(m) {
  const c = m.credits ?? null;
  const r = c?.refill ?? null;
  return set({
    limits: (m.limits ?? []).map((l) => ({ name: l.name, limit: l.limit, windowMs: l.window_ms })),
    credits: c && set({ remaining: c.remaining, refill: r && set({ amount: r.amount, interval: r.interval, day: r.day, cap: r.cap }) }),
    maxSubjects: m.max_subjects,
  });
}

const OPS = {
  key_generate(api, i) {
    const f = new api.KeyFormat(i.prefix, { idLen: i.id_len, secretLen: i.secret_len });
    const k = f.generateFromEntropy(hexToBytes(i.entropy_hex));
    return { key: k.expose(), ...keyParts(k) };
  },
  key_parse(api, i) {
    const k =
      i.format === null
        ? api.parseKey(i.key)
        : new api.KeyFormat(i.format.prefix, { idLen: i.format.id_len, secretLen: i.format.secret_len }).parse(i.key);
    return keyParts(k);
  },
  digest_compute(api, i) {
    const s = pepperSet(api, i.peppers);
    return { digest: s.digest(i.key), sha256_hex: api.sha256Hex(i.key) };
  },
  digest_verify(api, i) {
    return { status: pepperSet(api, i.peppers).verify(i.key, i.stored) };
  },
  hmac_sha256(api, i) {
    return { mac_hex: bytesToHex(api.hmacSha256(hexToBytes(i.key_hex), hexToBytes(i.data_hex))) };
  },
  token_issue(api, i) {
    // claims_json: numbers beyond 64 bits, read the way JSON.parse reads them.
    const claims = i.claims_json === undefined ? i.claims : JSON.parse(i.claims_json);
    return { token: keyset(api, i.keys).issue(claims) };
  },
  token_verify(api, i) {
    const v = i.validation ?? {};
    const options = set({
      now: i.now,
      leeway: v.leeway,
      audience: v.audiences,
      issuer: v.issuers,
      required: v.required,
      dangerouslyAllowMissingExp: v.dangerously_allow_missing_exp,
      maxTokenLen: v.max_token_len,
    });
    return keyset(api, i.keys).verify(i.token, options);
  },
  token_exchange(api, i) {
    const id = i.identity;
    const o = i.options ?? {};
    return keyset(api, i.keys).exchange(
      set({
        keyId: id.key_id,
        owner: id.owner,
        scopes: id.scopes,
        role: id.role,
        now: i.now,
        ttl: o.ttl,
        issuer: o.issuer,
        audience: o.audience,
        jti: o.jti,
      }),
    );
  },
  policy_check(api, i) {
    const p = i.policy;
    const c = i.context;
    const policy = new api.KeyPolicy(
      set({
        enabled: p.enabled,
        revoked: p.revoked,
        expiresAt: p.expires_at,
        role: p.role,
        scopes: p.scopes,
        readOnly: p.read_only,
        allowedIps: p.allowed_ips,
      }),
    );
    return policy.check(
      set({
        now: c.now,
        clientIp: c.client_ip,
        method: c.method,
        requiredScopes: c.required_scopes,
        allowedRoles: c.allowed_roles,
      }),
    );
  },
  headers_extract(api, i) {
    const c = api.extractCredential(i.headers);
    return { kind: c.kind, source: c.source, value: c.value };
  },
  meter(api, i) {
    const m = new api.Meter(meterOptions(i.meter));
    return i.steps.map((s) =>
      s.add_credits !== undefined
        ? { remaining: m.addCredits(s.subject, s.add_credits, { nowMs: s.now_ms }) }
        : snake(m.check(s.subject, set({ cost: s.cost, dryRun: s.dry_run, nowMs: s.now_ms }))),
    );
  },
};

/**
 * Runs one case: `{ok: ...}` or `{error: code}`. Anything thrown that is not a
 * KeysealError (with the right class name for its family) is reported as a failure.
 */
export function runCase(api, op, input) {
  const fn = OPS[op];
  if (!fn) return { failure: `no runner for op ${op}` };
  try {
    return { ok: fn(api, input) };
  } catch (e) {
    if (!(e instanceof api.KeysealError)) {
      return { failure: `non-keyseal error: ${e && e.name}: ${e && e.message}` };
    }
    if (!(e instanceof Error) || e.name !== e.constructor.name || typeof e.code !== "string") {
      return { failure: `malformed error object for ${e.code}` };
    }
    return { error: e.code };
  }
}

/** Runs every case of every vector file: `[{file, id, op, got}]`, in input order. */
export function runVectorFiles(api, files) {
  const results = [];
  for (const { name, data } of files) {
    if (data.cases === undefined) continue; // errors.json: the list of codes, no cases
    for (const c of data.cases) {
      results.push({ file: name, id: c.id, op: data.op, got: runCase(api, data.op, c.input) });
    }
  }
  return results;
}
