//! Conversion code shared by the napi and the wasm binding (the wasm crate includes this
//! file with `#[path]`), so both backends turn JavaScript input into core types with the
//! same code and produce the same bytes. No keyseal logic lives here: only the shapes of
//! JSON options and results.
//!
//! Structured input (claims, verify options, policies, contexts, exchange arguments)
//! crosses the boundary as JSON text made by `JSON.stringify` in the npm package: one
//! parser (serde_json) on both backends, integers stay integers, and nothing depends on
//! how a host bridge maps JS numbers.

use keyseal::{
    Claim, Claims, Error, ExchangeOptions, KeyIdentity, KeyPolicy, Keyset, RequestContext, Result,
    Scope, Validation, VerifiedToken,
};
use serde::Deserialize;

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

/// One string or a list of strings (`audience`, `issuer`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `keyset.verify(token, options)` options, minus `now`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VerifyOptions {
    #[serde(default)]
    leeway: Option<u64>,
    #[serde(default)]
    audience: Option<OneOrMany>,
    #[serde(default)]
    issuer: Option<OneOrMany>,
    #[serde(default)]
    required: Option<Vec<String>>,
    #[serde(default)]
    max_token_len: Option<usize>,
}

/// Builds a [`Validation`] from verify options JSON (`{leeway, audience, issuer, required,
/// maxTokenLen}`; absent = the core's defaults; `required` replaces the default `["exp"]`).
pub fn validation_from_json(json: &str) -> Result<Validation> {
    let o: VerifyOptions = serde_json::from_str(json).map_err(|_| {
        bad_options(
            "verify options",
            "{leeway?: integer, audience?: string | string[], issuer?: string | string[], required?: string[], maxTokenLen?: integer}",
        )
    })?;
    let mut v = Validation::new();
    if let Some(leeway) = o.leeway {
        v = v.with_leeway(leeway)?;
    }
    for a in o.audience.map(OneOrMany::into_vec).unwrap_or_default() {
        v = v.with_audience(&a);
    }
    for i in o.issuer.map(OneOrMany::into_vec).unwrap_or_default() {
        v = v.with_issuer(&i);
    }
    if let Some(required) = o.required {
        v = v.allow_missing(Claim::Exp);
        for name in required {
            let claim = Claim::from_name(&name).ok_or_else(|| {
                bad_options(
                    "required",
                    "names of registered claims (iss, sub, aud, exp, nbf, iat, jti, scope, role)",
                )
            })?;
            v = v.require(claim);
        }
    }
    if let Some(max) = o.max_token_len {
        v = v.with_max_token_len(max)?;
    }
    Ok(v)
}

/// Claims from a JSON object, with the same types the core accepts in a token payload.
pub fn claims_from_json(json: &str) -> Result<Claims> {
    Claims::from_json(json.as_bytes())
}

fn claims_json(claims: &Claims) -> Result<String> {
    claims.to_json()
}

/// `{"kid":..,"alg":..,"claims":{..}}` of a verified token.
pub fn verified_to_json(v: &VerifiedToken) -> Result<String> {
    let claims = claims_json(&v.claims)?;
    let mut out = String::with_capacity(claims.len() + v.kid.len() + 40);
    out.push_str("{\"kid\":");
    // kid is restricted to [A-Za-z0-9._:-] by the core, but serialize it anyway.
    out.push_str(&serde_json::to_string(&v.kid).map_err(|_| Error::Internal {
        detail: "kid did not serialize",
    })?);
    out.push_str(",\"alg\":\"");
    out.push_str(v.alg.as_str());
    out.push_str("\",\"claims\":");
    out.push_str(&claims);
    out.push('}');
    Ok(out)
}

/// `keyset.exchange({...})` arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExchangeArgs {
    key_id: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    now: f64,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    jti: Option<String>,
}

/// Issues an exchange token: returns `{"token":..,"claims":{..}}`.
pub fn exchange_to_json(keyset: &Keyset, json: &str) -> Result<String> {
    let a: ExchangeArgs = serde_json::from_str(json).map_err(|_| {
        bad_options(
            "exchange options",
            "{keyId: string, now: number, owner?, scopes?: string[], role?, ttl?: integer, issuer?, audience?, jti?}",
        )
    })?;
    let scopes: Vec<&str> = a.scopes.iter().map(String::as_str).collect();
    let identity = KeyIdentity {
        key_id: &a.key_id,
        owner: a.owner.as_deref(),
        scopes: &scopes,
        role: a.role.as_deref(),
    };
    let mut options = ExchangeOptions::default();
    if let Some(ttl) = a.ttl {
        options.ttl = ttl;
    }
    options.issuer = a.issuer;
    options.audience = a.audience;
    options.jti = a.jti;
    let now = time_from_f64("now", a.now)?;
    let claims = keyseal::exchange_claims(&identity, now, &options)?;
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

/// `new KeyPolicy({...})` options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyOptions {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    expires_at: Option<f64>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    read_only: Option<bool>,
    #[serde(default)]
    allowed_ips: Vec<String>,
}

/// Builds a [`KeyPolicy`]; bad scopes and CIDRs fail with the core's errors.
pub fn policy_from_json(json: &str) -> Result<KeyPolicy> {
    let o: PolicyOptions = serde_json::from_str(json).map_err(|_| {
        bad_options(
            "policy",
            "{enabled?: boolean, revoked?: boolean, expiresAt?: number, role?: string, scopes?: string[], readOnly?: boolean, allowedIps?: string[]}",
        )
    })?;
    let mut p = KeyPolicy::default();
    if let Some(v) = o.enabled {
        p.enabled = v;
    }
    if let Some(v) = o.revoked {
        p.revoked = v;
    }
    p.expires_at = o
        .expires_at
        .map(|t| time_from_f64("expiresAt", t))
        .transpose()?;
    p.role = o.role;
    p.scopes = o
        .scopes
        .iter()
        .map(|s| Scope::new(s))
        .collect::<Result<_>>()?;
    if let Some(v) = o.read_only {
        p.read_only = v;
    }
    p.allowed_ips = o
        .allowed_ips
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_>>()?;
    Ok(p)
}

/// `policy.check({...})` context.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContextOptions {
    now: f64,
    #[serde(default)]
    client_ip: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    required_scopes: Vec<String>,
    #[serde(default)]
    allowed_roles: Vec<String>,
}

/// Checks `policy` against a request context given as JSON.
pub fn check_policy_json(policy: &KeyPolicy, json: &str) -> Result<()> {
    let c: ContextOptions = serde_json::from_str(json).map_err(|_| {
        bad_options(
            "policy context",
            "{now: number, clientIp?: string, method?: string, requiredScopes?: string[], allowedRoles?: string[]}",
        )
    })?;
    let client_ip = c
        .client_ip
        .as_deref()
        .map(keyseal::policy::parse_ip)
        .transpose()?;
    let required: Vec<&str> = c.required_scopes.iter().map(String::as_str).collect();
    let roles: Vec<&str> = c.allowed_roles.iter().map(String::as_str).collect();
    let ctx = RequestContext {
        now: time_from_f64("now", c.now)?,
        client_ip,
        method: c.method.as_deref(),
        required_scopes: &required,
        allowed_roles: &roles,
    };
    policy.check(&ctx)
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
