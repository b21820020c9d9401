//! Agent throughput: how many free-text turns (each two scripted model calls and one tool call,
//! the task made and the reply queued) the service finishes per second, at 1, 10, 100 and
//! 1,000 chats talking at once. Each level sends rounds of one free-text update per chat, all
//! at once, and waits until the inbox is empty; turns per second is the number of updates over
//! the time from the first POST to the empty inbox. Each chat's updates stay in order, so a
//! single chat measures one turn after another.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::fake_telegram::text_update;
use crate::measure::Rows;
use crate::webhook::Webhook;
use crate::{Options, Rig};

/// (chats at once, rounds): about the same number of turns at each level but the first.
const LEVELS: [(usize, usize); 4] = [(1, 100), (10, 30), (100, 4), (1000, 1)];
/// Webhook clients posting at once.
const CLIENTS: usize = 32;

pub async fn turns(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let most = LEVELS.iter().map(|(chats, _)| *chats).max().unwrap_or(1);
    let users: Vec<i64> = (0..most as i64).map(|i| 9_000_001 + i).collect();
    rig.service.link(&users).await?;
    let hook = Webhook::new(&rig.service.base)?;
    let mut token = 0usize;
    let mut rows = Vec::new();
    for (chats, rounds) in LEVELS {
        if chats > options.active_chats.max(1) {
            continue;
        }
        let started = Instant::now();
        for _ in 0..rounds {
            let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
                users[..chats]
                    .iter()
                    .map(|&chat| {
                        token += 1;
                        let text = format!("Please keep track of load-{token} for me");
                        serde_json::to_vec(&text_update(token as u64, chat, &text)).unwrap_or_default()
                    })
                    .collect(),
            );
            post_all(&hook, bodies).await?;
            rig.service
                .wait_for_events(token as u64, started, Duration::from_secs(600))
                .await?;
        }
        let elapsed = started.elapsed();
        let turns = chats * rounds;
        rows.push((
            format!("agent turns finished per second, {chats} chat(s) at once ({turns} turns)"),
            format!("{:.0}/s", turns as f64 / elapsed.as_secs_f64()),
        ));
    }
    Ok(rows)
}

async fn post_all(hook: &Webhook, bodies: Arc<Vec<Vec<u8>>>) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS.min(bodies.len()) {
        let (hook, bodies, next) = (hook.clone(), bodies.clone(), next.clone());
        clients.spawn(async move {
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let status = hook.post(body.clone()).await?;
                if status != 200 {
                    bail!("the webhook answered {status}");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    Ok(())
}
