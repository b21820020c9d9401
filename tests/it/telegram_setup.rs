//! How Telegram is set up at start, against the fake Bot API: webhook mode registers
//! `COORDINATOR_PUBLIC_URL/webhooks/telegram` with `setWebhook` (secret token, the update types
//! we handle) and checks it; a refusal is logged and the service runs on; long polling deletes a
//! stale webhook first. And `coordinator telegram status`, the binary asking the fake.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::coordinator;
use crate::fake_telegram::{text_update, FakeTelegram, TOKEN};
use crate::helpers::{both_dbs, Db, TestApp};

const SECRET: &str = "s3cret-Token_1";
const ANNA: i64 = 4242;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(
    webhook_mode_registers_the_public_url,
    polling_deletes_a_stale_webhook_and_reads_updates,
);

async fn webhook_mode_registers_the_public_url(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_PUBLIC_URL", "https://team.example.com/coordinator/")
        .spawn()
        .await;
    let calls = fake.wait_for_calls("setWebhook", 1, WAIT).await;
    assert_eq!(calls.len(), 1, "registered once");
    assert_eq!(
        calls[0]["url"],
        "https://team.example.com/coordinator/webhooks/telegram"
    );
    assert_eq!(calls[0]["secret_token"], SECRET);
    assert_eq!(calls[0]["allowed_updates"], json!(["message", "callback_query"]));
    let hook = fake.webhook().expect("Telegram holds the webhook");
    assert_eq!(hook.url, "https://team.example.com/coordinator/webhooks/telegram");
    // Then checked with getWebhookInfo.
    assert_eq!(fake.wait_for_calls("getWebhookInfo", 1, WAIT).await.len(), 1);

    // What Telegram then posts, with the secret it was given, is answered.
    app.deliver_telegram_ok(&text_update(1, ANNA, ANNA, "/help"))
        .await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, ANNA);
    assert!(fake.calls("getUpdates").is_empty(), "webhook mode never polls");
}

async fn polling_deletes_a_stale_webhook_and_reads_updates(db: Db) {
    let fake = FakeTelegram::start().await;
    fake.set_webhook_outside("https://old-host.example.com/webhooks/telegram");
    fake.push_update(text_update(1, ANNA, ANNA, "/help"));
    let _app = TestApp::builder(db)
        .with("TELEGRAM_BOT_TOKEN", &fake.token)
        .with("TELEGRAM_API_URL", &fake.url)
        .spawn()
        .await;
    assert_eq!(fake.wait_for_calls("deleteWebhook", 1, WAIT).await.len(), 1);
    assert_eq!(fake.webhook(), None);
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(
        sent.len(),
        1,
        "the update waiting behind the webhook is read and answered"
    );
    assert_eq!(sent[0].chat_id, ANNA);
    assert!(fake.calls("setWebhook").is_empty());
    let polls = fake.calls("getUpdates");
    assert_eq!(polls[0]["allowed_updates"], json!(["message", "callback_query"]));
}

/// Runs `coordinator serve` in webhook mode with `public_url` until it logs its line about the
/// webhook; that line, and whether `/health` then answers 200. The service is stopped with
/// SIGTERM and must exit cleanly.
async fn serve_until_the_webhook_line(fake: &FakeTelegram, public_url: &str) -> (String, u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = tokio::process::Command::from(coordinator(dir.path()));
    let mut child = command
        .env("COORDINATOR_ADDR", format!("127.0.0.1:{port}"))
        .env("TELEGRAM_BOT_TOKEN", &fake.token)
        .env("TELEGRAM_API_URL", &fake.url)
        .env("TELEGRAM_WEBHOOK_SECRET", SECRET)
        .env("COORDINATOR_PUBLIC_URL", public_url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Telegram webhook") {
                return line;
            }
        }
        panic!("the service stopped without a word about the webhook")
    })
    .await
    .expect("a line about the webhook");
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    let id = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &id])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert!(status.success());
    (line, health.status().as_u16())
}

/// One clear line in the log either way; a webhook Telegram refuses (not https) does not stop
/// the service.
#[tokio::test]
async fn serve_logs_one_line_about_the_webhook_and_runs_on_a_refusal() {
    let fake = FakeTelegram::start().await;
    let (line, health) = serve_until_the_webhook_line(&fake, "https://team.example.com").await;
    assert!(
        line.contains("Telegram webhook registered at https://team.example.com/webhooks/telegram"),
        "{line}"
    );
    assert_eq!(health, 200);

    let (line, health) = serve_until_the_webhook_line(&fake, "http://team.example.com").await;
    assert!(
        line.contains("NOT registered at http://team.example.com/webhooks/telegram"),
        "{line}"
    );
    assert!(
        line.contains("HTTPS URL must be provided"),
        "Telegram's reason: {line}"
    );
    assert!(!line.contains(TOKEN) && !line.contains(SECRET), "{line}");
    assert_eq!(health, 200, "the service runs on");
}

#[tokio::test]
async fn telegram_status_prints_what_telegram_reports() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let status = |settings: Vec<(&'static str, String)>| {
        let mut command = tokio::process::Command::from(coordinator(dir.path()));
        command.args(["telegram", "status"]).envs(settings);
        async move {
            let out = command.output().await.unwrap();
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            (out.status.code(), text(&out.stdout), text(&out.stderr))
        }
    };

    // No bot: a bad configuration, said in one line.
    let (code, _, err) = status(Vec::new()).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("TELEGRAM_BOT_TOKEN"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let bot = vec![
        ("TELEGRAM_BOT_TOKEN", fake.token.clone()),
        ("TELEGRAM_API_URL", fake.url.clone()),
    ];
    let (code, out, err) = status(bot.clone()).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("webhook URL:      none"), "{out}");
    assert!(out.contains("pending updates:  0"), "{out}");
    assert!(out.contains("last error:       none"), "{out}");
    assert!(out.contains("this service:     long polling"), "{out}");

    // A webhook Telegram fails to deliver to, with updates piling up.
    fake.bot()
        .set_webhook(reqwest::Url::parse("https://team.example.com/webhooks/telegram").unwrap())
        .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .await
        .unwrap();
    fake.set_webhook_error(1_700_000_000, "Wrong response from the webhook: 502 Bad Gateway");
    fake.push_update(text_update(1, ANNA, ANNA, "hello"));
    fake.push_update(text_update(2, ANNA, ANNA, "anyone?"));
    let mut webhook_mode = bot.clone();
    webhook_mode.push(("TELEGRAM_WEBHOOK_SECRET", SECRET.to_owned()));
    webhook_mode.push(("COORDINATOR_PUBLIC_URL", "https://team.example.com".to_owned()));
    let (code, out, err) = status(webhook_mode).await;
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "webhook URL:      https://team.example.com/webhooks/telegram",
        "pending updates:  2",
        "last error:       Wrong response from the webhook: 502 Bad Gateway (2023-11-14 22:13:20 UTC)",
        "allowed updates:  message, callback_query",
        "this service:     webhook mode, registers https://team.example.com/webhooks/telegram at start",
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line:?} in:\n{out}");
    }
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN));
    assert!(fake.calls("setWebhook").len() == 1, "status only looks");

    // Telegram unreachable: a failure (1), not a bad configuration, and no token in sight.
    let mut unreachable = bot;
    unreachable[1].1 = "http://127.0.0.1:9".to_owned();
    let (code, _, err) = status(unreachable).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("getWebhookInfo"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}
