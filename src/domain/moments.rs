//! Moments as people write them for a reminder ("tomorrow 10:00", "friday", "in 2 hours"),
//! and the split of `/remind`'s `WHEN TEXT` into the moment and the words after it. Dates
//! that cannot exist ("31 february") are named as such rather than "not understood".

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::dates::read_spoken;

/// A reminder given a day but no time of day comes at this local time.
pub const REMINDER_HOUR: u32 = 9;

/// A second hour for a bare day, to tell a time of day that equals [`REMINDER_HOUR`] from none.
const OTHER_HOUR: u32 = 15;

/// Examples of the moments [`parse_spoken_moment`] reads, for usage texts.
pub const MOMENT_EXAMPLES: &str = "tomorrow 10:00, friday, in 2 hours, next monday 9:30 or 2030-01-15 09:30";

/// How many words at most the moment of a `/remind` takes ("next friday at 5 pm" is 5).
const MOMENT_WORDS: usize = 6;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month (1–12) that a lowercase word of three letters or more begins ("feb", "march").
pub(super) fn month_of(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(word))
        .map(|n| n as u32 + 1)
}

/// When lowercase date text pairs a day number with a month that never has that day
/// ("31 february", "april 31st"), what is wrong with it. A day above 31 is left to the general
/// "not understood".
pub(super) fn impossible_day(normal: &str) -> Option<String> {
    let words: Vec<&str> = normal.split(|c: char| c.is_whitespace() || c == ',').collect();
    let day_of = |w: &str| -> Option<u32> {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &w[digits.len()..];
        if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
            return None;
        }
        digits.parse().ok().filter(|d| (1..=31).contains(d))
    };
    for pair in words.windows(2) {
        let (day, month) = match (
            day_of(pair[0]),
            month_of(pair[1]),
            month_of(pair[0]),
            day_of(pair[1]),
        ) {
            (Some(day), Some(month), _, _) | (_, _, Some(month), Some(day)) => (day, month),
            _ => continue,
        };
        // 2024 is a leap year: a day that is missing even then is never there.
        if NaiveDate::from_ymd_opt(2024, month, day).is_none() {
            let name = MONTHS[month as usize - 1];
            let name = name[..1].to_uppercase() + &name[1..];
            return Some(format!("{name} has no day {day}."));
        }
    }
    None
}

/// A moment for a reminder, in `tz` at `now`: "tomorrow 10:00", "in 2 hours", "2030-01-15
/// 09:30"; a day without a time of day means [`REMINDER_HOUR`] o'clock there. A moment
/// already past is refused. The error is the reply's first line.
pub fn parse_spoken_moment(text: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    moment_at_hour(text, now, tz, REMINDER_HOUR)
}

/// [`parse_spoken_moment`] with `hour` o'clock for a day without a time of day.
fn moment_at_hour(text: &str, now: DateTime<Utc>, tz: Tz, hour: u32) -> Result<DateTime<Utc>, String> {
    let at_hour = |day: NaiveDate| {
        let local = day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("valid time"));
        tz.from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    };
    read_spoken(text, now, tz, "time", &at_hour).map_err(|e| e.replace(super::DATE_EXAMPLES, MOMENT_EXAMPLES))
}

/// Splits `WHEN TEXT` into the moment (the longest run of leading words that reads as one)
/// and the text after it. The error says what was wrong: no moment at the start, a moment in
/// the past or impossible, or nothing to be reminded of.
pub fn split_spoken_moment(
    args: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(DateTime<Utc>, String), String> {
    let words: Vec<(usize, &str)> = args
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - args.as_ptr() as usize, w))
        .collect();
    if words.is_empty() {
        return Err(format!("When? Start with the time, e.g. {MOMENT_EXAMPLES}."));
    }
    let prefix = |n: usize| {
        let end = words.get(n).map_or(args.len(), |(offset, _)| *offset);
        (end, args[..end].trim())
    };
    // The longest leading run that reads as a moment (a past or impossible one is the answer
    // even when a shorter run reads); then the shortest run that reads as the same moment, as
    // the parser ignores words after "5pm".
    let mut telling = None;
    let mut found = None;
    for n in (1..=MOMENT_WORDS.min(words.len())).rev() {
        match parse_spoken_moment(prefix(n).1, now, tz) {
            Ok(at) if telling.is_none() => {
                found = Some((n, at));
                break;
            }
            Ok(_) => break,
            Err(e) if !e.starts_with("I couldn't understand") && telling.is_none() => telling = Some(e),
            Err(_) => {}
        }
    }
    if let Some((mut n, at)) = found {
        // A word is one the parser ignored when the moment stays the same without it, whatever
        // hour a bare day stands for: "tomorrow 9:00" is not "tomorrow" at the default 9 o'clock.
        let same_without_last = |n: usize| {
            [REMINDER_HOUR, OTHER_HOUR].iter().all(|&hour| {
                moment_at_hour(prefix(n - 1).1, now, tz, hour) == moment_at_hour(prefix(n).1, now, tz, hour)
            })
        };
        while n > 1 && same_without_last(n) {
            n -= 1;
        }
        let (end, when) = prefix(n);
        let text = args[end..].trim();
        if text.is_empty() {
            return Err(format!(
                "What should I remind of at '{when}'? Add the text after the time."
            ));
        }
        return Ok((at, text.to_owned()));
    }
    Err(telling.unwrap_or_else(|| {
        format!(
            "I couldn't find when in '{}'. Start with the time, e.g. {MOMENT_EXAMPLES}.",
            args.trim()
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    /// Wednesday 2025-03-12 10:00 UTC, 11:00 in Berlin.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 12, 10, 0, 0).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn split(args: &str) -> Result<(DateTime<Utc>, String), String> {
        split_spoken_moment(args, now(), BERLIN)
    }

    #[test]
    fn the_moment_is_the_longest_leading_run() {
        assert_eq!(
            split("tomorrow 10:00 send the invoice"),
            Ok((utc("2025-03-13T09:00:00Z"), "send the invoice".into()))
        );
        assert_eq!(
            split("friday Call the bank"),
            Ok((utc("2025-03-14T08:00:00Z"), "Call the bank".into()))
        );
        assert_eq!(
            split("in 2 hours check the oven"),
            Ok((utc("2025-03-12T12:00:00Z"), "check the oven".into()))
        );
        assert_eq!(
            split("2030-01-15 09:30 renew the domain"),
            Ok((utc("2030-01-15T08:30:00Z"), "renew the domain".into()))
        );
        assert_eq!(
            split("next friday at 5pm pay rent"),
            Ok((utc("2025-03-14T16:00:00Z"), "pay rent".into()))
        );
    }

    #[test]
    fn a_time_equal_to_the_default_hour_is_not_left_in_the_text() {
        for args in [
            "tomorrow 9:00 call the printer",
            "tomorrow 09:00 call the printer",
            "tomorrow at 9am call the printer",
            "tomorrow 9am call the printer",
        ] {
            assert_eq!(
                split(args),
                Ok((utc("2025-03-13T08:00:00Z"), "call the printer".into())),
                "{args}"
            );
        }
        assert_eq!(
            split("tomorrow call the printer"),
            Ok((utc("2025-03-13T08:00:00Z"), "call the printer".into()))
        );
    }

    #[test]
    fn impossible_past_and_missing_parts_are_named() {
        let e = split("31 february send it").unwrap_err();
        assert!(e.contains("February has no day 31"), "{e}");
        let e = split("april 31st send it").unwrap_err();
        assert!(e.contains("April has no day 31"), "{e}");
        let e = split("yesterday send it").unwrap_err();
        assert!(e.contains("'yesterday'") && e.contains("is in the past"), "{e}");
        let e = split("someday send it").unwrap_err();
        assert!(e.contains("couldn't find when"), "{e}");
        assert!(e.contains("tomorrow 10:00"), "{e}");
        let e = split("tomorrow").unwrap_err();
        assert!(e.contains("What should I remind of"), "{e}");
        assert!(split("").is_err());
        // 29 February exists (in leap years), 32 January nowhere: the general answer.
        assert_eq!(impossible_day("29 feb"), None);
        assert_eq!(impossible_day("32 jan"), None);
    }

    #[test]
    fn a_day_alone_means_nine_local() {
        assert_eq!(
            parse_spoken_moment("tomorrow", now(), BERLIN),
            Ok(utc("2025-03-13T08:00:00Z"))
        );
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            parse_spoken_moment("tomorrow 10:00", now(), ny),
            Ok(utc("2025-03-13T14:00:00Z"))
        );
    }
}
