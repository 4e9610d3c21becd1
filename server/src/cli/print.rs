//! Output for people: dates, tables, records (never a secret except the new key shown
//! once).

use serde_json::Value;

/// Unix seconds as RFC 3339 UTC (proleptic Gregorian; Howard Hinnant's civil_from_days).
pub fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub fn print_table(rows: &[Value]) {
    let cols = ["id", "name", "role", "status", "version", "created_at"];
    let cell = |r: &Value, c: &str| -> String {
        match (c, &r[c]) {
            ("created_at", Value::Number(n)) => n.as_i64().map_or_else(String::new, rfc3339),
            (_, Value::String(s)) => s.clone(),
            (_, Value::Null) => "-".to_owned(),
            (_, v) => v.to_string(),
        }
    };
    let mut widths: Vec<usize> = cols.iter().map(|c| c.len()).collect();
    for r in rows {
        for (i, c) in cols.iter().enumerate() {
            widths[i] = widths[i].max(cell(r, c).chars().count());
        }
    }
    let line = |vals: Vec<String>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(cols.iter().map(|c| c.to_uppercase()).collect());
    for r in rows {
        line(cols.iter().map(|c| cell(r, c)).collect());
    }
}

pub fn print_record(v: &Value, json: bool) {
    if json {
        println!("{v}");
        return;
    }
    if let Some(m) = v.as_object() {
        for (k, val) in m {
            if matches!(k.as_str(), "secret" | "secret_key" | "access_key") {
                continue;
            }
            let shown = match (k.as_str(), val) {
                (k, Value::Number(n)) if k.ends_with("_at") => {
                    n.as_i64().map_or_else(|| n.to_string(), rfc3339)
                }
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => "-".to_owned(),
                (_, other) => other.to_string(),
            };
            println!("{k:<28} {shown}");
        }
        if let Some(s) = m.get("secret").and_then(Value::as_str) {
            println!();
            println!("key (shown once, store it now): {s}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_392_000), "2026-11-23T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
