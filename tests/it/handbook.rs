//! The handbook on a real LanceDB index in a temporary folder: chunking of the sample handbook,
//! incremental ingest (add, change, remove, unreadable files), BM25 search over the question
//! set with citations, "not found" for unrelated questions, bad queries. Hybrid search is in
//! `handbook_hybrid`, the command line and start-up in `handbook_cli`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use coordinator::handbook::{
    chunk_markdown, count_tokens, quote_answer, ChunkOptions, Embedder, Handbook, HandbookError, Passage,
    SearchMode, SearchOptions,
};
use indicatif::ProgressBar;
use serde::Deserialize;

pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("handbook")
}

#[derive(Deserialize)]
pub struct QuestionSet {
    pub questions: Vec<Question>,
    pub unanswerable: Vec<String>,
}

#[derive(Deserialize)]
pub struct Question {
    pub question: String,
    pub file: String,
    pub heading: String,
}

pub fn question_set() -> QuestionSet {
    serde_json::from_str(include_str!("../handbook_questions.json")).expect("question set")
}

fn answers(p: &Passage, q: &Question) -> bool {
    p.file == q.file && p.heading_path.last() == Some(&q.heading)
}

/// Recall@1 and recall@5 of `handbook` over the question set.
pub async fn recall(handbook: &Handbook, mode: SearchMode) -> (f64, f64) {
    let set = question_set();
    let (mut at1, mut at5) = (0, 0);
    for q in &set.questions {
        let options = SearchOptions {
            mode,
            ..SearchOptions::new(5)
        };
        let found = handbook.search_with(&q.question, &options).await.unwrap();
        at1 += usize::from(found.first().is_some_and(|p| answers(p, q)));
        let top5 = found.iter().any(|p| answers(p, q));
        if !top5 {
            eprintln!(
                "missed: {} -> {:?}",
                q.question,
                found.first().map(|p| p.citation())
            );
        }
        at5 += usize::from(top5);
    }
    let n = set.questions.len() as f64;
    (at1 as f64 / n, at5 as f64 / n)
}

async fn ingested(embedder: Option<Arc<dyn Embedder>>) -> (Handbook, tempfile::TempDir) {
    let index = tempfile::tempdir().unwrap();
    let handbook = Handbook::new(index.path().join("handbook"), embedder);
    let report = handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((report.files, report.added), (12, 12), "{report}");
    (handbook, index)
}

#[test]
fn sample_handbook_chunks_keep_headings_and_lines() {
    let options = ChunkOptions::default();
    let mut total = 0;
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let chunks = chunk_markdown(&text, &options);
        assert!(!chunks.is_empty(), "{path:?}");
        let title = lines[0].trim_start_matches("# ");
        for c in &chunks {
            assert_eq!(c.heading_path[0], title);
            assert!(count_tokens(&c.text) <= options.max_tokens, "{c:?}");
            assert!(c.line_start <= c.line_end && c.line_end <= lines.len());
            // The passage's first line is inside its line range.
            let first = c.text.lines().next().unwrap();
            assert!(
                lines[c.line_start - 1..c.line_end]
                    .iter()
                    .any(|l| l.contains(first.trim())),
                "{c:?}"
            );
        }
        total += chunks.len();
    }
    assert!(total > 100, "{total} passages");

    let text = std::fs::read_to_string(sample_dir().join("refunds-and-approvals.md")).unwrap();
    let chunks = chunk_markdown(&text, &options);
    let thresholds = chunks
        .iter()
        .find(|c| c.heading_path.last().map(String::as_str) == Some("Approval thresholds"))
        .unwrap();
    assert_eq!(
        thresholds.heading_path,
        [
            "Refunds and Approvals",
            "Refunds and credit notes",
            "Approval thresholds"
        ]
    );
    assert_eq!(thresholds.line_start, 16);
    assert!(thresholds
        .text
        .contains("| Under 500 EUR | The client's account manager |"));
}

#[tokio::test]
async fn ingest_is_incremental_add_change_remove() {
    let source = tempfile::tempdir().unwrap();
    let index = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = source.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "pets.md",
        "# Pets\n\n## Dogs\nDogs are welcome in the Lisbon office on Fridays.\n",
    );
    write("parking.md", "# Parking\nThe garage has twelve bicycle racks.\n");
    write(
        "team/kitchen.md",
        "# Kitchen\n## Coffee\nThe espresso machine is descaled every Monday.\n",
    );
    let handbook = Handbook::new(index.path(), None);
    let bar = ProgressBar::hidden();

    let first = handbook.ingest(source.path(), &bar).await.unwrap();
    assert_eq!(
        (first.files, first.added, first.passages_written),
        (3, 3, 3),
        "{first}"
    );
    let found = handbook.search("espresso machine descaled", 5).await.unwrap();
    assert_eq!(found[0].file, "team/kitchen.md");
    assert_eq!(found[0].citation(), "team/kitchen.md › Coffee");

    // Nothing changed: nothing is written.
    let again = handbook.ingest(source.path(), &bar).await.unwrap();
    assert_eq!((again.unchanged, again.passages_written), (3, 0), "{again}");
    assert_eq!(again.passages_total, 3);

    // A changed file replaces its passages; a removed one leaves the index.
    write(
        "pets.md",
        "# Pets\n\n## Cats\nCats stay at home.\n\n## Dogs\nDogs are not allowed.\n",
    );
    std::fs::remove_file(source.path().join("parking.md")).unwrap();
    let changed = handbook.ingest(source.path(), &bar).await.unwrap();
    assert_eq!(
        (
            changed.updated,
            changed.removed,
            changed.unchanged,
            changed.passages_written
        ),
        (1, 1, 1, 2),
        "{changed}"
    );
    assert_eq!(changed.passages_total, 3);
    assert!(handbook
        .search("bicycle racks garage", 5)
        .await
        .unwrap()
        .is_empty());
    assert!(handbook
        .search("Lisbon office Fridays dogs", 5)
        .await
        .unwrap()
        .iter()
        .all(|p| !p.text.contains("Fridays")));
    let cats = handbook.search("are cats allowed", 5).await.unwrap();
    assert_eq!(cats[0].citation(), "pets.md › Cats");
    assert_eq!((cats[0].line_start, cats[0].line_end), (3, 4));

    // A fresh handbook on the same index sees the same state (it is on disk).
    let reopened = Handbook::new(index.path(), None);
    assert_eq!(reopened.passage_count().await.unwrap(), 3);
    let report = reopened.ingest(source.path(), &bar).await.unwrap();
    assert_eq!(report.passages_written, 0);
}

#[tokio::test]
async fn unreadable_files_are_skipped_and_a_missing_folder_is_named() {
    let source = tempfile::tempdir().unwrap();
    let index = tempfile::tempdir().unwrap();
    std::fs::write(
        source.path().join("ok.md"),
        "# Fine\nReadable text about invoices.\n",
    )
    .unwrap();
    std::fs::write(source.path().join("binary.md"), b"# Bin\n\x00\x01\x02\x03").unwrap();
    std::fs::write(source.path().join("latin1.md"), b"# Caf\xe9\nna\xefve text\n").unwrap();
    std::fs::write(source.path().join("empty.md"), "  \n").unwrap();
    std::fs::write(source.path().join("notes.txt"), "not markdown").unwrap();
    std::fs::create_dir(source.path().join(".git")).unwrap();
    std::fs::write(source.path().join(".git/HEAD.md"), "# hidden").unwrap();
    let huge = "# Huge\n".to_owned() + &"word ".repeat(1_000_000);
    std::fs::write(source.path().join("huge.md"), huge).unwrap();
    let handbook = Handbook::new(index.path(), None);

    let report = handbook
        .ingest(source.path(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((report.files, report.added), (1, 1), "{report}");
    let mut skipped: Vec<(&str, &str)> = report
        .skipped
        .iter()
        .map(|(f, r)| (f.as_str(), r.as_str()))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("binary.md", "binary content"),
            ("empty.md", "empty"),
            ("huge.md", "larger than 4 MiB"),
            ("latin1.md", "not UTF-8 text"),
        ]
    );
    assert_eq!(handbook.search("invoices", 3).await.unwrap()[0].file, "ok.md");

    let missing = source.path().join("nope");
    let err = handbook
        .ingest(&missing, &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(matches!(err, HandbookError::FolderMissing(_)));
    assert!(
        err.to_string().contains("HANDBOOK_DIR") && err.is_bad_input(),
        "{err}"
    );
    // The index is untouched by the failed ingest.
    assert_eq!(handbook.passage_count().await.unwrap(), 1);
}

#[tokio::test]
async fn bm25_search_answers_the_question_set_with_citations() {
    let (handbook, _index) = ingested(None).await;
    let (at1, at5) = recall(&handbook, SearchMode::Auto).await;
    eprintln!("BM25 recall@1 {at1:.2}, recall@5 {at5:.2}");
    assert!(at1 >= 0.7 && at5 >= 0.9, "recall@1 {at1}, recall@5 {at5}");

    let found = handbook
        .search("Who approves a refund of 1,200 EUR?", 3)
        .await
        .unwrap();
    assert!(found
        .iter()
        .all(|p| p.relevant && p.bm25.is_some() && p.similarity.is_none()));
    let answer = quote_answer("Who approves a refund of 1,200 EUR?", &found);
    assert!(answer.starts_with("From the handbook:"), "{answer}");
    assert!(
        answer.contains("— refunds-and-approvals.md › Refunds and credit notes › Approval thresholds"),
        "{answer}"
    );
    assert!(
        answer.contains("> | 500 EUR to 2,000 EUR | Account manager and the director"),
        "{answer}"
    );
}

/// A section cut into several passages is one result: no search of the question set returns a
/// section twice, and where several of a section's passages ranked, the result covers their
/// lines and holds each one's text.
#[tokio::test]
async fn each_section_is_one_result() {
    let (handbook, _index) = ingested(None).await;
    let mut folded = 0;
    for q in &question_set().questions {
        let found = handbook.search(&q.question, 8).await.unwrap();
        let mut sections = std::collections::HashSet::new();
        for p in &found {
            assert!(
                sections.insert((&p.file, &p.heading_path)),
                "{}: {} twice",
                q.question,
                p.citation()
            );
            let text = std::fs::read_to_string(sample_dir().join(&p.file)).unwrap();
            let chunks = chunk_markdown(&text, &ChunkOptions::default());
            let span = |c: &coordinator::handbook::Chunk| (c.line_start as u32, c.line_end as u32);
            if chunks.iter().any(|c| span(c) == (p.line_start, p.line_end)) {
                continue;
            }
            folded += 1;
            let inside: Vec<_> = chunks
                .iter()
                .filter(|c| {
                    c.heading_path == p.heading_path && span(c).0 >= p.line_start && span(c).1 <= p.line_end
                })
                .collect();
            assert!(inside.len() >= 2, "{}: {p:?}", q.question);
            for end in [inside[0], inside[inside.len() - 1]] {
                assert!(p.text.contains(&end.text), "{}: {p:?} lacks {end:?}", q.question);
            }
        }
    }
    assert!(folded > 0, "no search ranked two passages of one section");
}

/// Without vectors the "nothing found" threshold favours answering: every answerable question
/// of the set finds something, and at least half of the unrelated ones find nothing.
#[tokio::test]
async fn unrelated_questions_find_nothing() {
    let (handbook, _index) = ingested(None).await;
    let set = question_set();
    let mut refused = Vec::new();
    for q in &set.questions {
        if handbook.search(&q.question, 5).await.unwrap().is_empty() {
            refused.push(q.question.clone());
        }
    }
    assert!(refused.is_empty(), "{refused:#?}");
    let mut wrongly_found = Vec::new();
    for question in &set.unanswerable {
        let found = handbook.search(question, 5).await.unwrap();
        if let Some(p) = found.first() {
            wrongly_found.push(format!("{question} -> {} ({:.2})", p.citation(), p.relevance));
        } else {
            let answer = quote_answer(question, &found);
            assert!(answer.starts_with("I found nothing in the handbook"), "{answer}");
        }
    }
    assert!(
        wrongly_found.len() <= set.unanswerable.len() / 2,
        "{wrongly_found:#?}"
    );
}

#[tokio::test]
async fn bad_queries_are_refused_and_search_before_ingest_says_not_indexed() {
    let index = tempfile::tempdir().unwrap();
    let empty = Handbook::new(index.path(), None);
    assert!(matches!(
        empty.search("refunds", 5).await,
        Err(HandbookError::NotIndexed)
    ));
    assert_eq!(empty.passage_count().await.unwrap(), 0);

    let (handbook, _index) = ingested(None).await;
    assert!(matches!(
        handbook.search("   ", 5).await,
        Err(HandbookError::EmptyQuery)
    ));
    let huge = "refund ".repeat(500);
    let err = handbook.search(&huge, 5).await.unwrap_err();
    assert!(
        matches!(err, HandbookError::QueryTooLong { max_chars: 1000 }),
        "{err}"
    );
    for odd in [
        "???",
        "what is the",
        "\u{0}\u{1}",
        "'; DROP TABLE passages; --",
        "ΑΒΓ 漢字 🙂",
    ] {
        let found = handbook.search(odd, 5).await.unwrap();
        assert!(found.is_empty(), "{odd}: {found:?}");
    }
    // k is clamped, never an error.
    assert!(handbook.search("refund approval", 0).await.unwrap().len() <= 1);
    assert!(handbook.search("refund approval", 10_000).await.unwrap().len() <= 50);
}

/// Every answer named by the evaluation sets the handbook benchmark measures (the file and the
/// innermost heading of the passage, and its `also` places) is a section the chunker finds, so
/// that a miss in the benchmark is a miss of the search, not of the set.
#[test]
fn the_evaluation_sets_name_sections_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "handbook_questions.json",
        "handbook_questions_unseen.json",
        "osio_questions.json",
        "osio_questions_unseen.json",
    ] {
        let text = std::fs::read_to_string(root.join("tests").join(name)).unwrap();
        let set: serde_json::Value = serde_json::from_str(&text).expect(name);
        let folder = root.join(set["handbook"].as_str().unwrap_or("handbook"));
        let questions = set["questions"].as_array().expect(name);
        assert!(questions.len() >= 60, "{name}: {}", questions.len());
        for q in questions {
            let also = q["also"].as_array().cloned().unwrap_or_default();
            for place in std::iter::once(q).chain(&also) {
                let (file, heading) = (
                    place["file"].as_str().unwrap(),
                    place["heading"].as_str().unwrap(),
                );
                let text = std::fs::read_to_string(folder.join(file))
                    .unwrap_or_else(|e| panic!("{name}: {file}: {e}"));
                let found = chunk_markdown(&text, &ChunkOptions::default())
                    .iter()
                    .any(|c| c.heading_path.last().map(String::as_str) == Some(heading));
                assert!(
                    found,
                    "{name}: {file} has no section {heading:?} ({})",
                    q["question"]
                );
            }
        }
    }
}
