//! Form fields to registry values and back: what the create and edit forms send, parsed
//! into a [`NewKey`] or a [`KeyPatch`] (the registry then checks every value as it does
//! for the API), and a record's values to fill the edit form.

use keyseal::meter::calendar::{civil_from_days, days_from_civil};
use keyseal_registry::meter::{CreditSpec, LimitSpec, RefillSpec};
use keyseal_registry::{KeyPatch, KeyRecord, NewKey};

/// A url-encoded form body, as pairs in order. Wiped when dropped: the sign-in form
/// carries a key.
pub struct Form(Vec<(String, String)>);

impl Drop for Form {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (k, v) in &mut self.0 {
            k.zeroize();
            v.zeroize();
        }
    }
}

impl Form {
    /// Parses a body; `None` when it is not a url-encoded form.
    pub fn parse(body: &[u8]) -> Option<Form> {
        serde_urlencoded::from_bytes(body).ok().map(Form)
    }

    /// The first value of `name`, trimmed; "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.opt(name).unwrap_or("")
    }

    /// The first value of `name`, trimmed, if sent.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }
}

/// The key fields of the create and edit forms, as text.
#[derive(Default)]
pub struct KeyFields {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub role: String,
    /// Separated by spaces, commas or new lines.
    pub scopes: String,
    pub read_only: bool,
    /// CIDR ranges, separated by spaces, commas or new lines.
    pub allowed_ips: String,
    /// `YYYY-MM-DDTHH:MM` in UTC (an `<input type=datetime-local>`), or empty.
    pub expires: String,
    /// `NAME=LIMIT/WINDOW` a line (the CLI's `--limit` form).
    pub limits: String,
    /// Create: the starting balance; edit: a new balance (empty: unchanged).
    pub credits: String,
    /// Credits added by each refill (empty: no refill).
    pub refill_amount: String,
    /// `daily` or `monthly`.
    pub refill_interval: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn number(s: &str, what: &str) -> Result<Option<u64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("invalid argument: {what} must be a whole number of 0 or more"))
}

/// `YYYY-MM-DDTHH:MM[:SS]` (UTC) as unix seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d, h, mi) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?);
    let sec = match s.get(16..) {
        Some("") => 0,
        Some(rest) => n(17..19).filter(|_| rest.len() == 3 && rest.starts_with(':'))?,
        None => return None,
    };
    let mo = u32::try_from(mo).ok().filter(|m| (1..=12).contains(m))?;
    let d = u32::try_from(d).ok().filter(|d| (1..=31).contains(d))?;
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM` (UTC), the value of a datetime-local input.
pub fn datetime_value(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, for people.
pub fn when(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// A window in milliseconds the way people write it back (`1m`, `500ms`).
fn window_text(ms: u64) -> String {
    for (unit, n) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= n && ms.is_multiple_of(n) {
            return format!("{}{unit}", ms / n);
        }
    }
    format!("{ms}ms")
}

/// A limit as `NAME=LIMIT/WINDOW`.
pub fn limit_text(l: &LimitSpec) -> String {
    format!("{}={}/{}", l.name, l.limit, window_text(l.window_ms))
}

pub fn parse_limits(s: &str) -> Result<Vec<LimitSpec>, String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v = crate::cli::parse_limit(l).map_err(|e| format!("invalid argument: {e}"))?;
            serde_json::from_value(v).map_err(|_| "invalid argument: a limit".to_owned())
        })
        .collect()
}

impl KeyFields {
    /// The fields a form sent.
    pub fn from_form(f: &Form) -> KeyFields {
        KeyFields {
            name: f.get("name").to_owned(),
            description: f.get("description").to_owned(),
            owner: f.get("owner").to_owned(),
            role: f.get("role").to_owned(),
            scopes: f.get("scopes").to_owned(),
            read_only: f.opt("read_only").is_some(),
            allowed_ips: f.get("allowed_ips").to_owned(),
            expires: f.get("expires").to_owned(),
            limits: f.get("limits").to_owned(),
            credits: f.get("credits").to_owned(),
            refill_amount: f.get("refill_amount").to_owned(),
            refill_interval: f.get("refill_interval").to_owned(),
        }
    }

    /// A record's values, to edit them.
    pub fn from_record(r: &KeyRecord) -> KeyFields {
        let refill = r.credits.as_ref().and_then(|c| c.refill.as_ref());
        KeyFields {
            name: r.name.clone(),
            description: r.description.clone(),
            owner: r.owner.clone().unwrap_or_default(),
            role: r.role.clone().unwrap_or_default(),
            scopes: r.scopes.join(" "),
            read_only: r.read_only,
            allowed_ips: r.allowed_ips.join(" "),
            expires: r.expires_at.map(datetime_value).unwrap_or_default(),
            limits: r
                .limits
                .iter()
                .map(limit_text)
                .collect::<Vec<_>>()
                .join("\n"),
            credits: String::new(),
            refill_amount: refill.map(|x| x.amount.to_string()).unwrap_or_default(),
            refill_interval: refill.map(|x| x.interval.clone()).unwrap_or_default(),
        }
    }

    fn expires_at(&self) -> Result<Option<i64>, String> {
        if self.expires.is_empty() {
            return Ok(None);
        }
        parse_datetime(&self.expires).map(Some).ok_or_else(|| {
            "invalid argument: expiry must be a date and time as YYYY-MM-DDTHH:MM (UTC)".to_owned()
        })
    }

    /// The credits rule, when a balance or a refill is given.
    pub fn credit_spec(&self) -> Result<Option<CreditSpec>, String> {
        let remaining = number(&self.credits, "credits")?;
        let refill = number(&self.refill_amount, "refill amount")?.map(|amount| RefillSpec {
            amount,
            interval: if self.refill_interval.is_empty() {
                "monthly".to_owned()
            } else {
                self.refill_interval.clone()
            },
            day: None,
            cap: None,
        });
        Ok((remaining.is_some() || refill.is_some()).then_some(CreditSpec { remaining, refill }))
    }

    /// A new key of `account` with these fields.
    pub fn to_new(&self, account: &str) -> Result<NewKey, String> {
        let mut new = NewKey::new(account, &self.name);
        new.description = self.description.clone();
        new.owner = opt(&self.owner);
        new.role = opt(&self.role);
        new.scopes = list(&self.scopes);
        new.read_only = self.read_only;
        new.allowed_ips = list(&self.allowed_ips);
        new.expires_at = self.expires_at()?;
        new.limits = parse_limits(&self.limits)?;
        new.credits = self.credit_spec()?;
        Ok(new)
    }

    /// The change from `old` to these fields, expecting `version`. Credits change only
    /// when a balance or a refill is given (the console does not remove them).
    pub fn to_patch(&self, version: u64) -> Result<KeyPatch, String> {
        let mut p = KeyPatch::new(version);
        p.name = Some(self.name.clone());
        p.description = Some(self.description.clone());
        p.owner = Some(opt(&self.owner));
        p.role = Some(opt(&self.role));
        p.scopes = Some(list(&self.scopes));
        p.read_only = Some(self.read_only);
        p.allowed_ips = Some(list(&self.allowed_ips));
        p.expires_at = Some(self.expires_at()?);
        p.limits = Some(parse_limits(&self.limits)?);
        p.credits = self.credit_spec()?.map(Some);
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn datetimes_round_trip() {
        assert_eq!(parse_datetime("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_datetime("2027-03-04T05:06:07"), Some(1_804_136_767));
        assert_eq!(datetime_value(1_804_136_767), "2027-03-04T05:06");
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        for bad in [
            "",
            "2027-13-01T00:00",
            "2027-01-01 00:00",
            "2027-01-01T24:00",
            "x",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn fields_to_a_new_key() {
        let f = Form::parse(
            b"name=k1&owner=u1&role=&scopes=read%20write,admin&read_only=on\
              &allowed_ips=10.0.0.0/8%0A::1/128&expires=&limits=per_minute%3D60/1m&credits=5\
              &refill_amount=&refill_interval=daily",
        )
        .expect("form");
        let new = KeyFields::from_form(&f).to_new("acct").expect("valid");
        assert_eq!(new.name, "k1");
        assert_eq!(new.owner.as_deref(), Some("u1"));
        assert_eq!(new.role, None);
        assert_eq!(new.scopes, ["read", "write", "admin"]);
        assert!(new.read_only);
        assert_eq!(new.allowed_ips, ["10.0.0.0/8", "::1/128"]);
        assert_eq!(new.limits[0].window_ms, 60_000);
        assert_eq!(limit_text(&new.limits[0]), "per_minute=60/1m");
        assert_eq!(new.credits.and_then(|c| c.remaining), Some(5));
        let bad = Form::parse(b"name=k&limits=nope").expect("form");
        assert!(KeyFields::from_form(&bad).to_new("a").is_err());
    }
}
