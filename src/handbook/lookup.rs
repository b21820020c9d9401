//! Reads of the handbook table for searches: the passages' columns as searches return them
//! ([`Hit`]). The passages themselves, the lookups over them and the term weights behind the
//! relevance check are in `passages`; LanceDB's own lookups, which those are checked against, are
//! here for the tests.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt32Type};
use arrow_array::RecordBatch;

use super::index::string_column;

/// The column of the passages' vectors, when the index has them.
pub(crate) const VECTOR_COLUMN: &str = "vector";
/// The column of the vectors of the passages' sentences (`sentences`), when the index has them.
pub(crate) const SENTENCE_VECTORS_COLUMN: &str = "sentence_vectors";
/// Columns a lookup returns (besides its score).
pub(crate) const HIT_COLUMNS: [&str; 6] = ["file", "heading_path", "line_start", "line_end", "text", "terms"];

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

/// The passages of `batches`, each with its score from `score_column` (0 without one).
pub(crate) fn hits(batches: &[RecordBatch], score_column: Option<&str>) -> Vec<Hit> {
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
        let scores = match score_column {
            Some(name) => match b
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Float32Type>())
            {
                Some(scores) => Some(scores),
                None => continue,
            },
            None => None,
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
                score: scores.map_or(0.0, |s| s.value(i)),
            });
        }
    }
    out
}

/// LanceDB's own lookups, which the searches' lookups over the passages in memory are checked
/// against.
#[cfg(test)]
pub(crate) mod reference {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, UInt32Type};
    use arrow_array::RecordBatch;
    use futures::TryStreamExt;
    use lancedb::index::scalar::FullTextSearchQuery;
    use lancedb::query::{ExecutableQuery, QueryBase, Select};
    use lancedb::Table;

    use super::{hits, Hit, HIT_COLUMNS, VECTOR_COLUMN};
    use crate::handbook::index::{storage, string_column, FTS_COLUMN};
    use crate::handbook::passages::Passages;
    use crate::handbook::HandbookError;

    /// Columns that tell a passage's place: file and lines.
    const KEY_COLUMNS: [&str; 3] = ["file", "line_start", "line_end"];

    fn with_score<'a>(columns: &[&'a str], score: &'a str) -> Vec<&'a str> {
        columns.iter().copied().chain([score]).collect()
    }

    /// LanceDB's own full-text (BM25) lookup through its inverted index; best first. LanceDB
    /// returns each passage's place and score only; the rest comes from `passages`, read from the
    /// same version of the table. Searches use [`Passages::full_text`]; this is what it is checked
    /// against.
    pub(crate) async fn full_text(
        table: &Table,
        passages: &Passages,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, HandbookError> {
        let fts = FullTextSearchQuery::new(query.to_owned())
            .with_column(FTS_COLUMN.to_owned())
            .map_err(|e| HandbookError::Index(format!("bad full-text query: {e}")))?;
        let batches: Vec<RecordBatch> = table
            .query()
            .full_text_search(fts)
            // Naming the score column keeps Lance from warning that it adds it by itself.
            .select(Select::columns(&with_score(&KEY_COLUMNS, "_score")))
            .limit(limit)
            .execute()
            .await
            .map_err(storage("full-text search failed"))?
            .try_collect()
            .await
            .map_err(storage("full-text search failed"))?;
        let mut found = Vec::new();
        for b in &batches {
            let (Some(file), Some(start), Some(end), Some(scores)) = (
                string_column(b, "file"),
                b.column_by_name("line_start")
                    .and_then(|c| c.as_primitive_opt::<UInt32Type>()),
                b.column_by_name("line_end")
                    .and_then(|c| c.as_primitive_opt::<UInt32Type>()),
                b.column_by_name("_score")
                    .and_then(|c| c.as_primitive_opt::<Float32Type>()),
            ) else {
                return Err(HandbookError::Index("the full-text search lacks columns".into()));
            };
            for i in 0..b.num_rows() {
                let place = (file.value(i), start.value(i), end.value(i));
                let hit = passages.at(place).ok_or_else(|| {
                    HandbookError::Index(
                        "the full-text search found a passage the index no longer has".into(),
                    )
                })?;
                found.push(Hit {
                    score: scores.value(i),
                    ..hit.clone()
                });
            }
        }
        Ok(found)
    }

    /// LanceDB's own nearest-vector lookup by cosine distance; closest first, scores are cosine
    /// similarities. Searches use [`Passages::nearest`]; this is what it is checked against.
    pub(crate) async fn nearest(
        table: &Table,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<Hit>, HandbookError> {
        use lancedb::DistanceType;
        let batches: Vec<RecordBatch> = table
            .query()
            .nearest_to(vector)
            .map_err(storage("bad query vector"))?
            .column(VECTOR_COLUMN)
            .distance_type(DistanceType::Cosine)
            .select(Select::columns(&with_score(&HIT_COLUMNS, "_distance")))
            .limit(limit)
            .execute()
            .await
            .map_err(storage("vector search failed"))?
            .try_collect()
            .await
            .map_err(storage("vector search failed"))?;
        let mut found = hits(&batches, Some("_distance"));
        for hit in &mut found {
            hit.score = 1.0 - hit.score;
        }
        Ok(found)
    }
}
