//! Stand-ups: the schedule as chat writes it (`mon-fri 09:30`, `mon,wed,fri 9:15 digest
//! 11:00`, `daily 10:00`), the ask moments it gives in a time zone, and an answer read as
//! done / next / blockers when it is written with those labels (the agent reads free text
//! when there is one). A task an answer names (`#42`, `task 42`) is found here too.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::ValidationError;

/// An example for usage texts and errors.
pub const STANDUP_EXAMPLE: &str = "/standup here mon-fri 09:30 (digest 11:30)";

/// Without `digest HH:MM`, the digest comes this long after the ask.
pub const DEFAULT_DIGEST_MINUTES: i32 = 120;

const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// When a stand-up asks and when its digest follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandupPlan {
    /// RRULE BYDAY codes, Monday first (`MO`, `TU`, …).
    pub days: Vec<&'static str>,
    /// The ask's local time of day.
    pub ask: NaiveTime,
    /// Minutes from the ask to the digest (1 to 23 hours).
    pub digest_minutes: i32,
}

/// The day (0 = Monday) a word names: `mon`, `Monday`, `tues`.
fn day_index(word: &str) -> Option<usize> {
    let word = word.trim().to_lowercase();
    if word.len() < 2 {
        return None;
    }
    NAMES.iter().position(|n| n.starts_with(&word) && word.len() >= 3)
}

/// `mon-fri`, `mon,wed,fri`, `daily`, `weekdays`, `fri-mon`: the BYDAY codes, Monday first.
pub fn parse_days(text: &str) -> Result<Vec<&'static str>, String> {
    let text = text.trim().to_lowercase();
    let bad =
        |what: &str| format!("'{what}' is not a day. Days are written like mon-fri, mon,wed,fri or daily.");
    let mut chosen = [false; 7];
    match text.as_str() {
        "" => return Err("Which days? e.g. mon-fri, mon,wed,fri or daily.".to_owned()),
        "daily" | "everyday" | "every-day" => chosen = [true; 7],
        "weekdays" | "workdays" => chosen[..5].fill(true),
        _ => {
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once('-') {
                    Some((from, to)) => {
                        let from = day_index(from).ok_or_else(|| bad(from))?;
                        let to = day_index(to).ok_or_else(|| bad(to))?;
                        let mut day = from;
                        loop {
                            chosen[day] = true;
                            if day == to {
                                break;
                            }
                            day = (day + 1) % 7;
                        }
                    }
                    None => chosen[day_index(part).ok_or_else(|| bad(part))?] = true,
                }
            }
        }
    }
    let days: Vec<&'static str> = (0..7).filter(|d| chosen[*d]).map(|d| DAYS[d]).collect();
    if days.is_empty() {
        return Err(bad(&text));
    }
    Ok(days)
}

/// `9:30`, `09:30`, `17:05`.
pub fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    let bad = || format!("'{text}' is not a time of day: write it as HH:MM, e.g. 09:30.");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m) = (
        h.parse::<u32>().map_err(|_| bad())?,
        m.parse::<u32>().map_err(|_| bad())?,
    );
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

fn minute_of(time: NaiveTime) -> i32 {
    (time.num_seconds_from_midnight() / 60) as i32
}

impl StandupPlan {
    /// `DAYS HH:MM [digest HH:MM]`, as after `/standup here`. The error says what was wrong.
    pub fn parse(args: &str) -> Result<Self, String> {
        let words: Vec<&str> = args.split_whitespace().filter(|w| *w != "at").collect();
        let Some(at) = words.iter().position(|w| w.contains(':')) else {
            return Err(if words.is_empty() {
                "Which days, and at what time?".to_owned()
            } else {
                "At what time? Add it as HH:MM after the days.".to_owned()
            });
        };
        let days = parse_days(&words[..at].join(""))?;
        let ask = parse_clock(words[at])?;
        let digest_minutes = match &words[at + 1..] {
            [] => DEFAULT_DIGEST_MINUTES,
            [word, time] if word.eq_ignore_ascii_case("digest") => {
                let digest = parse_clock(time)?;
                let minutes = minute_of(digest) - minute_of(ask);
                if minutes <= 0 {
                    return Err(format!(
                        "The digest comes after the question on the same day: {} is not after {}.",
                        digest.format("%H:%M"),
                        ask.format("%H:%M")
                    ));
                }
                minutes
            }
            rest => return Err(format!("I don't understand '{}' after the time.", rest.join(" "))),
        };
        Ok(Self {
            days,
            ask,
            digest_minutes,
        })
    }

    /// The plan as stored: `days` codes joined by commas, `ask` as `HH:MM`.
    pub fn stored(days: &str, ask: &str, digest_minutes: i32) -> Result<Self, ValidationError> {
        let codes: Option<Vec<&'static str>> = days
            .split(',')
            .map(|d| DAYS.iter().find(|c| c.eq_ignore_ascii_case(d.trim())).copied())
            .collect();
        let days = codes
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ValidationError::new("days", format!("'{days}' is not a list of days")))?;
        let ask = parse_clock(ask).map_err(|e| ValidationError::new("time", e))?;
        if !(1..24 * 60).contains(&digest_minutes) {
            return Err(ValidationError::new(
                "digest",
                "must come after the ask on the same day",
            ));
        }
        Ok(Self {
            days,
            ask,
            digest_minutes,
        })
    }

    /// The days as stored (`MO,TU,WE,TH,FR`).
    pub fn days_code(&self) -> String {
        self.days.join(",")
    }

    /// The days as people read them: `Mon–Fri`, `Mon, Wed, Fri`, `every day`.
    pub fn days_words(&self) -> String {
        let idx: Vec<usize> = self
            .days
            .iter()
            .filter_map(|d| DAYS.iter().position(|c| c == d))
            .collect();
        let short = |d: usize| {
            let n = NAMES[d];
            n[..1].to_uppercase() + &n[1..3]
        };
        if idx.len() == 7 {
            return "every day".to_owned();
        }
        let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
        if idx.len() > 2 && contiguous {
            return format!("{}–{}", short(idx[0]), short(idx[idx.len() - 1]));
        }
        idx.into_iter().map(short).collect::<Vec<_>>().join(", ")
    }

    /// The first ask moment strictly after `after`, in `tz` (a time that a clock change skips
    /// comes at the first moment after the gap).
    pub fn next_ask(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&tz).date_naive();
        (0..=8).find_map(|n| {
            let day = start + Duration::days(n);
            let code = DAYS[day.weekday().num_days_from_monday() as usize];
            if !self.days.contains(&code) {
                return None;
            }
            let local = day.and_time(self.ask);
            let at = tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| tz.from_local_datetime(&(local + Duration::hours(1))).earliest())?
                .with_timezone(&Utc);
            (at > after).then_some(at)
        })
    }
}

/// An answer read as done / next / blockers: lines that begin with a label (`Done:`,
/// `Yesterday:`, `Next:`, `Today:`, `Blockers:`, `Blocked:`) and the lines after them.
/// Unlabelled text is left as the whole answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerParts {
    pub done: Option<String>,
    pub next: Option<String>,
    pub blockers: Option<String>,
}

impl AnswerParts {
    pub fn read(text: &str) -> Self {
        let mut current: Option<usize> = None;
        let mut texts: [Vec<&str>; 3] = Default::default();
        for line in text.lines() {
            let trimmed = line.trim().trim_start_matches(['-', '*', '•']).trim();
            let label = trimmed.split_once(':').and_then(|(label, rest)| {
                let which = match label.trim().to_lowercase().as_str() {
                    "done" | "did" | "yesterday" => 0,
                    "next" | "today" | "plan" => 1,
                    "blockers" | "blocker" | "blocked" | "blocking" | "blocks" => 2,
                    _ => return None,
                };
                Some((which, rest.trim()))
            });
            match label {
                Some((which, rest)) => {
                    current = Some(which);
                    if !rest.is_empty() {
                        texts[which].push(rest);
                    }
                }
                None => {
                    if let Some(which) = current {
                        if !trimmed.is_empty() {
                            texts[which].push(trimmed);
                        }
                    }
                }
            }
        }
        let joined = |t: &[&str]| (!t.is_empty()).then(|| t.join("\n"));
        Self {
            done: joined(&texts[0]),
            next: joined(&texts[1]),
            blockers: joined(&texts[2]).filter(|b| !no_blocker(b)),
        }
    }
}

/// "none", "no", "-", "nothing", "n/a": no blocker at all.
pub fn no_blocker(text: &str) -> bool {
    let t = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(
        t.as_str(),
        "" | "none" | "no" | "-" | "nothing" | "n/a" | "na" | "no blockers" | "nope" | "nothing blocking"
    )
}

/// The task an answer names: `#42` or `task 42`.
pub fn mentioned_task(text: &str) -> Option<i64> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ';' | '(' | ')' | ':'))
        .filter(|w| !w.is_empty())
        .collect();
    for (n, word) in words.iter().enumerate() {
        if let Some(id) = word.strip_prefix('#').and_then(|d| d.parse::<i64>().ok()) {
            return Some(id).filter(|id| *id > 0);
        }
        if *word == "task" {
            if let Some(id) = words.get(n + 1).and_then(|d| d.parse::<i64>().ok()) {
                return Some(id).filter(|id| *id > 0);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_and_times_as_chat_writes_them() {
        let plan = StandupPlan::parse("mon-fri 09:30").unwrap();
        assert_eq!(plan.days_code(), "MO,TU,WE,TH,FR");
        assert_eq!(plan.days_words(), "Mon–Fri");
        assert_eq!(plan.ask, NaiveTime::from_hms_opt(9, 30, 0).unwrap());
        assert_eq!(plan.digest_minutes, DEFAULT_DIGEST_MINUTES);
        let plan = StandupPlan::parse("mon, wed,fri at 9:15 digest 11:00").unwrap();
        assert_eq!(plan.days_code(), "MO,WE,FR");
        assert_eq!(plan.days_words(), "Mon, Wed, Fri");
        assert_eq!(plan.digest_minutes, 105);
        assert_eq!(StandupPlan::parse("daily 10:00").unwrap().days.len(), 7);
        assert_eq!(parse_days("fri-mon").unwrap(), vec!["MO", "FR", "SA", "SU"]);
        assert!(StandupPlan::parse("funday 09:30")
            .unwrap_err()
            .contains("'funday' is not a day"));
        assert!(StandupPlan::parse("mon-fri 25:00")
            .unwrap_err()
            .contains("'25:00' is not a time"));
        assert!(StandupPlan::parse("mon-fri")
            .unwrap_err()
            .contains("At what time?"));
        assert!(StandupPlan::parse("mon 09:30 digest 09:00")
            .unwrap_err()
            .contains("after the question"));
        assert!(StandupPlan::parse("mon 09:30 later")
            .unwrap_err()
            .contains("'later'"));
        let stored = StandupPlan::stored("MO,TU,WE,TH,FR", "09:30", 120).unwrap();
        assert_eq!(stored, StandupPlan::parse("weekdays 09:30").unwrap());
    }

    #[test]
    fn asks_come_on_the_chosen_days_in_the_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let plan = StandupPlan::parse("mon-fri 09:30").unwrap();
        // Friday 11 Jan 2030, 10:00 Berlin: the next ask is Monday 14 Jan 09:30 (08:30 UTC).
        assert_eq!(
            plan.next_ask(berlin, utc("2030-01-11T09:00:00Z")),
            Some(utc("2030-01-14T08:30:00Z"))
        );
        // Just before Monday's ask: that one; at it: Tuesday's.
        assert_eq!(
            plan.next_ask(berlin, utc("2030-01-14T08:29:00Z")),
            Some(utc("2030-01-14T08:30:00Z"))
        );
        assert_eq!(
            plan.next_ask(berlin, utc("2030-01-14T08:30:00Z")),
            Some(utc("2030-01-15T08:30:00Z"))
        );
        // Summer time: 09:30 Berlin is 07:30 UTC.
        assert_eq!(
            plan.next_ask(berlin, utc("2030-07-01T00:00:00Z")),
            Some(utc("2030-07-01T07:30:00Z"))
        );
    }

    #[test]
    fn answers_are_read_by_their_labels() {
        let parts = AnswerParts::read("Done: the flyers\nNext: print them\nBlockers: waiting for #3 paper");
        assert_eq!(parts.done.as_deref(), Some("the flyers"));
        assert_eq!(parts.next.as_deref(), Some("print them"));
        assert_eq!(parts.blockers.as_deref(), Some("waiting for #3 paper"));
        assert_eq!(mentioned_task("waiting for #3 paper"), Some(3));
        assert_eq!(mentioned_task("task 12 is stuck"), Some(12));
        assert_eq!(mentioned_task("nothing here"), None);
        let none = AnswerParts::read("done: x\nblockers: none");
        assert_eq!(none.blockers, None);
        assert_eq!(AnswerParts::read("just working"), AnswerParts::default());
        let multi = AnswerParts::read("Yesterday:\n- a\n- b\nToday: c");
        assert_eq!(multi.done.as_deref(), Some("a\nb"));
        assert_eq!(multi.next.as_deref(), Some("c"));
    }
}
