//! Button presses: the press is acknowledged on the platform, then acted on like the command
//! it stands for ([`ButtonAction`]: done, acknowledge or snooze an escalation, approve or
//! reject a proposal, retry a dead letter, finish or snooze a reminder, turn a stand-up blocker
//! into a task or not).

use super::speaker::Speaker;
use super::{replies, Conversation, Reply};
use crate::domain::TaskStatus;
use crate::message::{ButtonAction, InboundEvent, OutboundMessage, SnoozeFor};
use crate::workspace::{StatusChange, WorkspaceError};

impl Conversation {
    /// A button press: acknowledged on the platform, then acted on like the command it stands for.
    pub(super) async fn button(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        press_id: &str,
        data: &str,
    ) -> Result<Vec<OutboundMessage>, WorkspaceError> {
        let mut ack = OutboundMessage::text(event.channel, event.chat_id.clone(), "");
        ack.answers_button = Some(press_id.to_owned());
        if speaker.person.is_none() && !self.open_chat {
            ack.text = replies::UNLINKED.into();
            return Ok(vec![ack]);
        }
        let now = event.received_at;
        let text = match ButtonAction::parse(data) {
            None => {
                ack.text = "This button no longer does anything.".into();
                return Ok(vec![ack]);
            }
            Some(ButtonAction::Approve(id)) => {
                let calls = self
                    .agent
                    .as_deref()
                    .map(|agent| agent as &dyn crate::workspace::DeferredCalls);
                match self
                    .workspace
                    .approve_action_with(&speaker.actor, id, calls)
                    .await
                {
                    Ok(action) => replies::decided(&action),
                    Err(e) => replies::error(e)?,
                }
            }
            Some(ButtonAction::Reject(id)) => match self.workspace.reject_action(&speaker.actor, id).await {
                Ok(action) => replies::decided(&action),
                Err(e) => replies::error(e)?,
            },
            Some(ButtonAction::Ack(task_id)) => {
                match self
                    .workspace
                    .acknowledge_escalation(&speaker.actor, task_id, now)
                    .await
                {
                    Ok(true) => format!("Acknowledged: the escalation of #{task_id} stops here."),
                    Ok(false) => format!("#{task_id} has no running escalation."),
                    Err(e) => replies::error(e)?,
                }
            }
            Some(ButtonAction::Snooze(task_id, length)) => self.snooze(speaker, task_id, length, now).await?,
            Some(ButtonAction::RetryDead(id)) => {
                match self.workspace.retry_dead_letter(&speaker.actor, id).await {
                    Ok(()) => format!("Message #{id} is queued again and goes out now."),
                    Err(WorkspaceError::Forbidden(_)) => "Only admins can retry messages.".to_owned(),
                    Err(e) => replies::error(e)?,
                }
            }
            Some(ButtonAction::ReminderDone(id)) => {
                match self.workspace.finish_reminder(&speaker.actor, id).await {
                    Ok(reminder) => format!("Done: reminder #{} ({}).", reminder.id, reminder.text),
                    Err(e) => replies::error(e)?,
                }
            }
            Some(ButtonAction::ReminderSnooze(id, length)) => {
                match self
                    .workspace
                    .snooze_reminder(&speaker.actor, id, length.duration(), now)
                    .await
                {
                    Ok(reminder) => format!(
                        "Snoozed: reminder #{} comes again in {}.",
                        reminder.id,
                        length.words()
                    ),
                    Err(e) => replies::error(e)?,
                }
            }
            Some(ButtonAction::BlockerTake(id)) => self.blocker_button(speaker, id, true).await?,
            Some(ButtonAction::BlockerSkip(id)) => self.blocker_button(speaker, id, false).await?,
            Some(ButtonAction::Done(id)) => {
                match (self.workspace)
                    .change_task_status(&speaker.actor, id, TaskStatus::Done)
                    .await
                {
                    // A second tap changes nothing: the presser hears so, the chat nothing.
                    Ok(change @ StatusChange::Unchanged(_)) if event.channel.notifies_presser() => {
                        ack.text = replies::done(&change);
                        return Ok(vec![ack]);
                    }
                    Ok(change) => replies::done(&change),
                    Err(e) => replies::error(e)?,
                }
            }
        };
        ack.text = text.clone();
        Ok(vec![ack, self.reply(event, Reply::text(text))])
    }

    async fn snooze(
        &self,
        speaker: &Speaker,
        task_id: i64,
        length: SnoozeFor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, WorkspaceError> {
        match self
            .workspace
            .snooze_escalation(&speaker.actor, task_id, length.duration(), now)
            .await
        {
            Ok(true) => Ok(format!(
                "Snoozed: the escalation of #{task_id} waits {}.",
                length.words()
            )),
            Ok(false) => Ok(format!("#{task_id} has no running escalation.")),
            Err(e) => replies::error(e),
        }
    }
}
