//! Hybrid handbook search (BM25 fused with vectors): with the deterministic embedder, after a
//! change of embedder (which re-embeds), and with the OpenAI-compatible embedder against a fake
//! `POST /v1/embeddings` server on 127.0.0.1 speaking OpenAI's wire format.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use coordinator::config::Secret;
use coordinator::handbook::{
    EmbedError, Embedder, Handbook, HandbookError, HashEmbedder, OpenAiEmbedder, SearchMode, SearchOptions,
};
use indicatif::ProgressBar;
use serde_json::{json, Value};

use crate::handbook::{question_set, recall, sample_dir};

#[tokio::test]
async fn hybrid_search_with_the_deterministic_embedder() {
    let index = tempfile::tempdir().unwrap();
    let embedder: Arc<dyn Embedder> = Arc::new(HashEmbedder::default());
    let handbook = Handbook::new(index.path(), Some(embedder));
    let report = handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.rebuilt && report.added == 12, "{report}");

    let (at1, at5) = recall(&handbook, SearchMode::Auto).await;
    eprintln!("hybrid (hash embedder) recall@1 {at1:.2}, recall@5 {at5:.2}");
    assert!(at1 >= 0.6 && at5 >= 0.85, "recall@1 {at1}, recall@5 {at5}");

    let found = handbook
        .search("How many vacation days do we get?", 5)
        .await
        .unwrap();
    assert!(
        found[0].similarity.is_some() && found[0].bm25.is_some(),
        "{:?}",
        found[0]
    );
    // Best first by the fused score.
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score), "{found:#?}");

    // Misspelt words defeat the full-text index; their character trigrams still meet.
    let typo = "refnud aproval tresholds";
    let bm25 = SearchOptions {
        mode: SearchMode::FullText,
        keep_irrelevant: true,
        ..SearchOptions::new(5)
    };
    assert!(handbook.search_with(typo, &bm25).await.unwrap().is_empty());
    let hybrid = SearchOptions {
        keep_irrelevant: true,
        ..SearchOptions::new(5)
    };
    let found = handbook.search_with(typo, &hybrid).await.unwrap();
    assert!(
        found
            .iter()
            .any(|p| p.heading_path.last().map(String::as_str) == Some("Approval thresholds")),
        "{found:#?}"
    );

    // Unrelated questions still find nothing relevant with vectors on.
    let set = question_set();
    let wrongly: Vec<_> = {
        let mut v = Vec::new();
        for q in &set.unanswerable {
            if let Some(p) = handbook.search(q, 5).await.unwrap().first() {
                v.push(format!("{q} -> {} ({:?})", p.citation(), p.similarity));
            }
        }
        v
    };
    assert!(wrongly.len() <= 1, "{wrongly:#?}");
}

#[tokio::test]
async fn changing_the_embedder_reembeds() {
    let index = tempfile::tempdir().unwrap();
    let bar = ProgressBar::hidden();
    let wide: Arc<dyn Embedder> = Arc::new(HashEmbedder::new(256));
    let first = Handbook::new(index.path(), Some(wide));
    assert!(first.ingest(&sample_dir(), &bar).await.unwrap().rebuilt);
    let again = first.ingest(&sample_dir(), &bar).await.unwrap();
    assert!(
        !again.rebuilt && again.unchanged == 12 && again.passages_written == 0,
        "{again}"
    );

    // Another embedder: searches fall back to full text until the next ingest re-embeds.
    let narrow: Arc<dyn Embedder> = Arc::new(HashEmbedder::new(64));
    let second = Handbook::new(index.path(), Some(narrow));
    let found = second.search("quiet hours", 3).await.unwrap();
    assert!(!found.is_empty() && found.iter().all(|p| p.similarity.is_none()));
    let report = second.ingest(&sample_dir(), &bar).await.unwrap();
    assert!(
        report.rebuilt && report.added == 12 && report.unchanged == 0,
        "{report}"
    );
    let found = second.search("quiet hours", 3).await.unwrap();
    assert!(found.iter().any(|p| p.similarity.is_some()));

    // No embedder at all: the vectors go.
    let plain = Handbook::new(index.path(), None);
    assert!(plain.ingest(&sample_dir(), &bar).await.unwrap().rebuilt);
    let found = plain.search("quiet hours", 3).await.unwrap();
    assert!(found.iter().all(|p| p.similarity.is_none() && p.bm25.is_some()));
}

/// What the fake embeddings server saw, and how it should answer.
#[derive(Default)]
struct FakeOpenAi {
    requests: Mutex<Vec<(Option<String>, Value)>>,
    /// Answer this many next requests with 500.
    fail: AtomicUsize,
    /// Answer every request with 401 while set.
    unauthorized: AtomicUsize,
}

async fn embeddings(
    State(fake): State<Arc<FakeOpenAi>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    fake.requests.lock().unwrap().push((auth, body.clone()));
    if fake.unauthorized.load(Ordering::SeqCst) > 0 {
        let error = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    if fake.fail.load(Ordering::SeqCst) > 0 {
        fake.fail.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response();
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return (StatusCode::BAD_REQUEST, "bad input").into_response(),
    };
    let hash = HashEmbedder::new(96);
    // OpenAI may return the items in any order; each carries its index.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": hash.vector(text)}))
        .collect();
    Json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": 10, "total_tokens": 10}
    }))
    .into_response()
}

async fn fake_openai() -> (String, Arc<FakeOpenAi>) {
    let fake = Arc::new(FakeOpenAi::default());
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, fake)
}

#[tokio::test]
async fn openai_embedder_against_a_fake_server() {
    let (base, fake) = fake_openai().await;
    let embedder =
        OpenAiEmbedder::new(&base, Some(Secret::new("sk-test")), "text-embedding-3-small").unwrap();
    assert_eq!(embedder.identity(), "openai:text-embedding-3-small");
    let index = tempfile::tempdir().unwrap();
    let handbook = Handbook::new(index.path(), Some(Arc::new(embedder)));
    let report = handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.rebuilt && report.added == 12, "{report}");
    {
        let requests = fake.requests.lock().unwrap();
        assert!(
            requests.len() >= 13,
            "a probe, then at least one request per file"
        );
        for (auth, body) in requests.iter() {
            assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
            assert_eq!(body["model"], "text-embedding-3-small");
            assert!(body["input"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.len() <= 64));
        }
    }
    let found = handbook
        .search("How long does a new starter have a buddy?", 3)
        .await
        .unwrap();
    assert_eq!(found[0].citation(), "onboarding.md › Your buddy");
    assert!(found[0].similarity.is_some());

    // Two 500s are retried.
    fake.fail.store(2, Ordering::SeqCst);
    let found = handbook.search("two-factor authentication SMS", 3).await.unwrap();
    assert!(found[0].similarity.is_some(), "{found:?}");

    // A refused key: searches fall back to full text; an ingest that needs vectors fails
    // clearly and leaves the index as it was.
    fake.unauthorized.store(1, Ordering::SeqCst);
    let found = handbook.search("two-factor authentication SMS", 3).await.unwrap();
    assert!(!found.is_empty() && found[0].similarity.is_none());
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("new.md"), "# New\nA new page.\n").unwrap();
    let err = handbook
        .ingest(source.path(), &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HandbookError::Embedding(EmbedError::Refused { status: 401, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(
        handbook.search("new starter buddy", 1).await.unwrap()[0].file,
        "onboarding.md"
    );
}

/// The local sentence-transformers embedder on a real model folder, given by
/// `HANDBOOK_TEST_MODEL_DIR` (all-MiniLM-L6-v2: `scripts/fetch-embedding-model.sh` prints the
/// folder). Off CI an unset variable skips it with a note; on CI (`CI=true`) it fails.
#[cfg(feature = "local-embeddings")]
#[tokio::test]
async fn local_model_embeds_by_meaning() {
    use coordinator::handbook::answer;
    use coordinator::handbook::embed::cosine;
    use coordinator::handbook::local::LocalEmbedder;

    let Ok(dir) = std::env::var("HANDBOOK_TEST_MODEL_DIR") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true needs HANDBOOK_TEST_MODEL_DIR (scripts/fetch-embedding-model.sh)");
        }
        eprintln!("skipping: set HANDBOOK_TEST_MODEL_DIR to a sentence-transformers model folder");
        return;
    };
    let embedder = LocalEmbedder::new(std::path::Path::new(&dir)).unwrap();
    let texts = [
        "How many days of vacation do employees get?",
        "Full-time employees get 26 working days of paid leave per year.",
        "Launches happen Monday to Thursday before 14:00.",
    ]
    .map(str::to_owned);
    let v = embedder.embed(&texts).await.unwrap();
    assert_eq!(v.len(), 3);
    assert!((v[0].iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
    let related = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(related > unrelated + 0.2, "{related} vs {unrelated}");

    let index = tempfile::tempdir().unwrap();
    let handbook = Handbook::new(index.path(), Some(Arc::new(embedder)));
    handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    let found = handbook
        .search("how much time off do I get per year", 3)
        .await
        .unwrap();
    assert!(
        found.iter().any(|p| p.file == "leave-and-absence.md"),
        "{found:#?}"
    );

    // Clearly answered: quoted as the handbook's answer.
    let found = handbook
        .search("who approves a refund over 500 EUR?", 3)
        .await
        .unwrap();
    assert!(answer::is_sure(&found), "{found:#?}");
    let reply = answer::quote_answer("who approves a refund over 500 EUR?", &found);
    assert!(reply.starts_with("From the handbook:"), "{reply}");
    // A near miss (the handbook covers vacation and pay, not bonuses): the closest passages,
    // introduced as what may not answer it, rather than quoted as the answer.
    let found = handbook.search("do we get a year-end bonus?", 3).await.unwrap();
    assert!(!found.is_empty() && !answer::is_sure(&found), "{found:#?}");
    let reply = answer::quote_answer("do we get a year-end bonus?", &found);
    assert!(reply.starts_with(answer::NOT_SURE), "{reply}");
    assert!(reply.contains("— "), "still cited: {reply}");
}

/// The deterministic embedder, except that after the first call (the rebuild's probe) each call
/// waits until the test lets it go, or, when `fails`, fails: the rebuild stays under way, or
/// fails, where the test wants it.
struct HeldEmbedder {
    inner: HashEmbedder,
    calls: AtomicUsize,
    release: tokio::sync::Semaphore,
    fails: bool,
}

impl HeldEmbedder {
    fn new(fails: bool) -> Self {
        Self {
            inner: HashEmbedder::new(64),
            calls: AtomicUsize::new(0),
            release: tokio::sync::Semaphore::new(0),
            fails,
        }
    }
}

#[async_trait::async_trait]
impl Embedder for HeldEmbedder {
    fn identity(&self) -> String {
        "held".into()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) > 0 {
            if self.fails {
                return Err(EmbedError::Model("the model file is damaged".into()));
            }
            let _ = self.release.acquire().await.map(|p| p.forget());
        }
        self.inner.embed(texts).await
    }
}

/// While the first ingest builds the index, a search says "not indexed yet" instead of
/// "nothing found"; once it is done, it finds the answer.
#[tokio::test]
async fn a_search_during_a_rebuild_is_not_indexed_yet_rather_than_nothing_found() {
    let index = tempfile::tempdir().unwrap();
    let embedder = Arc::new(HeldEmbedder::new(false));
    let handbook = Handbook::new(index.path(), Some(embedder.clone()));
    let ingest = tokio::spawn({
        let handbook = handbook.clone();
        async move { handbook.ingest(&sample_dir(), &ProgressBar::hidden()).await }
    });
    while embedder.calls.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let during = handbook.search("who approves a refund of 1,200 EUR?", 3).await;
    assert!(matches!(during, Err(HandbookError::NotIndexed)), "{during:?}");

    embedder.release.add_permits(1_000_000);
    ingest.await.unwrap().unwrap();
    let after = handbook
        .search("who approves a refund of 1,200 EUR?", 3)
        .await
        .unwrap();
    assert_eq!(after[0].file, "refunds-and-approvals.md", "{after:#?}");
}

/// The `.lance` tables in an index folder.
fn tables_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lance"))
        .collect();
    names.sort();
    names
}

/// A handbook indexed by keywords only (no embedder), as a first start leaves it.
async fn keyword_index() -> (tempfile::TempDir, Handbook) {
    let index = tempfile::tempdir().unwrap();
    let handbook = Handbook::new(index.path(), None);
    handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    (index, handbook)
}

/// A rebuild for another embedder (the default model arriving after a first start indexed the
/// full text only) builds a new table beside the live one: searches meanwhile, here and in
/// another process, still answer from the old index, then from the new vectors. One old table
/// is kept; older ones go at the next rebuild.
#[tokio::test]
async fn a_search_during_a_rebuild_answers_from_the_old_index() {
    const QUESTION: &str = "who approves a refund of 1,200 EUR?";
    let (index, handbook) = keyword_index().await;
    let before = handbook.search(QUESTION, 3).await.unwrap();
    assert_eq!(before[0].file, "refunds-and-approvals.md", "{before:#?}");
    assert_eq!(before[0].similarity, None);

    let embedder = Arc::new(HeldEmbedder::new(false));
    handbook.set_embedder(embedder.clone());
    let ingest = tokio::spawn({
        let handbook = handbook.clone();
        async move { handbook.ingest(&sample_dir(), &ProgressBar::hidden()).await }
    });
    while embedder.calls.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        tables_in(index.path()).len(),
        2,
        "the new table is built beside the old"
    );
    let during = handbook.search(QUESTION, 3).await.unwrap();
    assert_eq!(during[0].file, "refunds-and-approvals.md", "{during:#?}");
    assert_eq!(during[0].similarity, None, "the old index has no vectors");
    // Another process reading the same folder, configured with the same model.
    let other = Handbook::new(index.path(), Some(embedder.clone()));
    let elsewhere = other.search(QUESTION, 3).await.unwrap();
    assert_eq!(elsewhere[0].file, "refunds-and-approvals.md", "{elsewhere:#?}");

    embedder.release.add_permits(1_000_000);
    let report = ingest.await.unwrap().unwrap();
    assert!(report.rebuilt && report.passages_total > 0, "{report}");
    let after = handbook.search(QUESTION, 3).await.unwrap();
    assert_eq!(after[0].file, "refunds-and-approvals.md", "{after:#?}");
    assert!(
        after[0].similarity.is_some(),
        "now from the new vectors: {:?}",
        after[0]
    );
    // The other process follows to the new table and its vectors.
    let followed = other.search(QUESTION, 3).await.unwrap();
    assert!(followed[0].similarity.is_some(), "{:?}", followed[0]);

    // Another embedder: a third table; the first is dropped, the one it replaces kept.
    let tables = tables_in(index.path());
    handbook.set_embedder(Arc::new(HashEmbedder::new(32)));
    let report = handbook
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.rebuilt, "{report}");
    let now = tables_in(index.path());
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        !now.contains(&tables[0]) && now.contains(&tables[1]),
        "{tables:?} → {now:?}"
    );
    // A restart with the handbook unchanged finds the index complete.
    let restarted = Handbook::new(index.path(), Some(Arc::new(HashEmbedder::new(32))));
    let again = restarted
        .ingest(&sample_dir(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!again.rebuilt && again.unchanged == again.files, "{again}");
}

/// A rebuild that fails leaves the live index as it was, and no half-built table behind.
#[tokio::test]
async fn a_failed_rebuild_keeps_the_old_index() {
    let (index, handbook) = keyword_index().await;
    let tables = tables_in(index.path());
    handbook.set_embedder(Arc::new(HeldEmbedder::new(true)));
    let failed = handbook.ingest(&sample_dir(), &ProgressBar::hidden()).await;
    assert!(matches!(failed, Err(HandbookError::Embedding(_))), "{failed:?}");
    assert_eq!(tables_in(index.path()), tables);
    let found = handbook
        .search_with("who approves a refund of 1,200 EUR?", &SearchOptions::new(3))
        .await
        .unwrap();
    assert_eq!(found[0].file, "refunds-and-approvals.md", "{found:#?}");
}
