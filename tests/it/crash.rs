//! A real `coordinator serve` child process killed with SIGKILL between storing updates and
//! delivering their replies: after a restart each reply is delivered, once.
//!
//! Telegram's `sendMessage` has no idempotency key, so a send that the platform accepted in the
//! very instant the process died cannot be told apart from one it never got; to test the
//! promise (stored → delivered once), the platform refuses every first attempt with a 429, so
//! no reply is accepted before the kill, while the kill still lands at a random point of the
//! inbox and outbox work.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::fake_telegram::{text_update, Failure, FakeTelegram};
use crate::helpers::deliver_telegram_to;

const SECRET: &str = "crash-secret";
const TOKEN: &str = "crash-admin";

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(dir: &std::path::Path, fake: &FakeTelegram) -> Service {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .current_dir(dir)
        .env_clear()
        .env("COORDINATOR_ADDR", format!("127.0.0.1:{port}"))
        .env("HANDBOOK_MODEL_URL", "off")
        .env("COORDINATOR_API_TOKEN", TOKEN)
        .env("TELEGRAM_BOT_TOKEN", &fake.token)
        .env("TELEGRAM_API_URL", &fake.url)
        .env("TELEGRAM_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..150 {
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Service { child, base };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the service did not come up");
}

async fn tasks(client: &reqwest::Client, base: &str) -> Vec<serde_json::Value> {
    let reply = client
        .get(format!("{base}/api/tasks?limit=500"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    reply.json::<Vec<serde_json::Value>>().await.unwrap()
}

#[tokio::test]
async fn killed_between_store_and_reply_replies_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTelegram::start().await;
    let client = reqwest::Client::new();
    let service = start(dir.path(), &fake).await;
    let people: Vec<i64> = (1..=6).collect();
    for id in &people {
        let person = json!({"handle": format!("p{id}"), "name": format!("P{id}"),
            "identities": [{"channel": "telegram", "external_id": id.to_string()}]});
        let r = client
            .post(format!("{}/api/people", service.base))
            .bearer_auth(TOKEN)
            .json(&person)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // Every first attempt is refused with a 429, so the replies sit in the outbox when the
    // process dies.
    fake.fail_next("sendMessage", (0..6).map(|_| Failure::RetryAfter(2)).collect());
    let first = text_update(1, 1, 1, "/newtask Survive the crash");
    assert_eq!(
        deliver_telegram_to(&client, &service.base, SECRET, &first).await,
        200
    );
    fake.wait_for_calls("sendMessage", 1, Duration::from_secs(10))
        .await;
    // A burst acknowledged just before the kill: some processed, some not, when it dies.
    for id in 2..=6 {
        let update = text_update(id, id, id, &format!("/newtask Burst {id}"));
        assert_eq!(
            deliver_telegram_to(&client, &service.base, SECRET, &update).await,
            200
        );
    }
    drop(service); // SIGKILL
    assert!(fake.sent().is_empty());

    let service = start(dir.path(), &fake).await;
    // Telegram may redeliver what it thinks was not acknowledged: no second effect.
    assert_eq!(
        deliver_telegram_to(&client, &service.base, SECRET, &first).await,
        200
    );
    let sent = fake.wait_for_sent(6, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let sent_again = fake.sent();
    assert_eq!(sent_again.len(), 6, "exactly one reply per update: {sent:?}");
    let mut chats: Vec<i64> = sent_again.iter().map(|s| s.chat_id).collect();
    chats.sort();
    assert_eq!(chats, people);
    assert_eq!(tasks(&client, &service.base).await.len(), 6);
}
