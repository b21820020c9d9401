//! The reminder tool: "remind @anna on Friday to send the invoice" from free text. The moment is
//! read in the recipient's time zone, as `/remind` reads it; the rights are the speaker's.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ToolContext, ToolError, TypedTool};
use crate::workspace::{NewReminder, ReminderTarget, ReminderTime};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderArgs {
    /// `me` (the speaker), a person's handle (e.g. `anna`), or `here` (this chat).
    pub who: String,
    /// When, as people write it, in the recipient's time zone: `friday 10:00`, `tomorrow`,
    /// `in 2 hours`, `2030-01-15 09:30`. A day alone means 09:00 there.
    pub when: String,
    /// What the reminder says, e.g. `Send the invoice`.
    pub text: String,
}

pub struct SetReminder;

#[async_trait::async_trait]
impl TypedTool for SetReminder {
    type Args = ReminderArgs;
    const NAME: &'static str = "set_reminder";
    const WRITES: bool = true;
    const DESCRIPTION: &'static str = "Set a one-off reminder for the speaker, a person or this chat. \
        It arrives on the recipient's own chat at that time in their time zone, with Done and Snooze buttons.";

    async fn run(&self, ctx: &ToolContext, args: ReminderArgs) -> Result<Value, ToolError> {
        let who = args.who.trim().trim_start_matches('@');
        let target = match who.to_ascii_lowercase().as_str() {
            "me" | "" => ReminderTarget::Me,
            "here" => {
                let Some(origin) = &ctx.origin else {
                    return Err(ToolError::InvalidArguments(
                        "'here' needs a chat: name a person instead".into(),
                    ));
                };
                ReminderTarget::Chat {
                    channel: origin.channel.clone(),
                    chat_id: origin.chat.clone(),
                }
            }
            _ => ReminderTarget::Person(who.to_owned()),
        };
        let new = NewReminder {
            target,
            when: ReminderTime::Spoken(args.when),
            text: args.text,
        };
        let reminder = ctx
            .workspace
            .create_reminder(&ctx.actor, new, ctx.now, ctx.origin.as_ref())
            .await?;
        Ok(json!({
            "reminder_id": reminder.id,
            "person": reminder.person,
            "remind_at": reminder.remind_at,
            "timezone": reminder.timezone,
            "text": reminder.text,
        }))
    }
}
