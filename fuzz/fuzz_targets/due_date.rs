//! Dates as people write them: any text after `/newtask TITLE due`, as the chat command reads
//! it (relative words, times of day, month names, in the sender's zone), and as the API reads a
//! `due_date` field (RFC 3339 or a plain date). Also any text as a time zone name.
//!
//! Input layout: bytes 0–3 the moment (seconds since 1970, little-endian), bytes 4–5 the time
//! zone (an index into the IANA list), then the date text as UTF-8 (invalid bytes replaced).
#![no_main]

use coordinator::conversation::commands::{parse, Command, Parsed};
use coordinator::domain::{parse_due_date, parse_timezone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(header) = data.get(..6) else {
        return;
    };
    let seconds = i64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]]));
    let Some(now) = chrono::DateTime::from_timestamp(seconds, 0) else {
        return;
    };
    let zones = chrono_tz::TZ_VARIANTS;
    let tz = zones[usize::from(u16::from_le_bytes([header[4], header[5]])) % zones.len()];
    let date = String::from_utf8_lossy(&data[6..]);
    let message = format!("/newtask Fuzzed task due {date}");
    if let Parsed::Command(Command::NewTask { due: Some(due), .. }) = parse(&message, now, tz, None) {
        assert!(due >= now, "a due date in the past was accepted: {due} < {now}");
    }
    let _ = parse_due_date(&date, tz, "due_date");
    let _ = parse_timezone(&date, "timezone");
});
