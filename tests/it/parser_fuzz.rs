//! Random input for every parser of outside input, through the same entry points as the
//! cargo-fuzz targets in `fuzz/`, without their instrumented build: each target's seeds
//! (`fuzz/seeds/TARGET`, real payloads) are mutated many times (bit flips, byte insertions,
//! deletions and repeats, splices with other seeds, tokens of `fuzz/dicts`), with a fixed RNG
//! seed so that a failure repeats. A panic fails the test and prints the input (the panic
//! message is printed where it happens).
//!
//! `PARSER_FUZZ_ITERATIONS` (default 2,000 per target) and `PARSER_FUZZ_SEED` make longer or
//! different runs: `PARSER_FUZZ_ITERATIONS=200000 cargo test --test it parser_fuzz -- --nocapture`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use coordinator::channels::discord::inbound::Verifier;
use coordinator::channels::discord::interaction::{deferred, to_event as discord_event, Interaction};
use coordinator::channels::email::inbound::{new_text, parse as parse_email};
use coordinator::channels::email::ingest::conversation_text;
use coordinator::channels::slack::signature::Verifier as SlackVerifier;
use coordinator::channels::slack::webhook::{read as read_slack, Incoming, Read};
use coordinator::channels::telegram::inbound::read_webhook_body;
use coordinator::channels::whatsapp::{inbound as whatsapp, webhook as whatsapp_webhook};
use coordinator::conversation::commands::{parse as parse_command, Command, Parsed};
use coordinator::domain::EmailAddress;
use coordinator::domain::{parse_due_date, parse_timezone};
use coordinator::integrations::crm::{self, inbound as crm_inbound, Mapping};
use coordinator::integrations::zendesk::webhook as zendesk;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Check = fn(&[u8]);

const TARGETS: &[(&str, &str, Check)] = &[
    ("telegram_update", "json.dict", telegram_update),
    ("whatsapp_payload", "json.dict", whatsapp_payload),
    ("discord_interaction", "json.dict", discord_interaction),
    ("slack_request", "json.dict", slack_request),
    ("email_message", "email.dict", email_message),
    ("crm_webhook", "json.dict", crm_webhook),
    ("zendesk_webhook", "json.dict", zendesk_webhook),
    ("chat_command", "chat.dict", chat_command),
    ("due_date", "chat.dict", due_date),
];

fn telegram_update(body: &[u8]) {
    if let Ok(Some(event)) = read_webhook_body(body, Some("coord_bot")) {
        assert!(!event.text.contains('\0'));
    }
    let _ = read_webhook_body(body, None);
}

fn whatsapp_payload(body: &[u8]) {
    let header = body.split(|b| *b == b'\n').next().unwrap_or_default();
    assert!(!whatsapp_webhook::signature_valid(
        "app-secret",
        body,
        std::str::from_utf8(header).ok()
    ));
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2030, 1, 15, 12, 0, 0).unwrap();
    for ours in [Some("106540352242922"), None] {
        for event in whatsapp::parse(&value, ours, now).events {
            assert!(event.received_at <= now);
        }
    }
}

fn discord_interaction(body: &[u8]) {
    let verifier =
        Verifier::from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
    let text = String::from_utf8_lossy(body);
    let mut parts = text.splitn(3, '\n');
    let (signature, timestamp) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    assert!(!verifier.verify(signature, timestamp, body));
    let _ = Verifier::from_hex(&text);
    let Ok(interaction) = serde_json::from_slice::<Interaction>(body) else {
        return;
    };
    let _ = interaction.ephemeral();
    let _ = deferred(&interaction);
    if let Some(event) = discord_event(&interaction) {
        assert!(!event.text.contains('\0'));
    }
}

fn slack_request(body: &[u8]) {
    let verifier = SlackVerifier::new(coordinator::config::Secret::new(
        "8f742231b10e8888abcd99yyyzzz85a5",
    ));
    let text = String::from_utf8_lossy(body);
    let mut parts = text.splitn(3, '\n');
    let (signature, timestamp) = (parts.next(), parts.next());
    let now = timestamp.and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    assert!(verifier.verify(signature, timestamp, body, now).is_err());
    for is_form in [false, true] {
        if let Read::Store(incoming) = read_slack(is_form, body) {
            let event = match &incoming {
                Incoming::Event(event) => event.as_ref(),
                Incoming::Interaction(stored) => &stored.event,
            };
            assert!(!event.text.contains('\0'));
            // A response URL (a credential) never travels in a chat id.
            assert!(!event.chat_id.contains("http"), "{}", event.chat_id);
        }
    }
}

fn email_message(raw: &[u8]) {
    let bot = EmailAddress::parse("Coordinator <bot@example.org>").unwrap();
    if let Ok(email) = parse_email(raw) {
        assert!(email.from.contains('@'));
        let _ = conversation_text(&email.text, Some(42));
        for address in &email.recipients {
            let _ = bot.task_in_address(address);
        }
        for id in email.thread_ids() {
            let _ = bot.task_in_message_id(&id);
        }
    }
    let text = String::from_utf8_lossy(raw);
    let _ = conversation_text(&new_text(&text), None);
    let _ = EmailAddress::parse(&text);
    let _ = bot.task_in_address(&text);
    let _ = bot.task_in_message_id(&text);
}

fn crm_webhook(body: &[u8]) {
    let header = String::from_utf8_lossy(body.split(|b| *b == b'\n').next().unwrap_or_default());
    assert!(!crm::verify("crm-secret", body, &header));
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let mapping = Mapping::built_in();
    for event in crm_inbound::events(&value, &mapping).into_iter().flatten() {
        if let Some(object) = mapping.objects.get(&event.object) {
            let _ = object.fields_of(&event.data);
        }
    }
}

fn zendesk_webhook(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.splitn(3, '\n');
    let (signature, timestamp) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    assert!(!zendesk::verify("zendesk-secret", timestamp, body, signature));
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        assert!(zendesk::ticket_id(&value).is_none_or(|id| id > 0));
    }
}

/// The header of the command targets (see `fuzz/fuzz_targets/chat_command.rs`): bytes 0–3 the
/// moment (seconds since 1970), 4–5 the time zone.
fn moment_and_zone(data: &[u8], double: bool) -> Option<(DateTime<Utc>, chrono_tz::Tz)> {
    let h: [u8; 6] = data.get(..6)?.try_into().ok()?;
    let seconds = i64::from(u32::from_le_bytes([h[0], h[1], h[2], h[3]])) * if double { 2 } else { 1 };
    let zones = chrono_tz::TZ_VARIANTS;
    let tz = zones[usize::from(u16::from_le_bytes([h[4], h[5]])) % zones.len()];
    Some((DateTime::from_timestamp(seconds, 0)?, tz))
}

fn chat_command(data: &[u8]) {
    let Some(&flags) = data.get(6) else {
        return;
    };
    let Some((now, tz)) = moment_and_zone(data, flags & 1 != 0) else {
        return;
    };
    let text = String::from_utf8_lossy(&data[7..]);
    let bot = (flags & 2 != 0).then_some("coord_bot");
    if let Parsed::Usage(reply) = parse_command(&text, now, tz, bot) {
        assert!(!reply.is_empty());
    }
}

fn due_date(data: &[u8]) {
    let Some((now, tz)) = moment_and_zone(data, false) else {
        return;
    };
    let date = String::from_utf8_lossy(&data[6..]);
    let message = format!("/newtask Fuzzed task due {date}");
    if let Parsed::Command(Command::NewTask { due: Some(due), .. }) = parse_command(&message, now, tz, None) {
        assert!(due >= now, "a due date in the past was accepted");
    }
    let _ = parse_due_date(&date, tz, "due_date");
    let _ = parse_timezone(&date, "timezone");
}

/// The tokens of a libFuzzer dictionary (`"…"` lines, with `\xNN` and `\\` escapes).
fn dictionary(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix('"'))
        .map(|token| {
            let (mut out, bytes, mut i) = (Vec::new(), token.as_bytes(), 0);
            while i < bytes.len() {
                match (bytes[i], bytes.get(i + 1)) {
                    (b'\\', Some(b'x')) if i + 4 <= bytes.len() => {
                        let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("");
                        out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                        i += 4;
                    }
                    (b'\\', Some(&c)) => {
                        out.push(c);
                        i += 2;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            out
        })
        .collect()
}

fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, seeds: &[Vec<u8>], tokens: &[Vec<u8>]) {
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..=input.len());
        match rng.random_range(0..7) {
            0 if !input.is_empty() => {
                let i = rng.random_range(0..input.len());
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 => input.insert(at, rng.random()),
            2 if at < input.len() => {
                let end = rng.random_range(at..=input.len().min(at + 16));
                input.drain(at..end);
            }
            3 if !tokens.is_empty() => {
                let token = &tokens[rng.random_range(0..tokens.len())];
                input.splice(at..at, token.iter().copied());
            }
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = rng.random_range(0..=other.len());
                let to = rng.random_range(from..=other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            5 if at < input.len() => {
                let end = rng.random_range(at..=input.len().min(at + 8));
                let copy: Vec<u8> = input[at..end].to_vec();
                input.splice(at..at, copy.iter().copied().cycle().take(copy.len() * 4));
            }
            6 if !input.is_empty() => {
                let i = rng.random_range(0..input.len());
                input[i] = *[b'0', b'9', b'-', b'"', b'{', b'\n', b'/', b'@', 0xff]
                    .get(rng.random_range(0..9))
                    .unwrap();
            }
            _ => {}
        }
    }
}

#[test]
fn parsers_survive_random_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let iterations: usize = std::env::var("PARSER_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let seed: u64 = std::env::var("PARSER_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut failures = Vec::new();
    for (name, dict, check) in TARGETS {
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join("seeds").join(name))
            .unwrap_or_else(|e| panic!("fuzz/seeds/{name}: {e}"))
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        let tokens = dictionary(&root.join("dicts").join(dict));
        let mut rng = StdRng::seed_from_u64(seed);
        let started = std::time::Instant::now();
        for _ in 0..iterations {
            let mut input = seeds[rng.random_range(0..seeds.len())].clone();
            mutate(&mut rng, &mut input, &seeds, &tokens);
            if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
                failures.push((*name, input));
                break;
            }
        }
        println!("{name}: {iterations} inputs in {:.1?}", started.elapsed());
    }
    for (name, input) in &failures {
        eprintln!("{name} panicked on {:?}", String::from_utf8_lossy(input));
    }
    assert!(failures.is_empty(), "{} parser(s) panicked", failures.len());
}
