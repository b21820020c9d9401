//! Due dates and time zones as people write them.

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

#[cfg(test)]
mod tests {
    use super::*;

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
