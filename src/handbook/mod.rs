//! The handbook: the team's markdown policies, searchable with citations. Owns chunking
//! (`chunk`), incremental ingest (`ingest`: reading and indexing files; `refresh`: when and
//! how an ingest runs), the LanceDB index under
//! `COORDINATOR_DATA_DIR/handbook` (`index`: a native BM25 full-text index always, a vector
//! column when an embedder is configured), search (`search`: BM25, vectors, a weighted fusion
//! calibrated on question sets, a relevance threshold; both lookups score the passages read
//! once per version of the table, `passages` and `keywords`), the texts built from results (`answer`: quoted answers,
//! LLM context, tool results) and `trait Embedder` (`embed`). It does not talk to chats or the
//! LLM: the conversation and the agent call [`Handbook::search`] and the `answer` functions.
//!
//! ```text
//!  handbook/*.md ──ingest──► chunk ──► embed? ──► LanceDB table `passages-…` (+ FTS index)
//!  question ──search──► BM25 ─┐
//!                   vectors? ─┴─► fusion ─► relevance check ─► Passage{file, heading, lines, text}
//! ```

pub mod answer;
mod child;
pub mod chunk;
pub mod embed;
mod index;
mod ingest;
mod keywords;
#[cfg(feature = "local-embeddings")]
pub mod local;
mod lookup;
mod manifest;
pub mod model;
mod passages;
mod refresh;
mod search;
mod sections;
mod sentences;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lancedb::Table;
use serde::Serialize;
use tokio::sync::{watch, OnceCell};

pub use answer::{context_block, format_results, not_found, quote_answer, tool_result, ANSWER_INSTRUCTIONS};
pub use child::{ChildOutcome, IngestChild};
pub use chunk::{chunk_markdown, Chunk, ChunkOptions};
pub use embed::{EmbedError, Embedder, HashEmbedder, OpenAiEmbedder};
pub use ingest::{terminal_progress, IngestFailure, IngestReport, MAX_FILE_BYTES};
pub use model::{default_model, DefaultModel};
pub use search::{
    validate_query, SearchMode, SearchOptions, MAX_K, MAX_QUERY_CHARS, MIN_PASSAGE_RELEVANCE, MIN_RELEVANCE,
};
pub use tokens::count_tokens;

use crate::config::Settings;
use index::{Index, Meta};
use passages::Passages;

/// Fixes the local model's thread count for the process (see `local::settle_thread_count`);
/// nothing without the `local-embeddings` feature. Call it first in `main`, before any thread
/// is started.
pub fn settle_thread_count() {
    #[cfg(feature = "local-embeddings")]
    local::settle_thread_count();
}

/// Why the handbook could not do what was asked. The messages are fit to show to a user.
#[derive(Debug, thiserror::Error)]
pub enum HandbookError {
    #[error("the question is empty")]
    EmptyQuery,
    #[error("the question is too long: at most {max_chars} characters, please")]
    QueryTooLong { max_chars: usize },
    #[error("the handbook folder {} does not exist (set HANDBOOK_DIR, or pass the folder)", .0.display())]
    FolderMissing(PathBuf),
    #[error("the handbook has not been indexed yet (run `coordinator handbook ingest`)")]
    NotIndexed,
    #[error("embedding failed: {0}")]
    Embedding(#[from] EmbedError),
    #[error("handbook index: {0}")]
    Index(String),
    /// An ingest in a child process failed; its message as the child gave it.
    #[error("{0}")]
    Ingest(String),
}

impl HandbookError {
    /// Whether the caller asked for something that cannot work (exit code 2 on the command line).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::EmptyQuery | Self::QueryTooLong { .. } | Self::FolderMissing(_)
        )
    }
}

/// A passage found for a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    /// Path of the source file relative to the handbook folder, e.g. `security.md`.
    pub file: String,
    /// Headings from the page title down to the passage's section.
    pub heading_path: Vec<String>,
    /// Line range (1-based, inclusive) in the source file.
    pub line_start: u32,
    pub line_end: u32,
    pub text: String,
    /// The ranking score: BM25 for full-text searches, the weighted fusion (see `search`) with vectors.
    pub score: f32,
    /// BM25 score, when the full-text lookup found the passage.
    pub bm25: Option<f32>,
    /// Cosine similarity to the query, when the vector lookup found the passage.
    pub similarity: Option<f32>,
    /// The closer of [`Self::similarity`] and the passage's closest sentence's (see `sentences`).
    #[serde(skip)]
    pub closest: Option<f32>,
    /// IDF-weighted share of the query's terms present in the passage (0 to 1).
    pub relevance: f32,
    /// Whether the passage counts as an answer: the question is answerable and this passage is
    /// relevant enough (see `search`).
    pub relevant: bool,
    /// Whether the passage is relevant with a margin: when no passage found for a question is
    /// sure, the handbook may well not answer it (see `search`), and the replies say so.
    pub sure: bool,
}

impl Passage {
    /// The section's headings below the page title (the title alone for a page's intro).
    pub fn heading(&self) -> String {
        match self.heading_path.as_slice() {
            [] => String::new(),
            [only] => only.clone(),
            [_, rest @ ..] => rest.join(" › "),
        }
    }

    /// `file › heading`, as answers cite it.
    pub fn citation(&self) -> String {
        let heading = self.heading();
        if heading.is_empty() {
            self.file.clone()
        } else {
            format!("{} › {}", self.file, heading)
        }
    }
}

/// What searches reuse until the table changes.
struct View {
    table: String,
    version: u64,
    passages: Arc<Passages>,
    meta: Option<Meta>,
}

struct Inner {
    index_dir: PathBuf,
    /// Replaced once when the default model arrives (see `model`).
    embedder: std::sync::RwLock<Option<Arc<dyn Embedder>>>,
    chunking: ChunkOptions,
    index: OnceCell<Index>,
    table: Mutex<Option<Table>>,
    view: tokio::sync::Mutex<Option<Arc<View>>>,
    ingest_lock: tokio::sync::Mutex<()>,
    /// Finished ingests (successful or not), for those who wait for the first one.
    ingests: watch::Sender<u64>,
    /// Ingests under way (here or in a child process): an index that is empty meanwhile is
    /// being built, not a handbook without passages.
    in_flight: std::sync::atomic::AtomicUsize,
    /// How the last ingest failed, until one succeeds (an admin alert).
    last_failure: Mutex<Option<IngestFailure>>,
    /// When the last successful ingest ended, and what it did (the web page's status).
    last_report: Mutex<Option<(chrono::DateTime<chrono::Utc>, IngestReport)>>,
}

/// What the index records as made with `embedder`: its identity and the index's layout, so
/// that an index of an older layout (passage vectors without their sentences') is rebuilt at
/// the next ingest like one of another embedder.
fn indexed_as(embedder: &dyn Embedder) -> String {
    format!("{}+sentences", embedder.identity())
}

/// The handbook index and its searches. Cheap to clone; opens the index on first use.
#[derive(Clone)]
pub struct Handbook {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Handbook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handbook")
            .field("index_dir", &self.inner.index_dir)
            .field("embedder", &self.embedder_identity())
            .finish()
    }
}

impl Handbook {
    /// A handbook whose index lives in `index_dir`; vectors come from `embedder` when given.
    pub fn new(index_dir: impl Into<PathBuf>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self::with_chunking(index_dir, embedder, ChunkOptions::default())
    }

    pub fn with_chunking(
        index_dir: impl Into<PathBuf>,
        embedder: Option<Arc<dyn Embedder>>,
        chunking: ChunkOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                index_dir: index_dir.into(),
                embedder: std::sync::RwLock::new(embedder),
                chunking,
                index: OnceCell::new(),
                table: Mutex::new(None),
                view: tokio::sync::Mutex::new(None),
                ingest_lock: tokio::sync::Mutex::new(()),
                ingests: watch::Sender::new(0),
                in_flight: Default::default(),
                last_failure: Mutex::new(None),
                last_report: Mutex::new(None),
            }),
        }
    }

    /// The handbook the settings describe: index in `COORDINATOR_DATA_DIR/handbook`, embedder
    /// from `HANDBOOK_EMBEDDING_MODEL_DIR` or `OPENAI_EMBEDDING_MODEL` (if any). No IO yet.
    pub fn from_settings(settings: &Settings) -> Result<Self, HandbookError> {
        Ok(Self::new(
            settings.data_dir.join("handbook"),
            embedder_from_settings(settings)?,
        ))
    }

    /// The configured embedder's identity, if any.
    pub fn embedder_identity(&self) -> Option<String> {
        self.embedder().map(|e| indexed_as(e.as_ref()))
    }

    fn embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.inner.embedder.read().ok().and_then(|e| e.clone())
    }

    /// Uses `embedder` from now on; the next ingest re-embeds the passages with it.
    pub fn set_embedder(&self, embedder: Arc<dyn Embedder>) {
        if let Ok(mut slot) = self.inner.embedder.write() {
            *slot = Some(embedder);
        }
    }

    async fn index(&self) -> Result<&Index, HandbookError> {
        self.inner
            .index
            .get_or_try_init(|| Index::connect(&self.inner.index_dir))
            .await
    }

    /// The live table. A rebuild by another process (`coordinator handbook ingest`, the
    /// start-up child) points `index.json` at a new table: the next search opens that one.
    async fn table(&self) -> Result<Option<Table>, HandbookError> {
        let cached = self.inner.table.lock().ok().and_then(|t| t.clone());
        if let Some(table) = cached.filter(|t| t.name() == index::live_table(&self.inner.index_dir)) {
            return Ok(Some(table));
        }
        let table = self.index().await?.open().await?;
        if let (Some(t), Ok(mut slot)) = (&table, self.inner.table.lock()) {
            *slot = Some(t.clone());
        }
        Ok(table)
    }

    /// Whether an ingest is under way (here, or in the child process started from here).
    pub fn indexing(&self) -> bool {
        self.inner.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Whether this process has opened the index (a search or an ingest here did).
    pub fn index_opened(&self) -> bool {
        self.inner.index.initialized()
    }

    /// Waits until an ingest (for example the start-up one) has finished; false on timeout.
    pub async fn wait_for_ingest(&self, timeout: Duration) -> bool {
        let mut finished = self.inner.ingests.subscribe();
        let finished = async move { finished.wait_for(|n| *n > 0).await.is_ok() };
        tokio::time::timeout(timeout, finished).await.unwrap_or(false)
    }

    /// The best passages for `query`, at most `k`, relevant ones only; empty when nothing in
    /// the handbook is relevant.
    pub async fn search(&self, query: &str, k: usize) -> Result<Vec<Passage>, HandbookError> {
        self.search_with(query, &SearchOptions::new(k)).await
    }

    pub async fn search_with(
        &self,
        query: &str,
        options: &SearchOptions,
    ) -> Result<Vec<Passage>, HandbookError> {
        validate_query(query)?;
        let table = self.table().await?.ok_or(HandbookError::NotIndexed)?;
        let view = self.view(&table).await?;
        if view.passages.len() == 0 {
            // An empty index while an ingest is under way is one being (re)built: "not indexed
            // yet", not "the handbook has nothing on that".
            if self.indexing() {
                *self.inner.view.lock().await = None;
                return Err(HandbookError::NotIndexed);
            }
            return Ok(Vec::new());
        }
        let indexed_with = view.meta.as_ref().and_then(|m| m.embedder.clone());
        let configured = self.embedder();
        let embedder = configured
            .as_deref()
            .filter(|e| indexed_with.as_deref() == Some(indexed_as(*e).as_str()));
        if embedder.is_none() && configured.is_some() {
            tracing::debug!("the index has no vectors from the configured embedder; full text only");
        }
        let searcher = search::Searcher {
            passages: &view.passages,
            embedder,
        };
        let outcome = searcher.search(query, options).await;
        if let Err(HandbookError::Index(e)) = &outcome {
            // Another process may have rebuilt the table: open it afresh next time.
            tracing::warn!(error = %e, "handbook search failed; reopening the index next time");
            if let Ok(mut slot) = self.inner.table.lock() {
                *slot = None;
            }
            *self.inner.view.lock().await = None;
        }
        outcome
    }

    /// The passages and index metadata, read again when the table has a new version.
    async fn view(&self, table: &Table) -> Result<Arc<View>, HandbookError> {
        let version = table
            .version()
            .await
            .map_err(|e| HandbookError::Index(format!("cannot read the index version: {e}")))?;
        let mut slot = self.inner.view.lock().await;
        if let Some(view) = slot
            .as_ref()
            .filter(|v| v.version == version && v.table == table.name())
        {
            return Ok(view.clone());
        }
        let view = Arc::new(View {
            table: table.name().to_owned(),
            version,
            passages: Arc::new(Passages::read(table).await?),
            meta: self.index().await?.meta(),
        });
        *slot = Some(view.clone());
        Ok(view)
    }

    /// Passages in the index (0 before the first ingest).
    pub async fn passage_count(&self) -> Result<usize, HandbookError> {
        match self.table().await? {
            None => Ok(0),
            Some(table) => table
                .count_rows(None)
                .await
                .map_err(|e| HandbookError::Index(format!("cannot count passages: {e}"))),
        }
    }
}

/// The embedder the settings configure: a local model folder, an OpenAI-compatible model, the
/// default model once fetched, or none.
pub fn embedder_from_settings(settings: &Settings) -> Result<Option<Arc<dyn Embedder>>, HandbookError> {
    if let Some(dir) = &settings.handbook_embedding_model_dir {
        return local_embedder(dir).map(Some);
    }
    let fetched = model::default_model_dir(&settings.data_dir);
    if cfg!(feature = "local-embeddings")
        && settings.openai_embedding_model.is_none()
        && model::is_complete(&fetched)
    {
        return local_embedder(&fetched).map(Some);
    }
    let Some(model) = &settings.openai_embedding_model else {
        return Ok(None);
    };
    let key = settings.openai.as_ref().map(|o| o.api_key.clone());
    Ok(Some(Arc::new(OpenAiEmbedder::new(
        &settings.openai_base_url,
        key,
        model,
    )?)))
}

#[cfg(feature = "local-embeddings")]
pub(crate) fn local_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, HandbookError> {
    Ok(Arc::new(local::LocalEmbedder::new(dir)?))
}

#[cfg(not(feature = "local-embeddings"))]
pub(crate) fn local_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, HandbookError> {
    Err(HandbookError::Embedding(EmbedError::Model(format!(
        "{} is set as HANDBOOK_EMBEDDING_MODEL_DIR, but this build has no local embeddings \
         (build with --features local-embeddings)",
        dir.display()
    ))))
}
