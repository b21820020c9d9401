//! Discord interactions through real HTTP, against the in-process fake Discord server of the
//! integration tests (`tests/it/fake_discord/`), on SQLite (a temporary file) and on
//! PostgreSQL (a fresh schema on `TEST_DATABASE_URL`, skipped with a note when unreachable).
//!
//! 200 signed `/newtask` slash commands from a linked user, one at a time, 60 ms apart (under
//! the outbox's global pace for Discord), after 10 unmeasured ones. For each:
//! - first response: from the start of the interaction POST to the arrival of the HTTP answer
//!   (the deferred type 5, sent once the event is stored): what Discord's 3-second limit is about;
//! - answer: from the same start to the arrival at the fake server of the `PATCH
//!   …/messages/@original` that replaces the "thinking" message with the real answer.
//!
//! Run with `cargo bench --bench discord`. A plain `main`: it prints one table.

#[allow(unused_imports)]
#[path = "../tests/it/fake_discord/mod.rs"]
mod fake_discord;

use std::time::{Duration, Instant};

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::store::ScratchSchema;
use ed25519_dalek::{Signer, SigningKey};
use fake_discord::{snowflake, FakeDiscord, APP_ID, GUILD_ID, TOKEN};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const MEASURED: usize = 200;
const WARM_UP: usize = 10;
const PACE: Duration = Duration::from_millis(60);
const USER: &str = "80351110224678912";
const CHANNEL: &str = "1000000000000000002";

fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema on the PostgreSQL server; `None` when unreachable.
async fn postgres_schema() -> Option<ScratchSchema> {
    tokio::time::timeout(
        Duration::from_secs(5),
        ScratchSchema::create(&postgres_url(), "bd"),
    )
    .await
    .ok()?
    .ok()
}

fn interaction(n: usize) -> Value {
    json!({
        "type": 2, "id": snowflake(), "application_id": APP_ID,
        "token": format!("aW50ZXJhY3Rpb246{}", snowflake()), "version": 1,
        "guild_id": GUILD_ID, "channel_id": CHANNEL,
        "member": {"user": {"id": USER, "username": "anna", "global_name": "Anna", "discriminator": "0", "avatar": null},
                   "nick": null, "roles": [], "deaf": false, "mute": false,
                   "joined_at": "2025-01-01T00:00:00.000000+00:00", "permissions": "2147483647"},
        "data": {"id": "1300000000000000000", "name": "newtask", "type": 1,
                 "options": [{"type": 3, "name": "title", "value": format!("Bench task {n}")}]},
        "locale": "en-US", "entitlements": [], "context": 0
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run(engine: &str, database_url: &str) -> (Vec<Duration>, Vec<Duration>) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let fake = FakeDiscord::start().await;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public_key = hex::encode(key.verifying_key().to_bytes());
    let data_dir = dir.path().join("data").display().to_string();
    let settings = Settings::with(&[
        ("DATABASE_URL", database_url),
        ("COORDINATOR_API_TOKEN", "bench"),
        // Benchmarks measure the service, not its per-token and per-chat allowances.
        ("COORDINATOR_MESSAGES_PER_MINUTE", "1000000"),
        ("COORDINATOR_AGENT_TURNS_PER_DAY", "1000000"),
        ("COORDINATOR_LLM_TOKENS_PER_DAY", "1000000000"),
        ("COORDINATOR_API_REQUESTS_PER_MINUTE", "1000000"),
        ("COORDINATOR_DATA_DIR", data_dir.as_str()),
        ("DISCORD_TOKEN", TOKEN),
        ("DISCORD_APPLICATION_ID", APP_ID),
        ("DISCORD_PUBLIC_KEY", public_key.as_str()),
        ("DISCORD_API_URL", fake.api_url.as_str()),
    ])
    .expect("bench settings");
    let app = App::build(settings).await.expect("build the app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client");
    let person = client
        .post(format!("{base}/api/people"))
        .bearer_auth("bench")
        .json(&json!({"handle": "anna", "name": "Anna", "identities": [{"channel": "discord", "external_id": USER}]}))
        .send()
        .await
        .expect("create a person");
    assert!(
        person.status().is_success(),
        "{}",
        person.text().await.unwrap_or_default()
    );

    let mut first = Vec::new();
    let mut answered = Vec::new();
    for n in 0..WARM_UP + MEASURED {
        let interaction = interaction(n);
        let body = interaction.to_string();
        let token = interaction["token"].as_str().expect("token").to_owned();
        fake.interaction_sent(&interaction);
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = hex::encode(key.sign(format!("{timestamp}{body}").as_bytes()).to_bytes());
        let started = Instant::now();
        let response = client
            .post(format!("{base}/webhooks/discord"))
            .header("X-Signature-Ed25519", signature)
            .header("X-Signature-Timestamp", timestamp)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST the interaction");
        let answer: Value = response.json().await.expect("JSON answer");
        let took = started.elapsed();
        assert_eq!(answer["type"], 5, "{answer}");
        fake.interaction_answered(&interaction, &answer);
        if n >= WARM_UP {
            first.push(took);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let patched = loop {
            let at = fake
                .calls_to("PATCH /webhooks")
                .into_iter()
                .find(|c| c.path.contains(&token))
                .map(|c| c.at);
            match at {
                Some(at) => break Some(at),
                None if Instant::now() > deadline => break None,
                None => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        };
        match patched {
            Some(at) if n >= WARM_UP => answered.push(at.saturating_duration_since(started)),
            Some(_) => {}
            None => eprintln!("{engine}: interaction {n} got no answer within 15 s"),
        }
        let spent = started.elapsed();
        if spent < PACE {
            tokio::time::sleep(PACE - spent).await;
        }
    }
    shutdown.cancel();
    let _ = server.await;
    first.sort();
    answered.sort();
    (first, answered)
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().expect("temporary folder");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    rows.push(("sqlite", run("sqlite", &sqlite).await));
    match postgres_schema().await {
        Some(schema) => {
            rows.push(("postgres", run("postgres", &schema.url).await));
            let _ = schema.drop_now().await;
        }
        None => eprintln!("PostgreSQL at TEST_DATABASE_URL is unreachable: its row is skipped"),
    }
    println!("\nDiscord interactions ({MEASURED} measured, one at a time)\n");
    println!("| engine | first response median | p90 | p99 | answer (PATCH @original) median | p99 |");
    println!("|---|---|---|---|---|---|");
    for (engine, (first, answered)) in rows {
        if first.is_empty() || answered.is_empty() {
            println!("| {engine} | no data | | | | |");
            continue;
        }
        println!(
            "| {engine} | {} | {} | {} | {} | {} |",
            ms(percentile(&first, 0.5)),
            ms(percentile(&first, 0.9)),
            ms(percentile(&first, 0.99)),
            ms(percentile(&answered, 0.5)),
            ms(percentile(&answered, 0.99)),
        );
    }
}
