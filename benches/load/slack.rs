//! The Slack measurements (`--platform slack`), each on a service of its own with a fresh
//! database, Slack configured against the lean fake Web API (`fake_slack`):
//!
//! 1. Throughput: `--throughput-updates` distinct direct messages (`/newtask load-N`) from 50
//!    linked Slack users, as Events API callbacks signed with the signing secret and POSTed by
//!    `--concurrency` clients at once to `/webhooks/slack`; callbacks stored and acknowledged per
//!    second, and the answer time under that load.
//! 2. Latency: `--latency-updates` callbacks one at a time, 120 ms apart (after 10 unmeasured
//!    ones), each from a user of its own, from the POST to the reply's `chat.postMessage`
//!    arriving at the fake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use coordinator::channels::slack::signature::Verifier;
use coordinator::config::Secret;
use serde_json::json;

use crate::fake_slack::SIGNING_SECRET;
use crate::measure::{thousands, Rows};
use crate::report::Stats;
use crate::service::Engine;
use crate::{Options, Rig};

const WARM_UP: usize = 10;
/// The service sends at most 10 Slack messages a second (Slack's own limit across channels is a
/// few hundred a minute), so the callbacks come 120 ms apart: what is measured is the path, not
/// a queue in front of our own rate limit.
const PACE: Duration = Duration::from_millis(120);

pub async fn run(options: &Options, engine: Engine) -> anyhow::Result<Rows> {
    let mut rows = Vec::new();
    eprintln!("{}: Slack throughput…", engine.name());
    rows.extend(guarded(options, engine, "slack-throughput", throughput).await?);
    eprintln!("{}: Slack latency…", engine.name());
    rows.extend(guarded(options, engine, "slack-latency", latency).await?);
    Ok(rows)
}

async fn guarded<F>(options: &Options, engine: Engine, name: &str, body: F) -> anyhow::Result<Rows>
where
    F: AsyncFnOnce(&Options, &Rig) -> anyhow::Result<Rows>,
{
    let rig = Rig::start(options, engine, name).await?;
    let result = body(options, &rig).await;
    rig.finish(result.is_err()).await;
    result.with_context(|| format!("{} {name}", engine.name()))
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("U{prefix}{i:07}")).collect()
}

/// A signed Events API callback: a direct message from `user` saying `text`.
fn callback(n: usize, user: &str, text: &str) -> Vec<u8> {
    let ts = format!("1764000000.{n:06}");
    serde_json::to_vec(&json!({
        "token": "load", "team_id": "T0LOAD001", "api_app_id": "A0LOAD001",
        "event": {"type": "message", "channel": format!("D{}", &user[1..]), "user": user, "text": text,
                  "ts": ts, "event_ts": ts, "channel_type": "im"},
        "type": "event_callback", "event_id": format!("Ev{n:010}"), "event_time": 1764000000,
        "authorizations": [{"team_id": "T0LOAD001", "user_id": "U0LOADBOT", "is_bot": true}]
    }))
    .unwrap_or_default()
}

#[derive(Clone)]
struct Events {
    client: reqwest::Client,
    url: String,
    verifier: Verifier,
}

impl Events {
    fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .tcp_nodelay(true)
                .build()?,
            url: format!("{base}/webhooks/slack"),
            verifier: Verifier::new(Secret::new(SIGNING_SECRET)),
        })
    }

    async fn post(&self, body: Vec<u8>) -> anyhow::Result<u16> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = self.verifier.sign(&timestamp, &body);
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }
}

async fn throughput(options: &Options, rig: &Rig) -> anyhow::Result<Rows> {
    let n = options.throughput_updates;
    let users = users("T", 50);
    rig.service.link_slack(&users).await?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (1..=n)
            .map(|k| callback(k, &users[k % users.len()], &format!("/newtask load-{k}")))
            .collect(),
    );
    let events = Events::new(&rig.service.base)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (events, bodies, next) = (events.clone(), bodies.clone(), next.clone());
        clients.spawn(async move {
            let mut answer_times = Vec::new();
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let status = events.post(body.clone()).await?;
                answer_times.push(sent.elapsed());
                if status != 200 {
                    bail!("/webhooks/slack answered {status}");
                }
            }
            anyhow::Ok(answer_times)
        });
    }
    let mut answer_times = Vec::with_capacity(n);
    while let Some(done) = clients.join_next().await {
        answer_times.extend(done??);
    }
    let acknowledged = started.elapsed();
    Ok(vec![
        (
            format!(
                "Events API callbacks stored and acknowledged ({} direct messages, {} concurrent clients)",
                thousands(n as f64),
                options.concurrency
            ),
            format!("{}/s", thousands(n as f64 / acknowledged.as_secs_f64())),
        ),
        (
            "`/webhooks/slack` answer time under that load, median / p99".into(),
            Stats::new(answer_times).median_p99(),
        ),
    ])
}

async fn latency(options: &Options, rig: &Rig) -> anyhow::Result<Rows> {
    let slack = rig
        .slack
        .as_ref()
        .context("Slack is not configured in this rig")?;
    let count = WARM_UP + options.latency_updates;
    let users = users("L", count);
    rig.service.link_slack(&users).await?;
    let events = Events::new(&rig.service.base)?;
    let mut samples = Vec::with_capacity(options.latency_updates);
    let mut next = tokio::time::Instant::now();
    for (k, user) in users.iter().enumerate() {
        tokio::time::sleep_until(next).await;
        next = tokio::time::Instant::now() + PACE;
        let token = k + 1;
        let posted = Instant::now();
        let status = events
            .post(callback(token, user, &format!("/newtask load-{token}")))
            .await?;
        if status != 200 {
            bail!("/webhooks/slack answered {status}");
        }
        let Some(replied) = slack.wait_reply(token as u64, Duration::from_secs(30)).await else {
            bail!("no chat.postMessage for load-{token} within 30 s");
        };
        if k >= WARM_UP {
            samples.push(replied.saturating_duration_since(posted));
        }
    }
    Ok(vec![(
        "event → `chat.postMessage`, `/newtask` in a direct message (no model), median / p99".into(),
        Stats::new(samples).median_p99(),
    )])
}
