//! Ingest: the handbook folder → the index, incrementally. Markdown files (`.md`, `.markdown`,
//! in subfolders too; hidden entries and symlinked folders are skipped) are hashed; a file whose
//! hash is already indexed costs nothing, a new or changed one is chunked, embedded and replaces
//! its passages, and a file that disappeared (or became unreadable) loses its passages. Binary,
//! non-UTF-8, empty and oversized files are skipped with a warning. A progress bar shows on a
//! terminal.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use lancedb::Table;
use sha2::{Digest, Sha256};

use super::chunk::{chunk_markdown, ChunkOptions};
use super::embed::Embedder;
use super::index::{self, Row};
use super::search::{analyze, normalize_numbers};
use super::sentences::sentence_texts;
use super::HandbookError;

/// Files larger than this are not handbook pages.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Passages written per batch (one write to the table).
const BATCH_ROWS: usize = 1024;
/// Folder depth the walk goes down to.
const MAX_DEPTH: usize = 16;

/// The last ingest failed: when, and why (fit to show to an admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestFailure {
    pub at: chrono::DateTime<chrono::Utc>,
    pub error: String,
}

impl super::Handbook {
    /// Remembers how an ingest ended: a failure until the next success. A missing folder is no
    /// failure (a server may run without a handbook).
    pub(super) fn record_outcome(&self, outcome: &Result<IngestReport, HandbookError>) {
        let failure = match outcome {
            Ok(_) | Err(HandbookError::FolderMissing(_)) => None,
            Err(e) => Some(IngestFailure {
                at: chrono::Utc::now(),
                error: e.to_string(),
            }),
        };
        if let Ok(mut last) = self.inner.last_failure.lock() {
            *last = failure;
        }
        if let (Ok(report), Ok(mut last)) = (outcome, self.inner.last_report.lock()) {
            *last = Some((chrono::Utc::now(), report.clone()));
        }
    }

    /// When the last successful ingest ended and what it did, if one did since start.
    pub fn last_ingest(&self) -> Option<(chrono::DateTime<chrono::Utc>, IngestReport)> {
        self.inner.last_report.lock().ok().and_then(|r| r.clone())
    }

    /// The failure of the last ingest, if it failed.
    pub fn last_ingest_failure(&self) -> Option<IngestFailure> {
        self.inner.last_failure.lock().ok().and_then(|f| f.clone())
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngestReport {
    /// Markdown files found.
    pub files: usize,
    pub unchanged: usize,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// Files left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Passages written by this ingest.
    pub passages_written: usize,
    /// Passages in the index afterwards.
    pub passages_total: usize,
    /// Whether the index was rebuilt from scratch (new index, or another embedder).
    pub rebuilt: bool,
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files: {} added, {} updated, {} removed, {} unchanged, {} skipped; \
             {} passages written, {} in the index",
            self.files,
            self.added,
            self.updated,
            self.removed,
            self.unchanged,
            self.skipped.len(),
            self.passages_written,
            self.passages_total
        )?;
        if self.rebuilt {
            write!(f, " (rebuilt)")?;
        }
        Ok(())
    }
}

/// A progress bar on standard error when it is a terminal, hidden otherwise.
pub fn terminal_progress() -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A readable markdown file of the folder.
#[derive(Clone)]
pub(crate) struct SourceFile {
    /// Path relative to the folder, with `/` separators: the name answers cite.
    pub name: String,
    pub hash: String,
    pub text: String,
}

/// Files left out of an ingest, with the reason.
pub(crate) type Skipped = Vec<(String, String)>;

/// Markdown files under `dir` (sorted by name), and those that had to be skipped.
pub(crate) fn read_folder(dir: &Path) -> Result<(Vec<SourceFile>, Skipped), HandbookError> {
    let meta = std::fs::metadata(dir).map_err(|_| HandbookError::FolderMissing(dir.to_owned()))?;
    if !meta.is_dir() {
        return Err(HandbookError::FolderMissing(dir.to_owned()));
    }
    let mut paths = Vec::new();
    walk(dir, dir, 0, &mut paths);
    paths.sort();
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (name, path) in paths {
        match read_page(&path) {
            Ok(text) => files.push(SourceFile {
                hash: hex::encode(Sha256::digest(text.as_bytes())),
                name,
                text,
            }),
            Err(reason) => skipped.push((name, reason)),
        }
    }
    Ok((files, skipped))
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(folder = %dir.display(), "cannot read a handbook folder; skipped");
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, depth + 1, out);
            }
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".md") || lower.ends_with(".markdown")) {
            continue;
        }
        // A symlink to a file is followed; one to a folder is not (kind is not dir for it).
        if kind.is_symlink() && path.is_dir() {
            continue;
        }
        if let Ok(rel) = path.strip_prefix(root) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path));
        }
    }
}

/// The text of a handbook page, or why it is not one.
fn read_page(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.contains(&0) {
        return Err("binary content".into());
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .replace("\r\n", "\n");
    if text.trim().is_empty() {
        return Err("empty".into());
    }
    Ok(text)
}

/// The passages of one file, ready to store (vectors still missing).
pub(crate) fn rows_for(file: &SourceFile, options: &ChunkOptions) -> Vec<Row> {
    chunk_markdown(&file.text, options)
        .into_iter()
        .map(|chunk| {
            let search_text =
                normalize_numbers(&format!("{}\n{}", chunk.heading_path.join(" › "), chunk.text));
            Row {
                file: file.name.clone(),
                file_hash: file.hash.clone(),
                terms: analyze(&search_text).join(" "),
                heading_path: chunk.heading_path,
                line_start: chunk.line_start as u32,
                line_end: chunk.line_end as u32,
                text: chunk.text,
                search_text,
                vector: None,
                sentence_vectors: Vec::new(),
            }
        })
        .collect()
}

/// Fills in the vectors of `rows` and of their sentences (`sentences`), in one call to the
/// embedder.
pub(crate) async fn embed_rows(rows: &mut [Row], embedder: &dyn Embedder) -> Result<(), HandbookError> {
    let sentences: Vec<Vec<String>> = rows
        .iter()
        .map(|r| sentence_texts(&r.heading_path, &normalize_numbers(&r.text)))
        .collect();
    let mut texts: Vec<String> = rows.iter().map(|r| r.search_text.clone()).collect();
    texts.extend(sentences.iter().flatten().cloned());
    let mut vectors = embedder.embed(&texts).await?.into_iter();
    if vectors.len() != texts.len() {
        return Err(HandbookError::Embedding(super::EmbedError::Malformed(format!(
            "{} vectors for {} passages and sentences",
            vectors.len(),
            texts.len()
        ))));
    }
    for row in rows.iter_mut() {
        row.vector = vectors.next();
    }
    for (row, sentences) in rows.iter_mut().zip(&sentences) {
        row.sentence_vectors = (0..sentences.len())
            .filter_map(|_| vectors.next())
            .flatten()
            .collect();
    }
    Ok(())
}

/// Brings `table` in line with `files`. `indexed` is the hash of every file in the table.
pub(crate) async fn sync(
    table: &Table,
    files: &[SourceFile],
    indexed: &HashMap<String, String>,
    embedder: Option<&dyn Embedder>,
    dimensions: Option<usize>,
    options: &ChunkOptions,
    progress: &ProgressBar,
) -> Result<IngestReport, HandbookError> {
    let mut report = IngestReport {
        files: files.len(),
        ..IngestReport::default()
    };
    let present: BTreeMap<&str, &SourceFile> = files.iter().map(|f| (f.name.as_str(), f)).collect();
    let gone: Vec<String> = indexed
        .keys()
        .filter(|name| !present.contains_key(name.as_str()))
        .cloned()
        .collect();
    let todo: Vec<&SourceFile> = files
        .iter()
        .filter(|f| indexed.get(&f.name) != Some(&f.hash))
        .collect();
    report.unchanged = files.len() - todo.len();
    report.removed = gone.len();
    progress.set_length(todo.len() as u64);
    progress.set_position(0);

    // Files whose old passages the next write replaces (new files have none).
    let mut pending_files: Vec<String> = Vec::new();
    let mut pending_rows: Vec<Row> = Vec::new();
    for file in todo {
        progress.set_message(file.name.clone());
        if indexed.contains_key(&file.name) {
            report.updated += 1;
            pending_files.push(file.name.clone());
        } else {
            report.added += 1;
        }
        let (source, options) = (file.clone(), *options);
        let mut rows = tokio::task::spawn_blocking(move || rows_for(&source, &options))
            .await
            .map_err(|e| HandbookError::Index(format!("chunking {} failed: {e}", file.name)))?;
        if let Some(embedder) = embedder {
            embed_rows(&mut rows, embedder).await?;
        }
        pending_rows.extend(rows);
        if pending_rows.len() >= BATCH_ROWS {
            report.passages_written += pending_rows.len();
            index::replace_files(table, &pending_files, &pending_rows, dimensions).await?;
            pending_files.clear();
            pending_rows.clear();
        }
        progress.inc(1);
    }
    if !pending_files.is_empty() || !pending_rows.is_empty() {
        report.passages_written += pending_rows.len();
        index::replace_files(table, &pending_files, &pending_rows, dimensions).await?;
    }
    index::remove_files(table, &gone).await?;
    if report.added + report.updated + report.removed > 0 {
        progress.set_message("building the full-text index");
        index::refresh(table).await?;
    }
    report.passages_total = table
        .count_rows(None)
        .await
        .map_err(|e| HandbookError::Index(format!("cannot count passages: {e}")))?;
    progress.finish_and_clear();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_ingest_is_remembered_until_one_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let handbook = super::super::Handbook::new(dir.path().join("index"), None);
        assert_eq!(handbook.last_ingest_failure(), None);
        handbook.record_outcome(&Err(HandbookError::FolderMissing(dir.path().join("none"))));
        assert_eq!(handbook.last_ingest_failure(), None, "no folder is no failure");
        handbook.record_outcome(&Err(HandbookError::Index("disk full".into())));
        let failure = handbook.last_ingest_failure().unwrap();
        assert!(failure.error.contains("disk full"), "{}", failure.error);
        handbook.record_outcome(&Ok(IngestReport::default()));
        assert_eq!(handbook.last_ingest_failure(), None);
    }
}
