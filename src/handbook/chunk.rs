//! Markdown → passages. A file is cut into sections at its headings (ATX `#`… and setext
//! underlines, never inside code fences); each section becomes one or more passages of at most
//! `max_tokens` tokens (counted with the o200k encoding), consecutive passages of a long section
//! sharing about `overlap_tokens` tokens. Every passage keeps the heading path above it and the
//! 1-based line range it came from, so that answers can cite it. Pure functions, no IO.

use super::tokens::count_tokens;

/// How big passages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Upper bound for a passage's text, in tokens.
    pub max_tokens: usize,
    /// Tokens a passage repeats from the end of the previous one of the same section.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            // With the heading path in front, a passage stays inside the 256 word pieces a
            // MiniLM-sized embedder reads; measured better than 192 and 256 on both question sets.
            max_tokens: 128,
            overlap_tokens: 32,
        }
    }
}

/// One passage of a markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Headings from the outermost (usually the page title) to the section's own.
    pub heading_path: Vec<String>,
    /// First line (1-based) the passage covers; the heading's line for a section's first passage.
    pub line_start: usize,
    /// Last line (1-based, inclusive).
    pub line_end: usize,
    /// The passage's text, without the heading line itself.
    pub text: String,
}

/// A heading found on a line: its level and its text.
fn atx_heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    // A closing sequence of #s is not part of the title.
    let title = after.trim();
    let stripped = title.trim_end_matches('#');
    let title = if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
        stripped.trim()
    } else {
        title
    };
    Some((level, title.to_owned()))
}

/// The level of a setext underline (`===` is 1, `---` is 2).
fn setext_level(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.len() >= 2 && t.chars().all(|c| c == '=') {
        Some(1)
    } else if t.len() >= 2 && t.chars().all(|c| c == '-') {
        Some(2)
    } else {
        None
    }
}

/// Whether a line can be the text of a setext heading (a plain paragraph line).
fn plain_text_line(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty()
        && !line.starts_with("    ")
        && !t.starts_with(['-', '*', '+', '>', '|', '#', '<'])
        && !t.starts_with(|c: char| c.is_ascii_digit())
}

/// The fence marker (``` or ~~~) a line opens or closes, if any.
fn fence(line: &str) -> Option<&'static str> {
    let t = line.trim_start();
    if t.starts_with("```") {
        Some("```")
    } else if t.starts_with("~~~") {
        Some("~~~")
    } else {
        None
    }
}

/// A section: a heading (or the start of the file) and the lines below it.
struct Section {
    path: Vec<String>,
    /// Line index (0-based) where the section starts: its heading, or the file's first line.
    start: usize,
    /// Body lines as (0-based index, text).
    body: Vec<(usize, String)>,
}

fn sections(text: &str) -> Vec<Section> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut current = Section {
        path: Vec::new(),
        start: 0,
        body: Vec::new(),
    };
    let mut open_fence: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(marker) = open_fence {
            if fence(line) == Some(marker) {
                open_fence = None;
            }
            current.body.push((i, line.to_owned()));
            i += 1;
            continue;
        }
        if let Some(marker) = fence(line) {
            open_fence = Some(marker);
            current.body.push((i, line.to_owned()));
            i += 1;
            continue;
        }
        let heading = atx_heading(line)
            .map(|(level, title)| (level, title, 1))
            .or_else(|| {
                let next = lines.get(i + 1)?;
                let level = setext_level(next)?;
                let before_blank = i == 0 || lines[i - 1].trim().is_empty();
                (plain_text_line(line) && before_blank).then(|| (level, line.trim().to_owned(), 2))
            });
        match heading {
            Some((level, title, consumed)) if !title.is_empty() => {
                out.push(std::mem::replace(
                    &mut current,
                    Section {
                        path: Vec::new(),
                        start: i,
                        body: Vec::new(),
                    },
                ));
                stack.retain(|(l, _)| *l < level);
                stack.push((level, title));
                current.path = stack.iter().map(|(_, t)| t.clone()).collect();
                i += consumed;
            }
            _ => {
                current.body.push((i, line.to_owned()));
                i += 1;
            }
        }
    }
    out.push(current);
    out.retain(|s| s.body.iter().any(|(_, l)| !l.trim().is_empty()));
    out
}

/// A piece of a section's body that is never split further: a line, or a slice of a long line.
#[derive(Clone)]
struct Unit {
    line: usize,
    text: String,
    tokens: usize,
    /// Whether this unit continues the previous unit's line (a slice of a long line).
    continues: bool,
}

/// Cuts a line into pieces of at most `max` tokens, at word boundaries.
fn split_long_line(line: usize, text: &str, max: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut piece = String::new();
    for word in text.split_inclusive(' ') {
        let candidate = format!("{piece}{word}");
        if !piece.is_empty() && count_tokens(&candidate) > max {
            units.push(std::mem::take(&mut piece));
            piece.push_str(word);
        } else {
            piece = candidate;
        }
    }
    if !piece.is_empty() {
        units.push(piece);
    }
    // A single "word" longer than `max` (a URL, a base64 blob) stays whole: it is one token run.
    units
        .into_iter()
        .enumerate()
        .map(|(n, text)| Unit {
            line,
            tokens: count_tokens(&text),
            text,
            continues: n > 0,
        })
        .collect()
}

fn join_units(units: &[Unit]) -> String {
    let mut text = String::new();
    for (n, unit) in units.iter().enumerate() {
        if n > 0 && !unit.continues {
            text.push('\n');
        } else if n > 0 && !text.ends_with(' ') {
            text.push(' ');
        }
        text.push_str(&unit.text);
    }
    text.trim().to_owned()
}

/// The units a window repeats from the end of `window`: whole units up to `overlap` tokens,
/// or else the tail of the last unit.
fn overlap_tail(window: &[Unit], overlap: usize) -> Vec<Unit> {
    if overlap == 0 {
        return Vec::new();
    }
    let mut tail = Vec::new();
    let mut tokens = 0;
    for unit in window.iter().rev() {
        if tokens + unit.tokens > overlap {
            break;
        }
        tokens += unit.tokens;
        tail.insert(0, unit.clone());
    }
    if tail.is_empty() {
        if let Some(last) = window.last() {
            let words: Vec<&str> = last.text.split(' ').collect();
            let mut start = words.len();
            while start > 0 && count_tokens(&words[start - 1..].join(" ")) <= overlap {
                start -= 1;
            }
            if start < words.len() {
                let text = words[start..].join(" ");
                tail.push(Unit {
                    line: last.line,
                    tokens: count_tokens(&text),
                    text,
                    continues: false,
                });
            }
        }
    }
    tail
}

/// Splits a markdown document into passages.
pub fn chunk_markdown(text: &str, options: &ChunkOptions) -> Vec<Chunk> {
    let max = options.max_tokens.max(16);
    let overlap = options.overlap_tokens.min(max / 2);
    let mut chunks = Vec::new();
    for section in sections(text) {
        // Leading and trailing blank lines carry nothing.
        let mut body = section.body.as_slice();
        while body.first().is_some_and(|(_, l)| l.trim().is_empty()) {
            body = &body[1..];
        }
        while body.last().is_some_and(|(_, l)| l.trim().is_empty()) {
            body = &body[..body.len() - 1];
        }
        let mut units = Vec::new();
        for (line, text) in body {
            let tokens = count_tokens(text);
            if tokens > max {
                // Room for the overlap that the next window starts with.
                units.extend(split_long_line(*line, text, max - overlap - 1));
            } else {
                units.push(Unit {
                    line: *line,
                    text: text.trim_end().to_owned(),
                    tokens,
                    continues: false,
                });
            }
        }
        let mut window: Vec<Unit> = Vec::new();
        let mut window_tokens = 0;
        let mut fresh = 0; // units in the window that are not overlap
        let mut first = true;
        let flush = |window: &[Unit], first: bool, chunks: &mut Vec<Chunk>| {
            let text = join_units(window);
            if text.is_empty() {
                return;
            }
            let line_start = if first { section.start } else { window[0].line };
            chunks.push(Chunk {
                heading_path: section.path.clone(),
                line_start: line_start + 1,
                line_end: window.last().map_or(line_start, |u| u.line) + 1,
                text,
            });
        };
        for unit in units {
            // One token for the newline between units.
            if fresh > 0 && window_tokens + unit.tokens + 1 > max {
                flush(&window, first, &mut chunks);
                first = false;
                window = overlap_tail(&window, overlap);
                window_tokens = window.iter().map(|u| u.tokens + 1).sum();
                fresh = 0;
            }
            // The overlap gives way when it and a big unit do not fit together.
            while fresh == 0 && !window.is_empty() && window_tokens + unit.tokens + 1 > max {
                window_tokens -= window.remove(0).tokens + 1;
            }
            window_tokens += unit.tokens + 1;
            window.push(unit);
            fresh += 1;
        }
        if fresh > 0 {
            flush(&window, first, &mut chunks);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_make_paths_and_line_ranges() {
        let doc = "# Title\nIntro line.\n\n## Refunds\nUnder 500 EUR.\n\n### Thresholds\nTable here.\n\n## Quotes\nValid 30 days.\n";
        let chunks = chunk_markdown(doc, &ChunkOptions::default());
        let paths: Vec<_> = chunks.iter().map(|c| c.heading_path.join(" > ")).collect();
        assert_eq!(
            paths,
            [
                "Title",
                "Title > Refunds",
                "Title > Refunds > Thresholds",
                "Title > Quotes"
            ]
        );
        assert_eq!((chunks[1].line_start, chunks[1].line_end), (4, 5));
        assert_eq!(chunks[1].text, "Under 500 EUR.");
        assert_eq!((chunks[3].line_start, chunks[3].line_end), (10, 11));
    }

    #[test]
    fn fenced_code_is_not_a_heading_and_setext_is() {
        let doc = "Policy\n======\n\n```\n# not a heading\n```\n\nBody\n\nRule\n---\nMore\n";
        let chunks = chunk_markdown(doc, &ChunkOptions::default());
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].heading_path, ["Policy"]);
        assert!(chunks[0].text.contains("# not a heading"));
        assert_eq!(chunks[1].heading_path, ["Policy", "Rule"]);
        assert_eq!(chunks[1].text, "More");
    }

    #[test]
    fn long_sections_are_windowed_with_overlap() {
        let lines: Vec<String> = (0..60)
            .map(|i| format!("Sentence number {i} says something about approvals and refunds."))
            .collect();
        let doc = format!("# Long\n{}\n", lines.join("\n"));
        let options = ChunkOptions {
            max_tokens: 64,
            overlap_tokens: 16,
        };
        let chunks = chunk_markdown(&doc, &options);
        assert!(chunks.len() > 5);
        for pair in chunks.windows(2) {
            assert!(count_tokens(&pair[0].text) <= 64);
            // The next passage starts with the end of the previous one.
            let last_line = pair[0].text.lines().last().unwrap();
            assert!(pair[1].text.starts_with(last_line), "{pair:?}");
            assert!(pair[1].line_start <= pair[0].line_end);
        }
        assert_eq!(chunks.last().unwrap().line_end, 61);
    }

    #[test]
    fn a_huge_single_line_is_split_at_words() {
        let doc = format!("# Big\n{}\n", "word ".repeat(2000));
        let chunks = chunk_markdown(&doc, &ChunkOptions::default());
        assert!(chunks.len() > 5);
        assert!(chunks.iter().all(|c| count_tokens(&c.text) <= 256));
        assert!(chunks.iter().all(|c| c.line_start <= 2 && c.line_end == 2));
    }

    #[test]
    fn empty_sections_and_files_give_nothing() {
        assert!(chunk_markdown("", &ChunkOptions::default()).is_empty());
        assert!(chunk_markdown("# A\n\n## B\n\n", &ChunkOptions::default()).is_empty());
    }
}
