//! People named in a chat message by their platform id, read as our handles. Our commands name
//! people by handle (`/newtask Call the printer @bob`), while a platform writes the person
//! someone picked with `@` by its own id: Slack `<@U0ABC1234>`, Discord `<@80351110224678912>`.
//! Before an event is stored, a channel finds those mentions ([`Mention`]) and reads them
//! ([`read_as_handles`]): linked people as `@handle`, anyone else as the channel chooses. Where
//! the platform already resolved its mentions (Discord's gateway), [`linked_handles`] alone.

use std::collections::HashMap;

use crate::domain::Channel;
use crate::store::Store;

/// The most distinct people looked up for one message.
const MAX_LOOKUPS: usize = 20;

/// A mention in a text: its byte range and the platform id it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub start: usize,
    pub end: usize,
    pub id: String,
}

/// The handles of the people `ids` are linked to on `channel`, by id; ids nobody linked are
/// left out. A lookup that fails is logged and left out too: the message is stored either way.
pub async fn linked_handles(store: &Store, channel: Channel, ids: &[String]) -> HashMap<String, String> {
    let mut asked = std::collections::HashSet::new();
    let mut handles = HashMap::new();
    for id in ids {
        if asked.len() >= MAX_LOOKUPS || !asked.insert(id.as_str()) {
            continue;
        }
        match store.person_by_identity(channel, id).await {
            Ok(Some(person)) => {
                handles.insert(id.clone(), person.handle);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, %channel, "a mention could not be looked up; kept as written")
            }
        }
    }
    handles
}

/// `text` with `found` (its mentions, in order) read: linked people as `@handle`, anyone else
/// as `otherwise` says. `None` when it mentions nobody, so the caller keeps its event as it is.
pub async fn read_as_handles(
    store: &Store,
    channel: Channel,
    text: &str,
    found: &[Mention],
    otherwise: impl Fn(&Mention, &str) -> String,
) -> Option<String> {
    if found.is_empty() {
        return None;
    }
    let ids: Vec<String> = found.iter().map(|m| m.id.clone()).collect();
    let handles = linked_handles(store, channel, &ids).await;
    Some(written(text, found, &handles, otherwise))
}

/// `text` with each of `mentions` (in order, not overlapping) written `@handle` when its id is
/// in `handles`, else as `otherwise` says (given the mention and the text it covers).
fn written(
    text: &str,
    mentions: &[Mention],
    handles: &HashMap<String, String>,
    otherwise: impl Fn(&Mention, &str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for mention in mentions {
        out.push_str(&text[last..mention.start]);
        match handles.get(&mention.id) {
            Some(handle) => {
                out.push('@');
                out.push_str(handle);
            }
            None => out.push_str(&otherwise(mention, &text[mention.start..mention.end])),
        }
        last = mention.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_ids_become_handles_and_the_rest_is_the_channels_choice() {
        let text = "call <@1> and <@2> today";
        let mentions = [
            Mention {
                start: 5,
                end: 9,
                id: "1".into(),
            },
            Mention {
                start: 14,
                end: 18,
                id: "2".into(),
            },
        ];
        let handles = HashMap::from([("1".to_owned(), "bob".to_owned())]);
        assert_eq!(
            written(text, &mentions, &handles, |m, _| format!("@{}", m.id)),
            "call @bob and @2 today"
        );
        assert_eq!(
            written(text, &mentions, &handles, |_, original| original.to_owned()),
            "call @bob and <@2> today"
        );
        assert_eq!(written(text, &[], &handles, |_, o| o.to_owned()), text);
    }
}
