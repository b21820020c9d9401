//! Mentions in a Discord command's text, for the intake to read as handles
//! ([`crate::channels::mentions`]).

use crate::channels::mentions::Mention;

/// The users a command's text mentions: Discord writes a person picked with `@` in a text
/// option as `<@ID>` (or `<@!ID>`). Stored as the linked person's `@handle`, else as `@ID`, so
/// that a command that needs a handle says that nobody has it.
pub fn mentions(text: &str) -> Vec<Mention> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("<@") {
        let rest = &text[start + 2..];
        let digits_from = usize::from(rest.starts_with('!'));
        let len = rest[digits_from..].bytes().take_while(u8::is_ascii_digit).count();
        let close = digits_from + len;
        if (15..=21).contains(&len) && rest.as_bytes().get(close) == Some(&b'>') {
            found.push(Mention {
                start,
                end: start + 2 + close + 1,
                id: rest[digits_from..close].to_owned(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_in_a_command_text_are_found() {
        let text = "/newtask Fix it <@80351110224678912> and <@!80351110224678913>, not <@12> or <@&80351110224678914>";
        let found = mentions(text);
        let ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["80351110224678912", "80351110224678913"]);
        assert_eq!(&text[found[1].start..found[1].end], "<@!80351110224678913>");
    }
}
