//! Exact token counts in the o200k encoding (the one current OpenAI models use), with compact
//! tables. Passages are sized with it and the agent's prompt is budgeted with it; neither needs
//! the token ids, only how many there are.
//!
//! The count is the one tiktoken gives (`encode_ordinary(text).len()`): the text is cut into
//! pieces by o200k's pattern, and each piece not itself a token is merged byte pair by byte pair,
//! always the pair whose joined bytes have the lowest rank first (the leftmost on a tie). What
//! differs is memory: tiktoken keeps each of the 199,998 tokens in two hash maps and a sorted
//! list, each token its own allocation (26 MiB of heap, 41 MiB resident once built); here the
//! tokens' bytes are one buffer, indexed by an open-addressing table of ranks (about 4.5 MiB).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::LazyLock;

use base64::Engine as _;
use fancy_regex::Regex;

/// o200k's ranks: one token per line, its bytes in base64 and its rank, ranks 0, 1, 2 … in order
/// (`o200k_base.tiktoken`, MIT, as published by OpenAI with tiktoken).
const O200K_BASE: &str = include_str!("../../assets/tokenizer/o200k_base.tiktoken");

/// How o200k cuts text into pieces before merging (tiktoken's `O200K_BASE_PAT_STR`).
const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// A slot of the index with no rank in it.
const EMPTY: u32 = u32::MAX;

/// The process's one o200k counter, built on first use (about 40 ms).
static O200K: LazyLock<Counter> = LazyLock::new(|| Counter::parse(O200K_BASE, O200K_PATTERN));

/// Tokens in `text`, exactly as tiktoken's o200k encoding counts them (special tokens such as
/// `<|endoftext|>` are counted as the ordinary text they are).
pub fn count_tokens(text: &str) -> usize {
    O200K.count(text)
}

/// A byte-pair encoding's ranks, and the pattern that cuts text into pieces.
struct Counter {
    /// Every token's bytes, in rank order, one after another.
    bytes: Vec<u8>,
    /// Where each token's bytes end in `bytes`, by rank (a token starts where the one before ends).
    ends: Vec<u32>,
    /// Open addressing by the hash of a token's bytes: a rank, or [`EMPTY`].
    slots: Vec<u32>,
    pattern: Regex,
}

impl Counter {
    /// Reads a `.tiktoken` rank file whose ranks are its line numbers from 0.
    fn parse(ranks: &str, pattern: &str) -> Self {
        let mut bytes = Vec::with_capacity(ranks.len() / 2);
        let mut ends = Vec::with_capacity(ranks.len() / 16);
        for (line_no, line) in ranks.lines().enumerate() {
            let (token, rank) = line.split_once(' ').unwrap_or((line, ""));
            // The file ships inside the binary and a test reads all of it: a line that breaks
            // these rules is a build that must not pass its tests, not a case to handle.
            assert_eq!(
                rank.parse::<usize>().ok(),
                Some(line_no),
                "o200k rank out of order"
            );
            base64::engine::general_purpose::STANDARD
                .decode_vec(token, &mut bytes)
                .expect("o200k token is base64");
            ends.push(u32::try_from(bytes.len()).expect("o200k tables under 4 GiB"));
        }
        bytes.shrink_to_fit();
        let mut counter = Self {
            bytes,
            ends,
            slots: vec![EMPTY; 0],
            pattern: Regex::new(pattern).expect("o200k pattern compiles"),
        };
        counter.slots = vec![EMPTY; (counter.ends.len() * 2).next_power_of_two()];
        let mask = counter.slots.len() - 1;
        for rank in 0..counter.ends.len() as u32 {
            let mut slot = hash(counter.token(rank)) & mask;
            while counter.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            counter.slots[slot] = rank;
        }
        counter
    }

    /// The bytes of the token of `rank`.
    fn token(&self, rank: u32) -> &[u8] {
        let rank = rank as usize;
        let start = if rank == 0 {
            0
        } else {
            self.ends[rank - 1] as usize
        };
        &self.bytes[start..self.ends[rank] as usize]
    }

    /// The rank of the token whose bytes are `piece`, if there is one.
    fn rank(&self, piece: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut slot = hash(piece) & mask;
        loop {
            match self.slots[slot] {
                EMPTY => return None,
                rank if self.token(rank) == piece => return Some(rank),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn count(&self, text: &str) -> usize {
        let mut tokens = 0;
        for piece in self.pattern.find_iter(text) {
            match piece {
                Ok(piece) => tokens += self.count_piece(piece.as_str().as_bytes()),
                // Only a backtracking limit can stop this pattern, and none is near for text
                // of any length; should it happen, the text's bytes bound its tokens from above.
                Err(_) => return text.len(),
            }
        }
        tokens
    }

    /// Tokens in one piece: merge adjacent tokens, lowest rank of the joined bytes first (the
    /// leftmost on a tie), until no adjacent pair joins into a token.
    fn count_piece(&self, piece: &[u8]) -> usize {
        let len = piece.len();
        if len <= 1 || self.rank(piece).is_some() {
            return len.min(1);
        }
        // The tokens so far as a list over byte offsets: `end[i]` ends the token starting at `i`,
        // `prev[i]` starts the one before it, `pair[i]` is the rank of it joined with the next.
        let mut end: Vec<usize> = (1..=len).collect();
        let mut prev: Vec<usize> = (0..len).map(|i| i.wrapping_sub(1)).collect();
        let mut pair = vec![EMPTY; len];
        let mut merges = BinaryHeap::with_capacity(len);
        for i in 0..len - 1 {
            if let Some(rank) = self.rank(&piece[i..i + 2]) {
                pair[i] = rank;
                merges.push(Reverse((rank, i)));
            }
        }
        let mut tokens = len;
        while let Some(Reverse((rank, left))) = merges.pop() {
            // An entry whose pair has changed since is stale (ranks are unique to their bytes).
            if pair[left] != rank {
                continue;
            }
            let right = end[left];
            let right_end = end[right];
            end[left] = right_end;
            pair[right] = EMPTY;
            tokens -= 1;
            if right_end < len {
                prev[right_end] = left;
                pair[left] = self.rank(&piece[left..end[right_end]]).unwrap_or(EMPTY);
                if pair[left] != EMPTY {
                    merges.push(Reverse((pair[left], left)));
                }
            } else {
                pair[left] = EMPTY;
            }
            if left > 0 {
                let before = prev[left];
                pair[before] = self.rank(&piece[before..right_end]).unwrap_or(EMPTY);
                if pair[before] != EMPTY {
                    merges.push(Reverse((pair[before], before)));
                }
            }
        }
        tokens
    }
}

/// FNV-1a over a token's bytes (tokens are short; this is as quick as anything here needs).
fn hash(bytes: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as usize
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::count_tokens;

    /// What tiktoken itself counts.
    fn reference(text: &str) -> usize {
        tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len()
    }

    fn markdown_under(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("handbook folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                markdown_under(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(std::fs::read_to_string(&path).expect("markdown"));
            }
        }
    }

    #[test]
    fn counts_what_tiktoken_counts_on_both_handbooks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        markdown_under(&root.join("handbook"), &mut texts);
        markdown_under(&root.join("tests/data/osio-handbook"), &mut texts);
        assert!(texts.len() > 40, "both handbooks read: {}", texts.len());
        let mut tokens = 0;
        for text in &texts {
            let expected = reference(text);
            assert_eq!(count_tokens(text), expected, "{}", &text[..text.len().min(80)]);
            // Line by line too: short pieces take the other paths through the counter.
            for line in text.lines() {
                assert_eq!(count_tokens(line), reference(line), "{line}");
            }
            tokens += expected;
        }
        assert!(tokens > 30_000, "{tokens} tokens compared");
    }

    #[test]
    fn counts_what_tiktoken_counts_on_unusual_text() {
        let long_rule = "-".repeat(5_000);
        let long_space = format!("a{}b", " ".repeat(3_000));
        let long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(40);
        let digits = "1234567890".repeat(50);
        let samples = [
            "",
            " ",
            "\n\n\n",
            "a",
            "Hello, world!",
            "  leading and trailing  \n",
            "don't we'll they've I'M YOU'D",
            "Ünïcödé façade naïve café — “quoted” ‘text’ …",
            "日本語のテキストと中文混合 한국어 텍스트",
            "emoji 👩‍👩‍👧‍👦 🇫🇷 ❤️‍🔥 mixed",
            "tabs\tand\r\nwindows\r\nlines\u{a0}nbsp\u{2028}sep",
            "<|endoftext|> is plain text here",
            "/newtask Review the brief @alice friday 5pm #42",
            "\u{0301}\u{0301}combining marks alone",
            &long_rule,
            &long_space,
            &long_word,
            &digits,
        ];
        for text in samples {
            assert_eq!(count_tokens(text), reference(text), "{text:?}");
        }
    }
}
