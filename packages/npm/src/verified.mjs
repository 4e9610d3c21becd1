// What a backend's `Keyset.verify` hands back, turned into the verified token's
// `{kid, alg, claims}`. No imports; one export line (build.mjs inlines this file into
// dist/api.cjs).

/** Defines `name` as an own data property, even `__proto__` (which `o[name] = v` is not). */
function defineOwn(o, name, value) {
  Object.defineProperty(o, name, { value, writable: true, enumerable: true, configurable: true });
}

/** Length of the numbers array a backend's `Keyset.verify` fills (`META_LEN`). */
const META_LEN = 13;

/**
 * `{kid, alg, claims}` from what a backend's `Keyset.verify` returns (`write_verified` in
 * bindings/common/src/js.rs): `s` is kid, alg, iss, sub, aud, jti, scope, role and the
 * extra claims (JSON) concatenated; `m` is [presence mask, exp, nbf, iat, end offset of
 * each part of `s`]. Properties are created in the order `JSON.parse` of the claims JSON
 * would create them, so the result is the same object, key order included.
 */
function fromParts(s, m) {
  const f = m[0];
  const c = {};
  if (f & 1) c.iss = s.slice(m[5], m[6]);
  if (f & 2) c.sub = s.slice(m[6], m[7]);
  if (f & 4) c.aud = s.slice(m[7], m[8]);
  else if (f & 8) c.aud = JSON.parse(s.slice(m[7], m[8]));
  if (f & 16) c.exp = m[1];
  if (f & 32) c.nbf = m[2];
  if (f & 64) c.iat = m[3];
  if (f & 128) c.jti = s.slice(m[8], m[9]);
  if (f & 256) c.scope = s.slice(m[9], m[10]);
  if (f & 512) c.role = s.slice(m[10], m[11]);
  if (f & 1024) {
    const extra = JSON.parse(s.slice(m[11], m[12]));
    for (const name of Object.keys(extra)) {
      if (name === "__proto__") defineOwn(c, name, extra[name]);
      else c[name] = extra[name];
    }
  }
  return { kid: s.slice(0, m[4]), alg: s.slice(m[4], m[5]), claims: c };
}

export { META_LEN, fromParts };
