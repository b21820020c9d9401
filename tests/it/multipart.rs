//! `multipart/form-data` as the fakes receive it (the Bot API's uploads, OpenAI's
//! `/audio/transcriptions`): the boundary from the Content-Type, and the parts of a body.
//!
//! Declared by `fake_telegram` (`#[path]`), not by `main.rs`: `benches/telegram.rs` compiles
//! `fake_telegram.rs` on its own, so the parser must come with it; `fake_openai` uses it from there.

/// One part of a `multipart/form-data` body.
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` Content-Type; `None` for another type, or without a
/// (non-empty) boundary.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A small RFC 7578 parser: enough for what HTTP clients (reqwest, curl) send. `None` when the
/// body is not well formed, or a part has no name.
pub fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        at = find(body, b"\r\n", at)? + 2;
        let headers_end = find(body, b"\r\n\r\n", at.saturating_sub(2))?;
        let head = String::from_utf8_lossy(body.get(at..headers_end).unwrap_or_default()).into_owned();
        let data_start = headers_end + 4;
        let data_end = find(body, &next_delimiter, data_start)?;
        let data = body.get(data_start..data_end).unwrap_or_default().to_vec();
        at = data_end + next_delimiter.len();

        let (mut name, mut filename, mut content_type) = (None, None, None);
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            } else if key.trim().eq_ignore_ascii_case("content-disposition") {
                for attribute in value.split(';').skip(1) {
                    let Some((k, v)) = attribute.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            content_type,
            data,
        });
    }
}
