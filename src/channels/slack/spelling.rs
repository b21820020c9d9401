//! Our commands as Slack users type them. Slack takes a message that starts with `/` for a
//! slash command and refuses one it does not know, and the app installs a single command,
//! [`COMMAND`] (`/coord`), that carries every other as its first word. So where our text names
//! a command ("Try /help", "send /link CODE here", the usage lines of /help), a Slack user
//! reads `/coord help`, `/coord link CODE`: what they can type.
//!
//! Only our wording is meant, so what is quoted stays as written: a quoted line (a handbook
//! passage, `> …`) and a code span. A `/word` that is part of a path or an address
//! (`example.com/help`, `/help/faq`, `/web.html`) is not a command either. A task title that
//! names a command as a word of its own ("Fix the /help page") is read as one; that is rare, and
//! harmless (it still reads the same).

use std::borrow::Cow;
use std::collections::HashSet;

use super::interactive::COMMAND;

/// The command names of our usage lines (`/tasks`, and aliases such as `/start`).
#[derive(Debug, Clone, Default)]
pub struct CommandSpelling {
    names: HashSet<String>,
}

/// Characters a command name may follow: the start of a line, a space, an opening bracket or
/// quote, or mrkdwn emphasis.
fn opens(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | '[' | '"' | '“' | '\'' | '‘' | '*' | '_')
}

/// Characters a command name may end with (besides the end and a space): punctuation that
/// does not continue a path or an address.
fn closes(c: char) -> bool {
    matches!(
        c,
        ',' | ';' | ':' | '!' | '?' | ')' | ']' | '"' | '”' | '\'' | '’' | '*' | '_'
    )
}

impl CommandSpelling {
    /// Every `/name` in `menu`'s usage lines (command name, usage line) is a command.
    pub fn new(menu: &[(&str, &str)]) -> Self {
        let mut names = HashSet::new();
        for (name, line) in menu {
            names.insert((*name).to_owned());
            for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '_')) {
                if let Some(name) = word.strip_prefix('/').filter(|n| is_name(n)) {
                    names.insert(name.to_owned());
                }
            }
        }
        Self { names }
    }

    /// `text` with each command it names spelled `/coord name` (see the module documentation).
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.names.is_empty() || !text.contains('/') {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut in_code = false;
        let mut changed = false;
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with('>') {
                out.push_str(line);
                continue;
            }
            let chars: Vec<(usize, char)> = line.char_indices().collect();
            let mut i = 0;
            while i < chars.len() {
                let (at, c) = chars[i];
                if c == '`' {
                    in_code = !in_code;
                }
                let starts = c == '/' && !in_code && (i == 0 || opens(chars[i - 1].1));
                if starts {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|(_, c)| !(c.is_ascii_lowercase() || *c == '_'))
                        .map_or(chars.len(), |n| i + 1 + n);
                    let name = &line[at + 1..chars.get(end).map_or(line.len(), |(at, _)| *at)];
                    if self.names.contains(name) && ends_a_word(&chars, end) {
                        out.push_str(COMMAND);
                        out.push(' ');
                        out.push_str(name);
                        changed = true;
                        i = end;
                        continue;
                    }
                }
                out.push(c);
                i += 1;
            }
        }
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }
}

fn is_name(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// Whether the name ending before `chars[end]` ends a word: the end of the line, a space, a
/// closing mark, or a full stop that ends a sentence rather than starting a file extension.
fn ends_a_word(chars: &[(usize, char)], end: usize) -> bool {
    match chars.get(end).map(|(_, c)| *c) {
        None => true,
        Some(c) if c.is_whitespace() || closes(c) => true,
        Some('.') => chars.get(end + 1).is_none_or(|(_, c)| !c.is_alphanumeric()),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelling() -> CommandSpelling {
        CommandSpelling::new(&[
            ("help", "/help — show this list of commands (also /start)"),
            ("tasks", "/tasks [mine|overdue|project NAME] — list tasks"),
            ("link", "/link CODE — link this chat account to your profile"),
            ("web", "/web — a one-time sign-in link for the team's web page"),
            ("done", "/done ID — mark a task done"),
        ])
    }

    #[test]
    fn our_wording_names_the_command_slack_users_type() {
        let s = spelling();
        assert_eq!(
            s.apply("Unknown command /frobnicate. Try /help."),
            "Unknown command /frobnicate. Try /coord help."
        );
        assert_eq!(
            s.apply("I don't know you yet. Send /link CODE here. /help shows what I can do."),
            "I don't know you yet. Send /coord link CODE here. /coord help shows what I can do."
        );
        assert_eq!(
            s.apply("/help — show this list (also /start)\n/tasks [mine] — list tasks"),
            "/coord help — show this list (also /coord start)\n/coord tasks [mine] — list tasks"
        );
        assert_eq!(
            s.apply("Usage: /done ID (e.g. /done 42)"),
            "Usage: /coord done ID (e.g. /coord done 42)"
        );
        assert_eq!(
            s.apply("Did you mean “/tasks mine”?"),
            "Did you mean “/coord tasks mine”?"
        );
        // Applying it twice changes nothing more.
        let once = s.apply("Try /help.").into_owned();
        assert_eq!(s.apply(&once), once);
    }

    #[test]
    fn quotes_code_paths_and_other_words_stay_as_written() {
        let s = spelling();
        for text in [
            "> | `/help` | Lists the commands. Send /help to see them. |",
            "  > quoted: /tasks mine",
            "Type `/help` literally.",
            "```\n/tasks mine\n```",
            "Open https://team.example.com/web/sign-in?code=AB12 within 15 minutes.",
            "See example.com/help or /help/faq, and /web.html.",
            "Ask /helpdesk, /Tasks or /taskforce.",
            "No slash here at all.",
        ] {
            assert_eq!(s.apply(text), text, "{text}");
        }
        // A quoted line keeps its words; the next line is ours again.
        assert_eq!(
            s.apply("> Send /help\n— handbook.md › Bot\n/help lists the rest."),
            "> Send /help\n— handbook.md › Bot\n/coord help lists the rest."
        );
    }

    #[test]
    fn without_usage_lines_nothing_changes() {
        assert_eq!(CommandSpelling::default().apply("Try /help."), "Try /help.");
    }
}
