//! An in-process meter: named limits and optional credits per subject (an API key id, a
//! customer, an IP), kept in memory, for services that meter without `keyseal serve`. The
//! bindings expose it as `Meter` in Python and JavaScript; the vectors run it everywhere.
//!
//! Each subject's state starts fresh on first use (its credits at the configured
//! `remaining`, refills counted from then). A subject whose limits have all faded out and
//! that carries no credits is dropped when room is needed, which changes no answer; a
//! subject with credits is never dropped, so a full meter refuses new subjects with
//! `invalid_config` (raise `max_subjects`) rather than forget a balance.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::meter::{
    CreditDecision, CreditSlot, CreditState, Credits, LimitDecision, LimitSlot, RateLimit, Verdict,
    WindowState, spend_all,
};

/// The default cap on subjects held at once: 1,000,000.
pub const DEFAULT_MAX_SUBJECTS: usize = 1_000_000;

/// What a [`Meter`] applies to every subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeterSpec {
    /// Named limits, all applied to every request. Names are unique.
    pub limits: Vec<(String, RateLimit)>,
    /// Credits each new subject starts with (its balance at first use) and their rule.
    pub credits: Option<(u64, Credits)>,
    /// Subjects held at once. Defaults to [`DEFAULT_MAX_SUBJECTS`].
    pub max_subjects: Option<usize>,
}

#[derive(Clone, Debug)]
struct Subject {
    windows: Vec<WindowState>,
    credits: Option<CreditState>,
}

/// The answer of [`Meter::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterAnswer {
    /// The whole request's answer.
    pub verdict: Verdict,
    /// Each limit's answer, in the spec's order.
    pub limits: Vec<LimitDecision>,
    /// The credits' answer, when the spec has credits.
    pub credits: Option<CreditDecision>,
}

/// Named limits and credits per subject, in memory.
#[derive(Clone, Debug)]
pub struct Meter {
    spec: MeterSpec,
    subjects: BTreeMap<String, Subject>,
}

impl Meter {
    /// A meter applying `spec`. Limit names must be unique and 1-64 characters.
    pub fn new(spec: MeterSpec) -> Result<Meter> {
        for (i, (name, _)) in spec.limits.iter().enumerate() {
            if name.is_empty() || name.len() > 64 {
                return Err(Error::InvalidConfig {
                    setting: "limit name",
                    expected: "1 to 64 characters",
                });
            }
            if spec.limits[..i].iter().any(|(other, _)| other == name) {
                return Err(Error::InvalidConfig {
                    setting: "limit name",
                    expected: "unique within the meter",
                });
            }
        }
        if let Some((remaining, _)) = spec.credits {
            CreditState::new(remaining, 0)?;
        }
        if spec.max_subjects == Some(0) {
            return Err(Error::InvalidConfig {
                setting: "max_subjects",
                expected: "at least 1",
            });
        }
        Ok(Meter {
            spec,
            subjects: BTreeMap::new(),
        })
    }

    /// The spec.
    pub fn spec(&self) -> &MeterSpec {
        &self.spec
    }

    /// The number of subjects held.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// True when no subject is held.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Checks `cost` for `subject` at `now` against every limit and the credits, and
    /// spends it on all of them when all allow it and `dry_run` is false.
    pub fn check(
        &mut self,
        subject: &str,
        now_ms: u64,
        cost: u64,
        dry_run: bool,
    ) -> Result<MeterAnswer> {
        if !self.subjects.contains_key(subject) {
            let fresh = self.fresh(now_ms)?;
            self.subjects.insert(String::from(subject), fresh);
        }
        let spec = &self.spec;
        let state = self.subjects.get_mut(subject).ok_or(Error::Internal {
            detail: "a meter subject vanished",
        })?;
        let mut limits: Vec<LimitSlot<'_>> = spec
            .limits
            .iter()
            .zip(state.windows.iter_mut())
            .map(|((_, limit), s)| LimitSlot::new(limit, s))
            .collect();
        let mut credit: Vec<CreditSlot<'_>> = match (&spec.credits, state.credits.as_mut()) {
            (Some((_, rule)), Some(s)) => alloc::vec![CreditSlot::new(rule, s)],
            _ => Vec::new(),
        };
        let verdict = spend_all(now_ms, cost, dry_run, &mut limits, &mut credit);
        Ok(MeterAnswer {
            verdict,
            limits: limits.iter().filter_map(|s| s.decision).collect(),
            credits: credit.first().and_then(|s| s.decision),
        })
    }

    /// Adds `amount` credits to `subject` (created fresh at `now` if new); returns the
    /// balance. `invalid_config` when the meter has no credits.
    pub fn add_credits(&mut self, subject: &str, now_ms: u64, amount: u64) -> Result<u64> {
        let Some((_, rule)) = self.spec.credits else {
            return Err(Error::InvalidConfig {
                setting: "credits",
                expected: "configured on the meter before credits are added",
            });
        };
        if !self.subjects.contains_key(subject) {
            let fresh = self.fresh(now_ms)?;
            self.subjects.insert(String::from(subject), fresh);
        }
        let balance = self
            .subjects
            .get_mut(subject)
            .and_then(|s| s.credits.as_mut())
            .ok_or(Error::Internal {
                detail: "a subject of a meter with credits has no balance",
            })?;
        *balance = rule.advance(balance, now_ms);
        balance.add(amount);
        Ok(balance.remaining)
    }

    /// A new subject's state, making room first when the meter is full.
    fn fresh(&mut self, now_ms: u64) -> Result<Subject> {
        let max = self.spec.max_subjects.unwrap_or(DEFAULT_MAX_SUBJECTS);
        if self.subjects.len() >= max {
            // Drop subjects whose state is the same as a fresh one's.
            let limits = &self.spec.limits;
            self.subjects.retain(|_, s| {
                s.credits.is_some()
                    || limits.iter().zip(&s.windows).any(|((_, l), w)| {
                        let (now_state, _) = l.advance(w, now_ms);
                        now_state.previous != 0 || now_state.current != 0
                    })
            });
            if self.subjects.len() >= max {
                return Err(Error::InvalidConfig {
                    setting: "max_subjects",
                    expected: "above the number of subjects with live state",
                });
            }
        }
        Ok(Subject {
            windows: alloc::vec![WindowState::default(); self.spec.limits.len()],
            credits: match self.spec.credits {
                Some((remaining, _)) => Some(CreditState::new(remaining, now_ms)?),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(max: usize) -> MeterSpec {
        MeterSpec {
            limits: alloc::vec![(String::from("second"), RateLimit::new(2, 1_000).unwrap())],
            credits: None,
            max_subjects: Some(max),
        }
    }

    #[test]
    fn subjects_are_metered_apart() {
        let mut m = Meter::new(spec(10)).unwrap();
        assert!(m.check("a", 0, 2, false).unwrap().verdict.allowed);
        assert!(!m.check("a", 0, 1, false).unwrap().verdict.allowed);
        assert!(m.check("b", 0, 1, false).unwrap().verdict.allowed);
    }

    #[test]
    fn a_full_meter_drops_only_faded_subjects() {
        let mut m = Meter::new(spec(2)).unwrap();
        m.check("a", 0, 1, false).unwrap();
        m.check("b", 1_500, 1, false).unwrap();
        // "a" has faded out by 2 s ("b" has not): "c" takes its place.
        assert!(m.check("c", 2_000, 1, false).is_ok());
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.check("d", 2_000, 1, false).unwrap_err().code(),
            "invalid_config"
        );
        assert!(!m.check("b", 2_000, 2, false).unwrap().verdict.allowed);
    }

    #[test]
    fn names_must_be_unique() {
        let mut s = spec(1);
        s.limits.push(s.limits[0].clone());
        assert_eq!(Meter::new(s).unwrap_err().code(), "invalid_config");
    }
}
