//! The team administered from chat: `/claim`, `/invite`, `/people`, `/role`, `/remove`, `/me`,
//! `/tz` and `/quiet`. Parsing is pure and lives here; `run` executes a parsed command through
//! the workspace (which checks the rights) and `invite` words what an invitee is sent.

mod invite;
mod run;

pub use invite::InviteRoutes;

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;

use crate::domain::{Handle, Role};

/// A team command, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamCommand {
    /// `/claim CODE`; `/start CODE` also takes a link code (`or_link`).
    Claim {
        code: String,
        or_link: bool,
    },
    Invite {
        handle: Option<Handle>,
        role: Option<Role>,
    },
    People,
    Role {
        handle: Handle,
        role: Role,
    },
    Remove {
        handle: Handle,
    },
    Me,
    Tz {
        zone: Tz,
    },
    /// Quiet hours as minutes after local midnight (start, end); `None` for none.
    Quiet(Option<(i32, i32)>),
}

/// One usage line per command, for /help and for usage replies: (command name, line).
pub const USAGE: &[(&str, &str)] = &[
    (
        "claim",
        "/claim CODE — become the first admin with the code the server printed at start",
    ),
    (
        "invite",
        "/invite [@handle] [admin|member|guest] — invite someone to the team (admins)",
    ),
    ("people", "/people — the team, with roles and linked chats"),
    (
        "role",
        "/role @handle admin|member|guest — change someone's role (admins)",
    ),
    ("remove", "/remove @handle — take someone off the team (admins)"),
    ("me", "/me — your chats, role, time zone and quiet hours"),
    ("tz", "/tz ZONE — set your time zone"),
    (
        "quiet",
        "/quiet HH:MM-HH:MM|off — when reminders wait (in your time zone)",
    ),
];

use super::commands::usage;

/// Parses the team command `name` (lower case) with `args`; `None` when `name` is not one.
pub fn parse(name: &str, args: &str) -> Option<Result<TeamCommand, String>> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let parsed = match name {
        "claim" | "start" => parse_code(name, &words),
        "invite" => parse_invite(&words),
        "people" => no_arguments("people", &words, TeamCommand::People),
        "role" => parse_role(&words),
        "remove" => match words.as_slice() {
            [] => Err(usage("remove", "Whom? Add their @handle.")),
            [handle] => handle_of("remove", handle).map(|handle| TeamCommand::Remove { handle }),
            _ => Err(usage("remove", "/remove takes one @handle.")),
        },
        "me" => no_arguments("me", &words, TeamCommand::Me),
        "tz" => parse_tz(&words),
        "quiet" => parse_quiet(args),
        _ => return None,
    };
    Some(parsed)
}

fn no_arguments(name: &str, words: &[&str], command: TeamCommand) -> Result<TeamCommand, String> {
    if words.is_empty() {
        Ok(command)
    } else {
        Err(usage(name, &format!("/{name} takes nothing after it.")))
    }
}

fn parse_code(name: &str, words: &[&str]) -> Result<TeamCommand, String> {
    match words {
        [] => Err(usage("claim", &format!("/{name} needs the code."))),
        [code] => Ok(TeamCommand::Claim {
            code: (*code).to_owned(),
            or_link: name == "start",
        }),
        _ => Err(usage("claim", &format!("/{name} takes just the code, one word."))),
    }
}

fn handle_of(command: &str, word: &str) -> Result<Handle, String> {
    Handle::parse(word).map_err(|e| usage(command, &format!("{}.", e.message)))
}

/// A role written exactly (`admin`, `Member`…).
fn role_of(word: &str) -> Option<Role> {
    Role::parse_field(word, "role").ok()
}

fn parse_invite(words: &[&str]) -> Result<TeamCommand, String> {
    let (mut handle, mut role) = (None, None);
    for word in words {
        if let Some(r) = role_of(word) {
            if role.replace(r).is_some() {
                return Err(usage("invite", "Give one role."));
            }
        } else if handle.is_some() {
            return Err(usage(
                "invite",
                &format!("'{word}' is neither a role (admin, member, guest) nor a second handle: invite one person at a time."),
            ));
        } else {
            handle = Some(handle_of("invite", word)?);
        }
    }
    Ok(TeamCommand::Invite { handle, role })
}

fn parse_role(words: &[&str]) -> Result<TeamCommand, String> {
    match words {
        [] => Err(usage("role", "Whose role, and which?")),
        [one] => Err(usage(
            "role",
            &format!("Which role for {one}: admin, member or guest?"),
        )),
        [who, what] => {
            let handle = handle_of("role", who)?;
            let role = role_of(what).ok_or_else(|| {
                usage(
                    "role",
                    &format!("'{what}' is not a role: use admin, member or guest."),
                )
            })?;
            Ok(TeamCommand::Role { handle, role })
        }
        _ => Err(usage("role", "/role takes one @handle and one role.")),
    }
}

fn parse_tz(words: &[&str]) -> Result<TeamCommand, String> {
    let name = match words {
        [] => return Err(usage("tz", "Which time zone?")),
        [name] => *name,
        _ => return Err(usage("tz", "A time zone is one word, such as Europe/Berlin.")),
    };
    if let Ok(zone) = name.parse::<Tz>() {
        return Ok(TeamCommand::Tz { zone });
    }
    // `europe/berlin` is plainly meant; `Berlin` gets a suggestion.
    let wanted = name.to_ascii_lowercase();
    if let Some(zone) = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(&wanted))
    {
        return Ok(TeamCommand::Tz { zone: *zone });
    }
    let city = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| {
            tz.name()
                .rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&wanted))
        })
        .map(|tz| format!(" Did you mean {}?", tz.name()))
        .unwrap_or_default();
    Err(usage(
        "tz",
        &format!("'{name}' is not a time zone of the tz database.{city}"),
    ))
}

/// `22:00-07:00` (spaces and `to` allowed around the dash), or `off`.
fn parse_quiet(args: &str) -> Result<TeamCommand, String> {
    let text = args.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err(usage("quiet", "From when to when?"));
    }
    if matches!(text.as_str(), "off" | "none" | "no") {
        return Ok(TeamCommand::Quiet(None));
    }
    let Some((from, to)) = text
        .split_once('-')
        .or_else(|| text.split_once('–'))
        .or_else(|| text.split_once(" to "))
    else {
        return Err(usage(
            "quiet",
            &format!("'{}' is not a span of time such as 22:00-07:00.", args.trim()),
        ));
    };
    let minute = |part: &str| {
        NaiveTime::parse_from_str(part.trim(), "%H:%M")
            .map(|t| (t.hour() * 60 + t.minute()) as i32)
            .map_err(|_| {
                usage(
                    "quiet",
                    &format!("'{}' is not a time of day as HH:MM.", part.trim()),
                )
            })
    };
    let (start, end) = (minute(from)?, minute(to)?);
    if start == end {
        return Err(usage(
            "quiet",
            "The start and the end are the same time; for no quiet hours write /quiet off.",
        ));
    }
    Ok(TeamCommand::Quiet(Some((start, end))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, args: &str) -> TeamCommand {
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

    fn handle(text: &str) -> Handle {
        Handle::parse(text).unwrap()
    }

    #[test]
    fn not_ours() {
        assert_eq!(parse("tasks", ""), None);
        assert_eq!(parse("project", "new X"), None);
    }

    #[test]
    fn claim_and_start_take_one_code() {
        let claim = |code: &str, or_link| TeamCommand::Claim {
            code: code.into(),
            or_link,
        };
        assert_eq!(cmd("claim", " AB12CD34EF56 "), claim("AB12CD34EF56", false));
        assert_eq!(cmd("start", "7F3K9QAB"), claim("7F3K9QAB", true));
        let reply = usage_of("claim", "");
        assert!(reply.contains("needs the code"), "{reply}");
        assert!(reply.contains("Usage: /claim CODE — e.g. /claim "), "{reply}");
        assert!(usage_of("start", "AB CD").contains("one word"));
    }

    #[test]
    fn invite_takes_an_optional_handle_and_role_in_any_order() {
        let invite = |h: Option<&str>, role| TeamCommand::Invite {
            handle: h.map(handle),
            role,
        };
        assert_eq!(cmd("invite", ""), invite(None, None));
        assert_eq!(cmd("invite", "@Anna"), invite(Some("anna"), None));
        assert_eq!(
            cmd("invite", "@anna member"),
            invite(Some("anna"), Some(Role::Member))
        );
        assert_eq!(
            cmd("invite", "Guest @bob"),
            invite(Some("bob"), Some(Role::Guest))
        );
        assert_eq!(cmd("invite", "admin"), invite(None, Some(Role::Admin)));
        // A person may be called like a role when written as a handle.
        assert_eq!(cmd("invite", "@admin"), invite(Some("admin"), None));
        assert!(usage_of("invite", "@anna @bob").contains("one person at a time"));
        assert!(usage_of("invite", "admin guest").contains("one role"));
        let reply = usage_of("invite", "@bad/handle");
        assert!(reply.contains("is not a handle"), "{reply}");
        assert!(reply.contains("e.g. /invite @anna member"), "{reply}");
    }

    #[test]
    fn role_and_remove() {
        assert_eq!(
            cmd("role", "@anna ADMIN"),
            TeamCommand::Role {
                handle: handle("anna"),
                role: Role::Admin
            }
        );
        assert!(usage_of("role", "").contains("Usage: /role @handle admin|member|guest"));
        assert!(usage_of("role", "@anna").contains("Which role for @anna"));
        assert!(usage_of("role", "@anna boss").contains("'boss' is not a role"));
        assert!(usage_of("role", "@anna admin now").contains("one @handle and one role"));
        assert_eq!(
            cmd("remove", "@anna"),
            TeamCommand::Remove {
                handle: handle("anna")
            }
        );
        assert!(usage_of("remove", "").contains("e.g. /remove @anna"));
        assert!(usage_of("remove", "@a @b").contains("one @handle"));
    }

    #[test]
    fn people_and_me_take_nothing() {
        assert_eq!(cmd("people", ""), TeamCommand::People);
        assert_eq!(cmd("me", " "), TeamCommand::Me);
        assert!(usage_of("people", "all").contains("takes nothing"));
        assert!(usage_of("me", "please").contains("Usage: /me"));
    }

    #[test]
    fn tz_is_checked_against_the_tz_database() {
        let tz = |text| match cmd("tz", text) {
            TeamCommand::Tz { zone } => zone.name(),
            other => panic!("{other:?}"),
        };
        assert_eq!(tz("Europe/Berlin"), "Europe/Berlin");
        assert_eq!(tz("america/new_york"), "America/New_York");
        assert_eq!(tz("UTC"), "UTC");
        let reply = usage_of("tz", "Berlin");
        assert!(reply.contains("'Berlin' is not a time zone"), "{reply}");
        assert!(reply.contains("Did you mean Europe/Berlin?"), "{reply}");
        assert!(reply.contains("e.g. /tz Europe/Berlin"), "{reply}");
        assert!(usage_of("tz", "Mars/Base").contains("is not a time zone"));
        assert!(usage_of("tz", "").contains("Which time zone?"));
        assert!(usage_of("tz", "Europe Berlin").contains("one word"));
    }

    #[test]
    fn quiet_hours_and_off() {
        assert_eq!(cmd("quiet", "22:00-07:00"), TeamCommand::Quiet(Some((1320, 420))));
        assert_eq!(
            cmd("quiet", "22:00 - 7:30"),
            TeamCommand::Quiet(Some((1320, 450)))
        );
        assert_eq!(
            cmd("quiet", "13:00 to 14:00"),
            TeamCommand::Quiet(Some((780, 840)))
        );
        assert_eq!(cmd("quiet", "OFF"), TeamCommand::Quiet(None));
        assert!(usage_of("quiet", "").contains("e.g. /quiet 22:00-07:00"));
        assert!(usage_of("quiet", "late").contains("'late' is not a span"));
        assert!(usage_of("quiet", "25:00-07:00").contains("'25:00' is not a time of day"));
        assert!(usage_of("quiet", "08:00-08:00").contains("/quiet off"));
    }
}
