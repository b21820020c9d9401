//! Handbook retrieval quality and speed. The question set (`tests/handbook_questions.json`:
//! questions over the sample handbook, each with the file and heading of the answering passage,
//! plus questions the handbook does not cover) is asked of an index holding the sample handbook
//! alone, and then grown with synthetic filler passages to about 10,000 and 100,000 passages.
//! Filler is made of the handbook's own vocabulary in random order, so it competes for the same
//! words. Everything goes through the real path: files on disk, `Handbook::ingest`, LanceDB.
//!
//! For each size it reports recall@1 and recall@5, how many answerable, unanswerable (near
//! misses) and off-topic questions got "nothing found", how many of the answerable and
//! unanswerable ones got passages with the caveat that they may not answer it (no passage
//! sure, `handbook::answer::NOT_SURE`), and the median and 95th-percentile
//! latency of `Handbook::search` (k = 5), for BM25 alone and for hybrid search (BM25 + vectors, fused by reciprocal rank).
//! Hybrid uses the deterministic trigram embedder; when the settings configure a real embedder
//! (`HANDBOOK_EMBEDDING_MODEL_DIR` or `OPENAI_EMBEDDING_MODEL`), it is measured as well.
//!
//! Run with `cargo bench --bench handbook`; `-- --sizes 0,10000` picks the filler sizes (0 is the
//! sample alone), `-- --configured-sizes 0,10000` those at which the configured embedder is
//! measured (embedding filler with a real model is slow), and `-- --skip-configured` leaves it
//! out. With the local model: `HANDBOOK_EMBEDDING_MODEL_DIR=$(scripts/fetch-embedding-model.sh)`.
//! `-- --dump FILE` writes every candidate (scores and text) of every question, which
//! `scripts/handbook-answerability.py` reads to measure "nothing found" signals offline.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::config::Settings;
use coordinator::handbook::{
    embedder_from_settings, ChunkOptions, Embedder, Handbook, HashEmbedder, Passage, SearchMode,
    SearchOptions,
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
    /// The handbook folder the set is about, relative to the crate (the sample by default).
    #[serde(default = "sample_folder")]
    handbook: String,
    questions: Vec<Question>,
    unanswerable: Vec<Unanswerable>,
    /// Questions about something else entirely (the weather, a poem): the bot must stay quiet on
    /// them too. Counted apart, so that they do not flatter the near misses above.
    #[serde(default)]
    off_topic: Vec<String>,
}

fn sample_folder() -> String {
    "handbook".into()
}

#[derive(Deserialize)]
struct Question {
    question: String,
    file: String,
    heading: String,
    /// Other places that answer the question as well.
    #[serde(default)]
    also: Vec<Place>,
    /// `dev` (thresholds and weights may be chosen on it) or `test` (only measured).
    #[serde(default)]
    split: Option<String>,
}

#[derive(Deserialize)]
struct Place {
    file: String,
    heading: String,
}

/// An unanswerable question: plain text, or an object with the text and its split.
#[derive(Deserialize)]
#[serde(untagged)]
enum Unanswerable {
    Text(String),
    Entry {
        question: String,
        #[serde(default)]
        split: Option<String>,
    },
}

impl Unanswerable {
    fn text(&self) -> &str {
        match self {
            Self::Text(q) | Self::Entry { question: q, .. } => q,
        }
    }

    fn split(&self) -> Option<&str> {
        match self {
            Self::Text(_) => None,
            Self::Entry { split, .. } => split.as_deref(),
        }
    }
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

/// The handbook in `folder` (copied, subfolders too) plus `filler` generated passages under `filler/`.
fn corpus(folder: &Path, dir: &Path, filler: usize) {
    copy_tree(folder, dir);
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

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn answers(p: &Passage, q: &Question) -> bool {
    let at = |file: &str, heading: &str| {
        p.file == file && p.heading_path.last().map(String::as_str) == Some(heading)
    };
    at(&q.file, &q.heading) || q.also.iter().any(|a| at(&a.file, &a.heading))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// A question set as named on the command line: `sample`, `osio`, or a path.
fn load_set(name: &str) -> (String, QuestionSet) {
    let path = match name {
        "sample" => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/handbook_questions.json"),
        "osio" => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/osio_questions.json"),
        other => Path::new(other).to_owned(),
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let set = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (name.to_owned(), set)
}

/// Keeps the questions of `split` (`all` keeps every one).
fn only_split(mut set: QuestionSet, split: &str) -> QuestionSet {
    if split != "all" {
        set.questions
            .retain(|q| q.split.as_deref().is_none_or(|s| s == split));
        set.unanswerable.retain(|q| match q {
            Unanswerable::Entry { split: Some(s), .. } => s == split,
            _ => true,
        });
    }
    set
}

/// One row of the table: quality and latency of `mode` on `handbook`.
async fn measure(handbook: &Handbook, set: &QuestionSet, mode: SearchMode, row: &str) {
    let options = SearchOptions {
        mode,
        ..SearchOptions::new(5)
    };
    // Warm-up: the first search of an index reads its passages (postings, vectors, term
    // statistics); later ones reuse them until the table changes.
    let start = Instant::now();
    let _ = handbook.search_with("warm up the index", &options).await;
    eprintln!(
        "{}: first search {:.1} ms",
        row.trim(),
        start.elapsed().as_secs_f64() * 1e3
    );
    let (mut at1, mut at5, mut refused, mut quiet, mut off_topic_quiet) = (0, 0, 0, 0, 0);
    let (mut answerable_unsure, mut unanswerable_unsure) = (0, 0);
    let unsure = |found: &[Passage]| !found.is_empty() && !coordinator::handbook::answer::is_sure(found);
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
        refused += usize::from(found.is_empty());
        answerable_unsure += usize::from(unsure(&found));
    }
    for q in &set.unanswerable {
        let found = handbook.search_with(q.text(), &options).await.expect("search");
        quiet += usize::from(found.is_empty());
        unanswerable_unsure += usize::from(unsure(&found));
    }
    for q in &set.off_topic {
        let found = handbook.search_with(q, &options).await.expect("search");
        off_topic_quiet += usize::from(found.is_empty());
    }
    times.sort();
    let n = set.questions.len() as f64;
    println!(
        "| {row} | {:>8.3} | {:>8.3} | {:>3}/{:<3} | {:>3}/{:<3} | {:>3}/{:<3} | {:>3}/{:<3} | {:>3}/{:<3} | {:>9.1} | {:>6.1} |",
        at1 as f64 / n,
        at5 as f64 / n,
        refused,
        set.questions.len(),
        answerable_unsure,
        set.questions.len(),
        quiet,
        set.unanswerable.len(),
        unanswerable_unsure,
        set.unanswerable.len(),
        off_topic_quiet,
        set.off_topic.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
    );
}

/// Every candidate of every question with its scores, one JSON object per line, for
/// choosing the fusion weights and the "nothing found" threshold offline.
async fn dump(handbook: &Handbook, set_name: &str, set: &QuestionSet, out: &mut impl std::io::Write) {
    let options = SearchOptions {
        keep_irrelevant: true,
        ..SearchOptions::new(coordinator::handbook::MAX_K)
    };
    let candidates = |found: Vec<Passage>| -> Vec<serde_json::Value> {
        found
            .iter()
            .map(|p| {
                serde_json::json!({
                    "file": p.file, "heading": p.heading_path.last(), "bm25": p.bm25,
                    "similarity": p.similarity, "closest": p.closest, "relevance": p.relevance, "score": p.score,
                    "relevant": p.relevant, "sure": p.sure,
                    "lines": [p.line_start, p.line_end], "path": p.heading_path, "text": p.text,
                })
            })
            .collect()
    };
    for q in &set.questions {
        let found = handbook.search_with(&q.question, &options).await.expect("search");
        let mut expected = vec![format!("{}#{}", q.file, q.heading)];
        expected.extend(q.also.iter().map(|a| format!("{}#{}", a.file, a.heading)));
        let line = serde_json::json!({
            "set": set_name, "question": q.question, "split": q.split, "answerable": true,
            "expected": expected, "candidates": candidates(found),
        });
        writeln!(out, "{line}").unwrap();
    }
    let unanswerable = set.unanswerable.iter().map(|q| (q.text(), q.split(), false));
    let off_topic = set.off_topic.iter().map(|q| (q.as_str(), None, true));
    for (question, split, off_topic) in unanswerable.chain(off_topic) {
        let found = handbook.search_with(question, &options).await.expect("search");
        let line = serde_json::json!({
            "set": set_name, "question": question, "split": split, "answerable": false,
            "off_topic": off_topic, "candidates": candidates(found),
        });
        writeln!(out, "{line}").unwrap();
    }
}

/// Ingests `folder` plus `filler` generated passages with `embedder`.
async fn ingested(
    folder: &Path,
    filler: usize,
    embedder: Arc<dyn Embedder>,
    label: &str,
) -> (Handbook, usize, [tempfile::TempDir; 2]) {
    let source = tempfile::tempdir().unwrap();
    let index = tempfile::tempdir().unwrap();
    corpus(folder, source.path(), filler);
    let chunking = std::env::var("HANDBOOK_BENCH_MAX_TOKENS")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or_else(ChunkOptions::default, |max_tokens| ChunkOptions {
            max_tokens,
            ..ChunkOptions::default()
        });
    let handbook = Handbook::with_chunking(index.path(), Some(embedder), chunking);
    let start = Instant::now();
    let report = handbook
        .ingest(source.path(), &ProgressBar::hidden())
        .await
        .expect("ingest");
    eprintln!(
        "ingest with {label}: {report} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    (handbook, report.passages_total, [source, index])
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
    // As the service does, before any thread is started.
    coordinator::handbook::settle_thread_count();
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let list = |name: &str| -> Option<Vec<usize>> {
        value(name).map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
    };
    let sets: Vec<(String, QuestionSet)> = value("--sets")
        .unwrap_or_else(|| "sample,osio".into())
        .split(',')
        .map(|name| load_set(name.trim()))
        .collect();
    let split = value("--split").unwrap_or_else(|| "all".into());
    let sizes = list("--sizes").unwrap_or_else(|| vec![0, 10_000, 100_000]);
    // A real model embeds every filler passage on the CPU: by default it is measured up to
    // 10,000 passages (`--configured-sizes` overrides).
    let configured_sizes = list("--configured-sizes").unwrap_or_else(|| vec![0, 10_000]);
    let configured = if args.iter().any(|a| a == "--skip-configured") {
        None
    } else {
        configured_embedder()
    };
    let mut dump_to = value("--dump").map(|p| std::fs::File::create(p).expect("dump file"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| set    | passages | embedder                           | search  | recall@1 | recall@5 | answerable: nothing found | answerable: not sure | unanswerable: nothing found | unanswerable: not sure | off-topic: nothing found | median ms | p95 ms |");
    println!("|--------|---------:|------------------------------------|---------|---------:|---------:|--------:|--------:|--------:|--------:|--------:|----------:|-------:|");
    runtime.block_on(async {
        for (name, set) in sets {
            let set = only_split(set, &split);
            let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(&set.handbook);
            // Filler grows the sample only: it is made of the sample's words.
            let sizes: Vec<usize> = if name == "sample" { sizes.clone() } else { vec![0] };
            for &filler in &sizes {
                let mut embedders: Vec<(Arc<dyn Embedder>, String)> = Vec::new();
                if let Some(c) = configured.as_ref().filter(|_| configured_sizes.contains(&filler)) {
                    embedders.push(c.clone());
                }
                if embedders.is_empty() {
                    embedders.push((Arc::new(HashEmbedder::default()), "trigram hash".into()));
                }
                for (embedder, label) in embedders {
                    let (handbook, passages, _dirs) = ingested(&folder, filler, embedder, &label).await;
                    let label: String = label.chars().take(34).collect();
                    for (mode, stage) in [
                        (SearchMode::FullText, "BM25"),
                        (SearchMode::Vector, "vector"),
                        (SearchMode::Auto, "fused"),
                    ] {
                        let row = format!("{name:<6} | {passages:>8} | {label:<34} | {stage:<7}");
                        measure(&handbook, &set, mode, &row).await;
                    }
                    if let Some(out) = dump_to.as_mut().filter(|_| filler == 0) {
                        dump(&handbook, &name, &set, out).await;
                    }
                }
            }
        }
    });
}
