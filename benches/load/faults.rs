//! Fault runs. Each sends `--updates` updates at `--rate` a second from `--chats` linked chats
//! (every `--agent-every`-th is free text for the agent, the rest `/newtask load-<n>`), each
//! delivered until acknowledged, while one thing goes wrong, chosen and timed by `--seed`:
//!
//! - `redeliver`: every update is delivered three times (at once, within 2 s, within 2–20 s).
//! - `kill`: SIGKILL at `--kills` random moments, each followed by a restart on the same port
//!   and database; updates sent meanwhile are retried until the new process acknowledges them.
//! - `flaky-sends`: the Bot API refuses `--failure-ratio` of the `sendMessage` calls, half with
//!   429 and a `retry_after` of 1–3 s, half with a 500 or an nginx 502.
//! - `db-restart`: the PostgreSQL cluster is restarted `--db-restarts` times
//!   (`pg_ctlcluster VERSION main restart`); this restarts the whole local server.
//! - `slow-sends`: the service runs with `COORDINATOR_OUTBOX_LEASE=--outbox-lease` (10 s) and
//!   the Bot API shows `--slow-ratio` of the messages at once but answers their `sendMessage`
//!   only `--slow-send` (25 s) later: longer than the lease, so a claim that was not renewed
//!   would be taken over and the message sent again.
//!
//! Then it waits until every update has a reply and both queues are empty, and counts, from
//! the token each reply echoes: delivered, lost (no reply), duplicated (more than one reply to
//! the same update), delayed (first reply later than `--delay-threshold` after the update was
//! first delivered), and tasks made twice or not at all.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fake_telegram::{text_update, Flaky, Slow};
use crate::report::{ms, Stats, Table};
use crate::service::{Engine, Service};
use crate::webhook::{Delivery, Webhook};
use crate::{FaultKind, Options, Rig};

/// How long to wait, after the load, for every reply and for both queues to empty.
const SETTLE_LIMIT: Duration = Duration::from_secs(300);
/// A duplicate whose first copy was accepted this long before a disruption began, or during
/// it, is counted as caused by it.
const DISRUPTION_MARGIN: Duration = Duration::from_millis(250);

pub fn name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Redeliver => "redeliver",
        FaultKind::Kill => "kill",
        FaultKind::FlakySends => "flaky-sends",
        FaultKind::DbRestart => "db-restart",
        FaultKind::SlowSends => "slow-sends",
        FaultKind::All => "all",
    }
}

pub fn table(options: &Options) -> Table {
    Table::new(
        format!(
            "Fault runs (`cargo bench --bench load -- --fault NAME --seed {}`; delayed: first reply later than {} s)",
            options.seed,
            options.delay_threshold.as_secs_f64()
        ),
        &[
            "fault",
            "database",
            "updates (POSTs)",
            "delivered",
            "lost",
            "duplicated",
            "delayed",
            "reply latency median / p99 / max",
            "what happened",
        ],
    )
}

/// A disruption: from when it began to when the service (or database) was back.
type Window = (Instant, Instant);

pub async fn run(options: &Options, kind: FaultKind, engine: Engine) -> anyhow::Result<Vec<String>> {
    eprintln!("{}: fault {} (seed {})…", engine.name(), name(kind), options.seed);
    let env = match kind {
        FaultKind::SlowSends => vec![(
            "COORDINATOR_OUTBOX_LEASE".to_owned(),
            options.outbox_lease.clone(),
        )],
        _ => Vec::new(),
    };
    let mut rig = Rig::start_with(options, engine, name(kind), env).await?;
    let result = drive(options, kind, &mut rig).await;
    rig.finish(result.is_err()).await;
    result.with_context(|| format!("{} fault {}", engine.name(), name(kind)))
}

async fn drive(options: &Options, kind: FaultKind, rig: &mut Rig) -> anyhow::Result<Vec<String>> {
    let n = options.updates.unwrap_or(match kind {
        FaultKind::FlakySends => 150,
        FaultKind::SlowSends => 300,
        _ => 600,
    });
    let mut rng = StdRng::seed_from_u64(options.seed);
    let users: Vec<i64> = (0..options.chats.max(1) as i64).map(|i| 9_000_001 + i).collect();
    rig.service.link(&users).await?;
    if kind == FaultKind::FlakySends {
        rig.telegram
            .set_flaky(Some(Flaky::new(options.seed, options.failure_ratio)));
    }
    if kind == FaultKind::SlowSends {
        rig.telegram.set_slow(Some(Slow::new(
            options.seed,
            options.slow_ratio,
            options.slow_send,
        )));
    }
    let spacing = Duration::from_secs_f64(1.0 / options.rate.max(0.1));
    let load_time = spacing * n as u32;
    let hook = Webhook::new(&rig.service.base)?;
    let started = tokio::time::Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for k in 1..=n {
        let chat = users[(k - 1) % users.len()];
        let text = if options.agent_every > 0 && k % options.agent_every == 0 {
            format!("Please keep track of load-{k} for me")
        } else {
            format!("/newtask load-{k}")
        };
        let body = serde_json::to_vec(&text_update(k as u64, chat, &text))?;
        let mut offsets = vec![Duration::ZERO];
        if kind == FaultKind::Redeliver {
            offsets.push(Duration::from_millis(rng.random_range(0..2_000)));
            offsets.push(Duration::from_millis(rng.random_range(2_000..20_000)));
        }
        for offset in offsets {
            let (hook, body) = (hook.clone(), body.clone());
            let at = started + spacing * (k - 1) as u32 + offset;
            senders.spawn(async move {
                tokio::time::sleep_until(at).await;
                (k as u64, hook.deliver(&body, Duration::from_secs(600)).await)
            });
        }
    }
    let chaos = async {
        match kind {
            FaultKind::Kill => kill_at_random(&mut rig.service, &mut rng, options.kills, load_time).await,
            FaultKind::DbRestart => restart_database(options, &mut rng, load_time).await,
            _ => Ok(Vec::new()),
        }
    };
    let collect = async {
        let mut deliveries: HashMap<u64, Vec<Delivery>> = HashMap::new();
        while let Some(done) = senders.join_next().await {
            let (token, delivery) = done?;
            deliveries.entry(token).or_default().push(delivery);
        }
        anyhow::Ok(deliveries)
    };
    let (deliveries, windows) = tokio::join!(collect, chaos);
    let (deliveries, windows) = (deliveries?, windows?);
    let quiet = settle(rig, n).await;
    // A late duplicate would come right after the queues empty, if at all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    account(options, kind, rig, n, &deliveries, &windows, quiet).await
}

/// SIGKILL at `kills` random moments within the load, each followed by a restart.
async fn kill_at_random(
    service: &mut Service,
    rng: &mut StdRng,
    kills: usize,
    load_time: Duration,
) -> anyhow::Result<Vec<Window>> {
    let start = tokio::time::Instant::now();
    let span = load_time.as_millis().max(2_000) as u64;
    let mut at: Vec<u64> = (0..kills).map(|_| rng.random_range(1_000..span)).collect();
    at.sort_unstable();
    let mut windows = Vec::new();
    for ms in at {
        tokio::time::sleep_until(start + Duration::from_millis(ms)).await;
        let killed = Instant::now();
        service.restart().await?;
        windows.push((killed, Instant::now()));
    }
    Ok(windows)
}

/// Restarts the local PostgreSQL cluster at random moments within the load.
async fn restart_database(
    options: &Options,
    rng: &mut StdRng,
    load_time: Duration,
) -> anyhow::Result<Vec<Window>> {
    let url = &options.database_url;
    if !(url.contains("@127.0.0.1") || url.contains("@localhost") || url.contains("@[::1]")) {
        bail!("db-restart restarts the local cluster; {url} is not on this machine");
    }
    let version = std::fs::read_dir("/etc/postgresql")
        .context("no /etc/postgresql: is the PostgreSQL server a Debian cluster?")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|v| Some((v.parse::<f64>().ok()?, v)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
        .context("no cluster in /etc/postgresql")?;
    let start = tokio::time::Instant::now();
    let span = load_time.as_millis().max(2_000) as u64;
    let mut at: Vec<u64> = (0..options.db_restarts)
        .map(|_| rng.random_range(1_000..span))
        .collect();
    at.sort_unstable();
    let mut windows = Vec::new();
    for ms in at {
        tokio::time::sleep_until(start + Duration::from_millis(ms)).await;
        let began = Instant::now();
        let mut restarted = false;
        for args in [
            vec!["--skip-systemctl-redirect", &version, "main", "restart"],
            vec![&version, "main", "restart"],
        ] {
            let status = tokio::process::Command::new("pg_ctlcluster")
                .args(&args)
                .status()
                .await;
            if status.is_ok_and(|s| s.success()) {
                restarted = true;
                break;
            }
        }
        if !restarted {
            bail!("pg_ctlcluster {version} main restart failed");
        }
        while !crate::service::postgres_reachable(url).await {
            if began.elapsed() > Duration::from_secs(120) {
                bail!("PostgreSQL did not come back within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        windows.push((began, Instant::now()));
    }
    Ok(windows)
}

/// Waits until every update has a reply and both queues are empty; `false` if that did not
/// happen within [`SETTLE_LIMIT`].
async fn settle(rig: &Rig, n: usize) -> bool {
    let deadline = Instant::now() + SETTLE_LIMIT;
    while Instant::now() < deadline {
        let replied = (1..=n as u64).all(|t| rig.telegram.first_reply(t).is_some());
        if replied && matches!(rig.service.unfinished().await, Ok((0, 0))) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

async fn account(
    options: &Options,
    kind: FaultKind,
    rig: &Rig,
    n: usize,
    deliveries: &HashMap<u64, Vec<Delivery>>,
    windows: &[Window],
    quiet: bool,
) -> anyhow::Result<Vec<String>> {
    let posts: u32 = deliveries.values().flatten().map(|d| d.attempts).sum();
    let unacknowledged = deliveries
        .values()
        .filter(|ds| ds.iter().all(|d| d.acked_at.is_none()))
        .count();
    let replies: HashMap<u64, Vec<Instant>> = rig.telegram.with_tally(|t| t.delivered.clone());
    let (untagged, refused_429, refused_5xx) = rig
        .telegram
        .with_tally(|t| (t.untagged, t.refused_429, t.refused_5xx));
    let mut latencies = Vec::new();
    let (mut delivered, mut duplicated, mut extra, mut delayed, mut at_disruption) = (0, 0, 0, 0, 0);
    for token in 1..=n as u64 {
        let Some(copies) = replies.get(&token).filter(|c| !c.is_empty()) else {
            continue;
        };
        delivered += 1;
        if let Some(first_post) = deliveries
            .get(&token)
            .and_then(|d| d.iter().map(|d| d.first_at).min())
        {
            let latency = copies[0].saturating_duration_since(first_post);
            if latency > options.delay_threshold {
                delayed += 1;
            }
            latencies.push(latency);
        }
        if copies.len() > 1 {
            duplicated += 1;
            extra += copies.len() - 1;
            let first = copies[0];
            if windows
                .iter()
                .any(|(began, back)| first + DISRUPTION_MARGIN >= *began && first <= *back)
            {
                at_disruption += 1;
            }
        }
    }
    let mut tasks: HashMap<String, usize> = HashMap::new();
    for title in rig.service.task_titles().await? {
        *tasks.entry(title).or_default() += 1;
    }
    let tasks_twice = (1..=n)
        .filter(|k| tasks.get(&format!("load-{k}")).copied().unwrap_or(0) > 1)
        .count();
    let tasks_missing = (1..=n)
        .filter(|k| !tasks.contains_key(&format!("load-{k}")))
        .count();
    let queues = rig.service.queues().await?;
    let dead = |q: &str| queues[q]["counts"]["dead"].as_i64().unwrap_or(0);

    let mut happened = Vec::new();
    match kind {
        FaultKind::Kill => {
            let restarts = Stats::new(rig.service.start_times.iter().skip(1).copied().collect());
            happened.push(format!(
                "{} kills; restart to `/health` median {} ms",
                windows.len(),
                ms(restarts.percentile(50.0))
            ));
        }
        FaultKind::DbRestart => {
            let downs: Vec<String> = windows
                .iter()
                .map(|(a, b)| format!("{:.1} s", b.duration_since(*a).as_secs_f64()))
                .collect();
            happened.push(format!(
                "{} server restarts ({})",
                windows.len(),
                downs.join(", ")
            ));
        }
        FaultKind::FlakySends => {
            happened.push(format!("sends refused: {refused_429}× 429, {refused_5xx}× 5xx"))
        }
        FaultKind::SlowSends => {
            let slow = rig.telegram.with_tally(|t| t.slow);
            happened.push(format!(
                "{slow} sends answered after {} s (outbox lease {})",
                options.slow_send.as_secs_f64(),
                options.outbox_lease
            ))
        }
        _ => {}
    }
    if duplicated > 0 && !windows.is_empty() {
        happened.push(format!(
            "{at_disruption} duplicates accepted just before or during one"
        ));
    }
    happened.push(format!(
        "tasks made twice: {tasks_twice}, missing: {tasks_missing}"
    ));
    if dead("inbox") + dead("outbox") > 0 {
        happened.push(format!(
            "dead letters: inbox {}, outbox {}",
            dead("inbox"),
            dead("outbox")
        ));
    }
    if unacknowledged > 0 {
        happened.push(format!("{unacknowledged} updates never acknowledged"));
    }
    if untagged > 0 {
        happened.push(format!("{untagged} replies without a token"));
    }
    if !quiet {
        happened.push(format!("not settled within {} s", SETTLE_LIMIT.as_secs()));
    }
    let latency = Stats::new(latencies);
    let dup = if extra > duplicated {
        format!("{duplicated} ({extra} extra)")
    } else {
        duplicated.to_string()
    };
    Ok(vec![
        name(kind).to_owned(),
        rig.db.engine.name().to_owned(),
        format!("{n} ({posts})"),
        delivered.to_string(),
        (n - delivered).to_string(),
        dup,
        delayed.to_string(),
        if latency.is_empty() {
            "–".into()
        } else {
            format!(
                "{} / {} / {} ms",
                ms(latency.percentile(50.0)),
                ms(latency.percentile(99.0)),
                ms(latency.max())
            )
        },
        happened.join("; "),
    ])
}
