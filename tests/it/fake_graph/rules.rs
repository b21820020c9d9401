//! What the fake checks in a message before accepting it, as the Cloud API does.

use std::collections::HashMap;

use serde_json::Value;

/// Why a message is refused: HTTP status, Graph error code, title, details.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal(pub u16, pub i64, pub &'static str, pub String);

fn invalid(details: impl Into<String>) -> Result<(String, String), Refusal> {
    Err(Refusal(400, 100, "Invalid parameter", details.into()))
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Checks a message as the Cloud API does; its kind and visible text.
pub(super) fn check(
    body: &Value,
    templates: &HashMap<(String, String), usize>,
) -> Result<(String, String), Refusal> {
    if body["messaging_product"] != "whatsapp" {
        return invalid("messaging_product must be whatsapp");
    }
    if body["to"].as_str().is_none_or(str::is_empty) {
        return invalid("The parameter to is required.");
    }
    let kind = body["type"].as_str().unwrap_or("text").to_owned();
    match kind.as_str() {
        "text" => {
            let n = chars(&body["text"]["body"]);
            if n == 0 || n > 4096 {
                return invalid("text.body must be 1 to 4096 characters");
            }
            Ok((kind, body["text"]["body"].as_str().unwrap_or_default().to_owned()))
        }
        "interactive" => {
            let i = &body["interactive"];
            let text = i["body"]["text"].as_str().unwrap_or_default().to_owned();
            if text.is_empty() || text.chars().count() > 1024 {
                return invalid("interactive.body.text must be 1 to 1024 characters");
            }
            match i["type"].as_str() {
                Some("button") => {
                    let buttons = i["action"]["buttons"].as_array().cloned().unwrap_or_default();
                    if buttons.is_empty() || buttons.len() > 3 {
                        return invalid("interactive.action.buttons must have 1 to 3 buttons");
                    }
                    let mut titles = Vec::new();
                    for b in &buttons {
                        let (t, id) = (&b["reply"]["title"], &b["reply"]["id"]);
                        if b["type"] != "reply"
                            || chars(t) == 0
                            || chars(t) > 20
                            || chars(id) == 0
                            || chars(id) > 256
                        {
                            return invalid("each button needs type reply, a title of 1 to 20 characters and an id of 1 to 256");
                        }
                        if titles.contains(t) {
                            return invalid("button titles must be unique");
                        }
                        titles.push(t.clone());
                    }
                }
                Some("list") => {
                    let rows: Vec<Value> = i["action"]["sections"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                        .collect();
                    let bad_row = rows
                        .iter()
                        .any(|r| chars(&r["title"]) == 0 || chars(&r["title"]) > 24);
                    if rows.is_empty() || rows.len() > 10 || bad_row || chars(&i["action"]["button"]) == 0 {
                        return invalid("a list needs 1 to 10 rows with titles of at most 24 characters");
                    }
                }
                _ => return invalid("interactive.type must be button or list here"),
            }
            Ok((kind, text))
        }
        "template" => {
            let t = &body["template"];
            let name = t["name"].as_str().unwrap_or_default();
            let language = t["language"]["code"].as_str().unwrap_or_default();
            let Some(expected) = templates.get(&(name.to_owned(), language.to_owned())) else {
                return Err(Refusal(
                    404,
                    132001,
                    "Template name does not exist in the translation",
                    format!("template name ({name}) does not exist in {language}"),
                ));
            };
            let params: Vec<Value> = t["components"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["type"] == "body")
                .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
                .collect();
            if params.len() != *expected {
                return Err(Refusal(
                    400,
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!("body: number of localizable_params ({}) does not match the expected number of params ({expected})", params.len()),
                ));
            }
            let mut first = String::new();
            for p in &params {
                let text = p["text"].as_str().unwrap_or_default();
                if text.is_empty() || text.contains(['\n', '\t']) || text.contains("     ") {
                    return invalid(
                        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                    );
                }
                if first.is_empty() {
                    first = text.to_owned();
                }
            }
            Ok((kind, first))
        }
        other => invalid(format!("message type {other} is not supported by this fake")),
    }
}
