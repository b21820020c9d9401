//! Files on tasks through the fake Telegram Bot API: a document sent with `/newtask` as its
//! caption ends on the new task, one sent alone is attached by a `/attach ID` reply; both
//! download byte-identical through the API, `/task ID` lists them and `/task ID files` sends
//! them back; oversize and disallowed files are refused with a clear reply and nothing stored;
//! the files go with their task. A WhatsApp document with `/attach ID` as its caption ends on
//! that task, fetched through the fake Graph API's media endpoints.

use std::time::Duration;

use serde_json::json;

use crate::fake_telegram::{document_update, reply_update, text_update, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};

const SECRET: &str = "files-secret";
const ANNA: i64 = 8301;
const WAIT: Duration = Duration::from_secs(15);
const MAX: u64 = 100_000;

both_dbs!(
    telegram_files_end_on_the_right_task_and_download_byte_identical,
    oversize_and_disallowed_files_are_refused_and_nothing_is_stored,
    whatsapp_documents_end_on_the_named_task,
);

async fn start(db: Db) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("FILES_MAX_BYTES", &MAX.to_string())
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna", "role": "member", "timezone": "Europe/Berlin",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);
    (app, fake)
}

/// Bytes that no encoding step leaves alone: every byte value, over and over.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Delivers `update` and returns the bot's next message.
async fn say(app: &TestApp, fake: &FakeTelegram, update: serde_json::Value) -> String {
    let before = fake.sent().len();
    app.deliver_telegram_ok(&update).await;
    let sent = fake.wait_for_sent(before + 1, WAIT).await;
    assert!(sent.len() > before, "no reply to {update}");
    sent[before].text.clone()
}

async fn download(app: &TestApp, task: i64, file: i64) -> (u16, String, Vec<u8>) {
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/tasks/{task}/files/{file}"),
            Some(crate::helpers::ADMIN_TOKEN),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

async fn telegram_files_end_on_the_right_task_and_download_byte_identical(db: Db) {
    let (app, fake) = start(db).await;
    let brief = bytes(50_000, 7);
    fake.set_file_path("doc-brief", "documents/brief.pdf");
    fake.set_file("documents/brief.pdf", brief.clone());
    let reply = say(
        &app,
        &fake,
        document_update(
            1,
            ANNA,
            ANNA,
            "doc-brief",
            "brief.pdf",
            "application/pdf",
            brief.len() as u64,
            Some("/newtask Review the brief"),
        ),
    )
    .await;
    assert!(reply.contains("Created #1: Review the brief"), "{reply}");
    assert!(
        reply.contains("Attached brief.pdf (49 KB) to #1 as file 1."),
        "{reply}"
    );

    // A picture sent alone, then attached by a reply.
    let photo = bytes(20_000, 99);
    fake.set_file_path("doc-photo", "documents/site.png");
    fake.set_file("documents/site.png", photo.clone());
    let reply = say(
        &app,
        &fake,
        document_update(
            2,
            ANNA,
            ANNA,
            "doc-photo",
            "site.png",
            "image/png",
            photo.len() as u64,
            None,
        ),
    )
    .await;
    assert!(reply.contains("reply to it with /attach ID"), "{reply}");
    let reply = say(&app, &fake, reply_update(3, ANNA, ANNA, 2, "/attach 1")).await;
    assert!(reply.contains("Attached site.png"), "{reply}");
    // The same reply again keeps one copy.
    say(&app, &fake, reply_update(4, ANNA, ANNA, 2, "/attach 1")).await;

    let files = app.get("/api/tasks/1/files").await;
    assert_eq!(files.status, 200);
    let files = files.body.as_array().unwrap().clone();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(
        (files[0]["name"].as_str(), files[0]["mime_type"].as_str()),
        (Some("brief.pdf"), Some("application/pdf"))
    );
    assert_eq!(files[1]["name"], "site.png");
    let (status, kind, got) = download(&app, 1, files[0]["id"].as_i64().unwrap()).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(got == brief, "the PDF came back changed");
    let (_, kind, got) = download(&app, 1, files[1]["id"].as_i64().unwrap()).await;
    assert_eq!(kind, "image/png");
    assert!(got == photo, "the picture came back changed");
    // A file of another task is not found under this one.
    assert_eq!(
        app.post("/api/tasks", json!({"title": "Other"})).await.status,
        201
    );
    assert_eq!(download(&app, 2, files[0]["id"].as_i64().unwrap()).await.0, 404);

    // Listed in chat, and sent back on request.
    for n in 1..=4 {
        let comment = json!({"task_id": 1, "content": format!("Round {n} of feedback")});
        assert_eq!(app.post("/api/comments", comment).await.status, 201);
    }
    let shown = say(&app, &fake, text_update(5, ANNA, ANNA, "/task 1")).await;
    assert!(shown.starts_with("#1 "), "{shown}");
    assert!(shown.contains("\nComments (4, the latest 3):\n"), "{shown}");
    assert!(!shown.contains("Round 1 of"), "{shown}");
    assert!(shown.contains(": Round 4 of feedback"), "{shown}");
    assert!(shown.contains("Files (2):"), "{shown}");
    assert!(shown.contains("brief.pdf (49 KB)"), "{shown}");
    let uploads_before = fake.uploads().len();
    app.deliver_telegram_ok(&text_update(6, ANNA, ANNA, "/task 1 files"))
        .await;
    let mut sent_back = Vec::new();
    for _ in 0..150 {
        sent_back = fake.uploads()[uploads_before..].to_vec();
        if sent_back.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sent_back.iter().any(|u| u.bytes == brief),
        "the PDF was not sent back"
    );
    assert!(
        sent_back.iter().any(|u| u.bytes == photo),
        "the picture was not sent back"
    );

    // Deleted with its task.
    let file_id = files[0]["id"].as_i64().unwrap();
    assert_eq!(
        app.call(reqwest::Method::DELETE, "/api/tasks/1", None)
            .await
            .status,
        204
    );
    assert_eq!(app.get("/api/tasks/1/files").await.status, 404);
    assert!(app.store.task_file(file_id).await.is_err());
}

async fn oversize_and_disallowed_files_are_refused_and_nothing_is_stored(db: Db) {
    let (app, fake) = start(db).await;
    assert_eq!(
        app.post("/api/tasks", json!({"title": "Launch"})).await.status,
        201
    );
    // Declared too large: refused before any download.
    let reply = say(
        &app,
        &fake,
        document_update(
            1,
            ANNA,
            ANNA,
            "doc-big",
            "video.mp4",
            "video/mp4",
            3 * MAX,
            Some("/attach 1"),
        ),
    )
    .await;
    assert!(
        reply.contains("video.mp4 is too large (293 KB): I keep files up to 98 KB"),
        "{reply}"
    );
    assert!(reply.contains("Nothing was stored"), "{reply}");
    assert!(fake.calls("getFile").is_empty());
    // Declared small, but larger when it comes: cut off at the limit.
    fake.set_file_path("doc-liar", "documents/big.pdf");
    fake.set_file("documents/big.pdf", bytes(MAX as usize + 10, 1));
    let reply = say(
        &app,
        &fake,
        document_update(
            2,
            ANNA,
            ANNA,
            "doc-liar",
            "big.pdf",
            "application/pdf",
            10,
            Some("/attach 1"),
        ),
    )
    .await;
    assert!(reply.contains("too large"), "{reply}");
    // A program is not kept.
    let reply = say(
        &app,
        &fake,
        document_update(
            3,
            ANNA,
            ANNA,
            "doc-exe",
            "setup.exe",
            "application/x-msdownload",
            1000,
            Some("/attach 1"),
        ),
    )
    .await;
    assert!(
        reply.contains("a kind of file I don't keep (application/x-msdownload)"),
        "{reply}"
    );
    // No task 9.
    let reply = say(
        &app,
        &fake,
        document_update(
            4,
            ANNA,
            ANNA,
            "doc-x",
            "a.pdf",
            "application/pdf",
            10,
            Some("/attach 9"),
        ),
    )
    .await;
    assert!(reply.contains("task 9 does not exist"), "{reply}");
    let files = app.get("/api/tasks/1/files").await.body;
    assert_eq!(files, json!([]));
}

async fn whatsapp_documents_end_on_the_named_task(db: Db) {
    use crate::fake_graph::{document_message, messages_from, sign, FakeGraph, PHONE_NUMBER_ID, TOKEN};
    const APP_SECRET: &str = "5a4b3c2d1e0f5a4b3c2d1e0f5a4b3c2d";
    const ANNA_WA: &str = "491709876543";
    let graph = FakeGraph::start().await;
    let app = TestApp::builder(db)
        .with("WHATSAPP_TOKEN", TOKEN)
        .with("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .with("WHATSAPP_APP_SECRET", APP_SECRET)
        .with("WHATSAPP_API_URL", &graph.url)
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna", "role": "member",
                      "identities": [{"channel": "whatsapp", "external_id": ANNA_WA}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);
    assert_eq!(
        app.post("/api/tasks", json!({"title": "Sign the contract"}))
            .await
            .status,
        201
    );
    let contract = bytes(30_000, 42);
    graph.add_media("2003383421387256", "application/pdf", contract.clone());
    let notification = messages_from(
        ANNA_WA,
        "Anna",
        vec![document_message(
            "wamid.DOC1",
            ANNA_WA,
            "2003383421387256",
            "contract.pdf",
            "/attach 1",
        )],
    );
    let payload = serde_json::to_vec(&notification).unwrap();
    let status = app
        .client
        .post(format!("{}/webhooks/whatsapp", app.base))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(APP_SECRET, &payload))
        .body(payload)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let sent = graph.wait_for_sent(1, WAIT).await;
    assert!(sent[0].text.contains("to #1 as file 1"), "{sent:?}");
    let files = app.get("/api/tasks/1/files").await.body;
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["mime_type"], "application/pdf");
    let (status, kind, got) = download(&app, 1, files[0]["id"].as_i64().unwrap()).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(got == contract, "the contract came back changed");
}
