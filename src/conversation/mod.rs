//! The conversation: what to answer to an inbound event. It identifies the speaker (chat
//! identity → person, `speaker`), keeps groups quiet unless addressed, runs commands without
//! any LLM through the `workspace` with the speaker as actor (`run`), acts on button presses
//! (`buttons`), and hands free text to the agent. Voice notes are transcribed first
//! (`integrations::voice`). It is the inbox's [`EventHandler`], wired in `app`.

pub mod agent;
mod alerts;
mod buttons;
pub mod commands;
pub mod files;
mod memory;
pub mod offline;
pub mod projects;
pub mod prompts;
pub mod reminders;
mod replies;
mod run;
mod speaker;
pub mod standups;
mod task_card;
pub mod team;
mod web;

pub use memory::count_tokens;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono_tz::Tz;

use crate::domain;
use crate::handbook::Handbook;
use crate::integrations::voice::{self, Prepared, Voice};
use crate::limits::{Allowances, Limits};
use crate::message::{Button, ButtonAction, Channels, ChatKind, InboundEvent, OutboundFile, OutboundMessage};
use crate::queue::{Attempt, EventHandler, Handled, HandlerError};
use crate::workspace::{Origin, WorkspaceError};
use agent::{Agent, TurnInput};
use commands::Parsed;
use speaker::Speaker;

/// The reply to free text when no LLM is configured.
/// How many tasks `/tasks` lists.
const LIST_LIMIT: i64 = 20;

pub struct Conversation {
    workspace: crate::workspace::Workspace,
    /// Answers free text when a language model is configured.
    agent: Option<Arc<Agent>>,
    /// Unlinked chat identities may use every command (a demo setting).
    open_chat: bool,
    /// The bot's name per channel, to read `/cmd@bot` and mentions (learnt from the platform
    /// once it is reached, after start).
    bot_names: RwLock<HashMap<domain::Channel, String>>,
    /// For typing indicators while the agent works (never for answers: those go through the
    /// outbox).
    channels: Channels,
    /// What `/ask` answers from.
    handbook: Option<Handbook>,
    /// Turns voice notes into text before anything else reads them.
    voice: Option<Arc<Voice>>,
    /// Messages per minute, agent turns and model tokens per day, per chat identity.
    limits: Arc<Limits>,
    /// The channels `/invite` tells an invitee about.
    invites: team::InviteRoutes,
    /// `COORDINATOR_PUBLIC_URL`: where `/web`'s sign-in links point.
    public_url: Option<String>,
}

impl Conversation {
    pub fn new(workspace: crate::workspace::Workspace, open_chat: bool, agent: Option<Arc<Agent>>) -> Self {
        Self {
            workspace,
            agent,
            open_chat,
            bot_names: RwLock::new(HashMap::new()),
            channels: Channels::default(),
            handbook: None,
            voice: None,
            limits: Arc::new(Limits::new(Allowances::default())),
            invites: team::InviteRoutes::default(),
            public_url: None,
        }
    }

    /// `/web` sends sign-in links to the web page at `url`.
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url;
        self
    }

    /// `/invite` tells the invitee how to reach the bot on these channels.
    pub fn with_invites(mut self, invites: team::InviteRoutes) -> Self {
        self.invites = invites;
        self
    }

    /// Each chat identity's allowances are counted in `limits`.
    pub fn with_limits(mut self, limits: Arc<Limits>) -> Self {
        self.limits = limits;
        self
    }

    /// `/ask` and the no-model free-text answers search `handbook`.
    pub fn with_handbook(mut self, handbook: Handbook) -> Self {
        self.handbook = Some(handbook);
        self
    }

    /// "typing…" is shown through `channels`.
    pub fn with_channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }

    /// Voice notes are transcribed by `voice` first.
    pub fn with_voice(mut self, voice: Arc<Voice>) -> Self {
        self.voice = Some(voice);
        self
    }

    /// Shows "typing…" in the chat every few seconds until the returned guard is dropped.
    fn typing(&self, event: &InboundEvent) -> Option<tokio_util::sync::DropGuard> {
        let channel = self.channels.get(event.channel)?.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        let chat = event.chat_id.clone();
        let until = stop.clone();
        tokio::spawn(async move {
            loop {
                channel.typing(&chat).await;
                tokio::select! {
                    _ = until.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(4)) => {}
                }
            }
        });
        Some(stop.drop_guard())
    }

    pub fn set_bot_name(&self, channel: domain::Channel, name: &str) {
        if let Ok(mut names) = self.bot_names.write() {
            names.insert(channel, name.to_owned());
        }
    }

    fn bot_name(&self, channel: domain::Channel) -> Option<String> {
        self.bot_names.read().ok().and_then(|n| n.get(&channel).cloned())
    }

    /// The replies to `event` (none when the bot should stay quiet). `Err` only when the
    /// workspace could not be reached: the inbox then retries the event later.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, chat = %event.chat_id))]
    pub async fn replies(&self, event: &InboundEvent) -> Result<Vec<OutboundMessage>, WorkspaceError> {
        let key = format!("{}:{}", event.channel, event.sender.external_id);
        if let Err(refused) = self.limits.message(&key) {
            tracing::info!(%key, "message over the per-minute limit, not acted on");
            if !self.limits.should_notify(&key) {
                return Ok(Vec::new());
            }
            let text = format!(
                "You are sending messages faster than I take them. Please wait {} s and send that again.",
                refused.retry_after.as_secs().max(1)
            );
            return Ok(vec![self.reply(event, Reply::text(text))]);
        }
        let origin = Origin {
            channel: event.channel.as_str().to_owned(),
            chat: standing_chat(event),
            source_key: format!("{}:{}", event.channel, event.event_id),
        };
        let speaker = self.speaker(event).await?;
        if let Some(press) = &event.button {
            return self.button(event, &speaker, &press.id, &press.data).await;
        }
        let bot = self.bot_name(event.channel);
        let text = match &bot {
            Some(name) => strip_mention(&event.text, name),
            None => event.text.clone(),
        };
        let tz: Tz = speaker.actor.timezone;
        let parsed = commands::parse(&text, event.received_at, tz, bot.as_deref());
        // Files are remembered by their message, for an `/attach ID` sent as a reply to it.
        let files = files::files_of(event);
        if let (false, Some(message_id)) = (files.is_empty(), &event.message_id) {
            self.workspace
                .remember_chat_files(event.channel.as_str(), &event.chat_id, message_id, &files)
                .await?;
        }
        if event.chat_kind == ChatKind::Group && parsed == Parsed::NotACommand && !event.mentions_bot {
            return Ok(Vec::new());
        }
        // A private message may answer the stand-up question the scheduler asked.
        if parsed == Parsed::NotACommand && event.chat_kind == ChatKind::Private && !text.trim().is_empty() {
            if let Some(reply) = self.standup_answer(event, &speaker, &text, &origin).await? {
                return Ok(vec![self.reply(event, reply)]);
            }
        }
        let reply = match parsed {
            Parsed::Usage(usage) => usage,
            Parsed::NotACommand if text.trim().is_empty() && !files.is_empty() => {
                if speaker.person.is_none() && !self.open_chat {
                    return Ok(vec![self.reply(event, Reply::text(replies::UNLINKED))]);
                }
                "Got the file. To put it on a task, reply to it with /attach ID (e.g. /attach 42), \
                 or send it with /newtask TITLE as its caption."
                    .to_owned()
            }
            Parsed::NotACommand if text.trim().is_empty() => return Ok(Vec::new()),
            Parsed::NotACommand => match self.free_text(event, &speaker, &text, &origin).await {
                Ok(reply) => return Ok(vec![self.reply(event, reply)]),
                Err(e) => replies::error(e)?,
            },
            Parsed::Command(commands::Command::Web) => match self.web(event, &speaker).await {
                Ok((reply, private)) => {
                    let mut out: Vec<OutboundMessage> = private.into_iter().collect();
                    out.push(self.reply(event, reply));
                    return Ok(out);
                }
                Err(e) => replies::error(e)?,
            },
            Parsed::Command(command) => match self.command(event, &speaker, command, &origin).await {
                Ok(reply) => return Ok(vec![self.reply(event, reply)]),
                Err(e) => replies::error(e)?,
            },
        };
        Ok(vec![self.reply(event, Reply::text(reply))])
    }

    fn reply(&self, event: &InboundEvent, reply: Reply) -> OutboundMessage {
        OutboundMessage {
            channel: event.channel,
            chat_id: event.chat_id.clone(),
            text: reply.text,
            buttons: reply.buttons,
            reply_to: (event.chat_kind == ChatKind::Group)
                .then(|| event.message_id.clone())
                .flatten(),
            answers_button: None,
            attachments: reply.attachments,
        }
    }

    /// Free text: the agent answers when there is one; otherwise what the bot can do.
    async fn free_text(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        text: &str,
        origin: &Origin,
    ) -> Result<Reply, WorkspaceError> {
        if speaker.person.is_none() && !self.open_chat {
            return Ok(Reply::text(replies::UNLINKED));
        }
        let Some(agent) = &self.agent else {
            return Ok(Reply::text(offline::reply(self.handbook.as_ref(), text).await));
        };
        let key = format!("{}:{}", event.channel, event.sender.external_id);
        if let Err(refused) = self.limits.agent_turn(&key) {
            let hours = refused.retry_after.as_secs().div_ceil(3600).max(1);
            return Ok(Reply::text(format!(
                "You have used today's allowance of answers from the language model; more comes back within {hours} h. Commands still work: /help lists them."
            )));
        }
        let _typing = self.typing(event);
        let output = agent
            .run(TurnInput {
                actor: &speaker.actor,
                person: speaker.person.as_ref(),
                channel: event.channel.as_str(),
                chat_id: &event.chat_id,
                text,
                source_key: Some(origin.source_key.clone()),
                now: event.received_at,
            })
            .await?;
        self.limits
            .spent_tokens(&key, output.usage.prompt_tokens + output.usage.completion_tokens);
        let mut reply = Reply::text(output.reply);
        for action in &output.actions {
            reply
                .text
                .push_str(&format!("\n\nProposed (#{}): {}", action.id, action.summary));
            reply
                .buttons
                .push(ButtonAction::Approve(action.id).button(format!("Approve #{}", action.id)));
            reply
                .buttons
                .push(ButtonAction::Reject(action.id).button(format!("Reject #{}", action.id)));
        }
        Ok(reply)
    }
}

#[async_trait::async_trait]
impl EventHandler for Conversation {
    /// Hears a voice note first (a temporary failure of the download or the transcription is
    /// retried by the inbox), then answers.
    async fn handle(&self, event: &InboundEvent, attempt: Attempt) -> Result<Handled, HandlerError> {
        // A voice note's text is its transcript, recorded when it was heard.
        let history_text = voice::voice_attachment(event)
            .is_none()
            .then(|| event.text.clone());
        let mut heard = None;
        let mut event = std::borrow::Cow::Borrowed(event);
        if let Some(voice) = &self.voice {
            match voice.prepare(&event, attempt.inbox_id, attempt.last).await {
                Ok(Prepared::Unchanged) => {}
                Ok(Prepared::Heard { text, transcript }) => {
                    event.to_mut().text = text;
                    heard = Some(transcript);
                }
                Ok(Prepared::Answer(text)) => {
                    let answer = self.reply(&event, Reply::text(text));
                    return Ok(Handled {
                        replies: vec![answer],
                        history_text,
                    });
                }
                Err(e) => return Err(HandlerError(e.to_string())),
            }
        }
        let mut replies = self
            .replies(&event)
            .await
            .map_err(|e| HandlerError(e.to_string()))?;
        if let Some(transcript) = &heard {
            voice::echo(&mut replies, transcript);
        }
        Ok(Handled {
            replies,
            history_text,
        })
    }
}

/// A reply before it is addressed.
struct Reply {
    text: String,
    buttons: Vec<Button>,
    attachments: Vec<OutboundFile>,
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// Removes `@bot` from a message that mentions the bot.
fn strip_mention(text: &str, bot: &str) -> String {
    let mention = format!("@{}", bot.to_lowercase());
    let lower = text.to_lowercase();
    match lower.find(&mention) {
        // Lower-casing keeps byte offsets for ASCII bot names.
        Some(at) if text.is_char_boundary(at) && text.is_char_boundary(at + mention.len()) => {
            let rest = format!("{}{}", &text[..at], &text[at + mention.len()..]);
            // `/tasks@bot` is left for the command parser.
            if at > 0
                && text[..at]
                    .split_whitespace()
                    .last()
                    .is_some_and(|w| w.starts_with('/'))
            {
                text.to_owned()
            } else {
                rest.trim().to_owned()
            }
        }
        _ => text.to_owned(),
    }
}

/// The chat an event came from, as later messages reach it: what a task's origin, a project's
/// chat and the alert chat record. A Discord or Slack slash command's or button's answer
/// address (`CHANNEL:INTERACTION`, `CHANNEL:TRIGGER`) stands for its channel, so that every command in that channel
/// names the same chat; any other chat id is itself.
fn standing_chat(event: &InboundEvent) -> String {
    use crate::channels::discord::Address as DiscordAddress;
    use crate::channels::slack::Address as SlackAddress;
    if event.channel == domain::Channel::Discord {
        if let Ok(DiscordAddress::Interaction { channel_id, .. }) = event.chat_id.parse() {
            return channel_id;
        }
    }
    if event.channel == domain::Channel::Slack {
        if let Ok(SlackAddress::Interaction { channel_id, .. }) = event.chat_id.parse() {
            return channel_id;
        }
    }
    event.chat_id.clone()
}

#[cfg(test)]
mod tests {
    use super::strip_mention;

    #[test]
    fn mentions_are_stripped_but_addressed_commands_kept() {
        assert_eq!(
            strip_mention("@Coord_bot what is due?", "coord_bot"),
            "what is due?"
        );
        assert_eq!(
            strip_mention("/tasks@coord_bot mine", "coord_bot"),
            "/tasks@coord_bot mine"
        );
        assert_eq!(strip_mention("hello", "coord_bot"), "hello");
    }
}
