//! The measurements, each on a service of its own with a fresh database:
//!
//! 1. Throughput: `--throughput-updates` distinct `/newtask` updates from 50 linked users,
//!    POSTed by `--concurrency` clients at once; updates stored and acknowledged per second
//!    (wall time until the last 200), and how fast the inbox then turned them into tasks and
//!    queued replies (first POST until the inbox is empty).
//! 2. Latency: `--latency-updates` updates one at a time, each from a chat of its own and at
//!    least 35 ms apart (under Telegram's 30 messages a second), after 10 unmeasured ones; from
//!    the POST to the reply's `sendMessage` arriving at the fake Bot API. Once with `/newtask`
//!    (no model), once with free text through the agent (two scripted model calls and one tool
//!    call).
//! 3. Memory: `VmRSS` and its anonymous part `RssAnon` (the rest is mostly the binary's code,
//!    which is large in a debug build) after 5 s idle; then `--active-chats` linked chats each
//!    send a command and a free-text message, and the same (and the peak, `VmHWM`) once every
//!    reply is delivered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::fake_telegram::text_update;
use crate::report::{mib, ms, Stats};
use crate::service::Engine;
use crate::webhook::Webhook;
use crate::{Measurement, Options, Rig};

/// Rows of (measurement, result).
pub type Rows = Vec<(String, String)>;

const WARM_UP: usize = 10;
const PACE: Duration = Duration::from_millis(35);
/// Restarts before the idle reading; their start-up times give a median.
const RESTARTS: usize = 3;

pub async fn run(options: &Options, engine: Engine) -> anyhow::Result<Rows> {
    let wanted = |m: Measurement| options.only.is_empty() || options.only.contains(&m);
    let mut rows = Vec::new();
    if wanted(Measurement::Throughput) {
        let mut runs = Vec::new();
        for run in 1..=options.repeat {
            eprintln!("{}: throughput ({run} of {})…", engine.name(), options.repeat);
            runs.push(guarded(options, engine, "throughput", throughput).await?);
        }
        rows.extend(crate::report::median_rows(runs));
    }
    if wanted(Measurement::Polling) {
        let mut runs = Vec::new();
        for run in 1..=options.repeat {
            eprintln!("{}: long polling ({run} of {})…", engine.name(), options.repeat);
            let mut rows =
                guarded_polling(options, engine, "polling-commands", crate::polling::commands).await?;
            rows.extend(guarded_polling(options, engine, "polling-turns", crate::polling::turns).await?);
            runs.push(rows);
        }
        rows.extend(crate::report::median_rows(runs));
    }
    if wanted(Measurement::Latency) {
        eprintln!("{}: latency…", engine.name());
        rows.extend(guarded(options, engine, "latency", latency).await?);
    }
    if wanted(Measurement::Turns) {
        let mut runs = Vec::new();
        for run in 1..=options.repeat {
            eprintln!("{}: agent turns ({run} of {})…", engine.name(), options.repeat);
            runs.push(guarded(options, engine, "turns", crate::turns::turns).await?);
        }
        rows.extend(crate::report::median_rows(runs));
    }
    if wanted(Measurement::Memory) {
        eprintln!("{}: memory…", engine.name());
        rows.extend(guarded(options, engine, "memory", memory).await?);
    }
    Ok(rows)
}

/// Runs `body` on a fresh rig and cleans up, whatever happens.
async fn guarded<F>(options: &Options, engine: Engine, name: &str, body: F) -> anyhow::Result<Rows>
where
    F: AsyncFnOnce(&Options, &mut Rig) -> anyhow::Result<Rows>,
{
    on(Rig::start(options, engine, name).await?, options, name, body).await
}

/// As [`guarded`], with Telegram by long polling.
async fn guarded_polling<F>(options: &Options, engine: Engine, name: &str, body: F) -> anyhow::Result<Rows>
where
    F: AsyncFnOnce(&Options, &mut Rig) -> anyhow::Result<Rows>,
{
    on(
        Rig::start_polling(options, engine, name).await?,
        options,
        name,
        body,
    )
    .await
}

async fn on<F>(mut rig: Rig, options: &Options, name: &str, body: F) -> anyhow::Result<Rows>
where
    F: AsyncFnOnce(&Options, &mut Rig) -> anyhow::Result<Rows>,
{
    let result = body(options, &mut rig).await;
    let engine = rig.db.engine;
    rig.finish(result.is_err()).await;
    result.with_context(|| format!("{} {name}", engine.name()))
}

pub(crate) fn users(from: i64, n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| from + i).collect()
}

fn body(token: usize, chat: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&text_update(token as u64, chat, text)).unwrap_or_default()
}

pub fn thousands(n: f64) -> String {
    let n = n.round() as u64;
    if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

async fn throughput(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let n = options.throughput_updates;
    let users = users(5_000_001, 50);
    rig.service.link(&users).await?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (1..=n)
            .map(|k| body(k, users[k % users.len()], &format!("/newtask load-{k}")))
            .collect(),
    );
    let hook = Webhook::new(&rig.service.base)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (hook, bodies, next) = (hook.clone(), bodies.clone(), next.clone());
        clients.spawn(async move {
            let mut answer_times = Vec::new();
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let status = hook.post(body.clone()).await?;
                answer_times.push(sent.elapsed());
                if status != 200 {
                    bail!("the webhook answered {status}");
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
    rig.service
        .wait_for_events(n as u64, started, Duration::from_secs(300))
        .await?;
    let processed = started.elapsed();
    let answers = Stats::new(answer_times);
    Ok(vec![
        (
            format!(
                "webhook updates stored and acknowledged ({} `/newtask`, {} concurrent clients)",
                thousands(n as f64),
                options.concurrency
            ),
            format!("{}/s", thousands(n as f64 / acknowledged.as_secs_f64())),
        ),
        (
            "webhook answer time under that load, median / p99".into(),
            answers.median_p99(),
        ),
        (
            "inbox: updates turned into tasks and queued replies (from the first POST)".into(),
            format!("{}/s", thousands(n as f64 / processed.as_secs_f64())),
        ),
        (
            "start-up: process start to `/health` 200 (first start: schema created, handbook opened)".into(),
            format!(
                "{} ms",
                ms(rig.service.start_times.first().copied().unwrap_or_default())
            ),
        ),
    ])
}

async fn latency(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let per_kind = WARM_UP + options.latency_updates;
    let users = users(6_000_001, 2 * per_kind);
    rig.service.link(&users).await?;
    let hook = Webhook::new(&rig.service.base)?;
    let mut rows = Vec::new();
    for (kind, chats) in [("command", &users[..per_kind]), ("agent", &users[per_kind..])] {
        let mut samples = Vec::with_capacity(options.latency_updates);
        let mut next = tokio::time::Instant::now();
        for (k, &chat) in chats.iter().enumerate() {
            tokio::time::sleep_until(next).await;
            next = tokio::time::Instant::now() + PACE;
            let token = if kind == "command" {
                k + 1
            } else {
                per_kind + k + 1
            };
            let text = match kind {
                "command" => format!("/newtask load-{token}"),
                _ => format!("Please keep track of load-{token} for me"),
            };
            let posted = Instant::now();
            let status = hook.post(body(token, chat, &text)).await?;
            if status != 200 {
                bail!("the webhook answered {status}");
            }
            let Some(replied) = rig
                .telegram
                .wait_reply(token as u64, Duration::from_secs(30))
                .await
            else {
                bail!("no reply to load-{token} within 30 s");
            };
            if k >= WARM_UP {
                samples.push(replied.saturating_duration_since(posted));
            }
        }
        let stats = Stats::new(samples);
        let what = match kind {
            "command" => "webhook → `sendMessage`, `/newtask` (no model), median / p99",
            _ => "webhook → `sendMessage`, free text through the agent (2 model calls, 1 tool call), median / p99",
        };
        rows.push((what.to_owned(), stats.median_p99()));
    }
    Ok(rows)
}

async fn memory(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = rig
        .service
        .memory_kib()
        .context("cannot read the service's memory")?;
    // A restart finds the schema current and the handbook indexed and unchanged: the steady
    // state of a deployment. Three of them, for the start-up's median.
    for _ in 0..RESTARTS {
        rig.service.restart().await?;
    }
    let restart_times = Stats::new(rig.service.start_times.iter().skip(1).copied().collect());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let restarted = rig
        .service
        .memory_kib()
        .context("cannot read the service's memory")?;
    let chats = options.active_chats;
    let users = users(8_000_001, chats);
    rig.service.link(&users).await?;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (1..=2 * chats)
            .map(|k| {
                let chat = users[(k - 1) % chats];
                if k <= chats {
                    body(k, chat, &format!("/newtask load-{k}"))
                } else {
                    body(k, chat, &format!("Please keep track of load-{k} for me"))
                }
            })
            .collect(),
    );
    let hook = Webhook::new(&rig.service.base)?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (hook, bodies, next) = (hook.clone(), bodies.clone(), next.clone());
        clients.spawn(async move {
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let delivery = hook.deliver(body, Duration::from_secs(60)).await;
                if delivery.acked_at.is_none() {
                    bail!("an update was not acknowledged within 60 s");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    let limit = Duration::from_secs(120 + (2 * chats / 30) as u64);
    let deadline = Instant::now() + limit;
    for token in 1..=2 * chats {
        let left = deadline.saturating_duration_since(Instant::now());
        if rig.telegram.wait_reply(token as u64, left).await.is_none() {
            bail!("no reply to load-{token} within {} s", limit.as_secs());
        }
    }
    let active = rig
        .service
        .memory_kib()
        .context("cannot read the service's memory")?;
    let size = std::fs::metadata(crate::binary(options))
        .context("cannot read the service binary's size")?
        .len();
    Ok(vec![
        (
            "service binary, bytes on disk".into(),
            format!("{:.1} MB", size as f64 / 1e6),
        ),
        (
            format!("start-up after a restart: process start to `/health` 200, median of {RESTARTS}"),
            format!("{} ms", ms(restart_times.percentile(50.0))),
        ),
        (
            "resident memory (`VmRSS`; of it anonymous, `RssAnon`), idle after the first start (the handbook indexed)".into(),
            format!("{} ({})", mib(idle.rss), mib(idle.anonymous)),
        ),
        (
            "the same, idle after a restart (the handbook unchanged)".into(),
            format!("{} ({})", mib(restarted.rss), mib(restarted.anonymous)),
        ),
        (
            format!(
                "the same with {} active chats (each: a command and an agent turn, all answered); peak `VmHWM`",
                thousands(chats as f64)
            ),
            format!(
                "{} ({}); {}",
                mib(active.rss),
                mib(active.anonymous),
                mib(active.peak)
            ),
        ),
    ])
}
