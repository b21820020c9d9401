//! One result per section. A long section is cut into overlapping passages, and a question
//! about it often ranks two or three of them high: without merging they took two or three of
//! the few places of a search's results (`/ask` quotes five at most), and pushed the sections
//! ranked next out of them. A section's later passages are folded into its best one instead:
//! the result keeps the best passage's place and scores, covers the lines of all of them, and
//! holds their text once, in the file's order, so an answer in the passage ranked second is
//! still quoted.

use std::collections::HashMap;

use super::Passage;

/// A section's passages folded into one result at most (its best and the two next best);
/// those ranked lower add nothing. Bounds what a result adds to a prompt.
pub const MAX_FOLDED: usize = 3;

/// Shortest text two passages must share for one to count as continuing the other.
const MIN_SHARED_CHARS: usize = 8;

/// `passages`, best first, with each section's later passages folded into its first one (see
/// the module documentation). Passages are folded only into one of the same relevance, so
/// that diagnostics that keep irrelevant passages still tell them apart.
pub(crate) fn one_per_section(passages: Vec<Passage>) -> Vec<Passage> {
    let mut results: Vec<(Passage, Vec<Passage>)> = Vec::with_capacity(passages.len());
    let mut of_section: HashMap<(String, Vec<String>, bool), usize> = HashMap::new();
    for passage in passages {
        let key = (
            passage.file.clone(),
            passage.heading_path.clone(),
            passage.relevant,
        );
        match of_section.get(&key) {
            Some(&n) => {
                let folded = &mut results[n].1;
                if folded.len() + 1 < MAX_FOLDED {
                    folded.push(passage);
                }
            }
            None => {
                of_section.insert(key, results.len());
                results.push((passage, Vec::new()));
            }
        }
    }
    results.into_iter().map(|(best, rest)| fold(best, rest)).collect()
}

/// `best` covering the lines and text of `rest` too.
fn fold(mut best: Passage, rest: Vec<Passage>) -> Passage {
    if rest.is_empty() {
        return best;
    }
    for p in &rest {
        best.relevance = best.relevance.max(p.relevance);
        best.closest = best.closest.into_iter().chain(p.closest).reduce(f32::max);
        best.sure |= p.sure;
    }
    let mut parts: Vec<(u32, u32, String)> = rest
        .into_iter()
        .map(|p| (p.line_start, p.line_end, p.text))
        .collect();
    parts.push((best.line_start, best.line_end, std::mem::take(&mut best.text)));
    parts.sort_by_key(|&(start, end, _)| (start, end));
    best.line_start = parts[0].0;
    let mut text = String::new();
    let mut covered = 0;
    for (n, (start, end, part)) in parts.into_iter().enumerate() {
        if n == 0 {
            text = part;
        } else if end <= covered && text.contains(part.as_str()) {
            // Inside what is there already.
            continue;
        } else if start > covered + 1 {
            // A gap: the lines between are not part of the result's text.
            text.push_str("\n…\n");
            text.push_str(&part);
        } else {
            let shared = shared_len(&text, &part);
            if shared == 0 {
                text.push('\n');
            }
            text.push_str(&part[shared..]);
        }
        covered = covered.max(end);
    }
    best.text = text;
    best.line_end = covered;
    best
}

/// The length of the longest end of `before` that `after` starts with (the text two
/// consecutive passages share), in bytes of `after`; 0 when it is shorter than
/// [`MIN_SHARED_CHARS`].
fn shared_len(before: &str, after: &str) -> usize {
    let longest = before.len().min(after.len());
    (MIN_SHARED_CHARS..=longest)
        .rev()
        .filter(|&n| after.is_char_boundary(n))
        .find(|&n| before.ends_with(&after[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handbook::{chunk_markdown, ChunkOptions};

    fn passage(file: &str, path: &[&str], lines: (u32, u32), text: &str, score: f32) -> Passage {
        Passage {
            file: file.into(),
            heading_path: path.iter().map(|s| s.to_string()).collect(),
            line_start: lines.0,
            line_end: lines.1,
            text: text.into(),
            score,
            bm25: None,
            similarity: Some(score),
            closest: Some(score),
            relevance: 0.5,
            relevant: true,
            sure: false,
        }
    }

    /// A long section's overlapping passages, folded in any order, give back its text once.
    #[test]
    fn a_sections_passages_fold_into_its_text() {
        let lines: Vec<String> = (0..40)
            .map(|i| format!("Rule {i}: an expense of {i}0 euros needs a receipt and approval."))
            .collect();
        let doc = format!(
            "# Expenses\n\n## Receipts\n{}\n\n## Other\nSomething else.\n",
            lines.join("\n")
        );
        let chunks = chunk_markdown(
            &doc,
            &ChunkOptions {
                max_tokens: 64,
                overlap_tokens: 16,
            },
        );
        let section: Vec<_> = chunks
            .iter()
            .filter(|c| c.heading_path.len() == 2 && c.heading_path[1] == "Receipts")
            .collect();
        assert!(section.len() >= 3, "{section:?}");
        let as_passage = |c: &crate::handbook::Chunk, score: f32| {
            let path: Vec<&str> = c.heading_path.iter().map(String::as_str).collect();
            passage(
                "expenses.md",
                &path,
                (c.line_start as u32, c.line_end as u32),
                &c.text,
                score,
            )
        };
        // The second passage ranks first, then the first, then another section, then the third.
        let other = chunks
            .iter()
            .find(|c| c.heading_path.last().unwrap() == "Other")
            .unwrap();
        let ranked = vec![
            as_passage(section[1], 0.9),
            as_passage(section[0], 0.8),
            as_passage(other, 0.7),
            as_passage(section[2], 0.6),
        ];
        let results = one_per_section(ranked);
        assert_eq!(results.len(), 2, "{results:?}");
        let folded = &results[0];
        assert_eq!(folded.score, 0.9, "the best passage's place and score");
        assert_eq!(folded.line_start as usize, section[0].line_start);
        assert_eq!(folded.line_end as usize, section[2].line_end);
        // Every line of the three passages, each once, in order.
        let expected: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| section[..3].iter().any(|c| c.text.contains(*l)))
            .collect();
        let got: Vec<&str> = folded.text.lines().collect();
        assert_eq!(got, expected);
        assert_eq!(results[1].heading_path.last().unwrap(), "Other");
    }

    #[test]
    fn passages_apart_are_joined_with_an_ellipsis_and_at_most_three_fold() {
        let path = ["Leave", "Vacation"];
        let ranked = vec![
            passage("leave.md", &path, (10, 14), "Book two weeks ahead.", 0.9),
            passage("leave.md", &path, (30, 34), "Unused days carry over.", 0.8),
            passage("leave.md", &path, (20, 24), "Managers approve.", 0.7),
            passage("leave.md", &path, (40, 44), "Ranked fourth.", 0.6),
            passage("leave.md", &["Leave", "Sick"], (50, 54), "Call in sick.", 0.5),
        ];
        let results = one_per_section(ranked);
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0].text,
            "Book two weeks ahead.\n…\nManagers approve.\n…\nUnused days carry over."
        );
        assert_eq!((results[0].line_start, results[0].line_end), (10, 34));
        assert_eq!(results[1].heading_path, vec!["Leave", "Sick"]);
    }

    #[test]
    fn the_same_heading_in_another_file_or_relevance_is_another_result() {
        let mut irrelevant = passage("a.md", &["A", "Scope"], (5, 8), "Second.", 0.7);
        irrelevant.relevant = false;
        let ranked = vec![
            passage("a.md", &["A", "Scope"], (1, 4), "First.", 0.9),
            passage("b.md", &["A", "Scope"], (1, 4), "Other file.", 0.8),
            irrelevant,
        ];
        let results = one_per_section(ranked);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].text, "First.");
    }

    #[test]
    fn shared_text_is_found_at_char_boundaries() {
        assert_eq!(
            shared_len("a b c déjà vu here", "déjà vu here and more"),
            "déjà vu here".len()
        );
        assert_eq!(shared_len("short", "rt and more"), 0);
        assert_eq!(shared_len("", "anything"), 0);
    }
}
