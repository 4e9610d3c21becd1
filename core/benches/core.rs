//! Core benchmarks, with the peers in the same run:
//! - token verify/issue: keyseal vs the `jsonwebtoken` crate (same validation: aud, iss,
//!   exp, nbf) vs the floor, raw HMAC-SHA256 over the same signing input with a
//!   precomputed key state (RustCrypto `hmac`);
//! - API key verify: parse + checksum + peppered digest + constant-time compare;
//! - policy check: a record with 4 CIDRs and 6 scopes;
//! - in-process meter check: one limit and credits, a hot subject (alone, and among
//!   100,000 others).
//!
//! `cargo bench -p keyseal --bench core` prints criterion's report, then a Markdown table
//! with ratios (read from criterion's estimates).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::Criterion;
use hmac::{KeyInit, Mac};
use keyseal::meter::MAX_AMOUNT;
use keyseal::{
    Algorithm, Claims, Credits, FixedEntropy, IpNet, KeyFormat, KeyPolicy, Keyset, Meter,
    MeterSpec, Pepper, PepperSet, RateLimit, Refill, RefillInterval, RequestContext, Scope,
    TokenKey,
};
use std::hint::black_box;
use std::time::Duration;

mod fixture;
use fixture::{NOW, SECRET, claims};

fn benches(c: &mut Criterion) {
    let keyset = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &SECRET).unwrap());
    let token = keyset.issue(&claims()).unwrap();
    let signing_input = token.rsplit_once('.').unwrap().0.to_owned();
    let validation = fixture::validation();

    let mut g = c.benchmark_group("token");
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&SECRET).unwrap();
    g.bench_function("floor_hmac_sha256", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(signing_input.as_bytes()));
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("keyseal_verify", |b| {
        b.iter(|| keyset.verify(black_box(&token), &validation, NOW).unwrap())
    });
    let mut scratch = Vec::new();
    g.bench_function("keyseal_verify_borrowed", |b| {
        b.iter(|| {
            let v = keyset
                .verify_borrowed(black_box(&token), &validation, NOW, &mut scratch)
                .unwrap();
            black_box(v.claims.exp)
        })
    });
    let dkey = jsonwebtoken::DecodingKey::from_secret(&SECRET);
    let mut jv = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    jv.set_audience(&["https://api.acme.example"]);
    jv.set_issuer(&["https://auth.acme.example"]);
    jv.validate_nbf = true;
    jv.leeway = 0;
    // jsonwebtoken reads the clock itself; the token's exp is fixed, so give it one that is
    // valid today for the peer (same size and shape).
    let now_real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let peer_claims = Claims {
        exp: Some(now_real + 3600),
        nbf: Some(now_real - 10),
        iat: Some(now_real - 10),
        ..claims()
    };
    let peer_token = keyset.issue(&peer_claims).unwrap();
    g.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&peer_token), &dkey, &jv).unwrap()
        })
    });
    let c0 = claims();
    g.bench_function("keyseal_issue", |b| {
        b.iter(|| keyset.issue(black_box(&c0)).unwrap())
    });
    let ekey = jsonwebtoken::EncodingKey::from_secret(&SECRET);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let cj = serde_json::to_value(claims()).unwrap();
    g.bench_function("jsonwebtoken_encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&cj), &ekey).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("api_key");
    let format = KeyFormat::new("acme_live").unwrap();
    let key = format
        .generate(&mut FixedEntropy::new(&[77u8; 64]))
        .unwrap();
    let peppers = PepperSet::new(Pepper::new("p1", &[3u8; 32]).unwrap());
    let stored = peppers.digest(key.expose());
    let presented = key.expose().to_owned();
    g.bench_function("keyseal_verify", |b| {
        b.iter(|| {
            let parts = format.check(black_box(&presented)).unwrap();
            black_box(parts.id());
            peppers.verify(&presented, &stored).unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("policy");
    let policy = KeyPolicy {
        role: Some("merchant-terminal".into()),
        read_only: true,
        expires_at: Some(NOW + 86_400),
        scopes: [
            "keys:read",
            "keys:list",
            "billing:*",
            "reports:read",
            "users:read",
            "audit:read",
        ]
        .iter()
        .map(|s| Scope::new(s).unwrap())
        .collect(),
        allowed_ips: [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "2001:db8::/32",
        ]
        .iter()
        .map(|s| s.parse::<IpNet>().unwrap())
        .collect(),
        ..KeyPolicy::default()
    };
    let ip = "2001:db8::42".parse().unwrap();
    let required = ["billing:read", "audit:read"];
    let roles = ["merchant-terminal"];
    g.bench_function("keyseal_check", |b| {
        b.iter(|| {
            let ctx = RequestContext {
                now: NOW,
                client_ip: Some(black_box(ip)),
                method: Some("GET"),
                required_scopes: &required,
                allowed_roles: &roles,
            };
            policy.check(black_box(&ctx)).unwrap()
        })
    });
    g.finish();

    // One limit and credits with a daily refill, both large enough that every check is
    // admitted and spends (the common case): the cost of the bookkeeping, not of refusals.
    let mut g = c.benchmark_group("meter");
    let meter = || {
        let refill = Refill::new(MAX_AMOUNT, RefillInterval::Daily, None).unwrap();
        Meter::new(MeterSpec {
            limits: vec![(
                "per_minute".into(),
                RateLimit::new(MAX_AMOUNT, 60_000).unwrap(),
            )],
            credits: Some((MAX_AMOUNT, Credits::new(Some(refill)))),
            max_subjects: None,
        })
        .unwrap()
    };
    let now_ms = u64::try_from(NOW).unwrap() * 1000;
    let mut hot = meter();
    g.bench_function("check_hot_subject", |b| {
        b.iter(|| {
            hot.check(black_box("key_7Hq2kLm9PzX4"), now_ms, 1, false)
                .unwrap()
        })
    });
    let mut crowded = meter();
    for i in 0..100_000 {
        crowded
            .check(&format!("key_{i:012}"), now_ms, 1, false)
            .unwrap();
    }
    g.bench_function("check_hot_subject_among_100k", |b| {
        b.iter(|| {
            crowded
                .check(black_box("key_000000050000"), now_ms, 1, false)
                .unwrap()
        })
    });
    g.finish();
    println!("signing input: {} bytes", signing_input.len());
}

/// Reads criterion's point estimate (ns) for `group/name`.
fn estimate(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn summary() {
    let get = |g: &str, n: &str| estimate(g, n).unwrap_or(f64::NAN);
    let floor = get("token", "floor_hmac_sha256");
    let verify = get("token", "keyseal_verify");
    let borrowed = get("token", "keyseal_verify_borrowed");
    let jwt_dec = get("token", "jsonwebtoken_decode");
    let issue = get("token", "keyseal_issue");
    let jwt_enc = get("token", "jsonwebtoken_encode");
    let key = get("api_key", "keyseal_verify");
    let pol = get("policy", "keyseal_check");
    let meter = get("meter", "check_hot_subject");
    let crowded = get("meter", "check_hot_subject_among_100k");
    println!("\n| benchmark | ns/op | ratio | target |");
    println!("| --- | ---: | ---: | --- |");
    println!("| raw HMAC-SHA256 over the signing input (floor) | {floor:.0} | 1.00x floor | |");
    println!(
        "| keyseal token verify, borrowed claims, reused buffer (aud, iss, exp, nbf) | {borrowed:.0} | {:.2}x floor | <= 2.0x floor |",
        borrowed / floor
    );
    println!(
        "| keyseal token verify, owned claims (aud, iss, exp, nbf) | {verify:.0} | {:.2}x floor | |",
        verify / floor
    );
    println!(
        "| jsonwebtoken decode (same validation) | {jwt_dec:.0} | keyseal is {:.1}x faster (owned claims) | keyseal >= 3x faster |",
        jwt_dec / verify
    );
    println!(
        "| keyseal token issue | {issue:.0} | {:.2}x floor | |",
        issue / floor
    );
    println!(
        "| jsonwebtoken encode | {jwt_enc:.0} | keyseal is {:.1}x faster | |",
        jwt_enc / issue
    );
    println!(
        "| keyseal API key verify (parse + checksum + digest + compare) | {key:.0} | | <= 250 ns |"
    );
    println!("| keyseal policy check (4 CIDRs, 6 scopes) | {pol:.1} | | <= 50 ns |");
    println!(
        "| keyseal in-process meter check (one limit + credits, hot subject) | {meter:.0} | | |"
    );
    println!(
        "| the same among 100,000 subjects | {crowded:.0} | {:.2}x | |",
        crowded / meter
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary();
}
