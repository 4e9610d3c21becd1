//! Bar charts drawn on the server as SVG: no script, no chart library, no inline style
//! (colours are presentation attributes and CSS classes, which the CSP allows). Each
//! chart has a title for screen readers and the numbers in a table beside it.

use keyseal_registry::usage::UsageBucket;
use maud::{Markup, html};

use crate::http::state::now;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 180;
const PAD_LEFT: u32 = 40;
const PAD_BOTTOM: u32 = 28;

/// One point a day over the last `days` days (UTC): `count(day)` for each.
pub fn per_day(days: i64, count: impl Fn(i64) -> u64) -> Vec<(String, u64)> {
    let today = now().div_euclid(86_400);
    (0..days)
        .rev()
        .map(|back| {
            let day = today - back;
            let (_, m, d) = keyseal::meter::calendar::civil_from_days(day);
            (format!("{m:02}-{d:02}"), count(day))
        })
        .collect()
}

/// A usage series a day over the last `days` days, from day buckets.
fn usage_series(
    usage: &[UsageBucket],
    days: i64,
    value: impl Fn(&UsageBucket) -> u64,
) -> Vec<(String, u64)> {
    per_day(days, |day| {
        usage
            .iter()
            .filter(|b| b.start.div_euclid(86_400) == day)
            .map(&value)
            .sum()
    })
}

/// The ranges, in days, a page's charts offer; the first is the default.
pub const RANGES: [i64; 4] = [14, 7, 30, 90];

/// The range a page was asked for: one of [`RANGES`], else the default.
pub fn range(days: Option<i64>) -> i64 {
    days.filter(|d| RANGES.contains(d)).unwrap_or(RANGES[0])
}

/// The form that picks a range for the page at `action`.
pub fn range_form(action: &str, days: i64) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            div.field {
                label for="days" { "Range" }
                select #days name="days" {
                    @for d in RANGES { option value=(d) selected[d == days] { "last " (d) " days" } }
                }
            }
            button #show-range type="submit" { "Show" }
        }
    }
}

/// The usage section of a page: verifications that passed and were refused, and credits
/// spent when `credits`, a day over the last `days` days, for `what` ("this key", ...).
pub fn usage_section(what: &str, usage: &[UsageBucket], days: i64, credits: bool) -> Markup {
    html! {
        section aria-labelledby="usage-title" {
            h2 #usage-title { "Usage" }
            p { "Verifications of " (what) " by outcome, counted within about a second (UTC days)." }
            (bars("usage-valid", &format!("Verifications that passed a day, last {days} days"), &usage_series(usage, days, |b| b.valid)))
            (bars("usage-refused", &format!("Verifications refused a day, last {days} days"), &usage_series(usage, days, |b| b.refused)))
            @if credits {
                (bars("usage-credits", &format!("Credits spent a day, last {days} days"), &usage_series(usage, days, |b| b.credits_spent)))
            }
        }
    }
}

/// A bar chart of `(label, value)` pairs, titled `title` (`id` names its elements).
pub fn bars(id: &str, title: &str, points: &[(String, u64)]) -> Markup {
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let n = u32::try_from(points.len()).unwrap_or(1).max(1);
    let plot_w = WIDTH - PAD_LEFT - 8;
    let plot_h = HEIGHT - PAD_BOTTOM - 12;
    let slot = plot_w / n;
    let bar_w = (slot * 7 / 10).max(2);
    let title_id = format!("{id}-title");
    html! {
        figure.chart {
            svg id=(id) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-labelledby=(title_id) preserveAspectRatio="xMidYMid meet" {
                title id=(title_id) { (title) }
                line x1=(PAD_LEFT) y1=(12 + plot_h) x2=(WIDTH - 8) y2=(12 + plot_h)
                    class="axis" stroke="currentColor" {}
                text x=(PAD_LEFT - 6) y="20" text-anchor="end" class="tick" { (max) }
                text x=(PAD_LEFT - 6) y=(12 + plot_h) text-anchor="end" class="tick" { "0" }
                @for (i, (label, value)) in points.iter().enumerate() {
                    @let i = u32::try_from(i).unwrap_or(0);
                    @let h = u32::try_from(u64::from(plot_h) * value / max).unwrap_or(plot_h);
                    @let x = PAD_LEFT + i * slot + (slot - bar_w) / 2;
                    rect x=(x) y=(12 + plot_h - h) width=(bar_w) height=(h) class="bar" {
                        title { (label) ": " (value) }
                    }
                    @if n <= 16 || i % (n / 8).max(1) == 0 {
                        text x=(x + bar_w / 2) y=(HEIGHT - 8) text-anchor="middle" class="tick" {
                            (label)
                        }
                    }
                }
            }
            figcaption { (title) }
            details {
                summary { "The numbers" }
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Count" } } }
                    tbody {
                        @for (label, value) in points {
                            tr { td { (label) } td { (value) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_svg_without_inline_style() {
        let pts = vec![("a".to_owned(), 3), ("b<".to_owned(), 0)];
        let svg = bars("c", "Changes", &pts).into_string();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("role=\"img\""));
        assert!(!svg.contains("style="));
        assert!(svg.contains("b&lt;"), "labels are escaped");
    }
}
