//! Telegram by long polling, as a bot without a public URL runs: the updates wait at the fake
//! Bot API and the service takes them with `getUpdates` (up to 100 an answer), storing each
//! answer before the next call confirms it.
//!
//! 1. `/newtask`: `--throughput-updates` distinct `/newtask` updates from 200 linked chats,
//!    all queued at once; updates turned into tasks and queued replies per second (from the
//!    moment they are queued until the inbox has finished them all).
//! 2. Agent turns: 200 linked chats each send one free-text update (two scripted model calls
//!    and one tool call each), all queued at once; turns finished per second, measured the
//!    same way.

use std::time::{Duration, Instant};

use crate::fake_telegram::text_update;
use crate::measure::{thousands, users, Rows};
use crate::{Options, Rig};

/// Chats sending at once.
const CHATS: usize = 200;

pub async fn polling(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let chats = users(7_000_001, CHATS);
    rig.service.link(&chats).await?;
    let n = options.throughput_updates;
    let commands = (1..=n).map(|k| text_update(k as u64, chats[k % CHATS], &format!("/newtask load-{k}")));
    let newtask = finished_per_second(rig, commands, 0, n).await?;
    let turns = (1..=CHATS).map(|k| {
        let token = n + k;
        text_update(
            token as u64,
            chats[k - 1],
            &format!("Please keep track of load-{token} for me"),
        )
    });
    let turns = finished_per_second(rig, turns, n, CHATS).await?;
    Ok(vec![
        (
            format!(
                "long polling: `/newtask` updates turned into tasks and queued replies ({} updates, {CHATS} chats)",
                thousands(n as f64)
            ),
            format!("{}/s", thousands(newtask)),
        ),
        (
            format!("long polling: agent turns finished per second ({CHATS} chats, one update each)"),
            format!("{}/s", thousands(turns)),
        ),
    ])
}

/// Queues `updates` at the fake Bot API at once and waits until the inbox has finished them
/// (`before` events were finished earlier); how many per second.
async fn finished_per_second(
    rig: &Rig,
    updates: impl Iterator<Item = serde_json::Value>,
    before: usize,
    count: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    rig.telegram.push_updates(updates);
    rig.service
        .wait_for_events((before + count) as u64, started, Duration::from_secs(300))
        .await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
