//! Projects from chat: `/project new NAME`, `/project here NAME` (this chat becomes the
//! project's chat: its reports, reminders and escalations come here, and tasks made here
//! belong to it) and `/projects`. Parsing is pure; running goes through the workspace, which
//! checks the rights (members create projects, admins give them chats).

use super::speaker::Speaker;
use super::{Conversation, Reply};
use crate::message::InboundEvent;
use crate::workspace::WorkspaceError;

/// A project command, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectCommand {
    New { name: String },
    Here { name: String },
    List,
}

/// One usage line per command, for /help and for usage replies: (command name, line).
pub const USAGE: &[(&str, &str)] = &[
    (
        "project",
        "/project new NAME | /project here NAME — a new project; here: this chat becomes its chat",
    ),
    ("projects", "/projects — the projects and their chats"),
];

/// The longest project name, as the workspace allows.
const NAME_MAX: usize = 200;

fn usage(command: &str, problem: &str) -> String {
    let (syntax, example) = match command {
        "projects" => ("/projects", "/projects"),
        _ => ("/project new NAME | /project here NAME", "/project here Launch"),
    };
    format!("{problem}\nUsage: {syntax} — e.g. {example}")
}

/// Parses the project command `name` (lower case) with `args`; `None` when `name` is not one.
pub fn parse(name: &str, args: &str) -> Option<Result<ProjectCommand, String>> {
    let parsed = match name {
        "projects" if args.trim().is_empty() => Ok(ProjectCommand::List),
        "projects" => Err(usage("projects", "/projects takes nothing after it.")),
        "project" => parse_project(args),
        _ => return None,
    };
    Some(parsed)
}

fn parse_project(args: &str) -> Result<ProjectCommand, String> {
    let args = args.trim();
    let (verb, rest) = match args.find(char::is_whitespace) {
        Some(at) => (&args[..at], args[at..].trim()),
        None => (args, ""),
    };
    let verb = verb.to_ascii_lowercase();
    if !matches!(verb.as_str(), "new" | "here") {
        let problem = if args.is_empty() {
            "New project, or this chat for a project?".to_owned()
        } else {
            format!("'{}' is not new or here.", verb)
        };
        return Err(usage("project", &problem));
    }
    if rest.is_empty() {
        return Err(usage("project", "Which project? Add its name."));
    }
    if rest.chars().count() > NAME_MAX {
        return Err(usage(
            "project",
            &format!("A project's name has at most {NAME_MAX} characters."),
        ));
    }
    let name = rest.to_owned();
    Ok(match verb.as_str() {
        "new" => ProjectCommand::New { name },
        _ => ProjectCommand::Here { name },
    })
}

impl Conversation {
    pub(super) async fn project(
        &self,
        event: &InboundEvent,
        speaker: &Speaker,
        command: ProjectCommand,
    ) -> Result<Reply, WorkspaceError> {
        let actor = &speaker.actor;
        let text = match command {
            ProjectCommand::New { name } => {
                // Chat finds projects by name, so a second one of the same name would be
                // unreachable there (and a retyped command would make a copy).
                match self.workspace.project_by_name(actor, name.trim()).await {
                    Ok(project) => {
                        return Ok(Reply::text(format!(
                            "There is already a project called {} (#{}). To give it a chat, send \
                             /project here {} in that chat.",
                            project.name, project.id, project.name
                        )))
                    }
                    Err(WorkspaceError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
                let new = crate::workspace::NewProject {
                    name,
                    ..Default::default()
                };
                let project = self.workspace.create_project(actor, new).await?;
                format!(
                    "Created project #{} {}. To give it a chat, send /project here {} in that chat.",
                    project.id, project.name, project.name
                )
            }
            ProjectCommand::Here { name } => {
                let done = self
                    .workspace
                    .project_here(actor, &name, event.channel, &super::standing_chat(event))
                    .await?;
                let project = &done.project;
                let new = if done.created { ", new" } else { "" };
                let mut text = format!(
                    "This chat is now the chat of {} (project #{}{new}): its reports, reminders and \
                     escalations come here, and tasks made here belong to it.",
                    project.name, project.id
                );
                if !done.taken_from.is_empty() {
                    text.push_str(&format!(
                        " Until now it was the chat of {}.",
                        done.taken_from.join(", ")
                    ));
                }
                text
            }
            ProjectCommand::List => {
                let projects = self.workspace.projects_with_chats(actor).await?;
                if projects.is_empty() {
                    return Ok(Reply::text(
                        "No projects yet. Make one with /project new NAME, or /project here NAME in its chat.",
                    ));
                }
                let here = super::standing_chat(event);
                let mut text = format!("Projects ({}):", projects.len());
                for (project, chat) in &projects {
                    let chat = match chat {
                        Some((channel, id)) if channel == event.channel.as_str() && *id == here => {
                            "this chat".to_owned()
                        }
                        Some((channel, id)) => format!("chat: {channel} {id}"),
                        None => "no chat".to_owned(),
                    };
                    text.push_str(&format!(
                        "\n#{} {} [{}] — {chat}",
                        project.id, project.name, project.status
                    ));
                }
                text
            }
        };
        Ok(Reply::text(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, args: &str) -> ProjectCommand {
        match parse(name, args) {
            Some(Ok(command)) => command,
            other => panic!("/{name} {args}: {other:?}"),
        }
    }

    fn usage_of(name: &str, args: &str) -> String {
        match parse(name, args) {
            Some(Err(reply)) => reply,
            other => panic!("/{name} {args}: {other:?}"),
        }
    }

    #[test]
    fn new_here_and_list() {
        assert_eq!(parse("tasks", ""), None);
        assert_eq!(
            cmd("project", "new  Website relaunch "),
            ProjectCommand::New {
                name: "Website relaunch".into()
            }
        );
        assert_eq!(
            cmd("project", "HERE Launch"),
            ProjectCommand::Here {
                name: "Launch".into()
            }
        );
        assert_eq!(cmd("projects", ""), ProjectCommand::List);
    }

    #[test]
    fn bad_usage_shows_the_usage() {
        let reply = usage_of("project", "");
        assert!(
            reply.contains("Usage: /project new NAME | /project here NAME"),
            "{reply}"
        );
        assert!(reply.contains("e.g. /project here Launch"), "{reply}");
        assert!(usage_of("project", "Launch").contains("'launch' is not new or here"));
        assert!(usage_of("project", "here").contains("Which project?"));
        assert!(usage_of("project", "new   ").contains("Which project?"));
        let long = format!("new {}", "x".repeat(201));
        assert!(usage_of("project", &long).contains("at most 200"));
        assert!(usage_of("projects", "all").contains("Usage: /projects"));
    }
}
