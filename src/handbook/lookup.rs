//! Reads of the handbook table for searches: the full-text (BM25) lookup, the nearest-vector
//! lookup, and the term statistics (how many passages hold each term) behind the relevance
//! check.

use std::collections::{HashMap, HashSet};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt32Type};
use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::index::scalar::FullTextSearchQuery;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::{DistanceType, Table};

use super::index::{storage, string_column, FTS_COLUMN};
use super::HandbookError;

/// Columns a lookup returns (besides its score).
const HIT_COLUMNS: [&str; 6] = ["file", "heading_path", "line_start", "line_end", "text", "terms"];

/// A passage found by a lookup, with that lookup's score (BM25, or cosine distance).
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub file: String,
    pub heading_path: Vec<String>,
    pub line_start: u32,
    pub line_end: u32,
    pub text: String,
    pub terms: String,
    pub score: f32,
}

fn hits(batches: &[RecordBatch], score_column: &str) -> Vec<Hit> {
    let mut out = Vec::new();
    for b in batches {
        let (Some(file), Some(text), Some(terms)) = (
            string_column(b, "file"),
            string_column(b, "text"),
            string_column(b, "terms"),
        ) else {
            continue;
        };
        let (Some(start), Some(end)) = (
            b.column_by_name("line_start")
                .and_then(|c| c.as_primitive_opt::<UInt32Type>()),
            b.column_by_name("line_end")
                .and_then(|c| c.as_primitive_opt::<UInt32Type>()),
        ) else {
            continue;
        };
        let Some(headings) = b
            .column_by_name("heading_path")
            .and_then(|c| c.as_list_opt::<i32>())
        else {
            continue;
        };
        let Some(scores) = b
            .column_by_name(score_column)
            .and_then(|c| c.as_primitive_opt::<Float32Type>())
        else {
            continue;
        };
        for i in 0..b.num_rows() {
            let path = headings.value(i);
            let heading_path = path
                .as_string_opt::<i32>()
                .map(|s| s.iter().flatten().map(str::to_owned).collect())
                .unwrap_or_default();
            out.push(Hit {
                file: file.value(i).to_owned(),
                heading_path,
                line_start: start.value(i),
                line_end: end.value(i),
                text: text.value(i).to_owned(),
                terms: terms.value(i).to_owned(),
                score: scores.value(i),
            });
        }
    }
    out
}

fn with_score<'a>(columns: &[&'a str], score: &'a str) -> Vec<&'a str> {
    columns.iter().copied().chain([score]).collect()
}

/// Full-text (BM25) lookup; best first.
pub(crate) async fn full_text(table: &Table, query: &str, limit: usize) -> Result<Vec<Hit>, HandbookError> {
    let fts = FullTextSearchQuery::new(query.to_owned())
        .with_column(FTS_COLUMN.to_owned())
        .map_err(|e| HandbookError::Index(format!("bad full-text query: {e}")))?;
    let batches: Vec<RecordBatch> = table
        .query()
        .full_text_search(fts)
        // Naming the score column keeps Lance from warning that it adds it by itself.
        .select(Select::columns(&with_score(&HIT_COLUMNS, "_score")))
        .limit(limit)
        .execute()
        .await
        .map_err(storage("full-text search failed"))?
        .try_collect()
        .await
        .map_err(storage("full-text search failed"))?;
    Ok(hits(&batches, "_score"))
}

/// Nearest vectors by cosine distance; closest first. Scores are cosine similarities.
pub(crate) async fn nearest(table: &Table, vector: &[f32], limit: usize) -> Result<Vec<Hit>, HandbookError> {
    let batches: Vec<RecordBatch> = table
        .query()
        .nearest_to(vector)
        .map_err(storage("bad query vector"))?
        .column("vector")
        .distance_type(DistanceType::Cosine)
        .select(Select::columns(&with_score(&HIT_COLUMNS, "_distance")))
        .limit(limit)
        .execute()
        .await
        .map_err(storage("vector search failed"))?
        .try_collect()
        .await
        .map_err(storage("vector search failed"))?;
    let mut found = hits(&batches, "_distance");
    for hit in &mut found {
        hit.score = 1.0 - hit.score;
    }
    Ok(found)
}

/// How many passages contain each term, for the relevance check.
#[derive(Debug, Default)]
pub(crate) struct TermStats {
    pub passages: usize,
    pub document_frequency: HashMap<String, u32>,
}

impl TermStats {
    /// BM25's inverse document frequency; a term no passage has gets the highest weight.
    pub fn idf(&self, term: &str) -> f32 {
        let n = self.passages as f32;
        let df = self.document_frequency.get(term).copied().unwrap_or(0) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }
}

pub(crate) async fn term_stats(table: &Table) -> Result<TermStats, HandbookError> {
    let mut stream = table
        .query()
        .select(Select::columns(&["terms"]))
        .execute()
        .await
        .map_err(storage("cannot read passages"))?;
    let mut stats = TermStats::default();
    while let Some(b) = stream
        .try_next()
        .await
        .map_err(|e| HandbookError::Index(format!("cannot read passages: {e}")))?
    {
        let Some(terms) = string_column(&b, "terms") else {
            continue;
        };
        for text in terms.iter().flatten() {
            stats.passages += 1;
            let distinct: HashSet<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
            for term in distinct {
                *stats.document_frequency.entry(term.to_owned()).or_default() += 1;
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_terms_weigh_most() {
        let mut stats = TermStats {
            passages: 100,
            ..TermStats::default()
        };
        stats.document_frequency.insert("polici".into(), 40);
        stats.document_frequency.insert("refund".into(), 3);
        assert!(stats.idf("refund") > stats.idf("polici"));
        assert!(stats.idf("pizza") > stats.idf("refund"));
    }
}
