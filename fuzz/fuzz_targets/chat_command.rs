//! The chat command parser: any message text, at any moment, in any time zone, with or without
//! the bot's username (`/tasks@bot`).
//!
//! Input layout (so that seeds are plain text after a short header): bytes 0–3 the moment
//! (seconds since 1970, little-endian, doubled when byte 6 is odd: years 1970–2242), bytes
//! 4–5 the time zone (an index into the IANA list), byte 6 flags (bit 1: the bot's username
//! is known), then the message as UTF-8 (invalid bytes replaced).
#![no_main]

use coordinator::conversation::commands::{parse, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((moment, tz, flags, text)) = fuzz_header(data) else {
        return;
    };
    let bot = (flags & 2 != 0).then_some("coord_bot");
    match parse(&text, moment, tz, bot) {
        Parsed::Usage(reply) => assert!(!reply.is_empty()),
        Parsed::Command(_) | Parsed::NotACommand => {}
    }
});

fn fuzz_header(data: &[u8]) -> Option<(chrono::DateTime<chrono::Utc>, chrono_tz::Tz, u8, String)> {
    let header: [u8; 7] = data.get(..7)?.try_into().ok()?;
    let scale = 1 + i64::from(header[6] & 1);
    let seconds = i64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]])) * scale;
    let moment = chrono::DateTime::from_timestamp(seconds, 0)?;
    let zones = chrono_tz::TZ_VARIANTS;
    let tz = zones[usize::from(u16::from_le_bytes([header[4], header[5]])) % zones.len()];
    Some((
        moment,
        tz,
        header[6],
        String::from_utf8_lossy(&data[7..]).into_owned(),
    ))
}
