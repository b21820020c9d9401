//! `/web`: a one-time sign-in link for the team's web page, at `COORDINATOR_PUBLIC_URL`. In a
//! private chat it is the reply; asked in a group, the link goes to the speaker's private chat
//! on the same channel (never into the group, where anyone could use it) and the group hears
//! where it went; a Discord slash command is answered for the sender's eyes only. Like every reply, it is stored in the outbox before it is sent.

use super::replies::{self, local};
use super::speaker::Speaker;
use super::{Conversation, Reply};
use crate::message::{ChatKind, InboundEvent, OutboundMessage};
use crate::workspace::{WorkspaceError, SIGN_IN_TTL_MINUTES};

const NOT_SET_UP: &str = "The web page is not set up on this server: the operator sets \
COORDINATOR_PUBLIC_URL to the address it is reached at.";
const NOT_BUILT: &str = "This server was built without the web page (cargo feature `web`).";

impl Conversation {
    /// The reply in this chat, and the link sent privately when this chat is a group.
    pub(super) async fn web(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
    ) -> Result<(Reply, Option<OutboundMessage>), WorkspaceError> {
        let answer = |text: &str| Ok((Reply::text(text), None));
        if speaker.person.is_none() {
            return answer(replies::UNLINKED);
        }
        if !cfg!(feature = "web") {
            return answer(NOT_BUILT);
        }
        let Some(base) = &self.public_url else {
            return answer(NOT_SET_UP);
        };
        let code = self
            .workspace
            .web_sign_in_code(&speaker.actor, event.received_at)
            .await?;
        let text = format!(
            "Your sign-in link for the team's page. It works once, for {SIGN_IN_TTL_MINUTES} minutes \
             (until {}); do not share it:\n{}/web/sign-in?code={}",
            local(code.expires_at, speaker.actor.timezone),
            base.trim_end_matches('/'),
            code.code
        );
        // A Discord slash command's answer is seen by its sender only (ephemeral).
        let only_the_sender_sees = super::standing_chat(event) != event.chat_id;
        if event.chat_kind == ChatKind::Private || only_the_sender_sees {
            return answer(&text);
        }
        let private = OutboundMessage {
            channel: event.channel,
            chat_id: event.sender.external_id.clone(),
            text,
            buttons: Vec::new(),
            reply_to: None,
            answers_button: None,
            attachments: Vec::new(),
        };
        let notice = Reply::text(
            "I sent you a sign-in link in a private chat (start a chat with me if it does not arrive).",
        );
        Ok((notice, Some(private)))
    }
}
