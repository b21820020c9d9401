//! Teammates named in a Slack message. Slack writes a mention of a person as `<@U0ABC1234>`,
//! which [`super::events::plain_text`] reads as `@U0ABC1234`, while our commands name people by
//! handle (`/newtask Call the printer @bob`). Before an event is stored, a mention of a Slack
//! user who is linked to a person becomes that person's `@handle`. Anyone else's stays as Slack
//! wrote it, so a command that needs a handle says that nobody has it.

use std::collections::HashMap;

use crate::domain::Channel;
use crate::store::Store;

/// The most distinct mentions looked up in one message.
const MAX_LOOKUPS: usize = 20;

/// The Slack user ids mentioned in `text` (`@U…` or `@W…`, as `plain_text` writes them), each
/// with its byte range (the `@` included), in order.
fn mentions(text: &str) -> Vec<(usize, usize, &str)> {
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
        let id = &text[id_start..end];
        let follows_word = bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if len >= 3 && matches!(bytes[id_start], b'U' | b'W') && !follows_word {
            found.push((at, end, id));
        }
    }
    found
}

/// `text` with each mention of a linked Slack user written as their `@handle`. A lookup that
/// fails leaves that mention as it is: the message is stored either way.
pub async fn with_handles(store: &Store, text: &str) -> String {
    let found = mentions(text);
    if found.is_empty() {
        return text.to_owned();
    }
    let mut handles: HashMap<&str, Option<String>> = HashMap::new();
    for (_, _, id) in &found {
        if handles.contains_key(id) || handles.len() >= MAX_LOOKUPS {
            continue;
        }
        let handle = match store.person_by_identity(Channel::Slack, id).await {
            Ok(person) => person.map(|p| p.handle),
            Err(e) => {
                tracing::warn!(error = %e, "a Slack mention could not be looked up; kept as written");
                None
            }
        };
        handles.insert(id, handle);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end, id) in found {
        if let Some(Some(handle)) = handles.get(id) {
            out.push_str(&text[last..start]);
            out.push('@');
            out.push_str(handle);
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_user_ids_are_found_and_nothing_else() {
        fn ids(text: &str) -> Vec<&str> {
            mentions(text).into_iter().map(|(_, _, id)| id).collect()
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
        let (start, end, _) = mentions(text)[0];
        assert_eq!(&text[start..end], "@U0BEA0001");
    }
}
