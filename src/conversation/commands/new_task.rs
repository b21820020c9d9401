//! `/newtask TITLE [@handle] [due DATE] [!priority] [every …]`: the title, then its options in
//! any order.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{usage, Command};
use crate::domain::{parse_spoken_date, Handle, Priority, Recurrence, TaskTitle, DATE_EXAMPLES};

/// The words from `words[from]` up to the next `@handle`, `!priority`, `due` or `every`:
/// (end index, text).
fn clause<'a>(args: &'a str, words: &[(usize, &str)], from: usize) -> (usize, &'a str) {
    let stops = |word: &str| {
        word.starts_with('@')
            || word.starts_with('!')
            || word.eq_ignore_ascii_case("due")
            || word.eq_ignore_ascii_case("every")
    };
    let end = words
        .get(from + 1..)
        .unwrap_or_default()
        .iter()
        .position(|(_, w)| stops(w))
        .map_or(words.len(), |n| from + 1 + n);
    let start = words.get(from).map_or(args.len(), |(offset, _)| *offset);
    let stop = words.get(end).map_or(args.len(), |(offset, _)| *offset);
    (end, args[start..stop].trim())
}

/// `TITLE [@handle] [due DATE] [!priority] [every …]`, the options in any order after the
/// title. "every" starts an option only when what follows reads as a repetition ("every
/// month on the 1st"); otherwise it is part of the title ("Review every PR").
pub(super) fn parse_new_task(args: &str, now: DateTime<Utc>, tz: Tz) -> Result<Command, String> {
    let bad = |problem: &str| usage("newtask", problem);
    let words = words_with_offsets(args);
    let is_option =
        |word: &str| word.starts_with('@') || word.starts_with('!') || word.eq_ignore_ascii_case("due");
    let repeats: Vec<usize> = (0..words.len())
        .filter(|&i| {
            words[i].1.eq_ignore_ascii_case("every")
                && matches!(Recurrence::from_words(clause(args, &words, i).1), Ok(Some(_)))
        })
        .collect();
    let repeat_at = repeats.first().copied();
    let first_option = words
        .iter()
        .position(|(_, word)| is_option(word))
        .unwrap_or(words.len())
        .min(repeat_at.unwrap_or(words.len()));
    let title_text = words
        .get(first_option)
        .map_or(args, |(offset, _)| &args[..*offset]);
    if title_text.trim().is_empty() {
        return Err(bad("The task needs a title."));
    }
    let title = TaskTitle::parse(title_text).map_err(|e| bad(&format!("The title {}.", e.message)))?;

    let (mut assignee, mut due, mut priority, mut recurrence) = (None, None, None, None);
    let mut i = first_option;
    while i < words.len() {
        let word = words[i].1;
        if word.eq_ignore_ascii_case("every") {
            let (end, text) = clause(args, &words, i);
            if recurrence.is_some() {
                return Err(bad("Give one repetition (every …)."));
            }
            recurrence = Some(
                Recurrence::from_words(text)
                    .map_err(|e| bad(&e))?
                    .ok_or_else(|| bad("'every' needs a repetition, e.g. every month on the 1st."))?,
            );
            i = end;
            continue;
        }
        i += 1;
        if word.starts_with('@') {
            if assignee.is_some() {
                return Err(bad("A task has one assignee: give one @handle."));
            }
            let handle = Handle::parse(word).map_err(|e| bad(&format!("{}.", e.message)))?;
            assignee = Some(handle);
        } else if let Some(level) = word.strip_prefix('!') {
            if priority.is_some() {
                return Err(bad("Give one !priority."));
            }
            let level = Priority::parse_field(level, "priority").map_err(|_| {
                bad(&format!(
                    "'{word}' is not a priority: use !low, !medium, !high or !urgent."
                ))
            })?;
            priority = Some(level);
        } else if word.eq_ignore_ascii_case("due") {
            if due.is_some() {
                return Err(bad("Give one due date."));
            }
            let end = (i..words.len())
                .find(|&n| {
                    let w = words[n].1;
                    w.starts_with('@') || w.starts_with('!') || repeats.contains(&n)
                })
                .unwrap_or(words.len());
            let date_text = words[i..end]
                .iter()
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(" ");
            i = end;
            if date_text.is_empty() {
                return Err(bad(&format!("'due' needs a date, e.g. {DATE_EXAMPLES}.")));
            }
            due = Some(parse_spoken_date(&date_text, now, tz).map_err(|e| bad(&e))?);
        } else {
            return Err(bad(&format!(
                "I didn't understand '{word}' after the title: after it come only \
                 @handle, due DATE, !priority and every …."
            )));
        }
    }
    Ok(Command::NewTask {
        title,
        assignee,
        due,
        priority,
        recurrence,
    })
}

/// The whitespace-separated words of `text`, each with its byte offset.
fn words_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(from)) => {
                words.push((from, &text[from..at]));
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push((from, &text[from..]));
    }
    words
}
