//! Telegram by long polling, as a bot without a public URL runs: the updates wait at the fake
//! Bot API and the service takes them with `getUpdates` (up to 100 an answer), storing each
//! answer before the next call confirms it.
//!
//! Each on a service of its own with a fresh database:
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

/// `/newtask` updates turned into tasks per second, on a service of its own.
pub async fn commands(options: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let chats = users(7_000_001, CHATS);
    rig.service.link(&chats).await?;
    let n = options.throughput_updates;
    let updates = (1..=n).map(|k| text_update(k as u64, chats[k % CHATS], &format!("/newtask load-{k}")));
    let rate = finished_per_second(rig, updates, n).await?;
    Ok(vec![(
        format!(
            "long polling: `/newtask` updates turned into tasks and queued replies ({} updates, {CHATS} chats)",
            thousands(n as f64)
        ),
        format!("{}/s", thousands(rate)),
    )])
}

/// Agent turns finished per second, on a service of its own.
pub async fn turns(_: &Options, rig: &mut Rig) -> anyhow::Result<Rows> {
    let chats = users(7_500_001, CHATS);
    rig.service.link(&chats).await?;
    let updates = chats.iter().enumerate().map(|(k, &chat)| {
        text_update(
            k as u64 + 1,
            chat,
            &format!("Please keep track of load-{} for me", k + 1),
        )
    });
    let rate = finished_per_second(rig, updates, CHATS).await?;
    Ok(vec![(
        format!("long polling: agent turns finished per second ({CHATS} chats, one update each)"),
        format!("{}/s", thousands(rate)),
    )])
}

/// Queues `updates` at the fake Bot API at once and waits until the inbox has finished all
/// `count`; how many per second.
async fn finished_per_second(
    rig: &Rig,
    updates: impl Iterator<Item = serde_json::Value>,
    count: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    rig.telegram.push_updates(updates);
    rig.service
        .wait_for_events(count as u64, started, Duration::from_secs(300))
        .await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
