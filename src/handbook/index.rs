//! The handbook's LanceDB table: its schema, the small `index.json` beside it naming the
//! embedder the vectors came from, writes (replace a file's passages, remove files) and the
//! native full-text (BM25) index. Reads for searches are in `lookup`. Knows nothing about
//! markdown or ranking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{ArrayRef, FixedSizeListArray, ListArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;

use super::lookup::SENTENCE_VECTORS_COLUMN;
use lancedb::index::scalar::FtsIndexBuilder;
use lancedb::index::Index as LanceIndex;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::OptimizeAction;
use lancedb::{Connection, Table};
use serde::{Deserialize, Serialize};

use super::HandbookError;

/// The table's name before rebuilds made new ones beside it; also the stem of their names.
pub(crate) const TABLE: &str = "passages";
const META_FILE: &str = "index.json";
/// Bumped when the table's layout changes; an index of another format is rebuilt.
pub(crate) const FORMAT: u32 = 1;
pub(crate) const FTS_COLUMN: &str = "search_text";

/// The live table, and what its vectors were made with (`None` when it has none).
///
/// A rebuild (a new index, another embedder) writes a new table beside the live one and then
/// points `index.json` at it, so searches keep answering from the old table meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub format: u32,
    pub embedder: Option<String>,
    pub dimensions: Option<usize>,
    /// The live table's name; an index written before rebuilds swapped tables has `passages`.
    #[serde(default = "first_table")]
    pub table: String,
}

fn first_table() -> String {
    TABLE.to_owned()
}

impl Meta {
    pub fn new(embedder: Option<String>, dimensions: Option<usize>, table: String) -> Self {
        Self {
            format: FORMAT,
            embedder,
            dimensions,
            table,
        }
    }
}

/// The live table's name as `index.json` in `dir` gives it (`passages` without one), read
/// without opening LanceDB.
pub(crate) fn live_table(dir: &Path) -> String {
    read_meta(dir).map_or_else(first_table, |m| m.table)
}

fn read_meta(dir: &Path) -> Option<Meta> {
    let text = std::fs::read_to_string(dir.join(META_FILE)).ok()?;
    serde_json::from_str::<Meta>(&text)
        .ok()
        .filter(|m| m.format == FORMAT)
}

/// One passage as stored.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub file: String,
    pub file_hash: String,
    pub heading_path: Vec<String>,
    pub line_start: u32,
    pub line_end: u32,
    pub text: String,
    /// Heading path and text: what the full-text index and the embedder see.
    pub search_text: String,
    /// The distinct analysed terms of `search_text`, space-separated (for relevance).
    pub terms: String,
    pub vector: Option<Vec<f32>>,
    /// The vectors of the passage's sentences (`sentences`), one after the other; empty when
    /// it has none of its own.
    pub sentence_vectors: Vec<f32>,
}

/// The tokenizer settings of the full-text index (stemming, stop words, ASCII folding); the
/// same settings analyse questions for the relevance check.
pub(crate) fn fts_params() -> FtsIndexBuilder {
    FtsIndexBuilder::default()
}

pub(crate) fn storage(context: &str) -> impl FnOnce(lancedb::Error) -> HandbookError + '_ {
    move |e| HandbookError::Index(format!("{context}: {e}"))
}

pub(crate) struct Index {
    db: Connection,
    dir: PathBuf,
}

impl Index {
    pub async fn connect(dir: &Path) -> Result<Self, HandbookError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HandbookError::Index(format!("cannot create {}: {e}", dir.display())))?;
        let uri = dir
            .to_str()
            .ok_or_else(|| HandbookError::Index(format!("{} is not a UTF-8 path", dir.display())))?;
        let db = lancedb::connect(uri)
            // Another process (`coordinator handbook ingest`) may update the index.
            .read_consistency_interval(Duration::from_secs(2))
            .execute()
            .await
            .map_err(storage("cannot open the handbook index"))?;
        Ok(Self {
            db,
            dir: dir.to_owned(),
        })
    }

    pub fn meta(&self) -> Option<Meta> {
        read_meta(&self.dir)
    }

    fn write_meta(&self, meta: &Meta) -> Result<(), HandbookError> {
        let path = self.dir.join(META_FILE);
        let temp = self.dir.join(format!("{META_FILE}.tmp"));
        let text = serde_json::to_string_pretty(meta).unwrap_or_default();
        std::fs::write(&temp, text)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| HandbookError::Index(format!("cannot write {}: {e}", path.display())))
    }

    /// The live table, when it exists.
    pub async fn open(&self) -> Result<Option<Table>, HandbookError> {
        match self.db.open_table(live_table(&self.dir)).execute().await {
            Ok(table) => Ok(Some(table)),
            Err(lancedb::Error::TableNotFound { .. }) => Ok(None),
            Err(e) => Err(storage("cannot open the handbook table")(e)),
        }
    }

    /// An empty table for `embedder`'s vectors of `dimensions`, beside the live one (which
    /// searches keep using until [`Self::publish`]); `meta` names it.
    pub async fn create_beside(
        &self,
        embedder: Option<String>,
        dimensions: Option<usize>,
    ) -> Result<(Table, Meta), HandbookError> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let mut name = format!("{TABLE}-{stamp}");
        while self.dir.join(format!("{name}.lance")).exists() {
            name.push('x');
        }
        let table = self
            .db
            .create_empty_table(&name, schema(dimensions))
            .execute()
            .await
            .map_err(storage("cannot create the handbook table"))?;
        Ok((table, Meta::new(embedder, dimensions, name)))
    }

    /// Makes `meta`'s table the live one. The table it replaces is kept until the next
    /// rebuild (a search under way in another process may still be reading it); older ones,
    /// and tables of rebuilds that failed, are dropped.
    pub async fn publish(&self, meta: &Meta) -> Result<(), HandbookError> {
        let previous = live_table(&self.dir);
        self.write_meta(meta)?;
        let names = match self.db.table_names().execute().await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the handbook tables to drop old ones");
                return Ok(());
            }
        };
        for name in names {
            if name != meta.table && name != previous && name.starts_with(TABLE) {
                if let Err(e) = self.db.drop_table(&name, &[]).await {
                    tracing::warn!(table = %name, error = %e, "cannot drop an old handbook table");
                }
            }
        }
        Ok(())
    }

    /// Drops a table that was never published (a rebuild that failed).
    pub async fn discard(&self, name: &str) {
        if name == live_table(&self.dir) {
            return;
        }
        if let Err(e) = self.db.drop_table(name, &[]).await {
            tracing::warn!(table = %name, error = %e, "cannot drop an unfinished handbook table");
        }
    }
}

fn schema(dimensions: Option<usize>) -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let mut fields = vec![
        text("file"),
        text("file_hash"),
        Field::new(
            "heading_path",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("line_start", DataType::UInt32, false),
        Field::new("line_end", DataType::UInt32, false),
        text("text"),
        text(FTS_COLUMN),
        text("terms"),
    ];
    if let Some(d) = dimensions {
        fields.push(Field::new(
            "vector",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), d as i32),
            true,
        ));
        fields.push(Field::new(
            SENTENCE_VECTORS_COLUMN,
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

fn batch(rows: &[Row], dimensions: Option<usize>) -> Result<RecordBatch, HandbookError> {
    let strings =
        |f: fn(&Row) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.iter().map(f))) };
    let mut headings = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for h in &row.heading_path {
            headings.values().append_value(h);
        }
        headings.append(true);
    }
    let mut columns: Vec<ArrayRef> = vec![
        strings(|r| &r.file),
        strings(|r| &r.file_hash),
        Arc::new(headings.finish()),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.line_start))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.line_end))),
        strings(|r| &r.text),
        strings(|r| &r.search_text),
        strings(|r| &r.terms),
    ];
    if let Some(d) = dimensions {
        let vectors = rows.iter().map(|r| match &r.vector {
            Some(v) if v.len() == d => Some(v.iter().copied().map(Some).collect::<Vec<_>>()),
            _ => None,
        });
        columns.push(Arc::new(FixedSizeListArray::from_iter_primitive::<
            Float32Type,
            _,
            _,
        >(vectors, d as i32)));
        let sentences = rows
            .iter()
            .map(|r| Some(r.sentence_vectors.iter().copied().map(Some).collect::<Vec<_>>()));
        columns.push(Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
            sentences,
        )));
    }
    RecordBatch::try_new(schema(dimensions), columns)
        .map_err(|e| HandbookError::Index(format!("cannot build passages: {e}")))
}

/// `file IN ('a.md', 'b''s.md')`.
fn files_predicate(files: &[String]) -> String {
    let quoted: Vec<String> = files
        .iter()
        .map(|f| format!("'{}'", f.replace('\'', "''")))
        .collect();
    format!("file IN ({})", quoted.join(", "))
}

/// Removes every passage of `files`.
pub(crate) async fn remove_files(table: &Table, files: &[String]) -> Result<(), HandbookError> {
    for group in files.chunks(200) {
        table
            .delete(files_predicate(group).as_str())
            .await
            .map_err(storage("cannot remove passages"))?;
    }
    Ok(())
}

/// Removes the passages of `files` (their old versions), then adds `rows`.
pub(crate) async fn replace_files(
    table: &Table,
    files: &[String],
    rows: &[Row],
    dimensions: Option<usize>,
) -> Result<(), HandbookError> {
    remove_files(table, files).await?;
    if !rows.is_empty() {
        table
            .add(batch(rows, dimensions)?)
            .execute()
            .await
            .map_err(storage("cannot store passages"))?;
    }
    Ok(())
}

/// The content hash of every indexed file.
pub(crate) async fn file_hashes(table: &Table) -> Result<HashMap<String, String>, HandbookError> {
    let batches: Vec<RecordBatch> = table
        .query()
        .select(Select::columns(&["file", "file_hash"]))
        .execute()
        .await
        .map_err(storage("cannot list indexed files"))?
        .try_collect()
        .await
        .map_err(storage("cannot list indexed files"))?;
    let mut hashes = HashMap::new();
    for b in &batches {
        let (Some(files), Some(sums)) = (string_column(b, "file"), string_column(b, "file_hash")) else {
            continue;
        };
        for i in 0..b.num_rows() {
            hashes.insert(files.value(i).to_owned(), sums.value(i).to_owned());
        }
    }
    Ok(hashes)
}

/// After writes: compacts, and (re)builds the full-text index over all passages.
pub(crate) async fn refresh(table: &Table) -> Result<(), HandbookError> {
    if table
        .count_rows(None)
        .await
        .map_err(storage("cannot count passages"))?
        == 0
    {
        return Ok(());
    }
    table
        .optimize(OptimizeAction::All)
        .await
        .map_err(storage("cannot compact the handbook table"))?;
    table
        .create_index(&[FTS_COLUMN], LanceIndex::FTS(fts_params()))
        .replace(true)
        .execute()
        .await
        .map_err(storage("cannot build the full-text index"))
}

pub(crate) fn string_column<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    b.column_by_name(name)?.as_string_opt::<i32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_quoted_for_predicates() {
        let files = ["a.md".to_owned(), "it's.md".to_owned()];
        assert_eq!(files_predicate(&files), "file IN ('a.md', 'it''s.md')");
    }
}
