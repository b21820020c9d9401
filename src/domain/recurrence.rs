//! Recurring work: an RFC 5545 recurrence rule (`FREQ=MONTHLY;BYMONTHDAY=1`), as the API
//! gives it or as chat says it ("every month on the 1st", "every monday and thursday at 9:30"),
//! and its occurrences in a time zone, computed by the `rrule` crate. Only daily, weekly,
//! monthly and yearly rules are taken: a task every minute is not a task. A rule that never
//! fires is refused with an example.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::moments::month_of;
use super::ValidationError;

/// Examples of the rules chat takes, for usage texts.
pub const RECURRENCE_EXAMPLES: &str =
    "every day, every weekday, every monday and thursday, every 2 weeks on friday, every month on the 1st, \
     every month on the last day, every year, each followed by 'at 9:30' if you like";

/// An example rule for the API's errors.
const RULE_EXAMPLE: &str = "FREQ=MONTHLY;BYMONTHDAY=1 (the 1st of every month)";

/// A recurrence rule, valid as far as it can be checked without its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// The RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO,TH`.
    rule: String,
    /// The time of day of the occurrences, when the rule's words gave one.
    at: Option<NaiveTime>,
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("monday", "MO"),
    ("tuesday", "TU"),
    ("wednesday", "WE"),
    ("thursday", "TH"),
    ("friday", "FR"),
    ("saturday", "SA"),
    ("sunday", "SU"),
];

fn weekday(word: &str) -> Option<&'static str> {
    let word = word.strip_suffix('s').filter(|w| w.len() >= 3).unwrap_or(word);
    if word.len() < 2 {
        return None;
    }
    WEEKDAYS
        .iter()
        .find(|(name, _)| name.starts_with(word) && word.len() >= 3)
        .map(|(_, code)| *code)
}

/// "1st", "15th", "3" → 3; "last" → -1.
fn month_day(word: &str) -> Option<i32> {
    if word == "last" {
        return Some(-1);
    }
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !matches!(&word[digits.len()..], "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

/// "9:30", "17:00", "9am", "5pm" → the time.
fn time_of_day(word: &str) -> Option<NaiveTime> {
    let (text, pm) = match (word.strip_suffix("pm"), word.strip_suffix("am")) {
        (Some(t), _) => (t, Some(true)),
        (_, Some(t)) => (t, Some(false)),
        _ => (word, None),
    };
    let (h, m) = match text.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if pm.is_some() => (text.parse::<u32>().ok()?, 0),
        None => return None,
    };
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

impl Recurrence {
    /// A rule from the API: an RRULE value (`FREQ=WEEKLY;BYDAY=MO`), with or without `RRULE:`.
    pub fn parse_rule(text: &str, field: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let rule = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text)
            .trim()
            .to_owned();
        let bad = |why: String| ValidationError::new(field, format!("{why}; e.g. {RULE_EXAMPLE}"));
        if rule.is_empty() || rule.len() > 500 || rule.contains(['\n', '\r']) {
            return Err(bad(format!("'{text}' is not a recurrence rule")));
        }
        let freq = rule.split(';').find_map(|part| {
            part.trim()
                .to_ascii_uppercase()
                .strip_prefix("FREQ=")
                .map(str::to_owned)
        });
        match freq.as_deref() {
            Some("DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY") => {}
            Some(other) => {
                return Err(bad(format!(
                    "FREQ={other} is not taken: tasks recur daily, weekly, monthly or yearly"
                )))
            }
            None => return Err(bad(format!("'{text}' has no FREQ"))),
        }
        let recurrence = Self { rule, at: None };
        // Syntax and values, checked against a start before any UNTIL one would write.
        recurrence
            .set(
                Utc.with_ymd_and_hms(1971, 1, 1, 12, 0, 0)
                    .single()
                    .expect("a valid moment"),
                Tz::UTC,
            )
            .map_err(|e| bad(format!("'{text}' is not a valid rule: {e}")))?;
        Ok(recurrence)
    }

    /// A rule from chat words: "every month on the 1st", "every weekday at 9:00". `Ok(None)`
    /// when `text` does not begin with "every"; `Err` says what was not understood.
    pub fn from_words(text: &str) -> Result<Option<Self>, String> {
        let lower = text.trim().to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty() && !matches!(*w, "on" | "the" | "and" | "of" | "at" | "day" | "days"))
            .collect();
        if words.first() != Some(&"every") {
            return Ok(None);
        }
        let not_understood = || {
            format!(
                "I couldn't understand the repetition '{}'. Try e.g. {RECURRENCE_EXAMPLES}.",
                text.trim()
            )
        };
        // "every day" loses "day" above: keep the frequency words of the original.
        let said_day = lower
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w == "day" || w == "days")
            || lower
                .split_whitespace()
                .nth(2)
                .is_some_and(|w| w == "day" || w == "days");
        let mut rest = &words[1..];
        let mut interval = 1u32;
        if let Some(n) = rest.first().and_then(|w| w.parse::<u32>().ok()) {
            if !(1..=366).contains(&n) {
                return Err(not_understood());
            }
            interval = n;
            rest = &rest[1..];
        } else if rest.first() == Some(&"other") {
            interval = 2;
            rest = &rest[1..];
        }
        let mut at = None;
        if let Some(last) = rest.last() {
            if let Some(time) = time_of_day(last) {
                at = Some(time);
                rest = &rest[..rest.len() - 1];
            }
        }
        let mut parts = Vec::new();
        let unit = rest.first().copied().unwrap_or("");
        let unit = unit.strip_suffix('s').unwrap_or(unit);
        match unit {
            "" if said_day => parts.push("FREQ=DAILY".to_owned()),
            "weekday" if rest.len() == 1 => parts.push("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".to_owned()),
            "week" => {
                parts.push("FREQ=WEEKLY".to_owned());
                let days: Option<Vec<&str>> = rest[1..].iter().map(|w| weekday(w)).collect();
                let days = days.ok_or_else(not_understood)?;
                if !days.is_empty() {
                    parts.push(format!("BYDAY={}", days.join(",")));
                }
            }
            "month" => {
                parts.push("FREQ=MONTHLY".to_owned());
                match &rest[1..] {
                    [] => {}
                    [day] => parts.push(format!(
                        "BYMONTHDAY={}",
                        month_day(day).ok_or_else(not_understood)?
                    )),
                    _ => return Err(not_understood()),
                }
            }
            "year" => {
                parts.push("FREQ=YEARLY".to_owned());
                match &rest[1..] {
                    [] => {}
                    [a, b] => {
                        let (month, day) = match (month_of(a), month_day(b), month_of(b), month_day(a)) {
                            (Some(m), Some(d), _, _) | (_, _, Some(m), Some(d)) if d > 0 => (m, d),
                            _ => return Err(not_understood()),
                        };
                        parts.push(format!("BYMONTH={month};BYMONTHDAY={day}"));
                    }
                    _ => return Err(not_understood()),
                }
            }
            _ => {
                // "every monday and thursday"
                let days: Option<Vec<&str>> = rest.iter().map(|w| weekday(w)).collect();
                match days {
                    Some(days) if !days.is_empty() => {
                        parts.push("FREQ=WEEKLY".to_owned());
                        parts.push(format!("BYDAY={}", days.join(",")));
                    }
                    _ => return Err(not_understood()),
                }
            }
        }
        if interval > 1 {
            parts.push(format!("INTERVAL={interval}"));
        }
        Ok(Some(Self {
            rule: parts.join(";"),
            at,
        }))
    }

    /// A stored rule.
    pub fn stored(rule: &str) -> Self {
        Self {
            rule: rule.to_owned(),
            at: None,
        }
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The time of day the rule's words gave.
    pub fn time_of_day(&self) -> Option<NaiveTime> {
        self.at
    }

    fn set(&self, start: DateTime<Utc>, tz: Tz) -> Result<rrule::RRuleSet, String> {
        let local = start.with_timezone(&tz).format("%Y%m%dT%H%M%S");
        format!("DTSTART;TZID={}:{local}\nRRULE:{}", tz.name(), self.rule)
            .parse::<rrule::RRuleSet>()
            .map_err(|e| e.to_string())
    }

    /// The first occurrence at or after `after` of the series that starts at `start` in `tz`;
    /// `None` when there is none any more (the rule ran out, or never fires).
    pub fn occurrence_from(
        &self,
        start: DateTime<Utc>,
        tz: Tz,
        after: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let zone: rrule::Tz = tz.into();
        let set = self.set(start, tz)?.after(after.with_timezone(&zone));
        Ok(set.all(1).dates.first().map(|d| d.with_timezone(&Utc)))
    }

    /// The occurrence after `previous` (strictly later).
    pub fn next_after(
        &self,
        start: DateTime<Utc>,
        tz: Tz,
        previous: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        self.occurrence_from(start, tz, previous + Duration::seconds(1))
    }

    /// Whether the rule's UNTIL is before `start`.
    fn ends_before(&self, start: DateTime<Utc>) -> bool {
        let until = self.rule.split(';').find_map(|part| {
            let part = part.trim().to_ascii_uppercase();
            part.strip_prefix("UNTIL=").map(str::to_owned)
        });
        let Some(until) = until else {
            return false;
        };
        let day = until
            .get(..8)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        day.is_some_and(|day| day < start.date_naive())
    }

    /// The first occurrence of a new series starting at `start`, at or after `now`; a rule that
    /// never fires is refused.
    pub fn first(
        &self,
        start: DateTime<Utc>,
        tz: Tz,
        now: DateTime<Utc>,
        field: &str,
    ) -> Result<DateTime<Utc>, ValidationError> {
        let from = start.max(now);
        match self.occurrence_from(start, tz, from) {
            Ok(Some(at)) => Ok(at),
            Err(e) if !self.ends_before(start) => {
                Err(ValidationError::new(field, format!("{e}; e.g. {RULE_EXAMPLE}")))
            }
            // The crate refuses an UNTIL before the start: a rule that never fires too.
            Ok(None) | Err(_) => Err(ValidationError::new(
                field,
                format!(
                    "the rule {} never fires after {}; e.g. {RULE_EXAMPLE}",
                    self.rule,
                    from.with_timezone(&tz).format("%Y-%m-%d")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> String {
        Recurrence::from_words(text).unwrap().unwrap().rule
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn chat_words_become_rules() {
        assert_eq!(words("every month on the 1st"), "FREQ=MONTHLY;BYMONTHDAY=1");
        assert_eq!(words("every month on the last day"), "FREQ=MONTHLY;BYMONTHDAY=-1");
        assert_eq!(words("every day"), "FREQ=DAILY");
        assert_eq!(words("every 3 days"), "FREQ=DAILY;INTERVAL=3");
        assert_eq!(words("every weekday"), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!(words("every Monday and Thursday"), "FREQ=WEEKLY;BYDAY=MO,TH");
        assert_eq!(
            words("every 2 weeks on friday"),
            "FREQ=WEEKLY;BYDAY=FR;INTERVAL=2"
        );
        assert_eq!(words("every other week"), "FREQ=WEEKLY;INTERVAL=2");
        assert_eq!(
            words("every year on 15 march"),
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"
        );
        let timed = Recurrence::from_words("every weekday at 9:30").unwrap().unwrap();
        assert_eq!(timed.time_of_day(), NaiveTime::from_hms_opt(9, 30, 0));
        assert_eq!(
            Recurrence::from_words("every friday 5pm")
                .unwrap()
                .unwrap()
                .time_of_day(),
            NaiveTime::from_hms_opt(17, 0, 0)
        );
        assert_eq!(Recurrence::from_words("Everything else"), Ok(None));
        assert_eq!(Recurrence::from_words("weekly sync"), Ok(None));
        assert!(Recurrence::from_words("every blue moon")
            .unwrap_err()
            .contains("couldn't understand"));
    }

    #[test]
    fn api_rules_are_checked() {
        assert_eq!(
            Recurrence::parse_rule("RRULE:FREQ=WEEKLY;BYDAY=MO", "r")
                .unwrap()
                .rule(),
            "FREQ=WEEKLY;BYDAY=MO"
        );
        assert!(Recurrence::parse_rule("FREQ=MINUTELY", "r")
            .unwrap_err()
            .message
            .contains("not taken"));
        assert!(Recurrence::parse_rule("BYDAY=MO", "r")
            .unwrap_err()
            .message
            .contains("no FREQ"));
        assert!(Recurrence::parse_rule("FREQ=MONTHLY;BYMONTHDAY=40", "r")
            .unwrap_err()
            .message
            .contains("not a valid rule"));
    }

    #[test]
    fn occurrences_follow_the_zone_and_rules_that_never_fire_are_refused() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let monthly = Recurrence::parse_rule("FREQ=MONTHLY;BYMONTHDAY=1", "r").unwrap();
        // The series starts Wed 4 Dec 2030 at 23:59:59 Berlin; the 1st of January comes first.
        let start = utc("2030-12-04T22:59:59Z");
        let first = monthly
            .first(start, berlin, utc("2030-12-04T10:00:00Z"), "r")
            .unwrap();
        assert_eq!(first, utc("2031-01-01T22:59:59Z"));
        let next = monthly.next_after(start, berlin, first).unwrap();
        // 1 February, still winter time; 1 April in summer time.
        assert_eq!(next, Some(utc("2031-02-01T22:59:59Z")));
        let april = monthly
            .occurrence_from(start, berlin, utc("2031-03-15T00:00:00Z"))
            .unwrap();
        assert_eq!(april, Some(utc("2031-04-01T21:59:59Z")));
        let never = Recurrence::parse_rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "r").unwrap();
        let e = never.first(start, berlin, start, "recurrence").unwrap_err();
        assert!(e.message.contains("never fires"), "{e}");
        let past = Recurrence::parse_rule("FREQ=DAILY;UNTIL=20200101T000000Z", "r").unwrap();
        let e = past.first(start, berlin, start, "recurrence").unwrap_err();
        assert!(e.message.contains("never fires"), "{e}");
        let ended = Recurrence::parse_rule("FREQ=DAILY;COUNT=2", "r").unwrap();
        let second = ended.next_after(start, berlin, start).unwrap().unwrap();
        assert_eq!(ended.next_after(start, berlin, second).unwrap(), None);
    }
}
