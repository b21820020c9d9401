//! [`Keywords`]: the full-text (BM25) lookup, scored in memory over the passages of one version
//! of the handbook table.
//!
//! The scores are LanceDB's own: the same tokenizer (`index::fts_params`, as `lancedb::tokenize`
//! applies it), the same BM25 (k1 = 1.2, b = 0.75, its IDF, exact document lengths, a term that
//! occurs twice in the question counted twice, a passage matching any term), so the weights and
//! floors chosen on LanceDB's scores hold unchanged; a test checks the scores against LanceDB's
//! inverted index. LanceDB still builds that index at ingest, but asking it per search planned
//! and ran a query that took 6 to 8 ms in the `release` build, where LanceDB's engine is built
//! without optimization; scoring the postings of a question's few terms takes microseconds.

use std::collections::HashMap;

use lancedb::index::scalar::collect_query_tokens;

use super::index::fts_params;
use super::HandbookError;

/// BM25's term-frequency saturation and length normalisation, as LanceDB sets them.
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Postings and lengths of the passages, by their position in the table's order.
#[derive(Debug, Default)]
pub(crate) struct Keywords {
    /// For each term, the passages that hold it and how often.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// Each passage's length in tokens.
    lengths: Vec<u32>,
    /// Passages with at least one token (LanceDB's document count).
    documents: usize,
    total_tokens: u64,
}

impl Keywords {
    /// The postings of these texts (what the full-text index holds: `search_text`), in order.
    pub fn of<'a>(texts: impl Iterator<Item = &'a str>) -> Result<Self, HandbookError> {
        // One tokenizer for all passages: `lancedb::tokenize` builds one per call.
        let mut tokenizer = (fts_params().build())
            .map_err(|e| HandbookError::Index(format!("cannot build the tokenizer: {e}")))?;
        let mut keywords = Keywords::default();
        for (i, text) in texts.enumerate() {
            let tokens = collect_query_tokens(text, &mut tokenizer);
            let mut counts: HashMap<&str, u32> = HashMap::new();
            for token in &tokens {
                *counts.entry(token.as_str()).or_default() += 1;
            }
            for (term, count) in counts {
                let postings = match keywords.postings.get_mut(term) {
                    Some(postings) => postings,
                    None => keywords.postings.entry(term.to_owned()).or_default(),
                };
                postings.push((i as u32, count));
            }
            keywords.lengths.push(tokens.len() as u32);
            keywords.total_tokens += tokens.len() as u64;
            if !tokens.is_empty() {
                keywords.documents += 1;
            }
        }
        Ok(keywords)
    }

    /// A term's weight in the relevance check: its BM25 inverse document frequency over all
    /// passages, so a term no passage holds weighs the most.
    pub fn weight(&self, term: &str) -> f32 {
        idf(self.postings.get(term).map_or(0, Vec::len), self.lengths.len())
    }

    /// The `limit` best passages for a question's analysed terms (each as often as it occurs
    /// in the question, see `search::tokens`), best first, as (BM25 score, position); passages
    /// holding none of them are left out.
    pub fn top(&self, tokens: &[String], limit: usize) -> Vec<(f32, usize)> {
        if self.documents == 0 {
            return Vec::new();
        }
        let mut asked: Vec<(&str, f32)> = Vec::new();
        for token in tokens {
            match asked.iter_mut().find(|(term, _)| term == token) {
                Some((_, times)) => *times += 1.0,
                None => asked.push((token, 1.0)),
            }
        }
        let average = self.total_tokens as f32 / self.documents as f32;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (term, times) in asked {
            let Some(postings) = self.postings.get(term) else {
                continue;
            };
            let idf = idf(postings.len(), self.documents);
            for &(passage, count) in postings {
                let length = self.lengths[passage as usize] as f32;
                let norm = K1 * (1.0 - B + B * length / average);
                let count = count as f32;
                *scores.entry(passage).or_default() += times * idf * (K1 + 1.0) * count / (count + norm);
            }
        }
        let mut ranked: Vec<(f32, usize)> = scores.into_iter().map(|(p, s)| (s, p as usize)).collect();
        let best_first = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, best_first);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(best_first);
        ranked
    }
}

/// LanceDB's BM25 inverse document frequency.
fn idf(holding: usize, documents: usize) -> f32 {
    let (holding, documents) = (holding as f32, documents as f32);
    ((documents - holding + 0.5) / (holding + 0.5) + 1.0).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handbook::search::{analyze, tokens};

    fn keywords(texts: &[&str]) -> Keywords {
        Keywords::of(texts.iter().copied()).unwrap()
    }

    #[test]
    fn passages_with_more_of_the_question_rank_first() {
        let k = keywords(&[
            "Refunds over 1000 EUR need the finance lead's approval.",
            "Travel policy: book trains, not planes, under 600 km.",
            "The travel policy covers travel insurance and travel refunds for long travel.",
            "",
        ]);
        let found = k.top(&analyze("travel refund"), 10);
        let order: Vec<usize> = found.iter().map(|(_, p)| *p).collect();
        // The third holds both terms; the empty passage and no passage without them appear.
        assert_eq!(order[0], 2, "{found:?}");
        assert_eq!(order.len(), 3, "{found:?}");
        assert!(found.iter().all(|(s, _)| *s > 0.0));
        assert!(k.top(&analyze("pizza"), 10).is_empty());
        assert!(k.top(&[], 10).is_empty());
        // A term asked twice counts twice, as in LanceDB.
        let (once, twice) = (
            k.top(&tokens("refund"), 1),
            k.top(&tokens("refunds and refund"), 1),
        );
        assert!((twice[0].0 - 2.0 * once[0].0).abs() < 1e-5, "{once:?} {twice:?}");
        assert_eq!(k.top(&analyze("travel refund"), 1).len(), 1);
    }

    #[test]
    fn of_two_passages_with_a_term_once_the_shorter_ranks_first() {
        let k = keywords(&[
            "Report a lost laptop to IT at once, then to the police, and keep the receipt.",
            "Report a lost laptop.",
        ]);
        let found = k.top(&tokens("laptop"), 10);
        assert_eq!(
            found.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            [1, 0],
            "{found:?}"
        );
        assert!(found[0].0 > found[1].0);
    }

    #[test]
    fn a_term_weighs_by_the_passages_that_hold_it_not_its_occurrences() {
        let k = keywords(&["refund refund refund", "refund policy", "laptops", ""]);
        // Every passage counts, the empty one too.
        assert_eq!(k.weight("refund"), idf(2, 4));
        assert_eq!(k.weight("laptop"), idf(1, 4));
        assert!(k.weight("pizza") > k.weight("laptop"));
        assert!(k.weight("laptop") > k.weight("refund"));
    }

    #[test]
    fn the_idf_is_lancedbs() {
        // ln(1 + (N - n + 0.5) / (n + 0.5)) for N = 10, n = 2.
        assert!((idf(2, 10) - (1.0f32 + 8.5 / 2.5).ln()).abs() < 1e-6);
        assert!(idf(1, 10) > idf(5, 10));
    }
}
