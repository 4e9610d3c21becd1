//! TLS for PostgreSQL connections: libpq's `sslmode` and `sslrootcert`, on rustls (ring).
//!
//! The `postgres` crate parses `sslmode` itself but knows only `disable`, `prefer` and
//! `require`, and it verifies nothing: the certificate checks belong to the TLS connector.
//! So both parameters are taken out of the connection string here, the rest goes to
//! `postgres::Config`, and the mode becomes the connector's certificate check, as libpq
//! documents them (<https://www.postgresql.org/docs/current/libpq-ssl.html>, table 32.1):
//!
//! | `sslmode` | TLS | certificate check |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it; plaintext when it declines | none; the chain when `sslrootcert` is given |
//! | `require` | always; fails when the server declines | none; the chain when `sslrootcert` is given (libpq: "same as verify-ca") |
//! | `verify-ca` | always | the chain to a CA in `sslrootcert` |
//! | `verify-full` | always | the chain and the host name (or IP address) |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the operating system's
//! trust store (then, as in libpq 16, `sslmode` defaults to and must be `verify-full`).
//! libpq's default file `~/.postgresql/root.crt` is not read: name the file. Once the server
//! has agreed to TLS a failed handshake is an error in every mode; there is no retry in
//! plaintext (libpq may retry `prefer` without TLS; this crate does not).
//!
//! The pool's connections and the LISTEN/NOTIFY listener both connect through [`connect`].

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{SignatureScheme, client::WebPkiServerVerifier};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conn::DbErr;

/// libpq's `sslmode` values, less `allow` (plaintext first), which the driver lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the trusted CA certificates come from (`sslrootcert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// Not given.
    None,
    /// A PEM file.
    File(String),
    /// `sslrootcert=system`: the operating system's trust store.
    System,
}

/// The TLS parameters of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsParams {
    /// Defaults to `prefer`, or `verify-full` with `sslrootcert=system`.
    pub(crate) mode: SslMode,
    /// Defaults to none.
    pub(crate) root: RootCert,
}

/// What the connector checks in the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing: encryption against a passive listener only.
    Nothing,
    /// The chain to a trusted CA, not the name.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

fn config_err(setting: &'static str, expected: &'static str) -> DbErr {
    DbErr::Config { setting, expected }
}

fn bad_url() -> DbErr {
    config_err(
        "the PostgreSQL connection string",
        "a postgres:// URL or key=value pairs the postgres driver accepts",
    )
}

fn parse_mode(v: &str) -> Result<SslMode, DbErr> {
    Ok(match v {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(config_err(
                "sslmode",
                "disable, prefer, require, verify-ca or verify-full (allow is not supported)",
            ));
        }
    })
}

/// Percent-decodes a URL query component (`+` stays `+`, as in libpq).
fn percent_decode(s: &str) -> Result<String, DbErr> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad_url)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad_url())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad_url())
}

/// One `key=value` pair of a key/value connection string: the key, the unquoted value,
/// and where the pair sits in the string.
struct Pair {
    key: String,
    value: String,
    span: std::ops::Range<usize>,
}

/// Splits a libpq key/value connection string (`host=x port=5432 password='a b\'c'`):
/// spaces around `=` are allowed, a value is either single-quoted (with `\'` and `\\`)
/// or runs to the next space (with backslash escapes).
fn key_values(s: &str) -> Result<Vec<Pair>, DbErr> {
    let b = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= b.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_owned();
        i = skip_ws(i);
        if key.is_empty() || i >= b.len() || b[i] != b'=' {
            return Err(bad_url());
        }
        i = skip_ws(i + 1);
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(bad_url()),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
        }
        pairs.push(Pair {
            key,
            value: String::from_utf8(value).map_err(|_| bad_url())?,
            span: start..i,
        });
    }
}

/// TLS options libpq knows that this crate does not support; named in the error so a
/// client certificate is not silently left out.
const UNSUPPORTED: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcertmode",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslcompression",
    "requiressl",
];

/// Takes `sslmode` and `sslrootcert` out of a connection string (a `postgres://` URL or
/// key/value pairs): returns the rest, for `postgres::Config`, and the TLS parameters.
pub(crate) fn split(conn: &str) -> Result<(String, TlsParams), DbErr> {
    let mut mode: Option<String> = None;
    let mut root: Option<String> = None;
    let mut take = |key: &str, value: String| -> Result<bool, DbErr> {
        match key {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            k if UNSUPPORTED.contains(&k) => {
                return Err(config_err(
                    "the PostgreSQL TLS options",
                    "sslmode, sslrootcert or sslnegotiation (client certificates, CRLs and \
                     protocol bounds are not supported)",
                ));
            }
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        match conn.split_once('?') {
            None => conn.to_owned(),
            Some((head, query)) => {
                let mut kept = Vec::new();
                for part in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = part.split_once('=').unwrap_or((part, ""));
                    if !take(&percent_decode(k)?, percent_decode(v)?)? {
                        kept.push(part);
                    }
                }
                if kept.is_empty() {
                    head.to_owned()
                } else {
                    format!("{head}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for p in key_values(conn)? {
            if !take(&p.key, p.value)? {
                kept.push(&conn[p.span]);
            }
        }
        kept.join(" ")
    };
    // An empty sslrootcert means "not given", as in libpq.
    let root = match root.as_deref() {
        None | Some("") => RootCert::None,
        Some("system") => RootCert::System,
        Some(path) => RootCert::File(path.to_owned()),
    };
    let mode = match (mode.as_deref(), &root) {
        (None, RootCert::System) => SslMode::VerifyFull,
        (None, _) => SslMode::Prefer,
        (Some(m), _) => parse_mode(m)?,
    };
    if root == RootCert::System && mode != SslMode::VerifyFull {
        // libpq 16: weaker modes with the system's roots would trust any public CA's
        // certificate for any host name.
        return Err(config_err("sslmode with sslrootcert=system", "verify-full"));
    }
    Ok((rest, TlsParams { mode, root }))
}

impl TlsParams {
    /// The driver's mode (whether TLS is tried, required or never used) and the check.
    pub(crate) fn resolve(&self) -> Result<(postgres::config::SslMode, Check), DbErr> {
        use postgres::config::SslMode as M;
        let has_root = self.root != RootCert::None;
        Ok(match self.mode {
            SslMode::Disable => (M::Disable, Check::Nothing),
            SslMode::Prefer if has_root => (M::Prefer, Check::Chain),
            SslMode::Prefer => (M::Prefer, Check::Nothing),
            SslMode::Require if has_root => (M::Require, Check::Chain),
            SslMode::Require => (M::Require, Check::Nothing),
            SslMode::VerifyCa | SslMode::VerifyFull if !has_root => {
                return Err(config_err(
                    "sslrootcert",
                    "set (a PEM file of CA certificates, or system) for sslmode=verify-ca \
                     and verify-full",
                ));
            }
            SslMode::VerifyCa => (M::Require, Check::Chain),
            SslMode::VerifyFull => (M::Require, Check::ChainAndName),
        })
    }
}

fn unreadable_root() -> DbErr {
    config_err(
        "sslrootcert",
        "a readable PEM file with at least one CA certificate",
    )
}

/// The trusted CAs of `root`.
fn roots(root: &RootCert) -> Result<RootCertStore, DbErr> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::None => {}
        RootCert::File(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|_| unreadable_root())? {
                store
                    .add(cert.map_err(|_| unreadable_root())?)
                    .map_err(|_| unreadable_root())?;
            }
            if store.is_empty() {
                return Err(unreadable_root());
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(config_err(
                    "sslrootcert=system",
                    "usable with at least one CA certificate in the system's trust store",
                ));
            }
        }
    }
    Ok(store)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls connector for `check` against the CAs of `root`.
pub(crate) fn connector(check: Check, root: &RootCert) -> Result<MakeRustlsConnect, DbErr> {
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|_| DbErr::Other)?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(dangerous::NoCertificateCheck { algorithms }),
        Check::Chain => Arc::new(ChainOnly {
            roots: Arc::new(roots(root)?),
            algorithms,
        }),
        Check::ChainAndName => {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root)?), provider)
                .build()
                .map_err(|_| unreadable_root())?
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Connects to PostgreSQL with the TLS that `conn`'s `sslmode` and `sslrootcert` ask for.
///
/// Errors: [`DbErr::Config`] (`invalid_config`) for a malformed string, an unknown
/// `sslmode` or an unusable `sslrootcert`; [`DbErr::Connect`] or [`DbErr::Unavailable`]
/// (`storage_unavailable`) when the server cannot be reached, refuses the connection or
/// fails the certificate check. No message carries the password.
pub(crate) fn connect(conn: &str, timeout: Duration) -> Result<postgres::Client, DbErr> {
    let (rest, params) = split(conn)?;
    let mut config: postgres::Config = rest.parse().map_err(|_| bad_url())?;
    let (mode, check) = params.resolve()?;
    config.ssl_mode(mode);
    config.connect_timeout(timeout);
    let tls = connector(check, &params.root)?;
    config.connect(tls).map_err(|e| connect_err(&e))
}

/// A fixed description of why connecting failed (never the driver's text, which may
/// quote the server).
fn connect_err(e: &postgres::Error) -> DbErr {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            c if c.starts_with("28") => DbErr::Connect(
                "the PostgreSQL server refused the connection (authentication or pg_hba.conf)",
            ),
            "3D000" => DbErr::Connect("the PostgreSQL database does not exist"),
            _ => DbErr::Unavailable,
        };
    }
    // The TLS failure travels as the source: an io::Error wrapping the rustls::Error
    // (tokio-rustls), or the driver's own message when the server declines TLS.
    let Some(source) = std::error::Error::source(e) else {
        return DbErr::Unavailable;
    };
    let rustls_err = source
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(err) = rustls_err {
        return DbErr::Connect(match err {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    "the PostgreSQL server's certificate is not signed by a CA in sslrootcert"
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the PostgreSQL server's certificate does not match its host name \
                     (sslmode=verify-full)"
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    "the PostgreSQL server's certificate has expired or is not valid yet"
                }
                _ => "the PostgreSQL server's certificate was refused",
            },
            _ => "the TLS handshake with the PostgreSQL server failed",
        });
    }
    if e.to_string().starts_with("error performing TLS handshake") {
        if source.to_string().contains("does not support TLS") {
            return DbErr::Connect(
                "the PostgreSQL server does not accept TLS, and sslmode requires it",
            );
        }
        return DbErr::Connect("the TLS handshake with the PostgreSQL server failed");
    }
    DbErr::Unavailable
}

/// `verify-ca`: the chain to a trusted CA, whatever name the certificate carries.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The check that weakens TLS: kept apart so it is never picked by accident.
mod dangerous {
    use super::*;

    /// `prefer` and `require` without `sslrootcert`: the server's certificate is not
    /// checked (libpq does the same), so the session is encrypted against a passive
    /// listener but not authenticated. The handshake signature is still verified, so
    /// the server must hold the key of the certificate it sent.
    #[derive(Debug)]
    pub(super) struct NoCertificateCheck {
        pub(super) algorithms: WebPkiSupportedAlgorithms,
    }

    impl ServerCertVerifier for NoCertificateCheck {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn params(conn: &str) -> (String, TlsParams) {
        split(conn).unwrap()
    }

    fn config_setting(r: Result<(String, TlsParams), DbErr>) -> &'static str {
        match r {
            Err(DbErr::Config { setting, .. }) => setting,
            other => panic!("expected a config error, got {:?}", other.map(|p| p.1)),
        }
    }

    #[test]
    fn url_params_are_taken_out_and_the_rest_kept() {
        let (rest, p) = params(
            "postgres://u:pw@db.example:5432/keys?application_name=ks&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20dir%2Froot.pem&connect_timeout=3",
        );
        assert_eq!(
            rest,
            "postgres://u:pw@db.example:5432/keys?application_name=ks&connect_timeout=3"
        );
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root, RootCert::File("/etc/ca dir/root.pem".into()));
        rest.parse::<postgres::Config>().unwrap();
    }

    #[test]
    fn defaults_follow_libpq() {
        let (rest, p) = params("postgresql://u@h/db");
        assert_eq!(rest, "postgresql://u@h/db");
        assert_eq!(p.mode, SslMode::Prefer);
        assert_eq!(p.root, RootCert::None);
        let (rest, p) = params("postgres://u@h/db?sslmode=require");
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(p.mode, SslMode::Require);
        // sslrootcert=system defaults to verify-full and allows nothing weaker.
        assert_eq!(
            params("postgres://u@h/db?sslrootcert=system").1.mode,
            SslMode::VerifyFull
        );
        assert_eq!(
            config_setting(split(
                "postgres://u@h/db?sslrootcert=system&sslmode=require"
            )),
            "sslmode with sslrootcert=system"
        );
    }

    #[test]
    fn modes_map_onto_the_driver_and_the_check() {
        use postgres::config::SslMode as M;
        let r = |conn: &str| params(conn).1.resolve();
        let base = "postgres://u@h/db?";
        let ca = "&sslrootcert=/ca.pem";
        assert_eq!(
            r(&format!("{base}sslmode=disable")).unwrap(),
            (M::Disable, Check::Nothing)
        );
        assert_eq!(
            r(&format!("{base}sslmode=prefer")).unwrap(),
            (M::Prefer, Check::Nothing)
        );
        assert_eq!(
            r(&format!("{base}sslmode=prefer{ca}")).unwrap(),
            (M::Prefer, Check::Chain)
        );
        assert_eq!(
            r(&format!("{base}sslmode=require")).unwrap(),
            (M::Require, Check::Nothing)
        );
        // libpq: require with a root certificate behaves as verify-ca.
        assert_eq!(
            r(&format!("{base}sslmode=require{ca}")).unwrap(),
            (M::Require, Check::Chain)
        );
        assert_eq!(
            r(&format!("{base}sslmode=verify-ca{ca}")).unwrap(),
            (M::Require, Check::Chain)
        );
        assert_eq!(
            r(&format!("{base}sslmode=verify-full{ca}")).unwrap(),
            (M::Require, Check::ChainAndName)
        );
        for m in ["verify-ca", "verify-full"] {
            match r(&format!("{base}sslmode={m}")) {
                Err(DbErr::Config { setting, .. }) => assert_eq!(setting, "sslrootcert"),
                other => panic!("{m} without a CA: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_values_are_config_errors() {
        for bad in ["allow", "VERIFY-FULL", "on", ""] {
            assert_eq!(
                config_setting(split(&format!("postgres://u@h/db?sslmode={bad}"))),
                "sslmode",
                "{bad}"
            );
        }
        assert_eq!(
            config_setting(split("postgres://u@h/db?sslcert=/c.pem&sslkey=/k.pem")),
            "the PostgreSQL TLS options"
        );
        assert_eq!(
            config_setting(split("postgres://u@h/db?sslmode=%zz")),
            "the PostgreSQL connection string"
        );
    }

    #[test]
    fn key_value_strings_too() {
        let (rest, p) = params(
            "host=127.0.0.1 port = 5432 password='a b\\'c' sslmode=verify-ca \
             sslrootcert='/tmp/my ca.pem' user=u",
        );
        assert_eq!(rest, "host=127.0.0.1 port = 5432 password='a b\\'c' user=u");
        assert_eq!(p.mode, SslMode::VerifyCa);
        assert_eq!(p.root, RootCert::File("/tmp/my ca.pem".into()));
        let c: postgres::Config = rest.parse().unwrap();
        assert_eq!(c.get_password(), Some(&b"a b'c"[..]));
        assert_eq!(
            config_setting(split("host=h sslmode")),
            "the PostgreSQL connection string"
        );
        assert_eq!(
            config_setting(split("host=h password='open")),
            "the PostgreSQL connection string"
        );
    }

    #[test]
    fn an_unreadable_or_empty_root_file_is_a_config_error() {
        let dir = std::env::temp_dir().join(format!("keyseal-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for path in [
            dir.join("missing.pem").display().to_string(),
            empty.display().to_string(),
        ] {
            match connector(Check::Chain, &RootCert::File(path.clone())) {
                Err(DbErr::Config { setting, .. }) => assert_eq!(setting, "sslrootcert"),
                Err(other) => panic!("{path}: {other:?}"),
                Ok(_) => panic!("{path}: accepted"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
