//! A passage's sentences, each embedded on its own beside the passage: a question that one
//! sentence of a long passage answers ("can I take a taxi?" of a list of train, flight, taxi and
//! car rules) is closer to that sentence than to the passage as a whole, whose vector averages
//! them all. The vector lookup ranks a passage by the closer of the two (`Passages::closest`).
//!
//! Measured on the four question sets of `benches/handbook.rs`, this raised the vector lookup's
//! recall@1 on all of them (README, "The handbook").

/// A sentence shorter than this (in characters) is not embedded on its own: a heading-like
/// fragment says less than the passage around it.
const MIN_CHARS: usize = 16;
/// At most this many sentences of one passage are embedded (a passage is at most 128 tokens,
/// so this is rarely reached).
pub(crate) const MAX_SENTENCES: usize = 24;

/// The sentences of a passage's `text`, each prefixed with the passage's heading path (as the
/// passage itself is embedded), or none when the passage is a single sentence.
pub(crate) fn sentence_texts(heading_path: &[String], text: &str) -> Vec<String> {
    let sentences = sentences(text);
    if sentences.len() < 2 {
        return Vec::new();
    }
    let path = heading_path.join(" › ");
    sentences
        .into_iter()
        .take(MAX_SENTENCES)
        .map(|s| format!("{path}: {s}"))
        .collect()
}

/// The sentences of `text`: its lines (list items and table rows stand alone), each cut after
/// `.`, `?` or `!` followed by a space; list and emphasis marks dropped; short ones left out.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line
            .trim()
            .trim_start_matches(['-', '*', '+', '>', '#', ' '])
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')', ' '])
            .replace("**", "");
        let mut start = 0;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (n, &(at, c)) in chars.iter().enumerate() {
            let ends = matches!(c, '.' | '?' | '!') && chars.get(n + 1).is_some_and(|(_, next)| *next == ' ');
            if ends {
                push(&mut out, &line[start..at + c.len_utf8()]);
                start = at + c.len_utf8();
            }
        }
        push(&mut out, &line[start..]);
    }
    out
}

fn push(out: &mut Vec<String>, sentence: &str) {
    let sentence = sentence.trim().trim_matches('|').trim();
    if sentence.chars().count() >= MIN_CHARS {
        out.push(sentence.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_sentences_stand_alone_with_the_heading_path() {
        let path = vec!["Expenses".to_owned(), "Transport".to_owned()];
        let text = "- **Trains:** second class for short trips. First class for long ones.\n\
                    - **Taxis and ride-hailing:** allowed between 22:00 and 06:00.\n\
                    1. Book early.\n\
                    | Amount | Who approves |";
        assert_eq!(
            sentence_texts(&path, text),
            vec![
                "Expenses › Transport: Trains: second class for short trips.",
                "Expenses › Transport: First class for long ones.",
                "Expenses › Transport: Taxis and ride-hailing: allowed between 22:00 and 06:00.",
                "Expenses › Transport: Amount | Who approves",
            ]
        );
    }

    #[test]
    fn a_single_sentence_passage_has_no_sentences_of_its_own() {
        let path = vec!["Leave".to_owned()];
        assert!(sentence_texts(&path, "Everyone gets 26 days of paid vacation a year.").is_empty());
        // Decimals and times do not end a sentence.
        assert!(sentence_texts(&path, "A mileage of 0.30 EUR per km, paid at 17.00 each month").is_empty());
    }
}
