//! Telegram out: `sendMessage` with inline keyboards, `answerCallbackQuery` for button presses,
//! and the mapping of Bot API errors to what the outbox should do.

use std::num::NonZeroU32;

use teloxide::payloads::{AnswerCallbackQuerySetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQueryId, ChatAction, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, MessageId,
    ReplyParameters,
};
use teloxide::{ApiError, Bot, RequestError};

use crate::domain;
use crate::message::{OutboundMessage, RateLimits, SendError, Transport};

/// Sends to Telegram through the Bot API at `TELEGRAM_API_URL`.
pub struct TelegramOut {
    pub(super) bot: Bot,
}

/// What a Bot API error means for the outbox.
pub(super) fn classify(error: RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(wait) => SendError::RetryAfter(wait.duration()),
        RequestError::Network(e) => SendError::Transient(e.to_string()),
        RequestError::Io(e) => SendError::Transient(e.to_string()),
        RequestError::InvalidJson { source, .. } => {
            SendError::Transient(format!("unreadable answer: {source}"))
        }
        // Server errors arrive as unknown API errors; retry those, a bounded number of times.
        RequestError::Api(ApiError::Unknown(description)) => SendError::Transient(description),
        RequestError::Api(other) => SendError::Permanent(other.to_string()),
        RequestError::MigrateToChatId(id) => {
            SendError::Permanent(format!("the group moved to chat {}; send there", id.0))
        }
    }
}

#[async_trait::async_trait]
impl Transport for TelegramOut {
    fn kind(&self) -> domain::Channel {
        domain::Channel::Telegram
    }

    /// About one message a second per chat and thirty a second overall, as Telegram asks.
    fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_chat_per_second: NonZeroU32::MIN,
            global_per_second: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
        }
    }

    #[tracing::instrument(skip_all, fields(channel = "telegram", chat = %message.chat_id))]
    async fn send(&self, message: &OutboundMessage) -> Result<Option<String>, SendError> {
        if let Some(press) = &message.answers_button {
            let mut request = self.bot.answer_callback_query(CallbackQueryId(press.clone()));
            if !message.text.is_empty() {
                request = request.text(truncate(&message.text, 190));
            }
            request.await.map_err(classify)?;
            return Ok(None);
        }
        let chat: i64 = message
            .chat_id
            .parse()
            .map_err(|_| SendError::Permanent(format!("'{}' is not a Telegram chat id", message.chat_id)))?;
        if let Some(file) = message
            .attachments
            .iter()
            .find(|f| f.mime_type.starts_with("image/"))
        {
            let sent = self.send_photo(ChatId(chat), message, file).await?;
            self.send_documents(ChatId(chat), message).await?;
            return Ok(sent);
        }
        let mut request = self.bot.send_message(ChatId(chat), truncate(&message.text, 4096));
        if !message.buttons.is_empty() {
            let row: Vec<InlineKeyboardButton> = message
                .buttons
                .iter()
                .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.data.clone()))
                .collect();
            request = request.reply_markup(InlineKeyboardMarkup::new(vec![row]));
        }
        if let Some(reply_to) = message.reply_to.as_deref().and_then(|id| id.parse().ok()) {
            let mut parameters = ReplyParameters::new(MessageId(reply_to));
            parameters.allow_sending_without_reply = Some(true);
            request = request.reply_parameters(parameters);
        }
        let sent = request.await.map_err(classify)?;
        self.send_documents(ChatId(chat), message).await?;
        Ok(Some(sent.id.0.to_string()))
    }

    async fn typing(&self, chat_id: &str) {
        if let Ok(chat) = chat_id.parse::<i64>() {
            if let Err(e) = self.bot.send_chat_action(ChatId(chat), ChatAction::Typing).await {
                tracing::debug!(error = %e, "Telegram sendChatAction failed");
            }
        }
    }
}

impl TelegramOut {
    /// `sendDocument` for each attachment that is not an image (files on tasks sent back).
    async fn send_documents(&self, chat: ChatId, message: &OutboundMessage) -> Result<(), SendError> {
        use base64::Engine;
        for file in message
            .attachments
            .iter()
            .filter(|f| !f.mime_type.starts_with("image/"))
        {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&file.bytes_base64)
                .map_err(|e| SendError::Permanent(format!("attachment {} is not base64: {e}", file.name)))?;
            let document = teloxide::types::InputFile::memory(bytes).file_name(file.name.clone());
            self.bot.send_document(chat, document).await.map_err(classify)?;
        }
        Ok(())
    }

    /// `sendPhoto` with the message text as the caption (Telegram allows 1024 characters).
    async fn send_photo(
        &self,
        chat: ChatId,
        message: &OutboundMessage,
        file: &crate::message::OutboundFile,
    ) -> Result<Option<String>, SendError> {
        use base64::Engine;
        use teloxide::payloads::SendPhotoSetters;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&file.bytes_base64)
            .map_err(|e| SendError::Permanent(format!("attachment {} is not base64: {e}", file.name)))?;
        let photo = teloxide::types::InputFile::memory(bytes).file_name(file.name.clone());
        let mut request = self.bot.send_photo(chat, photo);
        if !message.text.is_empty() {
            request = request.caption(truncate(&message.text, 1024));
        }
        let sent = request.await.map_err(classify)?;
        Ok(Some(sent.id.0.to_string()))
    }
}

/// Telegram refuses texts longer than its limit: cut at a character boundary.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}
