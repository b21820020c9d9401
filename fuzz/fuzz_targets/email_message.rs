//! `POST /webhooks/email` and IMAP: any bytes as a raw RFC 5322 message through mail-parser and
//! our reading of it (sender, thread, machine-written, attachments), the cutting of quoted
//! history and signatures on any text, the command/comment text made from it, and the bot's
//! own plus-addresses and Message-IDs read back from any text.
#![no_main]

use coordinator::channels::email::inbound::{new_text, parse};
use coordinator::channels::email::ingest::conversation_text;
use coordinator::domain::EmailAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let bot = EmailAddress::parse("Coordinator <bot@example.org>").expect("a valid address");
    match parse(raw) {
        Ok(email) => {
            assert!(email.from.contains('@'));
            assert!(email.text.chars().count() <= 8000);
            let _ = conversation_text(&email.text, Some(42));
            let _ = conversation_text(&email.text, None);
            for address in &email.recipients {
                let _ = bot.task_in_address(address);
                let _ = bot.is_ours(address);
            }
            for id in email.thread_ids() {
                let _ = bot.task_in_message_id(&id);
            }
        }
        Err(malformed) => assert!(!malformed.message_id.is_empty()),
    }
    let text = String::from_utf8_lossy(raw);
    let cut = new_text(&text);
    let _ = conversation_text(&cut, Some(7));
    let _ = EmailAddress::parse(&text);
    let _ = bot.task_in_address(&text);
    let _ = bot.task_in_message_id(&text);
});
