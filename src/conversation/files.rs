//! Files on tasks from chat. Documents, images and videos that arrive are remembered by their
//! message; `/newtask` with a file attaches it to the new task, `/attach ID` attaches the files
//! of its own message or of the message it replies to, `/task ID` shows a task with its files
//! and `/task ID files` sends them back. Files are fetched from their platform (each channel's
//! `MediaSource`), checked (declared size and type first, then the bytes) and kept through the
//! workspace, which checks the rights.

use super::speaker::Speaker;
use super::{replies, Conversation, Reply};
use crate::domain::{size_text, FileRules};
use crate::message::{Attachment, InboundEvent, MediaError, OutboundFile};
use crate::workspace::{NewFile, WorkspaceError};

/// A files command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCommand {
    Attach { id: i64 },
    Show { id: i64, send_files: bool },
}

/// One usage line per command, for /help and for usage replies: (command name, line).
pub const USAGE: &[(&str, &str)] = &[
    (
        "attach",
        "/attach ID — (sent with a file, or as a reply to one) puts the file on task ID",
    ),
    (
        "task",
        "/task ID [files] — a task and its files; files: sends them here",
    ),
];

fn usage(command: &str, problem: &str) -> String {
    let (syntax, example) = match command {
        "task" => ("/task ID [files]", "/task 42"),
        _ => (
            "/attach ID",
            "/attach 42 (as a reply to the message with the file)",
        ),
    };
    format!("{problem}\nUsage: {syntax} — e.g. {example}")
}

fn task_id(command: &str, word: &str) -> Result<i64, String> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    match digits.parse::<i64>() {
        Ok(id) if id > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ if word.is_empty() => Err(usage(command, &format!("/{command} needs a task ID."))),
        _ => Err(usage(command, &format!("'{word}' is not a task ID."))),
    }
}

/// Parses the files command `name` (lower case) with `args`; `None` when `name` is not one.
pub fn parse(name: &str, args: &str) -> Option<Result<FileCommand, String>> {
    let mut words = args.split_whitespace();
    let (first, second, extra) = (words.next().unwrap_or(""), words.next(), words.next());
    let parsed = match (name, second, extra) {
        ("attach", None, _) => task_id("attach", first).map(|id| FileCommand::Attach { id }),
        ("attach", Some(_), _) => Err(usage("attach", "/attach takes just one task ID.")),
        ("task", None, _) => task_id("task", first).map(|id| FileCommand::Show {
            id,
            send_files: false,
        }),
        ("task", Some(w), None) if w.eq_ignore_ascii_case("files") => {
            task_id("task", first).map(|id| FileCommand::Show { id, send_files: true })
        }
        ("task", Some(_), _) => Err(usage("task", "After the task ID only 'files' may follow.")),
        _ => return None,
    };
    Some(parsed)
}

/// The attachments of `event` that are files to keep (voice notes and audio go to the
/// transcription instead).
pub(super) fn files_of(event: &InboundEvent) -> Vec<Attachment> {
    event
        .attachments
        .iter()
        .filter(|a| matches!(a.kind.as_str(), "document" | "photo" | "image" | "video"))
        .cloned()
        .collect()
}

/// The name a file is kept under: the sender's, else the platform's without folders, else by
/// kind.
fn file_name(attachment: &Attachment, fetched: Option<&str>, n: usize) -> String {
    let given = attachment.file_name.as_deref().or(fetched);
    if let Some(name) = given
        .and_then(|f| f.rsplit(['/', '\\']).next())
        .filter(|f| !f.trim().is_empty())
    {
        return name.to_owned();
    }
    let extension = match attachment.mime_type.as_deref() {
        Some("application/pdf") => ".pdf",
        Some("image/jpeg") => ".jpg",
        Some("image/png") => ".png",
        Some("video/mp4") => ".mp4",
        _ if attachment.kind == "photo" => ".jpg",
        _ => "",
    };
    format!("{}-{}{extension}", attachment.kind, n + 1)
}

impl Conversation {
    /// Fetches `files` and puts them on task `task_id`: one line per file, kept or refused
    /// and why. `Err` for a temporary failure (the inbox tries the message again; keys make
    /// that keep each file once).
    pub(super) async fn attach_files(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        task_id: i64,
        files: &[Attachment],
        message_key: &str,
    ) -> Result<Vec<String>, WorkspaceError> {
        let Some(rules) = self.workspace.file_rules().cloned() else {
            return Ok(vec!["Files are not kept on this server.".into()]);
        };
        let source = self.voice.as_ref().and_then(|v| v.source(event.channel));
        let mut lines = Vec::new();
        for (n, attachment) in files.iter().enumerate() {
            let shown = file_name(attachment, None, n);
            // What the platform declared is checked before anything is downloaded.
            let declared = attachment.size.filter(|s| *s != u64::from(u32::MAX)).unwrap_or(0);
            if let Some(mime) = attachment.mime_type.as_deref() {
                let content_type = FileRules::content_type(Some(mime), &shown);
                if let Err(why) = rules.check(&shown, &content_type, declared) {
                    lines.push(why);
                    continue;
                }
            } else if declared > rules.max_bytes {
                lines.push(
                    rules
                        .check(&shown, "application/octet-stream", declared)
                        .unwrap_err(),
                );
                continue;
            }
            let Some(source) = &source else {
                lines.push(format!("I can't fetch files from {} here.", event.channel));
                continue;
            };
            let media = match source.fetch(attachment, rules.max_bytes).await {
                Ok(media) => media,
                Err(MediaError::TooLarge(size)) => {
                    lines.push(format!(
                        "{shown} is too large ({}): I keep files up to {}. Nothing was stored.",
                        size_text(size),
                        size_text(rules.max_bytes)
                    ));
                    continue;
                }
                Err(MediaError::Transient(e)) => {
                    return Err(WorkspaceError::Unavailable(format!(
                        "a file download failed: {e}"
                    )))
                }
                Err(MediaError::Permanent(e)) => {
                    lines.push(format!(
                        "I could not download {shown} ({e}). Please send it again."
                    ));
                    continue;
                }
            };
            let name = file_name(attachment, media.file_name.as_deref(), n);
            let new = NewFile {
                name,
                mime_type: media.mime_type.clone().or_else(|| attachment.mime_type.clone()),
                bytes: media.bytes,
                source_key: Some(format!("{message_key}:{n}:task:{task_id}")),
            };
            match self.workspace.attach_file(&speaker.actor, task_id, new).await {
                Ok(file) => lines.push(format!(
                    "Attached {} ({}) to #{task_id} as file {}.",
                    file.name,
                    size_text(file.size as u64),
                    file.id
                )),
                Err(WorkspaceError::Invalid(v)) => lines.push(v.message),
                Err(e) => lines.push(replies::error(e)?),
            }
        }
        Ok(lines)
    }

    pub(super) async fn files_command(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: FileCommand,
    ) -> Result<Reply, WorkspaceError> {
        match command {
            FileCommand::Attach { id } => {
                let own = files_of(event);
                let (files, key) = if !own.is_empty() {
                    (own, format!("{}:{}", event.channel, event.event_id))
                } else {
                    let Some(replied) = &event.reply_to else {
                        return Ok(Reply::text(usage(
                            "attach",
                            "Which file? Send /attach ID with the file, or as a reply to the message that has it.",
                        )));
                    };
                    let files = self
                        .workspace
                        .chat_files(event.channel.as_str(), &event.chat_id, replied)
                        .await?;
                    if files.is_empty() {
                        return Ok(Reply::text(usage(
                            "attach",
                            "The message you replied to has no file I can attach.",
                        )));
                    }
                    (files, format!("{}:{}:{replied}", event.channel, event.chat_id))
                };
                if let Err(e) = self.workspace.task(&speaker.actor, id).await {
                    return Ok(Reply::text(replies::error(e)?));
                }
                let lines = self.attach_files(event, speaker, id, &files, &key).await?;
                Ok(Reply::text(lines.join("\n")))
            }
            FileCommand::Show { id, send_files } => {
                let task = match self.workspace.task(&speaker.actor, id).await {
                    Ok(task) => task,
                    Err(e) => return Ok(Reply::text(replies::error(e)?)),
                };
                let files = self.workspace.task_files(&speaker.actor, id).await?;
                let mut text = self.task_card(speaker, &task, event.received_at).await?;
                if files.is_empty() {
                    text.push_str(
                        "\nNo files. Send one with /attach ID as its caption, or reply /attach ID to it.",
                    );
                } else {
                    text.push_str(&format!("\nFiles ({}):", files.len()));
                    for file in &files {
                        text.push_str(&format!(
                            "\n{} {} ({})",
                            file.id,
                            file.name,
                            size_text(file.size as u64)
                        ));
                    }
                }
                let mut reply = Reply::text(text);
                if send_files {
                    for file in &files {
                        let (file, bytes) = self.workspace.task_file(&speaker.actor, id, file.id).await?;
                        reply.attachments.push(OutboundFile {
                            name: file.name,
                            mime_type: file.mime_type,
                            bytes_base64: base64::Engine::encode(
                                &base64::engine::general_purpose::STANDARD,
                                bytes,
                            ),
                        });
                    }
                }
                Ok(reply)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_and_task() {
        assert_eq!(parse("tasks", ""), None);
        assert_eq!(parse("attach", "#42"), Some(Ok(FileCommand::Attach { id: 42 })));
        assert_eq!(
            parse("task", "42 FILES"),
            Some(Ok(FileCommand::Show {
                id: 42,
                send_files: true
            }))
        );
        assert!(parse("attach", "")
            .unwrap()
            .unwrap_err()
            .contains("needs a task ID"));
        assert!(parse("task", "x")
            .unwrap()
            .unwrap_err()
            .contains("'x' is not a task ID"));
        assert!(parse("task", "4 all")
            .unwrap()
            .unwrap_err()
            .contains("only 'files'"));
    }
}
