//! The Cloud API's webhook payload, as far as we read it: the items of
//! `entry[].changes[].value` (`contacts`, `messages`, `statuses`, `errors`). Every field that
//! may be missing has a default, so that new or absent fields do not make a message unusable.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
pub(super) struct Contact {
    #[serde(default)]
    pub(super) wa_id: String,
    #[serde(default)]
    pub(super) profile: Option<Profile>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Profile {
    #[serde(default)]
    pub(super) name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Message {
    pub(super) from: String,
    pub(super) id: String,
    #[serde(default)]
    pub(super) timestamp: Option<Value>,
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) context: Option<Context>,
    #[serde(default)]
    pub(super) text: Option<Text>,
    #[serde(default)]
    pub(super) interactive: Option<Interactive>,
    /// A quick-reply button of a template message.
    #[serde(default)]
    pub(super) button: Option<TemplateButton>,
    #[serde(default)]
    pub(super) audio: Option<Media>,
    #[serde(default)]
    pub(super) voice: Option<Media>,
    #[serde(default)]
    pub(super) document: Option<Media>,
    #[serde(default)]
    pub(super) image: Option<Media>,
    #[serde(default)]
    pub(super) video: Option<Media>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Context {
    #[serde(default)]
    pub(super) id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Text {
    #[serde(default)]
    pub(super) body: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Interactive {
    #[serde(default)]
    pub(super) button_reply: Option<Reply>,
    #[serde(default)]
    pub(super) list_reply: Option<Reply>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Reply {
    pub(super) id: String,
    #[serde(default)]
    pub(super) title: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct TemplateButton {
    #[serde(default)]
    pub(super) text: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Media {
    pub(super) id: String,
    #[serde(default)]
    pub(super) mime_type: Option<String>,
    #[serde(default)]
    pub(super) caption: Option<String>,
    /// A document's file name.
    #[serde(default)]
    pub(super) filename: Option<String>,
    /// Set on audio that was recorded in WhatsApp (a voice note).
    #[serde(default)]
    pub(super) voice: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Status {
    pub(super) id: String,
    pub(super) status: String,
    #[serde(default)]
    pub(super) recipient_id: Option<String>,
    #[serde(default)]
    pub(super) errors: Vec<GraphErrorItem>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GraphErrorItem {
    #[serde(default)]
    pub(super) code: Option<i64>,
    #[serde(default)]
    pub(super) title: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default)]
    pub(super) error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorData {
    #[serde(default)]
    pub(super) details: Option<String>,
}

impl GraphErrorItem {
    pub(super) fn describe(&self) -> String {
        let title = self
            .title
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or("no description");
        let mut text = match self.code {
            Some(code) => format!("({code}) {title}"),
            None => title.to_owned(),
        };
        if let Some(details) = self.error_data.as_ref().and_then(|d| d.details.as_deref()) {
            if details != title {
                text.push_str(": ");
                text.push_str(details);
            }
        }
        text
    }
}
