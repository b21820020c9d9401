//! Where the bytes of files on tasks live: [`Blobs`], a folder under the data dir (the default,
//! `files/{task_id}/{sha256}`) or an S3-compatible bucket (`tasks/{task_id}/{sha256}`, see
//! [`S3Blobs`]). The rows that name the files are in `task_files` (`files`); this module only
//! keeps bytes by task and content hash, so writing the same file twice keeps one copy.

use std::path::{Path, PathBuf};

use super::s3::S3Blobs;
use super::{StoreError, StoreResult};

/// The bytes of files on tasks, kept in one of two places.
#[derive(Debug, Clone)]
pub enum Blobs {
    /// A folder on this machine (one replica, or a shared volume).
    Folder(FileFolder),
    /// An S3-compatible bucket (AWS S3, MinIO, Garage, R2…): any number of replicas.
    S3(S3Blobs),
}

impl Blobs {
    /// Keeps `bytes` (whose hex SHA-256 is `sha256`) for task `task_id`; done when it returns.
    pub async fn write(&self, task_id: i64, sha256: &str, bytes: &[u8]) -> StoreResult<()> {
        match self {
            Blobs::Folder(folder) => folder.write(task_id, sha256, bytes).await,
            Blobs::S3(s3) => s3.put(&S3Blobs::key(task_id, sha256), bytes).await,
        }
    }

    /// The bytes kept for task `task_id` under `sha256`.
    pub async fn read(&self, task_id: i64, sha256: &str) -> StoreResult<Vec<u8>> {
        match self {
            Blobs::Folder(folder) => folder.read(task_id, sha256).await,
            Blobs::S3(s3) => s3.get(&S3Blobs::key(task_id, sha256)).await,
        }
    }

    /// Removes the bytes of a deleted task (`sha256s`: its files, read before the rows went).
    /// A failure is logged, not returned: the task is gone either way.
    pub async fn remove_task(&self, task_id: i64, sha256s: &[String]) {
        match self {
            Blobs::Folder(folder) => folder.remove_task(task_id).await,
            Blobs::S3(s3) => {
                for sha256 in sha256s {
                    if let Err(e) = s3.delete(&S3Blobs::key(task_id, sha256)).await {
                        tracing::warn!(error = %e, task = task_id, "could not remove a deleted task's object");
                    }
                }
            }
        }
    }
}

/// Files in a folder: `{root}/{task_id}/{sha256}`, written to a temporary name and renamed, so a
/// crash leaves no half file under a real name.
#[derive(Debug, Clone)]
pub struct FileFolder {
    root: PathBuf,
}

impl FileFolder {
    /// The folder `files` under `data_dir`.
    pub fn under(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("files"),
        }
    }

    fn path(&self, task_id: i64, sha256: &str) -> PathBuf {
        self.root.join(task_id.to_string()).join(sha256)
    }

    async fn write(&self, task_id: i64, sha256: &str, bytes: &[u8]) -> StoreResult<()> {
        let path = self.path(task_id, sha256);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path.parent().expect("a task folder");
        let io = |e: std::io::Error| StoreError::Other(format!("cannot write {}: {e}", path.display()));
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let temporary = dir.join(format!(".{sha256}.part"));
        tokio::fs::write(&temporary, bytes).await.map_err(io)?;
        tokio::fs::rename(&temporary, &path).await.map_err(io)?;
        Ok(())
    }

    async fn read(&self, task_id: i64, sha256: &str) -> StoreResult<Vec<u8>> {
        let path = self.path(task_id, sha256);
        tokio::fs::read(&path)
            .await
            .map_err(|e| StoreError::Other(format!("cannot read {}: {e}", path.display())))
    }

    async fn remove_task(&self, task_id: i64) {
        let dir = self.root.join(task_id.to_string());
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, task = task_id, "could not remove a deleted task's files");
            }
        }
    }
}
