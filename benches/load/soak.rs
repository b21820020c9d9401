//! The soak: a steady `--rate` of updates for `--soak` (e.g. 30 minutes) from `--chats` linked
//! chats (every `--agent-every`-th free text for the agent, the rest `/newtask`), with short
//! retention settings (`--soak-keep` for queue rows, twice that for conversations, four times
//! for the history) and a 5 s scheduler tick, so that retention prunes many times within the
//! run. Every `--sample-every` it samples the service's resident memory, the database's size
//! (SQLite: the file and its write-ahead log; PostgreSQL: the run's schema) and the rows of
//! the tables that grow. What it shows: whether memory and the database level off while the
//! load goes on, and whether replies keep up.

use std::time::{Duration, Instant};

use crate::fake_telegram::text_update;
use crate::report::{mib, Table};
use crate::service::Engine;
use crate::webhook::Webhook;
use crate::{Options, Rig};

/// The tables whose rows each sample shows.
const TABLES: &[&str] = &[
    "inbox_events",
    "outbox_messages",
    "conversation_messages",
    "audit_log",
    "tasks",
];

/// `--soak-keep` times `factor`, as a duration setting (`3m` × 2 = `360s`).
fn times(keep: &str, factor: u32) -> anyhow::Result<String> {
    let d = humantime::parse_duration(keep)?;
    Ok(format!("{}s", (d * factor).as_secs()))
}

pub async fn run(options: &Options, engine: Engine, length: Duration) -> anyhow::Result<Table> {
    eprintln!(
        "{}: soak for {} at {} updates/s…",
        engine.name(),
        humantime::format_duration(length),
        options.rate
    );
    let env = vec![
        ("COORDINATOR_KEEP_QUEUE".to_owned(), options.soak_keep.clone()),
        (
            "COORDINATOR_KEEP_CONVERSATIONS".to_owned(),
            times(&options.soak_keep, 2)?,
        ),
        (
            "COORDINATOR_KEEP_HISTORY".to_owned(),
            times(&options.soak_keep, 4)?,
        ),
        ("COORDINATOR_SCHEDULER_TICK".to_owned(), "5s".to_owned()),
    ];
    let rig = Rig::start_with(options, engine, "soak", env).await?;
    let result = drive(options, &rig, length).await;
    rig.finish(result.is_err()).await;
    result
}

async fn drive(options: &Options, rig: &Rig, length: Duration) -> anyhow::Result<Table> {
    let users: Vec<i64> = (0..options.chats.max(1) as i64).map(|i| 9_000_001 + i).collect();
    rig.service.link(&users).await?;
    let mut headers = vec!["minute", "updates sent", "replied", "RSS", "database"];
    headers.extend(TABLES.iter().copied());
    let mut table = Table::new(
        format!(
            "Soak on {} (`cargo bench --bench load -- --soak {} --rate {} --db {}`; retention: queue rows {}, conversations {}, history {})",
            rig.db.engine.name(),
            humantime::format_duration(length),
            options.rate,
            match rig.db.engine {
                Engine::Sqlite => "sqlite",
                Engine::Postgres => "postgres",
            },
            options.soak_keep,
            times(&options.soak_keep, 2)?,
            times(&options.soak_keep, 4)?,
        ),
        &headers,
    );
    let hook = Webhook::new(&rig.service.base)?;
    let spacing = Duration::from_secs_f64(1.0 / options.rate.max(0.1));
    let started = tokio::time::Instant::now();
    let begun = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    let mut next_sample = started;
    let mut sent = 0u64;
    let mut unacknowledged = 0u64;
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_sample {
            table.row(sample(rig, begun, sent).await?);
            next_sample += options.sample_every;
        }
        if now.duration_since(started) >= length {
            break;
        }
        let k = sent + 1;
        let chat = users[(k as usize - 1) % users.len()];
        let text = if options.agent_every > 0 && (k as usize).is_multiple_of(options.agent_every) {
            format!("Please keep track of load-{k} for me")
        } else {
            format!("/newtask load-{k}")
        };
        let body = serde_json::to_vec(&text_update(k, chat, &text))?;
        let hook = hook.clone();
        senders.spawn(async move { hook.deliver(&body, Duration::from_secs(120)).await });
        sent = k;
        while let Some(done) = senders.try_join_next() {
            if done?.acked_at.is_none() {
                unacknowledged += 1;
            }
        }
        tokio::time::sleep_until(started + spacing * sent as u32).await;
    }
    while let Some(done) = senders.join_next().await {
        if done?.acked_at.is_none() {
            unacknowledged += 1;
        }
    }
    // The replies still under way, then one last sample.
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline && replied(rig) < sent {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    table.row(sample(rig, begun, sent).await?);
    let (duplicated, missing) = rig.telegram.with_tally(|t| {
        let duplicated = t.delivered.values().filter(|c| c.len() > 1).count();
        let missing = (1..=sent).filter(|k| !t.delivered.contains_key(k)).count();
        (duplicated, missing)
    });
    table.notes.push(format!(
        "{sent} updates sent, {unacknowledged} never acknowledged; replies missing: {missing}, duplicated: {duplicated}."
    ));
    Ok(table)
}

/// How many updates have a reply.
fn replied(rig: &Rig) -> u64 {
    rig.telegram.with_tally(|t| t.delivered.len() as u64)
}

async fn sample(rig: &Rig, begun: Instant, sent: u64) -> anyhow::Result<Vec<String>> {
    let memory = rig.service.memory_kib();
    let bytes = rig.service.database_bytes(&rig.db).await?;
    let status = rig.service.queues().await?;
    let mut row = vec![
        format!("{:.0}", begun.elapsed().as_secs_f64() / 60.0),
        sent.to_string(),
        replied(rig).to_string(),
        memory.map_or("–".into(), |m| mib(m.rss)),
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
    ];
    for table in TABLES {
        let rows = status["tables"]["rows"][*table].as_i64().unwrap_or(-1);
        row.push(rows.to_string());
    }
    eprintln!("  {}", row.join(" · "));
    Ok(row)
}
