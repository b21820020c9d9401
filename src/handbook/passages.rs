//! [`Passages`]: every passage of one version of the handbook table, read in one scan, with the
//! postings the full-text lookup scores (`keywords`; their document frequencies also weigh the
//! terms of the relevance check) and the vectors the nearest-vector lookup compares a question with.
//!
//! The nearest-vector lookup is an exact scan of those vectors in memory. LanceDB's own flat
//! search gives the same passages in the same order (a test checks it), but plans a query
//! through DataFusion each time, which took 12 ms a search over the sample handbook's 178
//! passages in the `release` build, where LanceDB's engine is built without optimization; the
//! scan takes microseconds for the hundreds to thousands of passages of a handbook.

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::Table;

use super::index::{storage, string_column, FTS_COLUMN};
use super::keywords::Keywords;
use super::lookup::{hits, Hit, HIT_COLUMNS, SENTENCE_VECTORS_COLUMN, VECTOR_COLUMN};
use super::HandbookError;

/// Every passage of one version of the table, read in one scan (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Passages {
    /// The postings of the full-text lookup.
    keywords: Keywords,
    /// The passages, in the table's order, their scores 0.
    hits: Vec<Hit>,
    /// Each passage's vector, one after the other (`dimensions` values each; zeros for a
    /// passage without one), and its length (0 without one).
    vectors: Vec<f32>,
    norms: Vec<f32>,
    /// 0 when the table has no vectors.
    dimensions: usize,
    /// The vectors of the passages' sentences, one after the other, their lengths, and for
    /// each passage the range of its sentences in `sentence_norms`.
    sentence_vectors: Vec<f32>,
    sentence_norms: Vec<f32>,
    sentences_of: Vec<std::ops::Range<usize>>,
}

impl Passages {
    /// Reads every passage of `table`, with its vector when the table has them.
    pub async fn read(table: &Table) -> Result<Self, HandbookError> {
        let schema = table
            .schema()
            .await
            .map_err(storage("cannot read the index's schema"))?;
        let with_vectors = schema.column_with_name(VECTOR_COLUMN).is_some();
        let with_sentences = with_vectors && schema.column_with_name(SENTENCE_VECTORS_COLUMN).is_some();
        let mut columns = HIT_COLUMNS.to_vec();
        columns.push(FTS_COLUMN);
        if with_vectors {
            columns.push(VECTOR_COLUMN);
        }
        if with_sentences {
            columns.push(SENTENCE_VECTORS_COLUMN);
        }
        let batches: Vec<RecordBatch> = table
            .query()
            .select(Select::columns(&columns))
            .execute()
            .await
            .map_err(storage("cannot read passages"))?
            .try_collect()
            .await
            .map_err(storage("cannot read passages"))?;
        let mut passages = Passages::default();
        // The search texts, borrowed from the batches: tokenized once below, never kept.
        let mut searched: Vec<&str> = Vec::new();
        for b in &batches {
            let rows = hits(std::slice::from_ref(b), None);
            let texts = string_column(b, FTS_COLUMN);
            let (Some(texts), true) = (texts, rows.len() == b.num_rows()) else {
                return Err(HandbookError::Index("the index's passages lack columns".into()));
            };
            searched.extend((0..b.num_rows()).map(|i| texts.value(i)));
            if with_vectors {
                passages.add_vectors(b)?;
            }
            if with_sentences {
                passages.add_sentence_vectors(b)?;
            }
            passages.hits.extend(rows);
        }
        passages.keywords = Keywords::of(searched.into_iter())?;
        Ok(passages)
    }

    fn add_vectors(&mut self, b: &RecordBatch) -> Result<(), HandbookError> {
        let lists = b
            .column_by_name(VECTOR_COLUMN)
            .and_then(|c| c.as_fixed_size_list_opt())
            .ok_or_else(|| HandbookError::Index("the index's vectors are unreadable".into()))?;
        let dimensions = lists.value_length() as usize;
        if self.dimensions != 0 && self.dimensions != dimensions {
            return Err(HandbookError::Index(
                "the index's vectors differ in length".into(),
            ));
        }
        self.dimensions = dimensions;
        for i in 0..b.num_rows() {
            let values = lists.value(i);
            let values = values.as_primitive_opt::<Float32Type>();
            match values.filter(|v| !lists.is_null(i) && v.len() == dimensions && v.null_count() == 0) {
                Some(values) => {
                    let values = values.values();
                    self.norms.push(dot(values, values).sqrt());
                    self.vectors.extend_from_slice(values);
                }
                None => {
                    self.norms.push(0.0);
                    self.vectors.extend(std::iter::repeat_n(0.0, dimensions));
                }
            }
        }
        Ok(())
    }

    /// The sentences' vectors of `b`'s passages (after [`Self::add_vectors`] set the length).
    fn add_sentence_vectors(&mut self, b: &RecordBatch) -> Result<(), HandbookError> {
        let lists = b
            .column_by_name(SENTENCE_VECTORS_COLUMN)
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or_else(|| HandbookError::Index("the index's sentence vectors are unreadable".into()))?;
        let d = self.dimensions;
        for i in 0..b.num_rows() {
            let start = self.sentence_norms.len();
            let values = lists.value(i);
            let values = values.as_primitive_opt::<Float32Type>();
            if let Some(values) = values.filter(|v| !lists.is_null(i) && d > 0 && v.null_count() == 0) {
                for sentence in values.values().chunks_exact(d) {
                    self.sentence_norms.push(dot(sentence, sentence).sqrt());
                    self.sentence_vectors.extend_from_slice(sentence);
                }
            }
            self.sentences_of.push(start..self.sentence_norms.len());
        }
        Ok(())
    }

    /// The passage of `file` at these lines.
    #[cfg(test)]
    pub(crate) fn at(&self, (file, start, end): (&str, u32, u32)) -> Option<&Hit> {
        (self.hits.iter()).find(|h| h.file == file && h.line_start == start && h.line_end == end)
    }

    /// The `limit` passages with the best BM25 scores for a question's analysed terms (each as
    /// often as it occurs, see `search::tokens`), best first, their scores the BM25 scores.
    pub fn full_text(&self, tokens: &[String], limit: usize) -> Vec<Hit> {
        (self.keywords.top(tokens, limit).into_iter())
            .map(|(score, i)| Hit {
                score,
                ..self.hits[i].clone()
            })
            .collect()
    }

    /// A term's weight in the relevance check (see [`Keywords::weight`]).
    pub fn term_weight(&self, term: &str) -> f32 {
        self.keywords.weight(term)
    }

    /// How many passages the table holds.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// The `limit` passages closest to `query`, each by the closer of its own vector and its
    /// sentences' (see `sentences`), closest first, their scores that similarity; with each, the
    /// passage's own similarity. Passages without a vector are left out.
    pub fn closest(&self, query: &[f32], limit: usize) -> Result<Vec<(Hit, f32)>, HandbookError> {
        let Some(query_norm) = self.query_norm(query)? else {
            return Ok(Vec::new());
        };
        let d = self.dimensions;
        // Each passage's own similarity, kept to return beside the closer one.
        let mut own = vec![0.0; self.norms.len()];
        let mut scored: Vec<(f32, usize)> = Vec::with_capacity(self.norms.len());
        for (i, norm) in self.norms.iter().enumerate().filter(|(_, norm)| **norm > 0.0) {
            own[i] = dot(query, &self.vectors[i * d..(i + 1) * d]) / (query_norm * norm);
            let sentences = self.sentences_of.get(i).cloned().unwrap_or_default();
            let closest = (sentences.filter(|&s| self.sentence_norms[s] > 0.0))
                .map(|s| {
                    let vector = &self.sentence_vectors[s * d..(s + 1) * d];
                    dot(query, vector) / (query_norm * self.sentence_norms[s])
                })
                .fold(own[i], f32::max);
            scored.push((closest, i));
        }
        top(&mut scored, limit);
        Ok(scored
            .into_iter()
            .map(|(closest, i)| {
                let hit = Hit {
                    score: closest,
                    ..self.hits[i].clone()
                };
                (hit, own[i])
            })
            .collect())
    }

    /// The length of `query`, checked against the index's vectors; `None` for a zero vector.
    fn query_norm(&self, query: &[f32]) -> Result<Option<f32>, HandbookError> {
        if query.len() != self.dimensions {
            return Err(HandbookError::Index(format!(
                "the question's vector has {} dimensions, the index's {}",
                query.len(),
                self.dimensions
            )));
        }
        let norm = dot(query, query).sqrt();
        Ok((norm > 0.0).then_some(norm))
    }

    /// The `limit` passages nearest to `query` by cosine similarity, closest first, their
    /// scores the similarities; passages without a vector are left out.
    #[cfg(test)]
    pub fn nearest(&self, query: &[f32], limit: usize) -> Result<Vec<Hit>, HandbookError> {
        let Some(query_norm) = self.query_norm(query)? else {
            return Ok(Vec::new());
        };
        let mut scored: Vec<(f32, usize)> = self
            .norms
            .iter()
            .enumerate()
            .filter(|(_, norm)| **norm > 0.0)
            .map(|(i, norm)| {
                let row = &self.vectors[i * self.dimensions..(i + 1) * self.dimensions];
                (dot(query, row) / (query_norm * norm), i)
            })
            .collect();
        top(&mut scored, limit);
        Ok(scored
            .into_iter()
            .map(|(similarity, i)| Hit {
                score: similarity,
                ..self.hits[i].clone()
            })
            .collect())
    }
}

/// Keeps the `limit` best of `scored` (score, passage), best first; ties by passage order.
fn top(scored: &mut Vec<(f32, usize)>, limit: usize) {
    let by_similarity = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, by_similarity);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(by_similarity);
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use indicatif::ProgressBar;

    use super::*;
    use crate::handbook::lookup::reference::nearest;
    use crate::handbook::{Handbook, HashEmbedder};

    fn keys(hits: &[Hit]) -> Vec<(String, u32, u32)> {
        hits.iter()
            .map(|h| (h.file.clone(), h.line_start, h.line_end))
            .collect()
    }
    #[tokio::test]
    async fn the_scan_finds_what_lancedb_finds() {
        let dir = tempfile::tempdir().unwrap();
        let embedder = Arc::new(HashEmbedder::new(64));
        let handbook = Handbook::new(dir.path(), Some(embedder.clone()));
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("handbook");
        handbook.ingest(&sample, &ProgressBar::hidden()).await.unwrap();
        let table = handbook.table().await.unwrap().unwrap();
        let passages = Passages::read(&table).await.unwrap();
        assert_eq!(passages.len(), table.count_rows(None).await.unwrap());
        assert!(passages.len() > 100, "{}", passages.len());
        for question in [
            "Who approves a refund of 1,200 EUR?",
            "can I work from another country for a month",
            "what do I do when my laptop is stolen",
            "zzz",
        ] {
            let vector = embedder.vector(question);
            // Every passage's similarity as LanceDB computes it.
            let all: HashMap<(String, u32, u32), Hit> = nearest(&table, &vector, 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|h| ((h.file.clone(), h.line_start, h.line_end), h))
                .collect();
            assert_eq!(all.len(), passages.len());
            for limit in [1, 5, 50, 1000] {
                let ours = passages.nearest(&vector, limit).unwrap();
                let lance = nearest(&table, &vector, limit).await.unwrap();
                assert_eq!(ours.len(), lance.len(), "{question} (top {limit})");
                // The same passages in the same order, up to passages whose similarities differ
                // by rounding only (the two sums are taken in different orders).
                for (i, (a, b)) in ours.iter().zip(&lance).enumerate() {
                    assert!(
                        (a.score - b.score).abs() < 1e-5,
                        "{question} #{i}: {} vs {}",
                        a.score,
                        b.score
                    );
                    let theirs = &all[&keys(std::slice::from_ref(a))[0]];
                    assert!((a.score - theirs.score).abs() < 1e-5, "{question} #{i}");
                    assert_eq!(
                        (&a.text, &a.terms, &a.heading_path),
                        (&theirs.text, &theirs.terms, &theirs.heading_path)
                    );
                }
                let (ours, lance) = (keys(&ours), keys(&lance));
                let tied = ours.iter().zip(&lance).filter(|(a, b)| a != b).count();
                assert!(
                    tied * 20 <= ours.len().max(20),
                    "{question} (top {limit}): {tied} differ"
                );
            }
        }
        // A question's vector of another length is an error, not an empty answer.
        assert!(matches!(
            passages.nearest(&[1.0; 8], 5),
            Err(HandbookError::Index(_))
        ));
    }

    /// Every question of a set written by someone else (answerable and not) over its handbook,
    /// and a few odd ones.
    fn questions(root: &Path, set: &str) -> (PathBuf, Vec<String>) {
        let set: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(set)).unwrap()).unwrap();
        let mut questions: Vec<String> = ["questions", "unanswerable"]
            .iter()
            .flat_map(|list| set[list].as_array().unwrap())
            .map(|q| q["question"].as_str().unwrap().to_owned())
            .collect();
        assert!(questions.len() > 50, "{}", questions.len());
        let odd = [
            "refund refund refund",
            "Who approves 1,200 EUR?",
            "the of and",
            "zzz",
            "e-mail VPN: 2FA!",
        ];
        questions.extend(odd.map(str::to_owned));
        (root.join(set["handbook"].as_str().unwrap()), questions)
    }

    #[tokio::test]
    async fn the_keyword_scores_are_lancedbs() {
        use crate::handbook::lookup::reference::full_text;
        use crate::handbook::search::{normalize_numbers, tokens};

        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs().max(1.0);
        for set in [
            "tests/handbook_questions_unseen.json",
            "tests/osio_questions_unseen.json",
        ] {
            let (pages, questions) = questions(root, set);
            let dir = tempfile::tempdir().unwrap();
            let handbook = Handbook::new(dir.path(), None);
            handbook.ingest(&pages, &ProgressBar::hidden()).await.unwrap();
            let table = handbook.table().await.unwrap().unwrap();
            let passages = Passages::read(&table).await.unwrap();
            assert!(passages.len() > 100, "{set}: {}", passages.len());
            for question in &questions {
                let query = normalize_numbers(question);
                let terms = tokens(&query);
                let (table, passages, query, terms) = (&table, &passages, &query, &terms);
                let lance = |limit| async move {
                    match terms.is_empty() {
                        true => Vec::new(),
                        false => full_text(table, passages, query, limit).await.unwrap(),
                    }
                };
                // Every matching passage's score as LanceDB computes it.
                let all: HashMap<(String, u32, u32), Hit> = (lance(1000).await.into_iter())
                    .map(|h| ((h.file.clone(), h.line_start, h.line_end), h))
                    .collect();
                assert_eq!(passages.full_text(terms, 1000).len(), all.len(), "{question}");
                for limit in [1, 10, 50] {
                    let (ours, theirs) = (passages.full_text(terms, limit), lance(limit).await);
                    assert_eq!(ours.len(), theirs.len(), "{question} (top {limit})");
                    // The same scores rank by rank, and each passage scored as LanceDB scores
                    // it (passages whose scores tie may come in either order).
                    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                        let (x, y) = (a.score, b.score);
                        assert!(close(x, y), "{question} #{i}: {x} vs {y}");
                        let key = &keys(std::slice::from_ref(a))[0];
                        assert!(close(x, all[key].score), "{question} #{i}: {key:?}");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn a_passage_is_as_close_as_its_closest_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let embedder = Arc::new(HashEmbedder::new(64));
        let handbook = Handbook::new(dir.path(), Some(embedder.clone()));
        let folder = dir.path().join("src");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(
            folder.join("travel.md"),
            "# Travel\n\n## Transport\n\n\
             - Trains: second class for trips under four hours, first class above.\n\
             - Flights: economy class, with one checked bag for equipment.\n\
             - Taxis and ride-hailing: allowed between 22:00 and 06:00.\n\
             - Own car: a mileage allowance per kilometre, with the route recorded.\n\n\
             ## Meals\n\nA daily meal allowance for full travel days.\n",
        )
        .unwrap();
        handbook.ingest(&folder, &ProgressBar::hidden()).await.unwrap();
        let table = handbook.table().await.unwrap().unwrap();
        let passages = Passages::read(&table).await.unwrap();
        // The list has a vector for each item; the one-sentence section has none of its own.
        let transport = passages
            .hits
            .iter()
            .position(|h| h.text.contains("Taxis"))
            .unwrap();
        let meals = passages
            .hits
            .iter()
            .position(|h| h.text.contains("meal"))
            .unwrap();
        assert_eq!(passages.sentences_of[transport].len(), 4);
        assert!(passages.sentences_of[meals].is_empty());

        let question = "Transport: Taxis and ride-hailing: allowed between 22:00 and 06:00.";
        let vector = embedder.vector(question);
        let found = passages.closest(&vector, 5).unwrap();
        let (hit, own) = &found[0];
        assert!(hit.text.contains("Taxis"), "{}", hit.text);
        // Ranked by the taxi sentence, closer than the list as a whole; the passage's own
        // similarity is what `nearest` gives.
        assert!(hit.score > *own + 0.1, "{} vs {own}", hit.score);
        let whole = passages.nearest(&vector, 5).unwrap();
        let listed = whole.iter().find(|h| h.text.contains("Taxis")).unwrap();
        assert!((listed.score - own).abs() < 1e-6);
        let taxi = passages.sentences_of[transport]
            .clone()
            .map(|s| {
                let v = &passages.sentence_vectors[s * 64..(s + 1) * 64];
                dot(&vector, v) / (dot(&vector, &vector).sqrt() * passages.sentence_norms[s])
            })
            .fold(f32::MIN, f32::max);
        assert!((hit.score - taxi).abs() < 1e-6);
    }

    #[tokio::test]
    async fn without_vectors_the_passages_are_still_counted() {
        let dir = tempfile::tempdir().unwrap();
        let handbook = Handbook::new(dir.path(), None);
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("handbook");
        handbook.ingest(&sample, &ProgressBar::hidden()).await.unwrap();
        let table = handbook.table().await.unwrap().unwrap();
        let passages = Passages::read(&table).await.unwrap();
        assert_eq!(passages.len(), table.count_rows(None).await.unwrap());
        // "refund" is in the sample's passages, "zebra" in none of them.
        assert!(passages.term_weight("refund") < passages.term_weight("zebra"));
        assert!(passages.nearest(&[1.0; 8], 5).is_err());
    }
}
