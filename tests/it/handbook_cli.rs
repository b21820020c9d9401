//! The handbook from outside: `coordinator handbook ingest|search` as a child process (output,
//! exit codes), and the service indexing the handbook in the background when it starts.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use coordinator::app::App;
use coordinator::config::Settings;
use tokio_util::sync::CancellationToken;

use crate::handbook::sample_dir;
use crate::helpers::{both_dbs, fresh_database, Db};

fn coordinator(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("COORDINATOR_DATA_DIR", dir.join("data"))
        .env("HANDBOOK_MODEL_URL", "off")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn coordinator_handbook_ingest_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let out = coordinator(dir.path(), &["handbook", "ingest", sample.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("12 files: 12 added"), "{stdout}");
    assert!(dir.path().join("data/handbook").is_dir());

    let out = coordinator(
        dir.path(),
        &[
            "handbook",
            "search",
            "who approves a refund over 2000 EUR",
            "--k",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Nothing from the index library's own warnings reaches the terminal.
    assert!(
        !text(&out.stderr).to_lowercase().contains("deprecat"),
        "{}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "1. refunds-and-approvals.md › Refunds and credit notes › Approval thresholds  (lines 16-"
        ),
        "{stdout}"
    );
    assert!(first.contains(", score "), "{first}");
    assert!(
        stdout.contains("   | 500 EUR to 2,000 EUR | Account manager and the director"),
        "{stdout}"
    );
    assert!(stdout.lines().filter(|l| l.starts_with(char::is_numeric)).count() <= 3);

    let out = coordinator(dir.path(), &["handbook", "search", "how do I cook risotto"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("I found nothing in the handbook"),
        "{}",
        text(&out.stdout)
    );

    // Ingesting again changes nothing.
    let out = coordinator(dir.path(), &["handbook", "ingest", sample.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("12 unchanged"),
        "{}",
        text(&out.stdout)
    );
}

/// A newcomer's first `handbook search`, before any ingest, indexes `./handbook` first.
#[test]
fn a_first_search_indexes_the_handbook_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("handbook");
    std::fs::create_dir(&folder).unwrap();
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            std::fs::copy(&path, folder.join(path.file_name().unwrap())).unwrap();
        }
    }
    let out = coordinator(
        dir.path(),
        &["handbook", "search", "who approves a refund over 2000 EUR"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the handbook is not indexed yet: indexing"),
        "{stderr}"
    );
    assert!(stderr.contains("12 files: 12 added"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("1. refunds-and-approvals.md › Refunds and credit notes › Approval thresholds"),
        "{stdout}"
    );
    // The next search uses that index.
    let out = coordinator(dir.path(), &["handbook", "search", "refund approval"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("indexing"), "{}", text(&out.stderr));
}

#[test]
fn handbook_commands_refuse_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // The default folder is ./handbook, which does not exist here.
    let out = coordinator(dir.path(), &["handbook", "ingest"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("handbook does not exist") && err.contains("HANDBOOK_DIR"),
        "{err}"
    );

    let out = coordinator(dir.path(), &["handbook", "search", "  "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the question is empty"));
    let long = "x".repeat(1001);
    assert_eq!(
        coordinator(dir.path(), &["handbook", "search", &long])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        coordinator(dir.path(), &["handbook", "search", "refunds", "--k", "0"])
            .status
            .code(),
        Some(2)
    );

    // Searching before any ingest, with no handbook folder to index, is a clear failure.
    let out = coordinator(dir.path(), &["handbook", "search", "refunds"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not been indexed yet"),
        "{}",
        text(&out.stderr)
    );
}

async fn service_indexes_the_handbook_on_start(db: Db) {
    let (url, dir) = fresh_database(db).await;
    let data = dir.path().join("data");
    let sample = sample_dir();
    let settings = Settings::with(&[
        ("DATABASE_URL", url.as_str()),
        ("COORDINATOR_DATA_DIR", data.to_str().unwrap()),
        ("HANDBOOK_DIR", sample.to_str().unwrap()),
    ])
    .unwrap();
    let app = App::build(settings).await.unwrap();
    let handbook = app.handbook.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    assert!(handbook.wait_for_ingest(Duration::from_secs(120)).await);
    let found = handbook.search("What are the quiet hours?", 3).await.unwrap();
    assert_eq!(found[0].citation(), "escalation-policy.md › Quiet hours");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

both_dbs!(service_indexes_the_handbook_on_start);

/// A service on SQLite in `dir` with the sample handbook, keywords only.
fn sample_settings(dir: &std::path::Path) -> Settings {
    let db = format!("sqlite://{}/db.sqlite", dir.display());
    let data = dir.join("data");
    let sample = sample_dir();
    Settings::with(&[
        ("DATABASE_URL", db.as_str()),
        ("COORDINATOR_DATA_DIR", data.to_str().unwrap()),
        ("HANDBOOK_DIR", sample.to_str().unwrap()),
        ("HANDBOOK_MODEL_URL", "off"),
    ])
    .unwrap()
}

/// The service as `coordinator serve` runs it: the start-up ingest in a child process. The
/// server's own process never opens the index until the first search, and still knows what the
/// ingest did; a restart with the folder unchanged starts no child.
#[tokio::test]
async fn the_start_up_ingest_runs_in_a_child_process() {
    let dir = tempfile::tempdir().unwrap();
    for start in ["first", "restart"] {
        let app = App::build(sample_settings(dir.path()))
            .await
            .unwrap()
            .with_ingest_child(env!("CARGO_BIN_EXE_coordinator").into());
        let handbook = app.handbook.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
        assert!(handbook.wait_for_ingest(Duration::from_secs(120)).await);
        assert!(handbook.last_ingest_failure().is_none(), "{start}");
        let (_, report) = handbook.last_ingest().expect("the child's report is recorded");
        assert_eq!(report.files, 12, "{start}: {report}");
        let expected_added = if start == "first" { 12 } else { 0 };
        assert_eq!(report.added, expected_added, "{start}: {report}");
        assert!(report.passages_total > 100, "{start}: {report}");
        assert!(
            !handbook.index_opened(),
            "{start}: the server opened the index itself"
        );
        let found = handbook.search("What are the quiet hours?", 3).await.unwrap();
        assert_eq!(found[0].citation(), "escalation-policy.md › Quiet hours");
        assert!(handbook.index_opened());
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }
}

/// An executable that cannot be started does not leave the handbook unindexed.
#[tokio::test]
async fn without_a_child_the_server_indexes_the_handbook_itself() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(sample_settings(dir.path()))
        .await
        .unwrap()
        .with_ingest_child(dir.path().join("no-such-coordinator"));
    let handbook = app.handbook.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    assert!(handbook.wait_for_ingest(Duration::from_secs(120)).await);
    let (_, report) = handbook.last_ingest().expect("indexed here instead");
    assert_eq!(report.added, 12, "{report}");
    assert!(handbook.index_opened());
    shutdown.cancel();
    server.await.unwrap().unwrap();
}
