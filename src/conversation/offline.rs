//! Free text when no language model is configured: the handbook passages that match, and the
//! command the text probably meant, instead of a fixed list. Used by the chat and by
//! `POST /ai/chat`.

use crate::handbook::{quote_answer, Handbook};

/// Commands a person may type without the slash.
const COMMANDS: &[&str] = &[
    "newtask", "tasks", "done", "status", "comment", "ask", "report", "link", "help",
];

fn example(name: &str) -> &'static str {
    super::commands::example(name).unwrap_or("/help")
}

/// Said when nothing else helps.
const FOOTER: &str = "No language model is configured, so I answer from the handbook and from commands. /help lists the commands.";

/// The reply to free text without a model.
pub async fn reply(handbook: Option<&Handbook>, text: &str) -> String {
    let mut parts = Vec::new();
    if let Some(suggestion) = probable_command(text) {
        parts.push(suggestion);
    }
    if let Some(handbook) = handbook {
        // On a first start the index is still being built: wait a little rather than miss.
        handbook.wait_for_ingest(std::time::Duration::from_secs(20)).await;
        match handbook.search(text, 3).await {
            Ok(found) if !found.is_empty() => parts.push(quote_answer(text, &found)),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "no handbook passages for free text"),
        }
    }
    if parts.is_empty() {
        parts.push(format!(
            "I found nothing in the handbook about that. Try for example:\n{}\n{}\n{}",
            example("newtask"),
            example("tasks"),
            example("ask")
        ));
    }
    parts.push(FOOTER.to_owned());
    parts.join("\n\n")
}

/// "Did you mean …" when the text starts like a command without its slash, or with a
/// misspelt command name ("newtsk", "taks").
fn probable_command(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    let word: String = first
        .trim_start_matches('/')
        .trim_end_matches([':', ',', '.', '!', '?'])
        .to_lowercase();
    if word.is_empty() {
        return None;
    }
    let rest = text.trim_start()[first.len()..].trim();
    let name = COMMANDS.iter().find(|name| **name == word).or_else(|| {
        ["newtask", "tasks"]
            .iter()
            .find(|name| word.len() >= 4 && edit_distance(name, &word) == 1)
    })?;
    // Most command names are also ordinary words: only their command shape counts.
    let id_first = rest
        .split_whitespace()
        .next()
        .is_some_and(|w| w.trim_start_matches('#').parse::<u64>().is_ok());
    let plausible = match *name {
        "newtask" => true,
        "tasks" => rest.is_empty() || matches!(rest.to_lowercase().as_str(), "mine" | "overdue" | "all"),
        "done" => id_first && rest.split_whitespace().count() == 1,
        "status" | "comment" => id_first && rest.split_whitespace().count() >= 2,
        "report" => matches!(rest.to_lowercase().as_str(), "" | "daily" | "weekly"),
        "link" => rest.len() >= 6 && !rest.contains(' ') && rest.chars().all(|c| c.is_ascii_alphanumeric()),
        _ => rest.is_empty(),
    };
    if !plausible {
        return None;
    }
    let typed = if rest.is_empty() {
        format!("/{name}")
    } else {
        format!("/{name} {rest}")
    };
    Some(format!(
        "Did you mean the command {typed}? Commands start with a slash, for example: {}",
        example(name)
    ))
}

/// Levenshtein distance of two short ASCII-ish words.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_without_a_slash_are_suggested() {
        let s = probable_command("newtask Send the invoice @anna due friday").unwrap();
        assert!(s.contains("/newtask Send the invoice @anna due friday"), "{s}");
        let s = probable_command("taks mine").unwrap();
        assert!(s.contains("/tasks mine"), "{s}");
        assert!(probable_command("Tasks").unwrap().contains("/tasks"));
        assert!(probable_command("newtsk Call the client")
            .unwrap()
            .contains("/newtask Call the client"));
    }

    #[test]
    fn ordinary_sentences_are_not_commands() {
        assert_eq!(probable_command("can I bring my dog to the office?"), None);
        assert_eq!(probable_command("ask the client about the logo"), None);
        assert_eq!(probable_command("help me find the expense policy"), None);
        assert_eq!(probable_command("done with the slides, what next?"), None);
        assert_eq!(probable_command("   "), None);
        assert_eq!(probable_command("status of the launch?"), None);
        assert!(probable_command("done 42").unwrap().contains("/done 42"));
        assert!(probable_command("report weekly")
            .unwrap()
            .contains("/report weekly"));
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("tasks", "taks"), 1);
        assert_eq!(edit_distance("newtask", "newtsk"), 1);
        assert_eq!(edit_distance("report", "export"), 2);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
