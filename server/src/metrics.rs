//! Prometheus metrics in the text exposition format (version 0.0.4), kept and written by
//! the `prometheus-client` crate.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency bucket upper bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// `method`, `route`, `status` of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

/// `route` of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: Arc<str>,
}

/// `code`: `ok` or an error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabel, Histogram, fn() -> Histogram>,
    verify: Family<CodeLabel, Counter>,
    verify_seconds: Histogram,
    exchange: Family<CodeLabel, Counter>,
    cached_records: Gauge,
    cache_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            verify: Family::default(),
            verify_seconds: latency_histogram(),
            exchange: Family::default(),
            cached_records: Gauge::default(),
            cache_bytes: Gauge::default(),
        };
        let mut r = m.registry;
        // Help texts without their final period: the encoder adds it.
        macro_rules! register {
            ($($name:literal, $help:literal => $metric:expr;)*) => {
                $( r.register($name, $help, $metric.clone()); )*
            };
        }
        register! {
            "keyseal_http_requests", "HTTP requests by method, route and status" => m.requests;
            "keyseal_http_request_duration_seconds", "HTTP request latency by route" => m.request_seconds;
            "keyseal_verify", "Key verifications by result code (ok or an error code)" => m.verify;
            "keyseal_verify_duration_seconds", "Key verification latency" => m.verify_seconds;
            "keyseal_token_exchange", "Token exchanges by result code" => m.exchange;
            "keyseal_cached_records", "Key records in the verify cache" => m.cached_records;
            "keyseal_cache_bytes_estimate", "Estimated heap use of the verify cache" => m.cache_bytes;
        }
        Metrics { registry: r, ..m }
    }
}

/// The label value of an HTTP method: the methods of RFC 9110 section 9 and PATCH (RFC
/// 5789) by name, any other method `other`. hyper accepts extension methods of any length
/// (hundreds of kilobytes), so the method itself must never become a label or a log field:
/// each distinct value would be a new series kept for the life of the process.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Every label value comes from a closed set: route templates (or `unmatched`), the
/// methods of [`method_label`], status numbers and error codes. Never a key, a path or
/// any other client-chosen text.
impl Metrics {
    /// Counts a request on `route` (a route template of the router, or `unmatched`: a
    /// closed set) and records its latency.
    pub fn request(&self, method: &axum::http::Method, route: &Arc<str>, status: u16, d: Duration) {
        let route = Arc::clone(route);
        self.request_seconds
            .get_or_create(&RouteLabel {
                route: Arc::clone(&route),
            })
            .observe(d.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route,
                status,
            })
            .inc();
    }

    /// Counts a verification outcome (`ok` or an error code) and its latency.
    pub fn verify(&self, code: &'static str, d: Duration) {
        self.verify.get_or_create(&CodeLabel { code }).inc();
        self.verify_seconds.observe(d.as_secs_f64());
    }

    /// Counts a token exchange outcome.
    pub fn exchange(&self, code: &'static str) {
        self.exchange.get_or_create(&CodeLabel { code }).inc();
    }

    /// The exposition text.
    pub fn render(&self, cached_records: usize, cache_bytes: usize) -> String {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.cached_records.set(gauge(cached_records));
        self.cache_bytes.set(gauge(cache_bytes));
        let mut out = String::with_capacity(8192);
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}
