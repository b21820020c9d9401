//! Due dates and time zones as people write them: the API's (RFC 3339 or a plain date) and
//! chat's ("next friday 9:30"), both here.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::ValidationError;

/// Parses an IANA time zone name such as `Europe/Berlin`.
pub fn parse_timezone(name: &str, field: &str) -> Result<Tz, ValidationError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ValidationError::new(field, format!("'{name}' is not an IANA time zone")))
}

/// A due date from the API: RFC 3339 (`2030-01-15T17:00:00Z`) or a plain date (`2030-01-15`),
/// which means the end of that day in `tz`.
pub fn parse_due_date(text: &str, tz: Tz, field: &str) -> Result<DateTime<Utc>, ValidationError> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(end_of_day(day, tz));
    }
    Err(ValidationError::new(
        field,
        format!("'{text}' is not a date (use 2030-01-15 or 2030-01-15T17:00:00Z)"),
    ))
}

/// 23:59:59 of `day` in `tz`, as UTC; on a day where that local time does not exist, the
/// earliest valid reading.
pub fn end_of_day(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"));
    tz.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// Examples of the dates [`parse_spoken_date`] reads, for usage texts.
pub const DATE_EXAMPLES: &str =
    "tomorrow, friday, next friday, in 3 days, 15 jan, 2030-01-15 or tomorrow 17:00";

/// A due date as people write it in chat ("next friday 9:30", "in 3 days", "15 jan"), in `tz`
/// relative to `now`: without a time of day, the end of that local day; with one, that local
/// time. A date already past is refused. The error is the reply's first line.
pub fn parse_spoken_date(text: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    read_spoken(text, now, tz, "due date", &|day| end_of_day(day, tz))
}

/// Reads spoken `text` in `tz` at `now`; a day without a time of day becomes `day_only(day)`.
/// `what` names the value in the error for a moment in the past ("due date", "time").
pub(super) fn read_spoken(
    text: &str,
    now: DateTime<Utc>,
    tz: Tz,
    what: &str,
    day_only: &dyn Fn(NaiveDate) -> DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let not_understood = || {
        let hint = day_first(text).map_or(String::new(), |(day, month)| {
            format!(" Slashed dates go month first (12/31): did you mean {day} {month}?")
        });
        format!("I couldn't understand the date '{text}'.{hint} Try e.g. {DATE_EXAMPLES}.")
    };
    let normal = normalize_date(text);
    // interim panics on a word of 16+ letters right after an hour; no date word is that long.
    let longest_word = normal
        .split(|c: char| !c.is_ascii_alphabetic())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if normal.is_empty() || longest_word > 12 {
        return Err(not_understood());
    }
    if let Some(problem) = super::moments::impossible_day(&normal) {
        return Err(format!("'{text}' is not a date: {problem}"));
    }
    let resolve = |date_text: &str| {
        let local_now = now.with_timezone(&tz);
        let at = interim::parse_date_string(date_text, local_now, interim::Dialect::Us).ok()?;
        Some(if has_time_of_day(date_text) {
            at.with_timezone(&Utc)
        } else {
            day_only(at.date_naive())
        })
    };
    let due = resolve(&normal).ok_or_else(not_understood)?;
    if due >= now {
        return Ok(due);
    }
    // "15 jan", "march" or "1/15" said after that day this year means next year's.
    let names_day_of_year = normal.matches('/').count() == 1
        || normal
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| super::moments::month_of(w).is_some());
    if names_day_of_year && !normal.starts_with("last ") {
        if let Some(next) = resolve(&format!("next {normal}")).filter(|next| *next >= now) {
            return Ok(next);
        }
    }
    Err(format!(
        "The {what} '{text}' ({}) is in the past.",
        due.with_timezone(&tz).format("%a %Y-%m-%d %H:%M")
    ))
}

/// `31/12` (or `31/12/2030`): a day written before its month, which the month-first reading
/// of slashed dates cannot take; the day and the month's short name.
fn day_first(text: &str) -> Option<(u32, &'static str)> {
    let mut parts = text.trim().split('/');
    let day: u32 = parts.next()?.parse().ok()?;
    let month: usize = parts.next()?.parse().ok()?;
    if parts.clone().count() > 1 || !parts.all(|year| year.len() == 4 && year.parse::<u32>().is_ok()) {
        return None;
    }
    const SHORT: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    ((13..=31).contains(&day) && (1..=12).contains(&month)).then(|| (day, SHORT[month - 1]))
}

/// Lowercase (interim expects it), "in 3 days" → "3 days", "in a week" → "1 week", no "at"
/// / "on" / "by" words, ISO "2030-01-15T17:00" → "2030-01-15 17:00".
pub(super) fn normalize_date(text: &str) -> String {
    let lower = text.trim().to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let unglued: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let digit_at = |j: Option<usize>| {
                let c = j.and_then(|j| chars.get(j));
                c.is_some_and(char::is_ascii_digit)
            };
            if c == 't' && digit_at(i.checked_sub(1)) && digit_at(Some(i + 1)) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut words: Vec<&str> = unglued
        .split_whitespace()
        .filter(|w| !matches!(*w, "at" | "on" | "by"))
        .collect();
    // interim reads "12pm" as 24:00 and "12am" as noon.
    for i in 0..words.len() {
        let pm = match (words[i], words.get(i + 1).copied()) {
            ("12pm" | "noon", _) => "12:00",
            ("12am", _) => "0:00",
            ("12", Some("pm")) => "12:00 ",
            ("12", Some("am")) => "0:00 ",
            _ => continue,
        };
        if pm.ends_with(' ') {
            words[i + 1] = "";
        }
        words[i] = pm.trim_end();
    }
    words.retain(|w| !w.is_empty());
    if words.first() == Some(&"in") {
        words.remove(0);
        if matches!(words.first(), Some(&"a" | &"an")) {
            words[0] = "1";
        }
    }
    words.join(" ")
}

/// Whether lowercase date text names a time of day ("17:00", "5pm", "6.30") or is counted in
/// hours, minutes or seconds ("2 hours", "now").
pub(super) fn has_time_of_day(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let clock = chars
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && matches!(w[1], ':' | '.') && w[2].is_ascii_digit());
    // Runs of digits and of letters, as interim's lexer sees them.
    let mut runs: Vec<String> = Vec::new();
    let mut prev_kind = None;
    for c in chars {
        let kind = if c.is_ascii_digit() {
            Some(true)
        } else if c.is_ascii_alphabetic() {
            Some(false)
        } else {
            None
        };
        match kind {
            Some(k) if prev_kind == Some(k) => runs.last_mut().expect("a run").push(c),
            Some(_) => runs.push(c.to_string()),
            None => {}
        }
        prev_kind = kind;
    }
    let after_number = runs.windows(2).any(|w| {
        let unit = w[1].as_str();
        w[0].starts_with(|c: char| c.is_ascii_digit())
            && (matches!(unit, "am" | "pm" | "h" | "m" | "s")
                || ["ho", "mi", "se"].iter().any(|p| unit.starts_with(p)))
    });
    clock || after_number || runs.iter().any(|r| r == "now")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_first_slashed_date_gets_its_reading_suggested() {
        let now = Utc.with_ymd_and_hms(2030, 1, 10, 12, 0, 0).unwrap();
        let problem = parse_spoken_date("31/12", now, Tz::UTC).unwrap_err();
        assert!(problem.contains("did you mean 31 dec?"), "{problem}");
        assert!(parse_spoken_date("31 dec", now, Tz::UTC).is_ok());
        assert_eq!(day_first("15/01/2031"), Some((15, "jan")));
        for month_first in ["12/31", "5/6", "31/13", "31/12/30", "a/b", "31"] {
            assert_eq!(day_first(month_first), None, "{month_first}");
        }
    }

    #[test]
    fn plain_date_is_end_of_day_in_zone() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let due = parse_due_date("2030-01-15", tz, "due_date").unwrap();
        assert_eq!(due.to_rfc3339(), "2030-01-15T22:59:59+00:00");
    }

    #[test]
    fn rfc3339_is_kept_and_garbage_names_the_field() {
        let due = parse_due_date("2030-01-15T17:00:00+02:00", Tz::UTC, "due_date").unwrap();
        assert_eq!(due.to_rfc3339(), "2030-01-15T15:00:00+00:00");
        assert_eq!(
            parse_due_date("soonish", Tz::UTC, "due_date").unwrap_err().field,
            "due_date"
        );
        assert_eq!(
            parse_timezone("Mars/Base", "timezone").unwrap_err().field,
            "timezone"
        );
    }
}
