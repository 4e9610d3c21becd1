//! Prometheus metrics in the text exposition format (version 0.0.4), kept with atomics
//! so the hot path takes no lock after a route's first request.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Latency bucket upper bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A latency histogram.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            d.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// A family of counters keyed by a label set rendered as `a="x",b="y"`. Looked up by a
/// 64-bit hash of the label values, so counting allocates nothing after the first time.
#[derive(Default)]
struct Counters(RwLock<HashMap<u64, (String, Arc<AtomicU64>)>>);

fn label_hash(parts: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl Counters {
    fn inc(&self, parts: &impl std::hash::Hash, labels: impl FnOnce() -> String) {
        let key = label_hash(parts);
        if let Ok(m) = self.0.read()
            && let Some((_, c)) = m.get(&key)
        {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Ok(mut m) = self.0.write() {
            m.entry(key)
                .or_insert_with(|| (labels(), Arc::default()))
                .1
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn render(&self, out: &mut String, name: &str) {
        if let Ok(m) = self.0.read() {
            let mut rows: Vec<_> = m.values().collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            for (labels, c) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {}", c.load(Ordering::Relaxed));
            }
        }
    }
}

/// Histograms keyed by a label set (looked up by hash, as [`Counters`]).
#[derive(Default)]
struct Histograms(RwLock<HashMap<u64, (String, Arc<Histogram>)>>);

impl Histograms {
    fn get(
        &self,
        parts: &impl std::hash::Hash,
        labels: impl FnOnce() -> String,
    ) -> Option<Arc<Histogram>> {
        let key = label_hash(parts);
        if let Ok(m) = self.0.read()
            && let Some((_, h)) = m.get(&key)
        {
            return Some(Arc::clone(h));
        }
        self.0
            .write()
            .ok()
            .map(|mut m| Arc::clone(&m.entry(key).or_insert_with(|| (labels(), Arc::default())).1))
    }

    fn render(&self, out: &mut String, name: &str) {
        if let Ok(m) = self.0.read() {
            let mut rows: Vec<_> = m.values().collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            for (labels, h) in rows {
                h.render(out, name, labels);
            }
        }
    }
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Counters,
    request_seconds: Histograms,
    verify: Counters,
    verify_seconds: Histogram,
    exchange: Counters,
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
    pub fn request(&self, method: &axum::http::Method, route: &str, status: u16, d: Duration) {
        let method = method_label(method);
        self.requests.inc(&(method, route, status), || {
            format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"")
        });
        if let Some(h) = self
            .request_seconds
            .get(&route, || format!("route=\"{route}\""))
        {
            h.observe(d);
        }
    }

    /// Counts a verification outcome (`ok` or an error code) and its latency.
    pub fn verify(&self, code: &'static str, d: Duration) {
        self.verify.inc(&code, || format!("code=\"{code}\""));
        self.verify_seconds.observe(d);
    }

    /// Counts a token exchange outcome.
    pub fn exchange(&self, code: &'static str) {
        self.exchange.inc(&code, || format!("code=\"{code}\""));
    }

    /// The exposition text.
    pub fn render(&self, cached_records: usize, cache_bytes: usize) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str(
            "# HELP keyseal_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE keyseal_http_requests_total counter\n");
        self.requests
            .render(&mut out, "keyseal_http_requests_total");
        out.push_str(
            "# HELP keyseal_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE keyseal_http_request_duration_seconds histogram\n");
        self.request_seconds
            .render(&mut out, "keyseal_http_request_duration_seconds");
        out.push_str(
            "# HELP keyseal_verify_total Key verifications by result code (ok or an error code).\n",
        );
        out.push_str("# TYPE keyseal_verify_total counter\n");
        self.verify.render(&mut out, "keyseal_verify_total");
        out.push_str("# HELP keyseal_verify_duration_seconds Key verification latency.\n");
        out.push_str("# TYPE keyseal_verify_duration_seconds histogram\n");
        self.verify_seconds
            .render(&mut out, "keyseal_verify_duration_seconds", "");
        out.push_str("# HELP keyseal_token_exchange_total Token exchanges by result code.\n");
        out.push_str("# TYPE keyseal_token_exchange_total counter\n");
        self.exchange
            .render(&mut out, "keyseal_token_exchange_total");
        out.push_str("# HELP keyseal_cached_records Key records in the verify cache.\n");
        out.push_str("# TYPE keyseal_cached_records gauge\n");
        let _ = writeln!(out, "keyseal_cached_records {cached_records}");
        out.push_str(
            "# HELP keyseal_cache_bytes_estimate Estimated heap use of the verify cache.\n",
        );
        out.push_str("# TYPE keyseal_cache_bytes_estimate gauge\n");
        let _ = writeln!(out, "keyseal_cache_bytes_estimate {cache_bytes}");
        out
    }
}
