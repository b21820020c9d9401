//! Keeping the index in step with the handbook folder: an ingest (incremental, or a rebuild
//! when the embedder changed), the start-up ingest in the background (in a child process when
//! one is configured), and waiting for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

use super::index::{self, Index};
use super::manifest::Manifest;
use super::{
    child, embed, indexed_as, ingest, DefaultModel, Embedder, Handbook, HandbookError, IngestChild,
    IngestReport,
};

impl Handbook {
    /// Indexes the markdown files of `dir`: new and changed files are (re)chunked and
    /// embedded, removed ones disappear; unchanged files cost a read and a hash. A change of
    /// embedder rebuilds the index. `progress` shows the files being indexed.
    pub async fn ingest(&self, dir: &Path, progress: &ProgressBar) -> Result<IngestReport, HandbookError> {
        let _under_way = self.under_way();
        let outcome = self.ingest_inner(dir, progress).await;
        self.record_outcome(&outcome);
        *self.inner.view.lock().await = None;
        self.inner.ingests.send_modify(|n| *n += 1);
        outcome
    }

    async fn ingest_inner(&self, dir: &Path, progress: &ProgressBar) -> Result<IngestReport, HandbookError> {
        let _one_at_a_time = self.inner.ingest_lock.lock().await;
        let (files, skipped) = read_folder(dir).await?;
        let embedder = self.embedder();
        let embedder = embedder.as_deref();
        let identity = embedder.map(indexed_as);
        let index_dir = &self.inner.index_dir;
        if let Some(report) = unchanged_report(index_dir, &files, &skipped, &identity) {
            return Ok(report);
        }
        let index = self.index().await?;
        Manifest::remove(index_dir)
            .map_err(|e| HandbookError::Index(format!("cannot update the file list: {e}")))?;
        let live = match (index.open().await?, index.meta()) {
            (Some(table), Some(meta)) if meta.embedder == identity => Some((table, meta)),
            _ => None,
        };
        let rebuilt = live.is_none();
        let mut report = match live {
            Some((table, meta)) => {
                if let Ok(mut slot) = self.inner.table.lock() {
                    *slot = Some(table.clone());
                }
                let indexed = index::file_hashes(&table).await?;
                let chunking = &self.inner.chunking;
                ingest::sync(
                    &table,
                    &files,
                    &indexed,
                    embedder,
                    meta.dimensions,
                    chunking,
                    progress,
                )
                .await?
            }
            None => self.rebuild(index, &files, embedder, progress).await?,
        };
        report.skipped = skipped;
        report.rebuilt = rebuilt;
        if let Err(e) = Manifest::new(identity, &files, report.passages_total).write(index_dir) {
            tracing::warn!(error = %e, "cannot write the handbook's file list; the next start re-reads the index");
        }
        Ok(report)
    }

    /// Builds the index from scratch in a new table beside the live one, which searches keep
    /// using meanwhile, then makes the new table the live one.
    async fn rebuild(
        &self,
        index: &Index,
        files: &[ingest::SourceFile],
        embedder: Option<&dyn Embedder>,
        progress: &ProgressBar,
    ) -> Result<IngestReport, HandbookError> {
        let dimensions = match embedder {
            Some(e) => {
                let probe = e.embed(&["handbook".to_owned()]).await?;
                embed::check_vectors(&probe)?;
                probe.first().map(Vec::len)
            }
            None => None,
        };
        let identity = embedder.map(indexed_as);
        let (table, meta) = index.create_beside(identity, dimensions).await?;
        tracing::info!(embedder = ?meta.embedder, table = %meta.table, "building the handbook index from scratch");
        let chunking = &self.inner.chunking;
        let built = ingest::sync(
            &table,
            files,
            &HashMap::new(),
            embedder,
            dimensions,
            chunking,
            progress,
        )
        .await;
        let published = match built {
            Ok(report) => index.publish(&meta).await.map(|()| report),
            Err(e) => Err(e),
        };
        match published {
            Ok(report) => {
                if let Ok(mut slot) = self.inner.table.lock() {
                    *slot = Some(table);
                }
                Ok(report)
            }
            Err(e) => {
                index.discard(&meta.table).await;
                Err(e)
            }
        }
    }

    /// The report of an ingest of `dir` that would find nothing to do (the last complete one
    /// indexed these very files with this embedder), without opening the index; `None` when
    /// there is work to do.
    pub(super) async fn unchanged(&self, dir: &Path) -> Result<Option<IngestReport>, HandbookError> {
        let (files, skipped) = read_folder(dir).await?;
        let identity = self.embedder_identity();
        Ok(unchanged_report(
            &self.inner.index_dir,
            &files,
            &skipped,
            &identity,
        ))
    }

    /// Ingests `dir` in the background (on start-up), logging the outcome; then, when the
    /// default model is to be fetched, fetches it and ingests again with vectors. Stops at
    /// `shutdown`.
    ///
    /// With `child`, each ingest that has work to do runs in a child process (see `child`), so
    /// that the server does not keep what indexing loaded.
    pub fn spawn_ingest(
        &self,
        dir: PathBuf,
        default_model: Option<DefaultModel>,
        child: Option<IngestChild>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let handbook = self.clone();
        tokio::spawn(async move {
            let work = async {
                // The first ingest must not wait for the model: the child is told not to fetch it.
                let no_fetch = [("HANDBOOK_MODEL_URL", "off")];
                let env: &[(&str, &str)] = if default_model.is_some() { &no_fetch } else { &[] };
                handbook.ingest_logged(&dir, child.as_ref(), env).await;
                if let Some(model) = default_model {
                    if handbook.fetch_default_model(&model).await {
                        // The child finds the fetched model where this process did.
                        handbook.ingest_logged(&dir, child.as_ref(), &[]).await;
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {}
                () = work => {}
            }
        })
    }

    /// Counts an ingest as under way until the guard is dropped (also when it is cancelled).
    fn under_way(&self) -> impl Drop + '_ {
        use std::sync::atomic::Ordering;
        struct UnderWay<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for UnderWay<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        UnderWay(&self.inner.in_flight)
    }

    async fn ingest_logged(&self, dir: &Path, child: Option<&IngestChild>, env: &[(&str, &str)]) {
        let _under_way = self.under_way();
        let in_child = match child {
            Some(child) => match self.ingest_in_child(child, dir, env).await {
                Ok(outcome) => Some(outcome),
                Err(child::NoChild(why)) => {
                    tracing::warn!(%why, "indexing the handbook in this process instead");
                    None
                }
            },
            None => None,
        };
        let outcome = match in_child {
            Some(outcome) => outcome,
            None => self.ingest(dir, &ProgressBar::hidden()).await,
        };
        match outcome {
            Ok(report) => {
                for (file, reason) in &report.skipped {
                    tracing::warn!(%file, %reason, "handbook file skipped");
                }
                tracing::info!(%report, "handbook indexed")
            }
            Err(e @ HandbookError::FolderMissing(_)) => {
                tracing::warn!("{e}; /ask finds nothing until it is indexed")
            }
            Err(e) => tracing::warn!(error = %e, "handbook ingest failed"),
        }
    }
}

/// The markdown files of `dir`, read off the async threads.
async fn read_folder(dir: &Path) -> Result<(Vec<ingest::SourceFile>, ingest::Skipped), HandbookError> {
    let folder = dir.to_owned();
    tokio::task::spawn_blocking(move || ingest::read_folder(&folder))
        .await
        .map_err(|e| HandbookError::Index(format!("reading the folder failed: {e}")))?
}

/// What an ingest reports when the manifest in `index_dir` covers `files` with `identity`.
fn unchanged_report(
    index_dir: &Path,
    files: &[ingest::SourceFile],
    skipped: &ingest::Skipped,
    identity: &Option<String>,
) -> Option<IngestReport> {
    let done = Manifest::read(index_dir).filter(|m| m.covers(files, identity))?;
    Some(IngestReport {
        files: files.len(),
        unchanged: files.len(),
        skipped: skipped.clone(),
        passages_total: done.passages,
        ..IngestReport::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexing_lasts_as_long_as_an_ingest_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let handbook = Handbook::new(dir.path(), None);
        assert!(!handbook.indexing());
        {
            let _first = handbook.under_way();
            let _second = handbook.under_way();
            assert!(handbook.indexing());
            drop(_second);
            assert!(handbook.indexing());
        }
        assert!(!handbook.indexing());
    }
}
