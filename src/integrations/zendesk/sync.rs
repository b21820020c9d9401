//! Tickets into tasks: linking a ticket to a task (on request or by rule), importing a linked
//! ticket's comments once each, and the incremental export that finds new and changed tickets
//! (its cursor is kept in `sync_cursors`, so each poll reads only what changed since the last).

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::client::{Client, ExportFrom, Ticket};
use super::{task_priority, task_status, ZendeskConfig, ZendeskError, NAME, NOTE_PREFIX};
use crate::domain::TaskTitle;
use crate::integrations::{actor, Integrations};
use crate::store::NewLink;
use crate::workspace::{Actor, NewComment, Origin, TaskRequest, WorkspaceError};

const CURSOR: &str = "zendesk.tickets";
/// The first export reads the tickets changed in the last day.
const FIRST_LOOKBACK_SECS: i64 = 24 * 3600;
/// The most export pages one poll reads; the next poll goes on from the stored cursor.
const MAX_PAGES: usize = 20;

/// What one poll did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SyncReport {
    /// Tickets the export returned.
    pub tickets: usize,
    /// Tasks made from tickets by rule.
    pub tasks_created: usize,
    /// Ticket comments that became task comments.
    pub comments_imported: usize,
    /// Where the next poll starts.
    pub cursor: Option<String>,
}

/// A ticket and the task it is linked to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketLink {
    pub ticket_id: i64,
    pub task_id: i64,
    pub comments_imported: usize,
}

/// Choices when a person makes a task from a ticket.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkOptions {
    #[serde(default)]
    pub project_id: Option<i64>,
    /// A person's handle.
    #[serde(default)]
    pub assigned_to: Option<String>,
}

/// Whether a ticket's tag or priority asks for a task.
fn rule_matches(config: &ZendeskConfig, ticket: &Ticket) -> bool {
    if matches!(ticket.status.as_str(), "solved" | "closed" | "deleted") {
        return false;
    }
    let tagged = config
        .task_tag
        .as_ref()
        .is_some_and(|tag| ticket.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)));
    let urgent = ticket
        .priority
        .as_ref()
        .is_some_and(|p| config.task_priorities.iter().any(|wanted| wanted == p));
    tagged || urgent
}

fn new_task(config: &ZendeskConfig, ticket: &Ticket, options: LinkOptions) -> TaskRequest {
    let subject = ticket.subject.as_deref().unwrap_or("").trim();
    let mut title: String = if subject.is_empty() {
        format!("Zendesk ticket #{}", ticket.id)
    } else {
        subject.to_owned()
    };
    if title.chars().count() > TaskTitle::MAX_CHARS {
        title = title.chars().take(TaskTitle::MAX_CHARS - 1).collect::<String>() + "…";
    }
    let description = ticket.description.as_deref().unwrap_or("").trim();
    let link = format!(
        "Zendesk ticket #{}: {}/agent/tickets/{}",
        ticket.id, config.api_url, ticket.id
    );
    TaskRequest {
        title,
        description: Some(if description.is_empty() {
            link
        } else {
            format!("{description}\n\n{link}")
        }),
        status: Some(task_status(&ticket.status).into()),
        priority: Some(task_priority(ticket.priority.as_deref()).into()),
        project_id: options.project_id.or(config.project_id),
        assigned_to: options.assigned_to,
        ..TaskRequest::default()
    }
}

impl Integrations {
    /// Makes a task from ticket `ticket_id` as `who` (once: a linked ticket keeps its task), and
    /// imports its comments. `true` when the task is new.
    pub async fn link_ticket(
        &self,
        who: &Actor,
        ticket_id: i64,
        options: LinkOptions,
    ) -> Result<(TicketLink, bool), ZendeskError> {
        let config = self.zendesk_config().await?;
        let client = Client::new(self.http(), &config);
        let ticket = client.ticket(ticket_id).await?;
        let (task_id, created) = self.task_for_ticket(who, &config, &ticket, options).await?;
        let comments_imported = self.import_comments(&client, &ticket, task_id).await?;
        Ok((
            TicketLink {
                ticket_id,
                task_id,
                comments_imported,
            },
            created,
        ))
    }

    /// The task linked to `ticket`, made now if there is none.
    async fn task_for_ticket(
        &self,
        who: &Actor,
        config: &ZendeskConfig,
        ticket: &Ticket,
        options: LinkOptions,
    ) -> Result<(i64, bool), ZendeskError> {
        let external_id = ticket.id.to_string();
        if let Some(link) = self.store().external_link(NAME, "ticket", &external_id).await? {
            return Ok((link.local_id, false));
        }
        // The source key makes a retry after a crash find the task made the first time.
        let origin = Origin {
            channel: NAME.into(),
            chat: external_id.clone(),
            source_key: format!("zendesk:ticket:{}", ticket.id),
        };
        let task = self
            .workspace()
            .submit_task(who, new_task(config, ticket, options), Some(&origin))
            .await?;
        let link = NewLink {
            system: NAME,
            object_type: "ticket",
            external_id: &external_id,
            resource: "task",
            local_id: task.id,
            version: None,
        };
        let fresh = self.store().insert_external_link(&link).await?;
        tracing::info!(
            ticket = ticket.id,
            task = task.id,
            "Zendesk ticket linked to a task"
        );
        Ok((task.id, fresh))
    }

    /// Adds the ticket's comments that are not on the task yet; returns how many.
    async fn import_comments(
        &self,
        client: &Client<'_>,
        ticket: &Ticket,
        task_id: i64,
    ) -> Result<usize, ZendeskError> {
        let description = ticket.description.as_deref().unwrap_or("").trim();
        let mut imported = 0;
        let zendesk = actor(NAME);
        for comment in client.comments(ticket.id).await? {
            let external_id = comment.id.to_string();
            if self
                .store()
                .external_link(NAME, "comment", &external_id)
                .await?
                .is_some()
            {
                continue;
            }
            let text = comment.text();
            // Our own notes, and the first comment that repeats the description, are not news.
            let skip = text.is_empty() || text.starts_with(NOTE_PREFIX) || text == description;
            let local_id = if skip {
                task_id
            } else {
                let origin = Origin {
                    channel: NAME.into(),
                    chat: ticket.id.to_string(),
                    source_key: format!("zendesk:comment:{}", comment.id),
                };
                let content: String = text.chars().take(20_000).collect();
                let new = NewComment {
                    task_id,
                    content,
                    author: None,
                };
                match self.workspace().add_comment(&zendesk, new, Some(&origin)).await {
                    Ok(c) => c.id,
                    // The task was deleted here: the ticket's comments have nowhere to go.
                    Err(WorkspaceError::Invalid(e)) => {
                        tracing::warn!(ticket = ticket.id, task_id, error = %e, "comment not imported");
                        return Ok(imported);
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            let link = NewLink {
                system: NAME,
                object_type: "comment",
                external_id: &external_id,
                resource: if skip { "skipped" } else { "comment" },
                local_id,
                version: None,
            };
            if self.store().insert_external_link(&link).await? && !skip {
                imported += 1;
            }
        }
        Ok(imported)
    }

    /// Acts on one ticket seen in the export or a webhook: links it when a rule asks for it,
    /// and brings a linked ticket's new comments over.
    async fn sync_ticket(
        &self,
        config: &ZendeskConfig,
        client: &Client<'_>,
        ticket: &Ticket,
        report: &mut SyncReport,
    ) -> Result<(), ZendeskError> {
        let external_id = ticket.id.to_string();
        let link = self.store().external_link(NAME, "ticket", &external_id).await?;
        let task_id = match &link {
            Some(l) if l.version.is_some() && l.version == ticket.updated_at => return Ok(()),
            Some(l) => l.local_id,
            None if rule_matches(config, ticket) => {
                let (task_id, created) = self
                    .task_for_ticket(&actor(NAME), config, ticket, LinkOptions::default())
                    .await?;
                report.tasks_created += usize::from(created);
                task_id
            }
            None => return Ok(()),
        };
        report.comments_imported += self.import_comments(client, ticket, task_id).await?;
        let link = NewLink {
            system: NAME,
            object_type: "ticket",
            external_id: &external_id,
            resource: "task",
            local_id: task_id,
            version: ticket.updated_at.as_deref(),
        };
        self.store().upsert_external_link(&link).await?;
        Ok(())
    }

    /// Fetches ticket `id` and syncs it (a webhook said it changed).
    pub async fn zendesk_sync_ticket(&self, id: i64) -> Result<SyncReport, ZendeskError> {
        let config = self.zendesk_config().await?;
        let client = Client::new(self.http(), &config);
        let ticket = client.ticket(id).await?;
        let mut report = SyncReport {
            tickets: 1,
            ..SyncReport::default()
        };
        self.sync_ticket(&config, &client, &ticket, &mut report).await?;
        Ok(report)
    }

    /// Reads the incremental export from the stored cursor (or, the first time, from a day
    /// ago), syncs every ticket in it, and stores the new cursor after each page.
    pub async fn zendesk_poll_once(&self) -> Result<SyncReport, ZendeskError> {
        let config = self.zendesk_config().await?;
        let client = Client::new(self.http(), &config);
        let mut report = SyncReport {
            cursor: self.store().sync_cursor(CURSOR).await?,
            ..SyncReport::default()
        };
        for _ in 0..MAX_PAGES {
            let from = match &report.cursor {
                Some(c) => ExportFrom::Cursor(c),
                None => ExportFrom::StartTime(chrono::Utc::now().timestamp() - FIRST_LOOKBACK_SECS),
            };
            let page = client.export(from).await?;
            report.tickets += page.tickets.len();
            for ticket in &page.tickets {
                self.sync_ticket(&config, &client, ticket, &mut report).await?;
            }
            if let Some(next) = page.after_cursor.filter(|c| !c.is_empty()) {
                self.store().set_sync_cursor(CURSOR, &next).await?;
                report.cursor = Some(next);
            }
            if page.end_of_stream {
                break;
            }
        }
        Ok(report)
    }

    /// Polls the export every `every` until `shutdown` (the first poll after one interval).
    pub async fn poll_zendesk_until_stopped(self, every: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match self.zendesk_poll_once().await {
                Ok(r) => tracing::debug!(
                    tickets = r.tickets,
                    tasks = r.tasks_created,
                    comments = r.comments_imported,
                    "Zendesk export read"
                ),
                Err(ZendeskError::NotConfigured(_)) => {}
                Err(e) => tracing::warn!(error = %e, "Zendesk export failed; the next poll tries again"),
            }
        }
    }
}
