//! Working time between two instants: the capacity side of the "project at risk" rule. A working
//! day is 09:00–17:00 (8 hours) local time, Monday to Friday; holidays are not known.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Start and end of the working day, local time.
const DAY_START: u32 = 9;
const DAY_END: u32 = 17;
const HOURS_PER_DAY: f64 = (DAY_END - DAY_START) as f64;

fn is_weekday(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

fn local(day: NaiveDate, hour: u32, tz: Tz) -> DateTime<Utc> {
    let at = day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN));
    tz.from_local_datetime(&at)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&at))
}

/// The working hours of `day` that fall between `from` and `to`.
fn hours_on(day: NaiveDate, from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> f64 {
    if !is_weekday(day) {
        return 0.0;
    }
    let start = local(day, DAY_START, tz).max(from);
    let end = local(day, DAY_END, tz).min(to);
    if end > start {
        (end - start).num_seconds() as f64 / 3600.0
    } else {
        0.0
    }
}

/// Weekdays among the `count` days starting at `first`.
fn weekdays(first: NaiveDate, count: i64) -> i64 {
    let weeks = count / 7;
    let rest = (0..count % 7)
        .filter(|i| is_weekday(first + TimeDelta::days(weeks * 7 + i)))
        .count() as i64;
    weeks * 5 + rest
}

/// Working hours of one person from `from` to `to` in zone `tz` (0 when `to` is not later).
pub fn working_hours(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> f64 {
    if to <= from {
        return 0.0;
    }
    let first = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    let days = (last - first).num_days();
    if days <= 1 {
        return (0..=days)
            .map(|i| hours_on(first + TimeDelta::days(i), from, to, tz))
            .sum();
    }
    // The first and last days may be partial; every day between them is whole.
    let whole = weekdays(first + TimeDelta::days(1), days - 1) as f64 * HOURS_PER_DAY;
    hours_on(first, from, to, tz) + whole + hours_on(last, from, to, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn counts_partial_days_and_skips_weekends() {
        // 2030-01-14 is a Monday.
        let monday_noon = at("2030-01-14T12:00:00Z");
        assert_eq!(
            working_hours(monday_noon, at("2030-01-14T15:30:00Z"), Tz::UTC),
            3.5
        );
        assert_eq!(
            working_hours(monday_noon, at("2030-01-14T20:00:00Z"), Tz::UTC),
            5.0
        );
        assert_eq!(
            working_hours(monday_noon, at("2030-01-15T10:00:00Z"), Tz::UTC),
            6.0
        );
        // Monday noon to Friday 23:59: 5 + 4 × 8.
        assert_eq!(
            working_hours(monday_noon, at("2030-01-18T23:59:59Z"), Tz::UTC),
            37.0
        );
        // Saturday to Sunday: nothing.
        assert_eq!(
            working_hours(at("2030-01-19T00:00:00Z"), at("2030-01-20T23:00:00Z"), Tz::UTC),
            0.0
        );
        // A long span: 4 whole weeks from Monday 00:00 to Monday 00:00.
        assert_eq!(
            working_hours(at("2030-01-14T00:00:00Z"), at("2030-02-11T00:00:00Z"), Tz::UTC),
            160.0
        );
        assert_eq!(working_hours(monday_noon, monday_noon, Tz::UTC), 0.0);
        assert_eq!(
            working_hours(monday_noon, at("2030-01-01T00:00:00Z"), Tz::UTC),
            0.0
        );
    }

    #[test]
    fn working_day_is_local() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 08:00–16:00 UTC is 09:00–17:00 in Berlin in winter.
        let hours = working_hours(at("2030-01-14T00:00:00Z"), at("2030-01-14T12:00:00Z"), berlin);
        assert_eq!(hours, 4.0);
    }

    #[test]
    fn long_spans_match_day_by_day_counting() {
        let from = at("2030-03-05T13:15:00Z");
        let to = at("2031-07-22T10:45:00Z");
        let days = (to.date_naive() - from.date_naive()).num_days();
        let slow: f64 = (0..=days)
            .map(|i| hours_on(from.date_naive() + TimeDelta::days(i), from, to, Tz::UTC))
            .sum();
        assert_eq!(working_hours(from, to, Tz::UTC), slow);
    }
}
