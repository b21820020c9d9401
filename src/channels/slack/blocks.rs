//! Our messages in Block Kit: the text in `section` blocks (`mrkdwn`, escaped so that a task
//! title cannot ping `@channel` or forge a link), buttons in an `actions` block whose values are
//! our [`crate::message::ButtonAction`] data, and the fallback `text` Slack shows in
//! notifications. A pressed message shows what the press did above its buttons.

use serde_json::{json, Value};

use crate::message::{Button, SendError};

/// Slack's limits: a section's text, a button's label and value, buttons per actions block.
const SECTION_CHARS: usize = 3000;
const LABEL_CHARS: usize = 75;
const VALUE_CHARS: usize = 2000;
const MAX_BUTTONS: usize = 25;
/// The longest message text we send (Slack truncates past 40,000).
const MAX_TEXT: usize = 12_000;

/// `& < >` escaped, as Slack asks of text that is not meant as markup.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

/// The text in sections of at most 3,000 characters (cut at line ends where it can be).
fn sections(text: &str) -> Vec<Value> {
    let text = escape(&truncate(text, MAX_TEXT));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.chars().count() + line.chars().count() > SECTION_CHARS && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        let mut line = line.to_owned();
        while line.chars().count() > SECTION_CHARS {
            let head: String = line.chars().take(SECTION_CHARS).collect();
            line = line.chars().skip(SECTION_CHARS).collect();
            out.push(head);
        }
        current.push_str(&line);
    }
    if !current.trim().is_empty() || out.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|t| {
            let t = if t.trim().is_empty() { "…".to_owned() } else { t };
            json!({"type": "section", "text": {"type": "mrkdwn", "text": t}})
        })
        .collect()
}

/// The buttons as one `actions` block.
fn actions(buttons: &[Button]) -> Result<Value, SendError> {
    if buttons.len() > MAX_BUTTONS {
        return Err(SendError::Permanent(format!(
            "Slack shows at most {MAX_BUTTONS} buttons"
        )));
    }
    let mut elements = Vec::new();
    for (n, button) in buttons.iter().enumerate() {
        if button.data.is_empty() || button.data.chars().count() > VALUE_CHARS {
            return Err(SendError::Permanent(format!(
                "button data must be 1-{VALUE_CHARS} characters: '{}'",
                button.data
            )));
        }
        elements.push(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": truncate(&button.label, LABEL_CHARS), "emoji": true},
            // Unique within the message, as Slack requires.
            "action_id": format!("coord-{n}"),
            "value": button.data,
        }));
    }
    Ok(json!({"type": "actions", "block_id": "coord-actions", "elements": elements}))
}

/// `text` (the notification fallback) and `blocks` for a message.
pub fn message(text: &str, buttons: &[Button]) -> Result<(String, Vec<Value>), SendError> {
    let text = if text.trim().is_empty() { "…" } else { text };
    let mut blocks = sections(text);
    if !buttons.is_empty() {
        blocks.push(actions(buttons)?);
    }
    Ok((escape(&truncate(text, MAX_TEXT)), blocks))
}

/// The blocks of a pressed message (as Slack sent them with the press; else built from its
/// text) with what the press did (`outcome`) just above its buttons, in place of an earlier
/// outcome. The buttons stay: a press that was refused (no permission) leaves them to someone
/// who may.
pub fn pressed(original_blocks: Option<&str>, original_text: &str, outcome: &str) -> Vec<Value> {
    let mut blocks: Vec<Value> = original_blocks
        .and_then(|b| serde_json::from_str::<Vec<Value>>(b).ok())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| sections(&crate::channels::slack::events::unescape(original_text)));
    blocks.retain(|b| b["block_id"] != OUTCOME);
    let outcome = json!({"type": "context", "block_id": OUTCOME, "elements": [
        {"type": "mrkdwn", "text": escape(&truncate(outcome, SECTION_CHARS))}
    ]});
    let at = blocks
        .iter()
        .position(|b| b["type"] == "actions")
        .unwrap_or(blocks.len());
    blocks.insert(at, outcome);
    blocks
}

/// The `block_id` of the outcome under a pressed message.
const OUTCOME: &str = "coord-outcome";

#[cfg(test)]
mod tests {
    use super::*;

    fn button(label: &str, data: &str) -> Button {
        Button {
            label: label.into(),
            data: data.into(),
        }
    }

    #[test]
    fn text_is_escaped_and_buttons_carry_their_data() {
        let (text, blocks) = message(
            "<!channel> #12 is overdue & escalated",
            &[
                button("Acknowledge", "ack:12"),
                button("Snooze 1h", "snooze:12:1h"),
            ],
        )
        .unwrap();
        assert_eq!(text, "&lt;!channel&gt; #12 is overdue &amp; escalated");
        assert_eq!(blocks[0]["text"]["text"], text);
        assert_eq!(blocks[1]["type"], "actions");
        assert_eq!(blocks[1]["elements"][1]["value"], "snooze:12:1h");
        assert_eq!(blocks[1]["elements"][1]["action_id"], "coord-1");
        let many: Vec<Button> = (0..26).map(|n| button("b", &format!("done:{n}"))).collect();
        assert!(matches!(message("x", &many), Err(SendError::Permanent(_))));
    }

    #[test]
    fn long_texts_are_split_into_sections() {
        let long = "line of text\n".repeat(600);
        let (_, blocks) = message(&long, &[]).unwrap();
        assert!(blocks.len() >= 3);
        for block in &blocks {
            assert!(block["text"]["text"].as_str().unwrap().chars().count() <= SECTION_CHARS);
        }
        let (_, blocks) = message(&"x".repeat(7000), &[]).unwrap();
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn a_pressed_message_shows_the_latest_outcome_above_its_buttons() {
        let (_, sent) = message("#12 is overdue", &[button("Acknowledge", "ack:12")]).unwrap();
        let sent = Value::Array(sent).to_string();
        let once = pressed(
            Some(&sent),
            "#12 is overdue",
            "Acknowledged: the escalation of #12 stops here.",
        );
        assert_eq!(once.len(), 3);
        assert_eq!(once[1]["type"], "context");
        assert_eq!(once[2]["type"], "actions");
        let twice = pressed(
            Some(&Value::Array(once).to_string()),
            "",
            "#12 has no running escalation.",
        );
        assert_eq!(twice.len(), 3);
        assert_eq!(twice[1]["elements"][0]["text"], "#12 has no running escalation.");
        let rebuilt = pressed(None, "a &lt; b", "ok");
        assert_eq!(rebuilt[0]["text"]["text"], "a &lt; b");
        assert_eq!(rebuilt[1]["type"], "context");
    }
}
