//! The server's start-up ingest in a child process: `coordinator handbook ingest DIR --json`.
//!
//! Indexing maps the index engine's code (LanceDB, DataFusion: about 90 MiB of touched pages)
//! and leaves tens of MiB of heap behind that the allocator does not give back. Run in the
//! server itself, a first start idles at three times the memory of a restart that found the
//! handbook unchanged. Run in a child, that memory goes when the child exits; the server opens
//! the index only at its first search. The outcome comes back as one line of JSON and is
//! recorded as if the ingest had run here (the web page's status, the admin alert on failure).
//! When the child cannot be started, the ingest runs in the server as before.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use super::{Handbook, HandbookError, IngestReport};

/// How an ingest in a child process ended, as it prints it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildOutcome {
    Indexed(IngestReport),
    FolderMissing(std::path::PathBuf),
    Failed(String),
}

impl From<Result<IngestReport, HandbookError>> for ChildOutcome {
    fn from(outcome: Result<IngestReport, HandbookError>) -> Self {
        match outcome {
            Ok(report) => Self::Indexed(report),
            Err(HandbookError::FolderMissing(dir)) => Self::FolderMissing(dir),
            Err(e) => Self::Failed(e.to_string()),
        }
    }
}

impl From<ChildOutcome> for Result<IngestReport, HandbookError> {
    fn from(outcome: ChildOutcome) -> Self {
        match outcome {
            ChildOutcome::Indexed(report) => Ok(report),
            ChildOutcome::FolderMissing(dir) => Err(HandbookError::FolderMissing(dir)),
            ChildOutcome::Failed(error) => Err(HandbookError::Ingest(error)),
        }
    }
}

impl ChildOutcome {
    /// One line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"failed":"the outcome could not be written: {e}"}}"#))
    }

    /// The last line of `output` that reads as an outcome.
    fn from_output(output: &[u8]) -> Option<Self> {
        String::from_utf8_lossy(output)
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line.trim()).ok())
    }
}

/// How to run an ingest in a child process: the `coordinator` executable, and what its
/// environment must say beyond this process's (the data folder, when the settings did not come
/// from the environment).
#[derive(Debug, Clone)]
pub struct IngestChild {
    pub exe: PathBuf,
    pub env: Vec<(String, String)>,
}

/// Why the child could not do the ingest: it could not be started, or said nothing readable.
#[derive(Debug)]
pub(super) struct NoChild(pub String);

impl Handbook {
    /// Indexes `dir` by running `exe handbook ingest DIR --json` with the child's and `env`'s
    /// variables added to this process's environment, and records the outcome as [`Handbook::ingest`] does. An
    /// unchanged folder costs no child. `Err(NoChild)` when the child could not run or its
    /// answer could not be read: nothing was recorded, the caller ingests here instead.
    pub(super) async fn ingest_in_child(
        &self,
        child: &IngestChild,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Result<Result<IngestReport, HandbookError>, NoChild> {
        let outcome = {
            let _one_at_a_time = self.inner.ingest_lock.lock().await;
            match self.unchanged(dir).await {
                Ok(Some(report)) => Ok(report),
                Err(e) => Err(e),
                Ok(None) => {
                    let exe = &child.exe;
                    let output = tokio::process::Command::new(exe)
                        .args(["handbook", "ingest"])
                        .arg(dir)
                        .arg("--json")
                        .envs(child.env.iter().map(|(k, v)| (k, v)))
                        .envs(env.iter().copied())
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::inherit())
                        .kill_on_drop(true)
                        .output()
                        .await
                        .map_err(|e| NoChild(format!("cannot start {}: {e}", exe.display())))?;
                    let outcome = ChildOutcome::from_output(&output.stdout).ok_or_else(|| {
                        NoChild(format!(
                            "{} handbook ingest ended ({}) without saying how",
                            exe.display(),
                            output.status
                        ))
                    })?;
                    // The child wrote a new version of the table: the next search opens it.
                    if let Ok(mut table) = self.inner.table.lock() {
                        *table = None;
                    }
                    outcome.into()
                }
            }
        };
        self.record_outcome(&outcome);
        *self.inner.view.lock().await = None;
        self.inner.ingests.send_modify(|n| *n += 1);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_survives_the_trip_through_a_line_of_output() {
        let report = IngestReport {
            files: 3,
            added: 2,
            unchanged: 1,
            skipped: vec![("big.md".into(), "too large".into())],
            passages_written: 7,
            passages_total: 9,
            ..IngestReport::default()
        };
        let line = ChildOutcome::Indexed(report.clone()).to_line();
        let output = format!("some other line\n{line}\n");
        let back: Result<IngestReport, HandbookError> =
            ChildOutcome::from_output(output.as_bytes()).unwrap().into();
        assert_eq!(back.unwrap(), report);

        let missing = ChildOutcome::FolderMissing("nowhere".into()).to_line();
        let back: Result<IngestReport, HandbookError> =
            ChildOutcome::from_output(missing.as_bytes()).unwrap().into();
        assert!(matches!(back, Err(HandbookError::FolderMissing(dir)) if dir.ends_with("nowhere")));

        let failed = ChildOutcome::Failed("embedding failed: no model".into()).to_line();
        let back: Result<IngestReport, HandbookError> =
            ChildOutcome::from_output(failed.as_bytes()).unwrap().into();
        assert_eq!(back.unwrap_err().to_string(), "embedding failed: no model");

        assert!(ChildOutcome::from_output(b"error: something\n").is_none());
    }
}
