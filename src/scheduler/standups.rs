//! Stand-ups: at a stand-up's ask moment its run of the day is opened (claimed with a lease,
//! made once per local day, the stand-up moved to its next moment in the same transaction);
//! each member and admin is asked privately on their own channel, held by their quiet hours
//! until the digest; at the digest moment one digest goes to the project's chat with each
//! answer and the names of those who did not answer. Every message is queued in the
//! transaction that records it, under `standup:{id}:{day}:ask:{person}` or
//! `standup:{id}:{day}:digest`: two replicas, a restart or a sweep run twice send each once.
//! A run whose digest moment passed while no scheduler ran is skipped, not sent late.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{quiet_until, Scheduler, SweepReport};
use crate::domain::StandupPlan;
use crate::store::{DueAsk, NewRun, Standup, StandupAnswer, StandupRun, StoreError};
use crate::workspace::routing::{chat_address, local_time, outbound, person_address};

/// Stand-ups, questions and digests looked at per sweep.
const BATCH: i64 = 200;
/// How long a replica holds its claim on a stand-up it opens a run of.
const LEASE_SECS: i64 = 120;

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let due = s
        .store
        .claim_due_standups(now, now + Duration::seconds(LEASE_SECS), BATCH)
        .await?;
    for standup in due {
        open_run(s, &standup, now).await?;
    }
    for ask in s.store.due_standup_asks(now, BATCH).await? {
        match ask_one(s, &ask, now).await {
            Ok(true) => report.standup_questions += 1,
            Ok(false) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    for run in s.store.due_standup_digests(now, BATCH).await? {
        match digest(s, &run, now).await {
            Ok(true) => report.standup_digests += 1,
            Ok(false) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn zone(s: &Scheduler, standup: &Standup) -> Tz {
    standup.timezone.parse().unwrap_or(s.config.timezone)
}

async fn open_run(s: &Scheduler, standup: &Standup, now: DateTime<Utc>) -> Result<(), StoreError> {
    let tz = zone(s, standup);
    let plan = match StandupPlan::stored(&standup.days, &standup.ask_time, standup.digest_minutes) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::warn!(standup = standup.id, error = %e, "a stand-up cannot be read: left alone");
            return s.store.release_standup(standup.id).await;
        }
    };
    let ask_at = standup.next_ask_at;
    let digest_at = ask_at + Duration::minutes(i64::from(plan.digest_minutes));
    let Some(next) = plan.next_ask(tz, ask_at.max(now)) else {
        return s.store.release_standup(standup.id).await;
    };
    // Missed entirely (the service was down past the digest): on to the next one.
    let run = if digest_at <= now {
        None
    } else {
        let mut people = Vec::new();
        for id in s.store.standup_people().await? {
            if person_address(&s.store.person(id).await?).is_some() {
                people.push(id);
            }
        }
        Some(NewRun {
            day: ask_at.with_timezone(&tz).format("%Y-%m-%d").to_string(),
            digest_at,
            people,
        })
    };
    s.store
        .open_standup_run(standup.id, ask_at, next, run.as_ref())
        .await?;
    Ok(())
}

async fn ask_one(s: &Scheduler, ask: &DueAsk, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let person = s.store.person(ask.person_id).await?;
    let Some(to) = person_address(&person) else {
        return Ok(false);
    };
    let tz = s.zone_of(&person);
    if let Some(until) = quiet_until(now, tz, s.store.quiet_hours(person.id).await?) {
        s.store.hold_standup_ask(ask.answer_id, until).await?;
        return Ok(false);
    }
    let text = format!(
        "Stand-up for {}: what did you do, what's next, and what blocks you? Answer here before {} {}, \
         for example:\nDone: …\nNext: …\nBlockers: none",
        ask.project,
        local_time(ask.digest_at, tz),
        tz.name()
    );
    let key = format!("standup:{}:{}:ask:{}", ask.standup_id, ask.day, person.id);
    let mut message = outbound(&to, text, Vec::new(), key)?;
    message.person_id = Some(person.id);
    s.store.ask_standup(ask.answer_id, now, &message).await
}

async fn digest(s: &Scheduler, run: &StandupRun, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let standup = s.store.standup(run.standup_id).await?;
    let project = s.store.project(standup.project_id).await?;
    let answers = s.store.standup_answers(run.id).await?;
    let to = chat_address(Some(standup.channel.as_str()), Some(standup.chat_id.as_str()));
    let messages = match (&to, answers.is_empty()) {
        (Some(to), false) => {
            let text = digest_text(&project.name, run, zone(s, &standup), &answers);
            let key = format!("standup:{}:{}:digest", standup.id, run.day);
            vec![outbound(to, text, Vec::new(), key)?]
        }
        // Nobody was asked, or there is no chat: marked sent all the same.
        _ => Vec::new(),
    };
    let sent = s.store.post_standup_digest(run.id, now, &messages).await?;
    Ok(sent && !messages.is_empty())
}

/// The digest: each answer (read as done / next / blockers when it could be), then who did
/// not answer.
pub fn digest_text(project: &str, run: &StandupRun, tz: Tz, answers: &[StandupAnswer]) -> String {
    let day = run.ask_at.with_timezone(&tz).format("%a %-d %b");
    let answered: Vec<&StandupAnswer> = answers.iter().filter(|a| a.answered_at.is_some()).collect();
    let mut text = format!(
        "Stand-up digest for {project}, {day}: {} of {} answered.",
        answered.len(),
        answers.len()
    );
    for a in &answered {
        text.push_str(&format!("\n\n@{}", a.person));
        let parts = [("Done", &a.done), ("Next", &a.next), ("Blockers", &a.blockers)];
        if parts.iter().all(|(_, p)| p.is_none()) {
            text.push_str(&format!(": {}", a.answer.as_deref().unwrap_or_default().trim()));
            continue;
        }
        for (label, part) in parts {
            if let Some(part) = part {
                text.push_str(&format!("\n{label}: {}", part.replace('\n', "; ")));
            }
        }
        if let (Some("taken"), Some(task)) = (a.blocker_state.as_deref(), a.blocker_task_id) {
            text.push_str(&format!(" (→ #{task})"));
        }
    }
    let silent: Vec<String> = answers
        .iter()
        .filter(|a| a.answered_at.is_none())
        .map(|a| format!("@{}", a.person))
        .collect();
    if !silent.is_empty() {
        text.push_str(&format!("\n\nNo answer from: {}.", silent.join(", ")));
    }
    text
}
