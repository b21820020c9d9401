//! Teammates named in a Slack message. Slack writes a mention of a person as `<@U0ABC1234>`,
//! which [`super::events::plain_text`] reads as `@U0ABC1234`, while our commands name people by
//! handle (`/newtask Call the printer @bob`). Before an event is stored, a mention of a Slack
//! user who is linked to a person becomes that person's `@handle`. Anyone else's stays as Slack
//! wrote it, so a command that needs a handle says that nobody has it.

use crate::channels::mentions::{read_as_handles, Mention};
use crate::domain::Channel;
use crate::store::Store;

/// The Slack user ids mentioned in `text` (`@U…` or `@W…`, as `plain_text` writes them), each
/// with its byte range (the `@` included), in order.
fn mentions(text: &str) -> Vec<Mention> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'.') {
            continue; // an email address, not a mention
        }
        let id_start = at + 1;
        let len = bytes[id_start..]
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            .count();
        let end = id_start + len;
        let follows_word = bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if len >= 3 && matches!(bytes[id_start], b'U' | b'W') && !follows_word {
            found.push(Mention {
                start: at,
                end,
                id: text[id_start..end].to_owned(),
            });
        }
    }
    found
}

/// `text` with each mention of a linked Slack user written as their `@handle`; anyone else's
/// stays as Slack wrote it. `None` when it mentions nobody.
pub async fn with_handles(store: &Store, text: &str) -> Option<String> {
    read_as_handles(store, Channel::Slack, text, &mentions(text), |_, original| {
        original.to_owned()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_user_ids_are_found_and_nothing_else() {
        fn ids(text: &str) -> Vec<String> {
            mentions(text).into_iter().map(|m| m.id).collect()
        }
        assert_eq!(
            ids("/newtask Call @U0BEA0001 and @W12AB34CD."),
            ["U0BEA0001", "W12AB34CD"]
        );
        assert_eq!(ids("(@U0BEA0001)"), ["U0BEA0001"]);
        for text in [
            "@bob",
            "mail bob@U0BEA0001.example",
            "@Ux",
            "@U0BEA0001x",
            "@UNIX_time",
            "@here",
        ] {
            assert!(ids(text).is_empty(), "{text}");
        }
        let text = "a @U0BEA0001 b";
        let found = &mentions(text)[0];
        assert_eq!(&text[found.start..found.end], "@U0BEA0001");
    }
}
