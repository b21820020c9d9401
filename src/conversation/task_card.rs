//! `/task ID`: one task as a card, its line as `/tasks` shows it, then its project, its
//! description and its latest comments (the files follow, from `files`).

use chrono::{DateTime, Utc};

use super::speaker::Speaker;
use super::{replies, Conversation};
use crate::domain::Task;
use crate::workspace::{Paging, WorkspaceError};

/// How many of the newest comments a card shows.
const COMMENTS_SHOWN: i64 = 3;
/// A longer comment is cut to this many characters on the card.
const COMMENT_CHARS: usize = 200;

impl Conversation {
    pub(super) async fn task_card(
        &self,
        speaker: &Speaker,
        task: &Task,
        now: DateTime<Utc>,
    ) -> Result<String, WorkspaceError> {
        let actor = &speaker.actor;
        let mut text = replies::line(task, actor.timezone, now);
        if let Some(project) = task.project_id {
            match self.workspace.project(actor, project).await {
                Ok(project) => text.push_str(&format!("\nProject: {}", project.name)),
                Err(WorkspaceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if !task.description.trim().is_empty() {
            text.push_str(&format!("\n{}", task.description.trim()));
        }
        // The oldest comments come first: one query when there are few, a second for the
        // latest when there are more.
        let mut page = (self.workspace)
            .list_comments(
                actor,
                Some(task.id),
                Paging {
                    limit: COMMENTS_SHOWN,
                    offset: 0,
                },
            )
            .await?;
        if page.total > COMMENTS_SHOWN {
            let offset = page.total - COMMENTS_SHOWN;
            let total = page.total;
            page = (self.workspace)
                .list_comments(
                    actor,
                    Some(task.id),
                    Paging {
                        limit: COMMENTS_SHOWN,
                        offset,
                    },
                )
                .await?;
            page.total = total;
        }
        if page.total > 0 {
            let heading = if page.total > COMMENTS_SHOWN {
                format!("Comments ({}, the latest {COMMENTS_SHOWN}):", page.total)
            } else {
                format!("Comments ({}):", page.total)
            };
            text.push('\n');
            text.push_str(&heading);
            for comment in &page.items {
                let content = comment.content.trim();
                let mut shown: String = content.chars().take(COMMENT_CHARS).collect();
                if shown.len() < content.len() {
                    shown.push('…');
                }
                // An API token's comment is signed `token:NAME`; a person's with the handle.
                let author = if comment.author.contains(':') {
                    comment.author.clone()
                } else {
                    format!("@{}", comment.author)
                };
                text.push_str(&format!(
                    "\n{author}, {}: {shown}",
                    replies::local(comment.created_at, actor.timezone)
                ));
            }
        }
        Ok(text)
    }
}
