//! Handbook policy checks. Rules are ```` ```policy ```` blocks in the handbook's markdown files:
//!
//! ```text
//! id: client-task-owner
//! applies_to: label=client            (label=, priority=, status=; several joined by commas)
//! require: [assignee, due_date]       (assignee, due_date, estimate, project)
//! require_comment_within_hours: 4     (a comment at least this often while it applies)
//! message: Client tasks must have an owner and a due date.
//! ```
//!
//! Tasks changed since the last sweep are checked against every rule, and tasks under a comment
//! rule are looked for each sweep; `check` serves a single task on demand. A breach is reported
//! once (until the task complies again) to whoever changed the task last, else the assignee,
//! else the task's chat, with the rule's message and the file › heading it comes from.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Scheduler, SweepReport};
use crate::store::{PolicyTask, StoreError};
use crate::workspace::routing::{chat_address, outbound, person_address, Address};

/// Tasks read per query.
const BATCH: i64 = 500;
/// Pages of changed tasks one sweep reads at most (100,000 tasks).
const MAX_PAGES: usize = 200;

/// One rule, with where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    /// (field, value) pairs that must all match: `label`, `priority`, `status`.
    pub applies_to: Vec<(String, String)>,
    pub require: Vec<String>,
    pub comment_within_hours: Option<f64>,
    pub message: String,
    /// `file.md › Heading`.
    pub source: String,
}

/// A rule a task breaks.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Breach {
    pub rule: String,
    pub message: String,
    pub source: String,
}

/// The rules of a handbook.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub rules: Vec<Rule>,
}

impl Policies {
    /// Reads every `*.md` file under `dir` (sorted, so rule order is stable).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        let mut rules = Vec::new();
        for path in files {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            rules.extend(parse(&name, &text)?);
        }
        Ok(Self { rules })
    }

    /// The rules `task` breaks at `now`.
    pub fn check(&self, task: &PolicyTask, now: DateTime<Utc>) -> Vec<&Rule> {
        self.rules.iter().filter(|r| breaks(r, task, now)).collect()
    }
}

/// The rules in one markdown file.
pub fn parse(file: &str, text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut heading = String::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match &mut block {
            Some(lines) if trimmed.starts_with("```") => {
                let source = if heading.is_empty() {
                    file.to_owned()
                } else {
                    format!("{file} › {heading}")
                };
                rules.push(rule(lines, source).map_err(|e| format!("{file}: {e}"))?);
                block = None;
            }
            Some(lines) => lines.push(line),
            None if trimmed == "```policy" => block = Some(Vec::new()),
            None if trimmed.starts_with('#') => heading = trimmed.trim_start_matches('#').trim().to_owned(),
            None => {}
        }
    }
    Ok(rules)
}

fn rule(lines: &[&str], source: String) -> Result<Rule, String> {
    let mut rule = Rule {
        id: String::new(),
        applies_to: Vec::new(),
        require: Vec::new(),
        comment_within_hours: None,
        message: String::new(),
        source,
    };
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("policy line '{}' is not 'key: value'", line.trim()))?;
        let value = value.trim();
        match key.trim() {
            "id" => rule.id = value.to_owned(),
            "message" => rule.message = value.to_owned(),
            "applies_to" => {
                for part in value.split(',').filter(|p| !p.trim().is_empty()) {
                    let (field, wanted) = part
                        .split_once('=')
                        .ok_or_else(|| format!("applies_to '{part}' is not field=value"))?;
                    let field = field.trim().to_lowercase();
                    if !["label", "priority", "status"].contains(&field.as_str()) {
                        return Err(format!(
                            "applies_to field '{field}' is not label, priority or status"
                        ));
                    }
                    rule.applies_to.push((field, wanted.trim().to_lowercase()));
                }
            }
            "require" => {
                for item in value.trim_matches(|c| c == '[' || c == ']').split(',') {
                    let item = item.trim().to_lowercase();
                    if item.is_empty() {
                        continue;
                    }
                    if !["assignee", "due_date", "estimate", "project"].contains(&item.as_str()) {
                        return Err(format!(
                            "require '{item}' is not assignee, due_date, estimate or project"
                        ));
                    }
                    rule.require.push(item);
                }
            }
            "require_comment_within_hours" => {
                let hours: f64 = value
                    .parse()
                    .map_err(|_| format!("'{value}' is not a number of hours"))?;
                rule.comment_within_hours = Some(hours);
            }
            other => return Err(format!("unknown policy key '{other}'")),
        }
    }
    if rule.id.is_empty() || rule.message.is_empty() {
        return Err("a policy needs an id and a message".into());
    }
    Ok(rule)
}

fn applies(rule: &Rule, task: &PolicyTask) -> bool {
    task.status != "done"
        && rule
            .applies_to
            .iter()
            .all(|(field, wanted)| match field.as_str() {
                "priority" => task.priority == *wanted,
                "status" => task.status == *wanted,
                _ => serde_json::from_str::<Vec<crate::domain::Label>>(&task.labels)
                    .map(|labels| labels.iter().any(|l| l.name.to_lowercase() == *wanted))
                    .unwrap_or(false),
            })
}

fn breaks(rule: &Rule, task: &PolicyTask, now: DateTime<Utc>) -> bool {
    if !applies(rule, task) {
        return false;
    }
    let missing = rule.require.iter().any(|r| match r.as_str() {
        "assignee" => task.assignee_id.is_none(),
        "due_date" => task.due_date.is_none(),
        "estimate" => task.time_estimate.is_none(),
        _ => task.project_id.is_none(),
    });
    let silent = rule.comment_within_hours.is_some_and(|hours| {
        let base = if rule.applies_to.iter().any(|(f, _)| f == "status") {
            task.updated_at
        } else {
            task.created_at
        };
        let since = task.last_comment_at.map_or(base, |c| c.max(base));
        now - since > Duration::seconds((hours * 3600.0) as i64)
    });
    missing || silent
}

/// The breaches of task `task_id` at `now`.
pub async fn check(s: &Scheduler, task_id: i64, now: DateTime<Utc>) -> Result<Vec<Breach>, StoreError> {
    let task = s.store.policy_task(task_id).await?;
    Ok(s.policies
        .check(&task, now)
        .into_iter()
        .map(|r| Breach {
            rule: r.id.clone(),
            message: r.message.clone(),
            source: r.source.clone(),
        })
        .collect())
}

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    if s.policies.rules.is_empty() {
        return Ok(());
    }
    let since = since.unwrap_or(now - Duration::days(1)).min(now);
    let mut tasks = changed_since(s, since).await?;
    for rule in &s.policies.rules {
        let Some(hours) = rule.comment_within_hours else {
            continue;
        };
        let Some((field, value)) = rule.applies_to.iter().find(|(f, _)| f != "label") else {
            continue;
        };
        let cutoff = now - Duration::seconds((hours * 3600.0) as i64);
        tasks.extend(s.store.policy_tasks_silent(field, value, cutoff, BATCH).await?);
    }
    tasks.sort_by_key(|t| t.id);
    tasks.dedup_by_key(|t| t.id);
    for task in &tasks {
        for rule in &s.policies.rules {
            if !breaks(rule, task, now) {
                if applies(rule, task) {
                    s.store.clear_breach(task.id, &rule.id).await?;
                }
                continue;
            }
            if !s
                .store
                .record_breach(task.id, &rule.id, &rule.message, &rule.source, now)
                .await?
            {
                continue;
            }
            if let Some(to) = recipient(s, task).await? {
                let text = format!(
                    "Policy check on #{} {}: {} (rule {}, from {})",
                    task.id, task.title, rule.message, rule.id, rule.source
                );
                let key = format!("policy:{}:{}:{}", task.id, rule.id, now.timestamp_micros());
                let message = outbound(&to, text, Vec::new(), key)?;
                s.store.enqueue_outbox(&[message]).await?;
                report.breaches_reported += 1;
            }
        }
    }
    Ok(())
}

/// Every open task changed at or after `since`, page by page (oldest change first), so a busy
/// interval between two sweeps is checked in full.
async fn changed_since(s: &Scheduler, since: DateTime<Utc>) -> Result<Vec<PolicyTask>, StoreError> {
    let mut tasks: Vec<PolicyTask> = Vec::new();
    let mut from = since;
    for _ in 0..MAX_PAGES {
        let page = s.store.policy_tasks_changed(from, BATCH).await?;
        let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= BATCH;
        let last = page.last().map(|t| t.updated_at);
        tasks.extend(page);
        match last {
            // Rows changed at `last` are read again from there; duplicates are removed later.
            Some(last) if full && last > from => from = last,
            _ => break,
        }
    }
    Ok(tasks)
}

/// Whoever changed the task last (a person), else its assignee, else its chat.
async fn recipient(s: &Scheduler, task: &PolicyTask) -> Result<Option<Address>, StoreError> {
    if let Some(actor) = s.store.task_last_actor(task.id).await? {
        if let Ok(person) = s.store.person_by_handle(&actor).await {
            if let Some(to) = person_address(&person) {
                return Ok(Some(to));
            }
        }
    }
    if let Some(id) = task.assignee_id {
        if let Some(to) = person_address(&s.store.person(id).await?) {
            return Ok(Some(to));
        }
    }
    Ok(chat_address(
        task.origin_channel.as_deref(),
        task.origin_chat.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_handbook_rules_parse_with_their_source() {
        let policies = Policies::load(Path::new("handbook")).unwrap();
        let owner = policies
            .rules
            .iter()
            .find(|r| r.id == "client-task-owner")
            .unwrap();
        assert_eq!(owner.applies_to, vec![("label".to_owned(), "client".to_owned())]);
        assert_eq!(owner.require, vec!["assignee", "due_date"]);
        assert!(
            owner.source.starts_with("deadlines-and-time-tracking.md › "),
            "{}",
            owner.source
        );
        let urgent = policies
            .rules
            .iter()
            .find(|r| r.id == "urgent-needs-comment")
            .unwrap();
        assert_eq!(urgent.comment_within_hours, Some(4.0));
    }

    #[test]
    fn malformed_rules_are_refused_with_the_file() {
        let err = parse("x.md", "```policy\nid: a\nwhatever: 1\nmessage: m\n```\n").unwrap_err();
        assert!(err.contains("x.md") && err.contains("whatever"), "{err}");
    }
}
