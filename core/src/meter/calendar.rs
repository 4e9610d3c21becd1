//! UTC calendar arithmetic for refills: day numbers from civil dates and back, month
//! lengths with leap years, and the refill instants of a daily or monthly schedule.
//!
//! The conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>), proleptic Gregorian, exact
//! for every date keyseal accepts (1970 to 9999). Times are Unix milliseconds.

/// Milliseconds in a UTC day (Unix time has no leap seconds).
pub const DAY_MS: u64 = 86_400_000;

/// Days since 1970-01-01 of the civil date `y-m-d` (`m` 1..=12, `d` 1..=31).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    // Both fit in u32: d is 1..=31 and m is 1..=12.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// True in a Gregorian leap year.
pub fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// The number of days of month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A month counted from year 0 (`y * 12 + m - 1`), so months can be stepped over years.
fn month_index(ms: u64) -> i64 {
    let (y, m, _) = civil_from_days((ms / DAY_MS) as i64);
    y * 12 + i64::from(m) - 1
}

/// Midnight UTC (ms) of the refill day of month `index`: `day`, clamped to the month's
/// length (day 31 refills on the 30th of April and on February 28 or 29).
fn monthly_instant(index: i64, day: u8) -> u64 {
    let y = index.div_euclid(12);
    let m = index.rem_euclid(12) as u32 + 1;
    let d = u32::from(day).min(days_in_month(y, m));
    (days_from_civil(y, m, d) as u64) * DAY_MS
}

/// How many refill instants of a daily schedule (every midnight UTC) fall in
/// `(after, upto]`.
pub fn daily_refills_between(after: u64, upto: u64) -> u64 {
    (upto / DAY_MS).saturating_sub(after / DAY_MS)
}

/// The first daily refill instant after `now`.
pub fn next_daily(now: u64) -> u64 {
    (now / DAY_MS + 1) * DAY_MS
}

/// How many refill instants of a monthly schedule on `day` fall in `(after, upto]`.
pub fn monthly_refills_between(after: u64, upto: u64, day: u8) -> u64 {
    if upto <= after {
        return 0;
    }
    let (first, last) = (month_index(after), month_index(upto));
    // Every month strictly between the two has its instant inside the interval; the
    // first and the last month count when their instant falls on the right side.
    let mut n = (last - first + 1) as u64;
    if monthly_instant(first, day) <= after {
        n -= 1;
    }
    if monthly_instant(last, day) > upto {
        n -= 1;
    }
    n
}

/// The first monthly refill instant on `day` after `now`.
pub fn next_monthly(now: u64, day: u8) -> u64 {
    let index = month_index(now);
    let this = monthly_instant(index, day);
    if this > now {
        this
    } else {
        monthly_instant(index + 1, day)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn civil_round_trips_over_the_accepted_range() {
        // 1970-01-01 .. 9999-12-31, every 13th day (covers every month and leap rule).
        let last = days_from_civil(9999, 12, 31);
        let mut z = 0;
        while z <= last {
            let (y, m, d) = civil_from_days(z);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), z);
            z += 13;
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn month_lengths_follow_the_gregorian_leap_rule() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2023, 4), 30);
    }

    #[test]
    fn refill_day_31_is_clamped_to_the_months_length() {
        let at = |y, m, d| days_from_civil(y, m, d) as u64 * DAY_MS;
        assert_eq!(next_monthly(at(2024, 2, 1), 31), at(2024, 2, 29));
        assert_eq!(next_monthly(at(2023, 2, 1), 31), at(2023, 2, 28));
        assert_eq!(next_monthly(at(2024, 2, 29), 31), at(2024, 3, 31));
        assert_eq!(next_monthly(at(2024, 4, 30) - 1, 31), at(2024, 4, 30));
        // Jan 31 .. Mar 31 (inclusive end): Feb 29 and Mar 31.
        assert_eq!(
            monthly_refills_between(at(2024, 1, 31), at(2024, 3, 31), 31),
            2
        );
        assert_eq!(
            monthly_refills_between(at(2024, 1, 31), at(2024, 3, 31) - 1, 31),
            1
        );
        assert_eq!(
            monthly_refills_between(at(2024, 1, 15), at(2024, 1, 20), 31),
            0
        );
        assert_eq!(daily_refills_between(DAY_MS - 1, DAY_MS), 1);
        assert_eq!(daily_refills_between(DAY_MS, 2 * DAY_MS - 1), 0);
    }
}
