//! The JSON shapes of the napi and the wasm binding, so both backends turn JavaScript input into core types with the
//! same code and produce the same bytes. No keyseal logic lives here: only the shapes of
//! JSON options and results.
//!
//! Structured input (claims, verify options, policies, contexts, exchange arguments)
//! crosses the boundary as JSON text made by `JSON.stringify` in the npm package: one
//! parser (serde_json) on both backends, integers stay integers, and nothing depends on
//! how a host bridge maps JS numbers. Options are read from a `serde_json::Value` field by
//! field ([`Fields`]) rather than through `#[derive(Deserialize)]`: the core already holds
//! the `Value` parser, and one deserializer per options type would each add code to the
//! shipped `.wasm`.

use keyseal::{
    AudienceRef, Claims, ClaimsRef, Error, KeyPolicy, Keyset, Result, Validation, VerifiedRef,
};
use serde_json::{Map, Value};

use crate::options::{CheckArgs, ExchangeArgs, PolicyOptions, VerifyOptions};

/// A JS number of unix seconds as an `i64`, rounded down (RFC 7519 NumericDate).
/// Finite values beyond the i64 range saturate (JS numbers cannot spell `i64::MAX`
/// exactly; `9223372036854775807` arrives as 2^63); NaN and infinities are rejected.
pub fn time_from_f64(setting: &'static str, v: f64) -> Result<i64> {
    if v.is_finite() {
        // `as` saturates at the i64 bounds, which is the intent here.
        #[allow(clippy::cast_possible_truncation)]
        Ok(v.floor() as i64)
    } else {
        Err(Error::InvalidConfig {
            setting,
            expected: "a finite unix time in seconds",
        })
    }
}

fn bad_options(setting: &'static str, expected: &'static str) -> Error {
    Error::InvalidConfig { setting, expected }
}

/// An options object read field by field, with the rules the npm package documents:
/// unknown names are refused; an optional field may be absent or `null`; a list field
/// (`scopes`, ...) may be absent but not `null`; a required field must be present. Every
/// getter returns `None` for a value of the wrong type, and the caller turns that into
/// its one `invalid_config` error.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// `json` as an object whose names are all in `allowed`.
    pub(crate) fn parse(json: &str, allowed: &[&str]) -> Option<Fields> {
        match serde_json::from_str::<Value>(json).ok()? {
            Value::Object(map) => Fields::from_map(map, allowed),
            _ => None,
        }
    }

    /// An object (a nested one) whose names are all in `allowed`.
    pub(crate) fn from_map(map: Map<String, Value>, allowed: &[&str]) -> Option<Fields> {
        map.keys()
            .all(|k| allowed.contains(&k.as_str()))
            .then_some(Fields(map))
    }

    /// The field's value; absent and `null` are both `None`.
    pub(crate) fn opt(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    /// A list: absent is `Some(None)`, `null` or another type is the wrong type.
    pub(crate) fn list(&mut self, name: &str) -> Option<Option<Vec<Value>>> {
        match self.0.remove(name) {
            None => Some(None),
            Some(Value::Array(items)) => Some(Some(items)),
            Some(_) => None,
        }
    }

    fn opt_str(&mut self, name: &str) -> Option<Option<String>> {
        match self.opt(name) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s)),
            Some(_) => None,
        }
    }

    pub(crate) fn req_str(&mut self, name: &str) -> Option<String> {
        self.opt_str(name)?
    }

    fn opt_bool(&mut self, name: &str) -> Option<Option<bool>> {
        match self.opt(name) {
            None => Some(None),
            Some(Value::Bool(b)) => Some(Some(b)),
            Some(_) => None,
        }
    }

    /// A non-negative integer (a fractional or negative number is the wrong type).
    pub(crate) fn opt_u64(&mut self, name: &str) -> Option<Option<u64>> {
        match self.opt(name) {
            None => Some(None),
            Some(v) => v.as_u64().map(Some),
        }
    }

    fn opt_f64(&mut self, name: &str) -> Option<Option<f64>> {
        match self.opt(name) {
            None => Some(None),
            Some(v) => v.as_f64().map(Some),
        }
    }

    fn req_f64(&mut self, name: &str) -> Option<f64> {
        self.opt_f64(name)?
    }

    /// A list of strings: absent is empty, `null` is the wrong type.
    fn str_list(&mut self, name: &str) -> Option<Vec<String>> {
        match self.0.remove(name) {
            None => Some(Vec::new()),
            Some(v) => strings(v),
        }
    }

    /// An optional list of strings (`null` is absent).
    fn opt_str_list(&mut self, name: &str) -> Option<Option<Vec<String>>> {
        match self.opt(name) {
            None => Some(None),
            Some(v) => strings(v).map(Some),
        }
    }

    /// One string or a list of strings (`audience`, `issuer`); absent is empty.
    fn one_or_many(&mut self, name: &str) -> Option<Vec<String>> {
        match self.opt(name) {
            None => Some(Vec::new()),
            Some(Value::String(s)) => Some(vec![s]),
            Some(v) => strings(v),
        }
    }
}

/// An array of strings.
fn strings(v: Value) -> Option<Vec<String>> {
    let Value::Array(items) = v else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Verify options from JSON (`{leeway, audience, issuer, required,
/// dangerouslyAllowMissingExp, maxTokenLen}`).
fn verify_options(json: &str) -> Option<VerifyOptions<String>> {
    let mut f = Fields::parse(
        json,
        &[
            "leeway",
            "audience",
            "issuer",
            "required",
            "dangerouslyAllowMissingExp",
            "maxTokenLen",
        ],
    )?;
    Some(VerifyOptions {
        leeway: f.opt_u64("leeway")?,
        audience: f.one_or_many("audience")?,
        issuer: f.one_or_many("issuer")?,
        required: f.opt_str_list("required")?.unwrap_or_default(),
        dangerously_allow_missing_exp: f.opt_bool("dangerouslyAllowMissingExp")?.unwrap_or(false),
        // usize: on wasm32 a length beyond u32 is the wrong type, as before.
        max_token_len: match f.opt_u64("maxTokenLen")? {
            None => None,
            Some(n) => Some(usize::try_from(n).ok()?),
        },
    })
}

/// Builds a [`Validation`] from verify options JSON (absent = the core's defaults), with
/// [`VerifyOptions::build`].
pub fn validation_from_json(json: &str) -> Result<Validation> {
    verify_options(json)
        .ok_or_else(|| {
            bad_options(
                "verify options",
                "{leeway?: integer, audience?: string | string[], issuer?: string | string[], required?: string[], dangerouslyAllowMissingExp?: boolean, maxTokenLen?: integer}",
            )
        })?
        .build()
}

/// Claims from a JSON object, with the same types the core accepts in a token payload.
pub fn claims_from_json(json: &str) -> Result<Claims> {
    Claims::from_json(json.as_bytes())
}

fn claims_json(claims: &Claims) -> Result<String> {
    claims.to_json()
}

// Bits of the presence mask (`meta[0]`) of [`write_verified`]; `fromParts` in
// packages/npm/src/api.mjs reads the same bits.
const HAS_ISS: u32 = 1;
const HAS_SUB: u32 = 2;
const HAS_AUD_ONE: u32 = 4;
const HAS_AUD_MANY: u32 = 8;
const HAS_EXP: u32 = 16;
const HAS_NBF: u32 = 32;
const HAS_IAT: u32 = 64;
const HAS_JTI: u32 = 128;
const HAS_SCOPE: u32 = 256;
const HAS_ROLE: u32 = 512;
const HAS_EXTRA: u32 = 1024;

/// Length of the `meta` array of [`write_verified`].
pub const META_LEN: usize = 13;

/// Offset of the token in the verify buffer shared with JS: `META_LEN` f64s come first.
pub const IO_TOKEN: usize = META_LEN * 8;

/// A verify buffer shared with JS (`Keyset.verify`) as its numbers and the token text
/// `io[IO_TOKEN..IO_TOKEN + len]`, which `TextEncoder.encodeInto` wrote (so valid UTF-8).
pub fn split_io(io: &mut [u8], len: u32) -> Result<(&mut [u8], &str)> {
    let bad = || Error::Internal {
        detail: "verify buffer too small",
    };
    if io.len() < IO_TOKEN {
        return Err(bad());
    }
    let (meta, rest) = io.split_at_mut(IO_TOKEN);
    let token = rest.get(..len as usize).ok_or_else(bad)?;
    let token = core::str::from_utf8(token).map_err(|_| Error::Internal {
        detail: "token bytes are not UTF-8",
    })?;
    Ok((meta, token))
}

/// Appends `s` to `out` and returns its length in UTF-16 code units (what JS string
/// offsets count).
fn push_field(out: &mut String, s: &str) -> usize {
    out.push_str(s);
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// A verified token as one string of concatenated values plus numbers in `meta`, which
/// the npm wrapper turns into `{kid, alg, claims}` with a few `slice`s (`fromParts` in
/// packages/npm/src/api.mjs). One string crosses the boundary: no `JSON.parse` of the
/// claims, and no dozen host objects made one bridge call at a time.
///
/// `out` holds kid, alg, iss, sub, aud, jti, scope, role and the extra claims, in that
/// order, absent ones empty. `meta_out` gets the f64s `[mask, exp, nbf, iat, end of kid, end of alg,
/// end of iss, .., end of extra]`, ends in UTF-16 code units. An `aud` array is its JSON
/// text, and the extra claims are one JSON object written as [`Claims::to_json`] writes
/// it (names sorted), so they read back exactly as the claims JSON did.
pub fn write_verified(v: &VerifiedRef<'_>, out: &mut String, meta_out: &mut [u8]) -> Result<()> {
    let internal = || Error::Internal {
        detail: "verify result did not serialize",
    };
    let mut meta = [0f64; META_LEN];
    let c = &v.claims;
    out.clear();
    let bit = |present: bool, b: u32| if present { b } else { 0 };
    let mask = bit(c.iss.is_some(), HAS_ISS)
        | bit(c.sub.is_some(), HAS_SUB)
        | match c.aud {
            AudienceRef::None => 0,
            AudienceRef::One(_) => HAS_AUD_ONE,
            AudienceRef::Many(_) => HAS_AUD_MANY,
        }
        | bit(c.exp.is_some(), HAS_EXP)
        | bit(c.nbf.is_some(), HAS_NBF)
        | bit(c.iat.is_some(), HAS_IAT)
        | bit(c.jti.is_some(), HAS_JTI)
        | bit(c.scope.is_some(), HAS_SCOPE)
        | bit(c.role.is_some(), HAS_ROLE)
        | bit(!c.extra.is_empty(), HAS_EXTRA);
    meta[0] = f64::from(mask);
    // i64 -> f64 rounds to nearest, as JSON.parse of the decimal text does.
    #[allow(clippy::cast_precision_loss)]
    let date = |t: Option<i64>| t.map_or(0.0, |t| t as f64);
    meta[1] = date(c.exp);
    meta[2] = date(c.nbf);
    meta[3] = date(c.iat);
    let mut end = 0usize;
    let mut ends = [0usize; META_LEN - 4];
    end += push_field(out, v.kid);
    ends[0] = end;
    end += push_field(out, v.alg.as_str());
    ends[1] = end;
    end += push_field(out, c.iss.as_deref().unwrap_or(""));
    ends[2] = end;
    end += push_field(out, c.sub.as_deref().unwrap_or(""));
    ends[3] = end;
    end += match &c.aud {
        AudienceRef::None => 0,
        AudienceRef::One(a) => push_field(out, a),
        AudienceRef::Many(list) => {
            let json = serde_json::to_string(list).map_err(|_| internal())?;
            push_field(out, &json)
        }
    };
    ends[4] = end;
    end += push_field(out, c.jti.as_deref().unwrap_or(""));
    ends[5] = end;
    end += push_field(out, c.scope.as_deref().unwrap_or(""));
    ends[6] = end;
    end += push_field(out, c.role.as_deref().unwrap_or(""));
    ends[7] = end;
    if !c.extra.is_empty() {
        // The owned path's normalization: each value parsed into a JSON value and written
        // back, names sorted.
        let extra = ClaimsRef {
            extra: c.extra.clone(),
            ..ClaimsRef::default()
        }
        .into_owned()?;
        end += push_field(out, &extra.to_json()?);
    }
    ends[8] = end;
    for (m, e) in meta[4..].iter_mut().zip(ends) {
        // Offsets into a string of at most a few megabytes: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let e = e as f64;
        *m = e;
    }
    // Native byte order: JS reads these bytes through a Float64Array.
    for (chunk, m) in meta_out.chunks_exact_mut(8).zip(meta) {
        chunk.copy_from_slice(&m.to_ne_bytes());
    }
    Ok(())
}

/// `keyset.exchange({...})` arguments, as read from JSON (`now` still a JS number).
struct ExchangeJson {
    key_id: String,
    owner: Option<String>,
    scopes: Vec<String>,
    role: Option<String>,
    now: f64,
    ttl: Option<u64>,
    issuer: Option<String>,
    audience: Option<String>,
    jti: Option<String>,
}

impl ExchangeJson {
    fn parse(json: &str) -> Option<ExchangeJson> {
        let mut f = Fields::parse(
            json,
            &[
                "keyId", "owner", "scopes", "role", "now", "ttl", "issuer", "audience", "jti",
            ],
        )?;
        Some(ExchangeJson {
            key_id: f.req_str("keyId")?,
            owner: f.opt_str("owner")?,
            scopes: f.str_list("scopes")?,
            role: f.opt_str("role")?,
            now: f.req_f64("now")?,
            ttl: f.opt_u64("ttl")?,
            issuer: f.opt_str("issuer")?,
            audience: f.opt_str("audience")?,
            jti: f.opt_str("jti")?,
        })
    }
}

/// Issues an exchange token: returns `{"token":..,"claims":{..}}`.
pub fn exchange_to_json(keyset: &Keyset, json: &str) -> Result<String> {
    let a = ExchangeJson::parse(json).ok_or_else(|| {
        bad_options(
            "exchange options",
            "{keyId: string, now: number, owner?, scopes?: string[], role?, ttl?: integer, issuer?, audience?, jti?}",
        )
    })?;
    let scopes: Vec<&str> = a.scopes.iter().map(String::as_str).collect();
    let claims = ExchangeArgs {
        key_id: &a.key_id,
        owner: a.owner.as_deref(),
        scopes: &scopes,
        role: a.role.as_deref(),
        now: time_from_f64("now", a.now)?,
        ttl: a.ttl,
        issuer: a.issuer,
        audience: a.audience,
        jti: a.jti,
    }
    .claims()?;
    let token = keyset.issue(&claims)?;
    let claims = claims_json(&claims)?;
    let mut out = String::with_capacity(token.len() + claims.len() + 24);
    out.push_str("{\"token\":\"");
    // A compact JWS is base64url and dots: no JSON escaping needed.
    out.push_str(&token);
    out.push_str("\",\"claims\":");
    out.push_str(&claims);
    out.push('}');
    Ok(out)
}

/// `new KeyPolicy({...})` options, as read from JSON (`expiresAt` still a JS number).
fn policy_options(json: &str) -> Option<(PolicyOptions<String>, Option<f64>)> {
    let mut f = Fields::parse(
        json,
        &[
            "enabled",
            "revoked",
            "expiresAt",
            "role",
            "scopes",
            "readOnly",
            "allowedIps",
        ],
    )?;
    let options = PolicyOptions {
        enabled: f.opt_bool("enabled")?,
        revoked: f.opt_bool("revoked")?,
        expires_at: None,
        role: f.opt_str("role")?,
        scopes: f.str_list("scopes")?,
        read_only: f.opt_bool("readOnly")?,
        allowed_ips: f.str_list("allowedIps")?,
    };
    Some((options, f.opt_f64("expiresAt")?))
}

/// Builds a [`KeyPolicy`] with [`PolicyOptions::build`]; bad scopes and CIDRs fail with
/// the core's errors.
pub fn policy_from_json(json: &str) -> Result<KeyPolicy> {
    let (mut options, expires_at) = policy_options(json).ok_or_else(|| {
        bad_options(
            "policy",
            "{enabled?: boolean, revoked?: boolean, expiresAt?: number, role?: string, scopes?: string[], readOnly?: boolean, allowedIps?: string[]}",
        )
    })?;
    options.expires_at = expires_at
        .map(|t| time_from_f64("expiresAt", t))
        .transpose()?;
    options.build()
}

/// `policy.check({...})` context.
struct ContextOptions {
    now: f64,
    client_ip: Option<String>,
    method: Option<String>,
    required_scopes: Vec<String>,
    allowed_roles: Vec<String>,
}

impl ContextOptions {
    fn parse(json: &str) -> Option<ContextOptions> {
        let mut f = Fields::parse(
            json,
            &[
                "now",
                "clientIp",
                "method",
                "requiredScopes",
                "allowedRoles",
            ],
        )?;
        Some(ContextOptions {
            now: f.req_f64("now")?,
            client_ip: f.opt_str("clientIp")?,
            method: f.opt_str("method")?,
            required_scopes: f.str_list("requiredScopes")?,
            allowed_roles: f.str_list("allowedRoles")?,
        })
    }
}

/// Checks `policy` against a request context given as JSON, with [`CheckArgs::check`].
pub fn check_policy_json(policy: &KeyPolicy, json: &str) -> Result<()> {
    let c = ContextOptions::parse(json).ok_or_else(|| {
        bad_options(
            "policy context",
            "{now: number, clientIp?: string, method?: string, requiredScopes?: string[], allowedRoles?: string[]}",
        )
    })?;
    CheckArgs {
        now: time_from_f64("now", c.now)?,
        client_ip: c.client_ip,
        method: c.method,
        required_scopes: c.required_scopes,
        allowed_roles: c.allowed_roles,
    }
    .check(policy)
}

/// `[kind, source, value]` of the credential in `flat` = `[name0, value0, name1, ...]`.
pub fn extract_flat(flat: &[String]) -> Result<Vec<String>> {
    let pairs = flat.chunks_exact(2).map(|p| (p[0].as_str(), p[1].as_str()));
    let cred = keyseal::extract_credential(pairs)?;
    let kind = match cred {
        keyseal::Credential::ApiKey { .. } => "api_key",
        keyseal::Credential::Token(_) => "token",
        keyseal::Credential::KeyPair { .. } => "key_pair",
    };
    let value = match cred {
        keyseal::Credential::Token(t) => String::from(t),
        other => other
            .key()
            .map(|k| String::from(k.as_str()))
            .unwrap_or_default(),
    };
    Ok(vec![
        kind.to_owned(),
        cred.source().as_str().to_owned(),
        value,
    ])
}

/// `[code0, family0, code1, family1, ...]`: the core's list of codes, in order.
pub fn error_table() -> Vec<String> {
    keyseal::ErrorCode::ALL
        .iter()
        .flat_map(|c| [c.as_str().to_owned(), c.family().as_str().to_owned()])
        .collect()
}

/// Parses a token algorithm name.
pub fn algorithm(name: &str) -> Result<keyseal::Algorithm> {
    keyseal::Algorithm::from_name(name)
}
