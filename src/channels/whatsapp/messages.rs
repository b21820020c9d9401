//! The JSON of the messages we send: text, interactive (reply buttons, or a list beyond three
//! choices) and template messages, cut to WhatsApp's limits.

use serde_json::{json, Value};

use crate::message::{Button, OutboundMessage};

/// Longest text message body.
const TEXT_MAX: usize = 4096;
/// Longest body of an interactive message.
const INTERACTIVE_BODY_MAX: usize = 1024;
/// Reply buttons per message, and the length of their titles.
const BUTTONS_MAX: usize = 3;
const BUTTON_TITLE_MAX: usize = 20;
/// Rows of a list message, and the length of their titles.
const LIST_ROWS_MAX: usize = 10;
const ROW_TITLE_MAX: usize = 24;
/// Longest button or row id.
const ID_MAX: usize = 256;
/// Longest text put into a template variable (the template body as a whole may not exceed
/// 1024 characters, and the template's own words need room).
pub const TEMPLATE_PARAM_MAX: usize = 900;

/// What kind of message a body is, as recorded with its delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Interactive,
    Template,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Interactive => "interactive",
            Kind::Template => "template",
        }
    }
}

/// Cuts `text` to `max` characters at a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn envelope(to: &str, reply_to: Option<&str>) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    if let Some(id) = reply_to {
        body["context"] = json!({"message_id": id});
    }
    body
}

fn reply_buttons(buttons: &[Button]) -> Value {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|b| {
            json!({"type": "reply", "reply": {
                "id": truncate(&b.data, ID_MAX),
                "title": truncate(&b.label, BUTTON_TITLE_MAX),
            }})
        })
        .collect();
    json!({"type": "button", "action": {"buttons": buttons}})
}

fn list(buttons: &[Button]) -> Value {
    let rows: Vec<Value> = buttons
        .iter()
        .take(LIST_ROWS_MAX)
        .map(|b| json!({"id": truncate(&b.data, ID_MAX), "title": truncate(&b.label, ROW_TITLE_MAX)}))
        .collect();
    json!({"type": "list", "action": {"button": "Choose", "sections": [{"title": "Options", "rows": rows}]}})
}

/// A free-form message: text, or text with up to three reply buttons (a list beyond that).
pub fn free_form(message: &OutboundMessage) -> (Kind, Value) {
    let mut body = envelope(&message.chat_id, message.reply_to.as_deref());
    if message.buttons.is_empty() {
        body["type"] = json!("text");
        body["text"] = json!({"preview_url": false, "body": truncate(&message.text, TEXT_MAX)});
        return (Kind::Text, body);
    }
    let text = if message.text.trim().is_empty() {
        "Choose:"
    } else {
        &message.text
    };
    let mut interactive = if message.buttons.len() <= BUTTONS_MAX {
        reply_buttons(&message.buttons)
    } else {
        list(&message.buttons)
    };
    interactive["body"] = json!({"text": truncate(text, INTERACTIVE_BODY_MAX)});
    body["type"] = json!("interactive");
    body["interactive"] = interactive;
    (Kind::Interactive, body)
}

/// Text fit for a template variable: WhatsApp refuses new lines, tabs and runs of more than
/// four spaces there, so lines are joined with " · " and spaces collapsed.
pub fn template_text(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect();
    truncate(&lines.join(" · "), TEMPLATE_PARAM_MAX)
}

/// The approved template to send outside the customer-service window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// The template body has one variable, `{{1}}`, for the message text.
    pub text_param: bool,
}

impl Template {
    pub fn body(&self, to: &str, text: &str) -> Value {
        let mut template = json!({"name": self.name, "language": {"code": self.language}});
        if self.text_param {
            let text = match template_text(text) {
                t if t.is_empty() => "-".to_owned(),
                t => t,
            };
            template["components"] =
                json!([{"type": "body", "parameters": [{"type": "text", "text": text}]}]);
        }
        let mut body = envelope(to, None);
        body["type"] = json!("template");
        body["template"] = template;
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;

    fn message(text: &str, buttons: usize) -> OutboundMessage {
        let mut m = OutboundMessage::text(Channel::Whatsapp, "16505551234", text);
        m.buttons = (1..=buttons)
            .map(|n| Button {
                label: format!("A rather long button label {n}"),
                data: format!("done:{n}"),
            })
            .collect();
        m
    }

    #[test]
    fn text_and_buttons() {
        let (kind, body) = free_form(&message("hello", 0));
        assert_eq!(kind, Kind::Text);
        assert_eq!(body["to"], "16505551234");
        assert_eq!(body["messaging_product"], "whatsapp");
        assert_eq!(body["text"]["body"], "hello");

        let (kind, body) = free_form(&message("Created #1", 2));
        assert_eq!(kind, Kind::Interactive);
        assert_eq!(body["interactive"]["type"], "button");
        let buttons = body["interactive"]["action"]["buttons"].as_array().unwrap();
        assert_eq!(buttons.len(), 2);
        assert_eq!(buttons[0]["reply"]["id"], "done:1");
        assert_eq!(buttons[0]["reply"]["title"].as_str().unwrap().chars().count(), 20);
        assert_eq!(body["interactive"]["body"]["text"], "Created #1");

        let (_, body) = free_form(&message("pick", 12));
        assert_eq!(body["interactive"]["type"], "list");
        let rows = body["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap();
        assert_eq!(rows.len(), 10);
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(5000);
        let (_, body) = free_form(&message(&long, 0));
        assert_eq!(body["text"]["body"].as_str().unwrap().chars().count(), 4096);
        let (_, body) = free_form(&message(&long, 1));
        assert_eq!(
            body["interactive"]["body"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1024
        );
    }

    #[test]
    fn template_text_is_one_line() {
        assert_eq!(
            template_text("Overdue tasks (2):\n#1 a\t\tb\n\n#2      c"),
            "Overdue tasks (2): · #1 a b · #2 c"
        );
        let t = Template {
            name: "task_update".into(),
            language: "en".into(),
            text_param: true,
        };
        let body = t.body("1555", "hi\nthere");
        assert_eq!(body["type"], "template");
        assert_eq!(body["template"]["name"], "task_update");
        assert_eq!(body["template"]["language"]["code"], "en");
        assert_eq!(
            body["template"]["components"][0]["parameters"][0]["text"],
            "hi · there"
        );
        let bare = Template {
            text_param: false,
            ..t
        };
        assert!(bare.body("1555", "hi").pointer("/template/components").is_none());
    }
}
