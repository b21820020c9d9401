//! Handbook retrieval quality and speed. The question set (`tests/handbook_questions.json`:
//! questions over the sample handbook, each with the file and heading of the answering passage,
//! plus questions the handbook does not cover) is asked of an index holding the sample handbook
//! alone, and then grown with synthetic filler passages to about 10,000 and 100,000 passages.
//! Filler is made of the handbook's own vocabulary in random order, so it competes for the same
//! words. Everything goes through the real path: files on disk, `Handbook::ingest`, LanceDB.
//!
//! For each size it reports recall@1 and recall@5, the share of unrelated questions that
//! wrongly found something, and the median and 95th-percentile latency of `Handbook::search`
//! (k = 5), for BM25 alone and for hybrid search (BM25 + vectors, fused by reciprocal rank).
//! Hybrid uses the deterministic trigram embedder; when the settings configure a real embedder
//! (`HANDBOOK_EMBEDDING_MODEL_DIR` or `OPENAI_EMBEDDING_MODEL`), it is measured as well.
//!
//! Run with `cargo bench --bench handbook`; `-- --sizes 0,10000` picks the filler sizes (0 is the
//! sample alone), `-- --configured-sizes 0,10000` those at which the configured embedder is
//! measured (embedding filler with a real model is slow), and `-- --skip-configured` leaves it
//! out. With the local model: `HANDBOOK_EMBEDDING_MODEL_DIR=$(scripts/fetch-embedding-model.sh)`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::config::Settings;
use coordinator::handbook::{
    embedder_from_settings, Embedder, Handbook, HashEmbedder, Passage, SearchMode, SearchOptions,
};
use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

/// Each question is asked this many times for the latency figures.
const REPEATS: usize = 3;
/// Filler passages per generated file (one `##` section each).
const SECTIONS_PER_FILE: usize = 10;

#[derive(Deserialize)]
struct QuestionSet {
    questions: Vec<Question>,
    unanswerable: Vec<String>,
}

#[derive(Deserialize)]
struct Question {
    question: String,
    file: String,
    heading: String,
}

fn sample_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("handbook")
}

/// Words of the sample handbook, lower-case, three letters or more.
fn vocabulary() -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(sample_dir()).expect("handbook folder") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for w in text.split(|c: char| !c.is_alphabetic()) {
            if w.chars().count() >= 3 {
                words.insert(w.to_lowercase());
            }
        }
    }
    words.into_iter().collect()
}

/// The sample handbook plus `filler` generated passages under `filler/`.
fn corpus(dir: &Path, filler: usize) {
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    if filler == 0 {
        return;
    }
    let words = vocabulary();
    let mut rng = StdRng::seed_from_u64(42);
    let phrase = |rng: &mut StdRng, n: usize| -> String {
        (0..n)
            .map(|_| words.choose(rng).unwrap().as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let folder = dir.join("filler");
    std::fs::create_dir_all(&folder).unwrap();
    for file in 0..filler.div_ceil(SECTIONS_PER_FILE) {
        let mut text = format!("# Filler page {file}\n");
        let sections = SECTIONS_PER_FILE.min(filler - file * SECTIONS_PER_FILE);
        for _ in 0..sections {
            let n = rng.random_range(2..5);
            text.push_str(&format!("\n## {}\n", phrase(&mut rng, n)));
            for _ in 0..rng.random_range(4..8) {
                let n = rng.random_range(8..18);
                text.push_str(&format!("{}.\n", phrase(&mut rng, n)));
            }
        }
        std::fs::write(folder.join(format!("page-{file:05}.md")), text).unwrap();
    }
}

fn answers(p: &Passage, q: &Question) -> bool {
    p.file == q.file && p.heading_path.last() == Some(&q.heading)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// One row of the table: quality and latency of `mode` on `handbook`.
async fn measure(handbook: &Handbook, set: &QuestionSet, mode: SearchMode, label: &str, passages: usize) {
    let options = SearchOptions {
        mode,
        ..SearchOptions::new(5)
    };
    // Warm-up: term statistics, caches.
    let _ = handbook.search_with("warm up the index", &options).await;
    let (mut at1, mut at5, mut wrong) = (0, 0, 0);
    let mut times = Vec::new();
    for q in &set.questions {
        let mut found = Vec::new();
        for _ in 0..REPEATS {
            let start = Instant::now();
            found = handbook.search_with(&q.question, &options).await.expect("search");
            times.push(start.elapsed());
        }
        at1 += usize::from(found.first().is_some_and(|p| answers(p, q)));
        at5 += usize::from(found.iter().any(|p| answers(p, q)));
    }
    for q in &set.unanswerable {
        wrong += usize::from(
            !handbook
                .search_with(q, &options)
                .await
                .expect("search")
                .is_empty(),
        );
    }
    times.sort();
    let n = set.questions.len() as f64;
    println!(
        "| {passages:>7} | {label:<26} | {:>8.3} | {:>8.3} | {:>6}/{} | {:>9.1} | {:>6.1} |",
        at1 as f64 / n,
        at5 as f64 / n,
        wrong,
        set.unanswerable.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
    );
}

/// Ingests a corpus of the sample plus `filler` passages and measures the given modes.
async fn run_size(filler: usize, embedder: Arc<dyn Embedder>, label: &str, bm25_too: bool) {
    let set: QuestionSet =
        serde_json::from_str(include_str!("../tests/handbook_questions.json")).expect("question set");
    let source = tempfile::tempdir().unwrap();
    let index = tempfile::tempdir().unwrap();
    corpus(source.path(), filler);
    let handbook = Handbook::new(index.path(), Some(embedder));
    let start = Instant::now();
    let report = handbook
        .ingest(source.path(), &ProgressBar::hidden())
        .await
        .expect("ingest");
    eprintln!(
        "ingest with {label}: {report} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let passages = report.passages_total;
    if bm25_too {
        measure(&handbook, &set, SearchMode::FullText, "BM25 alone", passages).await;
    }
    measure(
        &handbook,
        &set,
        SearchMode::Auto,
        &format!("hybrid ({label})"),
        passages,
    )
    .await;
}

fn configured_embedder() -> Option<(Arc<dyn Embedder>, String)> {
    let settings = Settings::load()
        .map_err(|e| eprintln!("settings: {e}; the configured embedder is left out"))
        .ok()?;
    let embedder = embedder_from_settings(&settings)
        .map_err(|e| eprintln!("embedder: {e}; left out"))
        .ok()??;
    let identity = embedder.identity();
    Some((embedder, identity))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let list = |name: &str| -> Option<Vec<usize>> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
    };
    let sizes = list("--sizes").unwrap_or_else(|| vec![0, 10_000, 100_000]);
    // A real model embeds every filler passage on the CPU: by default it is measured up to
    // 10,000 passages (`--configured-sizes` overrides).
    let configured_sizes = list("--configured-sizes").unwrap_or_else(|| vec![0, 10_000]);
    let configured = if args.iter().any(|a| a == "--skip-configured") {
        None
    } else {
        configured_embedder()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| passages | search                     | recall@1 | recall@5 | unrelated found | median ms | p95 ms |");
    println!("|---------:|----------------------------|---------:|---------:|-------:|----------:|-------:|");
    runtime.block_on(async {
        for &filler in &sizes {
            run_size(filler, Arc::new(HashEmbedder::default()), "trigram hash", true).await;
            if let Some((embedder, identity)) =
                configured.as_ref().filter(|_| configured_sizes.contains(&filler))
            {
                run_size(filler, embedder.clone(), identity, false).await;
            }
        }
    });
}
