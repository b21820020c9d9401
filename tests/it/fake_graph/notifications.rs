//! Webhook notifications shaped as the Cloud API sends them, and their signature.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{DISPLAY_PHONE_NUMBER, PHONE_NUMBER_ID};

/// `X-Hub-Signature-256` for `body` under the app secret.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn now_unix() -> String {
    chrono::Utc::now().timestamp().to_string()
}

/// A `messages` webhook around one `value`, for our phone number.
pub fn notification(value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID});
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]})
}

/// Messages from `from` (with their profile name) in one notification.
pub fn messages_from(from: &str, name: &str, messages: Vec<Value>) -> Value {
    notification(json!({"contacts": [{"profile": {"name": name}, "wa_id": from}], "messages": messages}))
}

/// A text message item.
pub fn text_message(wamid: &str, from: &str, body: &str) -> Value {
    json!({"from": from, "id": wamid, "timestamp": now_unix(), "type": "text", "text": {"body": body}})
}

/// A reply-button press on the bot's message `context_wamid`.
pub fn button_reply(wamid: &str, from: &str, context_wamid: &str, id: &str, title: &str) -> Value {
    json!({"context": {"from": DISPLAY_PHONE_NUMBER, "id": context_wamid}, "from": from, "id": wamid,
           "timestamp": now_unix(), "type": "interactive",
           "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": title}}})
}

/// An audio message; `voice` for a voice note recorded in WhatsApp.
pub fn audio_message(wamid: &str, from: &str, media_id: &str, voice: bool) -> Value {
    json!({"from": from, "id": wamid, "timestamp": now_unix(), "type": "audio",
           "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "b1f2e0", "id": media_id, "voice": voice}})
}

/// A document with a caption.
pub fn document_message(wamid: &str, from: &str, media_id: &str, filename: &str, caption: &str) -> Value {
    json!({"from": from, "id": wamid, "timestamp": now_unix(), "type": "document",
           "document": {"caption": caption, "filename": filename, "mime_type": "application/pdf",
                        "sha256": "c0ffee", "id": media_id}})
}

/// A status item: `sent`, `delivered` or `read`.
pub fn status(wamid: &str, recipient: &str, status: &str) -> Value {
    json!({"id": wamid, "status": status, "timestamp": now_unix(), "recipient_id": recipient,
           "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}})
}

/// A `failed` status with one error.
pub fn failed_status(wamid: &str, recipient: &str, code: i64, title: &str, details: &str) -> Value {
    json!({"id": wamid, "status": "failed", "timestamp": now_unix(), "recipient_id": recipient,
           "errors": [{"code": code, "title": title, "message": title, "error_data": {"details": details},
                       "href": "/documentation/business-messaging/whatsapp/support/error-codes"}]})
}

/// Status items in one notification.
pub fn statuses(items: Vec<Value>) -> Value {
    notification(json!({"statuses": items}))
}
