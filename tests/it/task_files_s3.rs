//! Files on tasks in an S3-compatible bucket (`FILES_S3_*`), against a real S3 server on
//! 127.0.0.1: moto in server mode (`pip install 'moto[server]'`; `.ci/run` installs it). A
//! document sent on Telegram with `/newtask` as its caption is stored as an object
//! `tasks/{task}/{sha256}`, downloads byte-identical through the API, and deleting the task
//! deletes the object. Without moto the test is skipped with a note, except under `CI=true`,
//! where it fails.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::fake_telegram::{document_update, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};

both_dbs!(files_go_to_the_bucket_come_back_identical_and_go_with_their_task,);

const SECRET: &str = "s3-files-secret";
const ANNA: i64 = 8302;
const BUCKET: &str = "coordinator-files";

/// A moto S3 server of this test's own, stopped when dropped.
struct Moto {
    url: String,
    _process: tokio::process::Child,
}

impl Moto {
    /// Starts `moto_server` on a free port; `None` (with a note) when it is not installed and
    /// `CI` is not `true`.
    async fn start() -> Option<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spawned = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let process = match spawned {
            Ok(process) => process,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("moto_server cannot be started ({e}); CI=true requires it: pip install 'moto[server]'");
                }
                eprintln!(
                    "skipping the S3 test: moto_server cannot be started ({e}); pip install 'moto[server]'"
                );
                return None;
            }
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{url}/moto-api/")).send().await.is_ok() {
                return Some(Moto {
                    url,
                    _process: process,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {url} within 30 s");
    }

    /// The object `key` of the bucket, as S3 answers a GET (moto checks no signature, but
    /// refuses an anonymous read).
    async fn object(&self, key: &str) -> (u16, Vec<u8>) {
        let response = reqwest::Client::new()
            .get(format!("{}/{BUCKET}/{key}", self.url))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=00",
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

async fn files_go_to_the_bucket_come_back_identical_and_go_with_their_task(db: Db) {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let created = reqwest::Client::new()
        .put(format!("{}/{BUCKET}", moto.url))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let fake = FakeTelegram::start().await;
    let app: TestApp = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("FILES_S3_BUCKET", BUCKET)
        .with("FILES_S3_ENDPOINT", &moto.url)
        .with("FILES_S3_REGION", "us-east-1")
        .with("FILES_S3_ACCESS_KEY_ID", "test-key-id")
        .with("FILES_S3_SECRET_ACCESS_KEY", "test-secret")
        .with("FILES_S3_PATH_STYLE", "true")
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna", "role": "member",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);

    let brief: Vec<u8> = (0..60_000u32).map(|i| (i * 31 + 7) as u8).collect();
    fake.set_file_path("doc-brief", "documents/brief.pdf");
    fake.set_file("documents/brief.pdf", brief.clone());
    let update = document_update(
        1,
        ANNA,
        ANNA,
        "doc-brief",
        "brief.pdf",
        "application/pdf",
        brief.len() as u64,
        Some("/newtask Review the brief"),
    );
    app.deliver_telegram_ok(&update).await;
    let sent = fake.wait_for_sent(1, Duration::from_secs(15)).await;
    assert!(
        sent.first()
            .is_some_and(|m| m.text.contains("Attached brief.pdf (59 KB) to #1 as file 1.")),
        "{sent:?}"
    );

    let files = app.get("/api/tasks/1/files").await.body;
    let sha256 = files[0]["sha256"].as_str().unwrap().to_owned();
    let key = format!("tasks/1/{sha256}");
    let (status, stored) = moto.object(&key).await;
    assert_eq!(status, 200, "no object {key} in the bucket");
    assert!(stored == brief, "the object differs from what was sent");
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/tasks/1/files/1",
            Some(crate::helpers::ADMIN_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.bytes().await.unwrap().as_ref() == brief.as_slice(),
        "the download differs from what was sent"
    );

    assert_eq!(
        app.call(reqwest::Method::DELETE, "/api/tasks/1", None)
            .await
            .status,
        204
    );
    assert_eq!(moto.object(&key).await.0, 404, "the object outlived its task");
}
