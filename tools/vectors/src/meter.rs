//! `meter.json`: rate limits and credits through the core's in-process `Meter`. Each
//! case's allowed/refused pattern is asserted here, so the generator checks the rules
//! it records.

use keyseal::meter::MAX_AMOUNT;
use keyseal::meter::calendar::{DAY_MS, days_from_civil};
use serde_json::{Value, json};

use super::{File, GEN, Want};

/// 2023-11-14T22:13:20Z, a window-aligned start for the limit cases.
const T0: u64 = 1_700_000_000_000;

fn at(y: i64, m: u32, d: u32) -> u64 {
    days_from_civil(y, m, d) as u64 * DAY_MS
}

fn limit(name: &str, limit: u64, window_ms: u64) -> Value {
    json!({"name": name, "limit": limit, "window_ms": window_ms})
}

fn check(subject: &str, now_ms: u64, cost: u64) -> Value {
    json!({"subject": subject, "now_ms": now_ms, "cost": cost})
}

fn dry(subject: &str, now_ms: u64, cost: u64) -> Value {
    json!({"subject": subject, "now_ms": now_ms, "cost": cost, "dry_run": true})
}

fn add(subject: &str, now_ms: u64, amount: u64) -> Value {
    json!({"subject": subject, "now_ms": now_ms, "add_credits": amount})
}

/// Runs a case, asserts the allowed pattern of its checks (`+` allowed, `-` refused,
/// `.` an `add_credits` step), and returns its answers.
fn case(f: &mut File, id: &str, meter: Value, steps: Vec<Value>, pattern: &str) -> Value {
    let c = f.case(id, GEN, json!({"meter": meter, "steps": steps}), Want::Ok);
    let got: String = c
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a.get("allowed") {
            Some(Value::Bool(true)) => '+',
            Some(_) => '-',
            None => '.',
        })
        .collect();
    assert_eq!(got, pattern, "meter vector {id}");
    c
}

fn answers(c: &Value) -> &Vec<Value> {
    c.as_array().unwrap()
}

pub fn meter() -> File {
    let mut f = File::new(
        "meter",
        "Rate limits (sliding window of two fixed windows, exact integer arithmetic) and credits (whole spends, daily and monthly refills clamped to the month, caps), all checked atomically per request, through the in-process Meter.",
    );
    let per_minute = json!({"limits": [limit("per_minute", 5, 60_000)]});

    let c = case(
        &mut f,
        "burst_is_cut_at_the_limit",
        per_minute.clone(),
        (0..6).map(|_| check("k", T0 + 1_000, 1)).collect(),
        "+++++-",
    );
    assert_eq!(answers(&c)[5]["code"], "rate_limited");
    assert_eq!(answers(&c)[4]["limits"][0]["remaining"], 0);

    // A full previous window fades out linearly over the current one.
    let c = case(
        &mut f,
        "window_edges_previous_window_fades_out",
        json!({"limits": [limit("per_second", 4, 1_000)]}),
        vec![
            check("k", T0 + 999, 4),
            check("k", T0 + 1_000, 1),
            check("k", T0 + 1_249, 1),
            check("k", T0 + 1_250, 1),
            check("k", T0 + 1_500, 1),
            check("k", T0 + 1_999, 1),
            check("k", T0 + 2_000, 2),
        ],
        "+--+++-",
    );
    assert_eq!(answers(&c)[1]["retry_after_ms"], 250);

    case(
        &mut f,
        "burst_then_recovery",
        json!({"limits": [limit("per_second", 10, 1_000)]}),
        [
            0u64, 0, 999, 1_000, 1_100, 1_500, 1_500, 2_000, 3_000, 4_000,
        ]
        .iter()
        .zip([10u64, 1, 1, 1, 1, 4, 1, 5, 10, 10])
        .map(|(t, cost)| check("k", T0 + t, cost))
        .collect(),
        "+---++-+-+",
    );

    let c = case(
        &mut f,
        "cost_above_the_limit_is_refused_not_clamped",
        per_minute.clone(),
        vec![check("k", T0, 6), check("k", T0, 5)],
        "-+",
    );
    assert_eq!(answers(&c)[0]["retry_after_ms"], Value::Null);

    case(
        &mut f,
        "zero_limit_refuses_every_cost_but_zero",
        json!({"limits": [limit("closed", 0, 60_000)]}),
        vec![check("k", T0, 1), check("k", T0, 0)],
        "-+",
    );

    let c = case(
        &mut f,
        "dry_run_answers_without_spending",
        per_minute.clone(),
        vec![
            dry("k", T0, 5),
            dry("k", T0, 5),
            check("k", T0, 5),
            dry("k", T0, 1),
        ],
        "+++-",
    );
    assert_eq!(answers(&c)[0]["limits"][0]["remaining"], 0);

    case(
        &mut f,
        "subjects_are_metered_apart",
        per_minute.clone(),
        vec![check("a", T0, 5), check("a", T0, 1), check("b", T0, 5)],
        "+-+",
    );

    case(
        &mut f,
        "a_clock_behind_the_window_does_not_reset_it",
        json!({"limits": [limit("per_second", 2, 1_000)]}),
        vec![check("k", T0 + 1_500, 2), check("k", T0 + 200, 1)],
        "+-",
    );

    let c = case(
        &mut f,
        "the_longest_wait_of_the_refusing_limits_is_the_retry",
        json!({"limits": [limit("per_second", 2, 1_000), limit("per_minute", 3, 60_000)]}),
        vec![
            check("k", T0, 2),
            check("k", T0 + 2_000, 1),
            check("k", T0 + 4_000, 1),
        ],
        "++-",
    );
    let last = &answers(&c)[2];
    assert_eq!(last["retry_after_ms"], last["limits"][1]["retry_after_ms"]);
    assert_eq!(last["limits"][0]["retry_after_ms"], 0);

    let c = case(
        &mut f,
        "credits_are_spent_whole_or_not_at_all",
        json!({"limits": [], "credits": {"remaining": 10, "refill": null}}),
        vec![
            check("k", T0, 4),
            check("k", T0, 4),
            check("k", T0, 4),
            check("k", T0, 2),
            check("k", T0, 0),
        ],
        "++-++",
    );
    assert_eq!(answers(&c)[2]["code"], "usage_exceeded");
    assert_eq!(answers(&c)[2]["credits"]["remaining"], 2);

    let monthly31 = |remaining| json!({"limits": [], "credits": {"remaining": remaining, "refill": {"amount": 100, "interval": "monthly", "day": 31}}});
    let c = case(
        &mut f,
        "monthly_refill_on_day_31_lands_on_feb_29_in_a_leap_year",
        monthly31(0),
        vec![
            check("k", at(2024, 1, 31) + 3_600_000, 1),
            check("k", at(2024, 2, 29) - 1, 1),
            check("k", at(2024, 2, 29), 1),
            check("k", at(2024, 3, 30), 100),
            check("k", at(2024, 3, 31), 100),
        ],
        "--+-+",
    );
    assert_eq!(answers(&c)[0]["credits"]["refill_at_ms"], at(2024, 2, 29));
    assert_eq!(answers(&c)[2]["credits"]["refill_at_ms"], at(2024, 3, 31));
    case(
        &mut f,
        "monthly_refill_on_day_31_lands_on_feb_28_otherwise",
        monthly31(0),
        vec![
            check("k", at(2023, 2, 1), 1),
            check("k", at(2023, 2, 28) - 1, 1),
            check("k", at(2023, 2, 28), 1),
        ],
        "--+",
    );
    case(
        &mut f,
        "monthly_refills_across_the_year_end_and_april",
        json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 10, "interval": "monthly", "day": 31, "cap": 1000}}}),
        vec![
            check("k", at(2023, 12, 30), 1),
            check("k", at(2023, 12, 31), 10),
            check("k", at(2024, 4, 30), 41),
            check("k", at(2024, 4, 30), 40),
        ],
        "-+-+",
    );
    let c = case(
        &mut f,
        "daily_refills_unobserved_for_days_stop_at_the_cap",
        json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 10, "interval": "daily", "cap": 25}}}),
        vec![
            check("k", T0, 1),
            check("k", T0 + DAY_MS, 0),
            check("k", T0 + 5 * DAY_MS, 26),
            check("k", T0 + 5 * DAY_MS, 25),
        ],
        "-+-+",
    );
    assert_eq!(answers(&c)[1]["credits"]["remaining"], 10);

    let c = case(
        &mut f,
        "credits_added_by_hand_are_kept_above_the_cap",
        json!({"limits": [], "credits": {"remaining": 5, "refill": {"amount": 5, "interval": "daily"}}}),
        vec![add("k", T0, 100), check("k", T0 + 3 * DAY_MS, 105)],
        ".+",
    );
    assert_eq!(answers(&c)[0]["remaining"], 105);

    let c = case(
        &mut f,
        "usage_exceeded_waits_for_the_refill_that_covers_the_cost",
        json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 3, "interval": "daily"}}}),
        vec![
            check("k", at(2024, 5, 1) + 1_000, 2),
            check("k", at(2024, 5, 1) + 1_000, 4),
        ],
        "--",
    );
    assert_eq!(answers(&c)[0]["retry_after_ms"], DAY_MS - 1_000);
    assert_eq!(answers(&c)[1]["retry_after_ms"], Value::Null);

    let both = json!({"limits": [limit("per_second", 2, 1_000)], "credits": {"remaining": 3, "refill": null}});
    let c = case(
        &mut f,
        "a_limit_refusal_spends_no_credits",
        both.clone(),
        vec![
            check("k", T0, 2),
            check("k", T0, 1),
            check("k", T0 + 2_000, 1),
        ],
        "+-+",
    );
    assert_eq!(answers(&c)[1]["credits"]["remaining"], 1);
    assert_eq!(answers(&c)[2]["credits"]["remaining"], 0);
    let c = case(
        &mut f,
        "a_credits_refusal_spends_no_limit",
        both,
        vec![
            check("k", T0, 2),
            check("k", T0 + 2_000, 2),
            check("k", T0 + 2_000, 1),
        ],
        "+-+",
    );
    assert_eq!(answers(&c)[1]["limits"][0]["remaining"], 2);
    assert_eq!(answers(&c)[2]["limits"][0]["remaining"], 1);

    // Configuration the core refuses.
    let bad = [
        (
            "window_of_zero_is_invalid",
            json!({"limits": [limit("w", 5, 0)]}),
        ),
        (
            "limit_beyond_2_53_is_invalid",
            json!({"limits": [limit("w", MAX_AMOUNT + 1, 1_000)]}),
        ),
        (
            "duplicate_limit_names_are_invalid",
            json!({"limits": [limit("w", 5, 1_000), limit("w", 6, 2_000)]}),
        ),
        (
            "refill_day_32_is_invalid",
            json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 1, "interval": "monthly", "day": 32}}}),
        ),
        (
            "monthly_refill_without_a_day_is_invalid",
            json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 1, "interval": "monthly"}}}),
        ),
        (
            "refill_cap_below_the_amount_is_invalid",
            json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 5, "interval": "daily", "cap": 4}}}),
        ),
        (
            "refill_of_zero_is_invalid",
            json!({"limits": [], "credits": {"remaining": 0, "refill": {"amount": 0, "interval": "daily"}}}),
        ),
    ];
    for (id, meter) in bad {
        f.case(
            id,
            GEN,
            json!({"meter": meter, "steps": []}),
            Want::Err("invalid_config"),
        );
    }
    f
}
