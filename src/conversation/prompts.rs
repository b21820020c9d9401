//! The agent's prompts, from `prompts/` (built into the binary): the system prompt and the role
//! profiles, each a TOML front matter (`name`, `tools`) between `+++` lines and a text.

use std::collections::HashMap;

use serde::Deserialize;

use crate::domain::{Person, Role};

const SYSTEM: &str = include_str!("../../prompts/system.md");
const PROFILES: &[(&str, &str)] = &[
    (
        "project-manager",
        include_str!("../../prompts/roles/project-manager.md"),
    ),
    (
        "account-manager",
        include_str!("../../prompts/roles/account-manager.md"),
    ),
    ("designer", include_str!("../../prompts/roles/designer.md")),
    ("developer", include_str!("../../prompts/roles/developer.md")),
    ("guest", include_str!("../../prompts/roles/guest.md")),
];

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// The tools this profile may use.
    pub tools: Vec<String>,
    pub text: String,
}

#[derive(Deserialize)]
struct FrontMatter {
    name: String,
    tools: Vec<String>,
}

fn parse(text: &str) -> Result<Profile, String> {
    let rest = text
        .trim_start()
        .strip_prefix("+++")
        .ok_or("missing +++ front matter")?;
    let (front, body) = rest.split_once("+++").ok_or("unterminated +++ front matter")?;
    let front: FrontMatter = toml::from_str(front).map_err(|e| e.to_string())?;
    Ok(Profile {
        name: front.name,
        tools: front.tools,
        text: body.trim().to_owned(),
    })
}

pub struct Prompts {
    pub system: String,
    profiles: HashMap<String, Profile>,
}

impl Prompts {
    /// The bundled prompts. A broken profile file is a build mistake caught by the tests.
    pub fn bundled() -> Result<Self, String> {
        let profiles = PROFILES
            .iter()
            .map(|(name, text)| {
                parse(text)
                    .map(|p| ((*name).to_owned(), p))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            system: SYSTEM.trim().to_owned(),
            profiles,
        })
    }

    /// The person's profile, or one that fits the role: admins plan like project managers,
    /// members work like developers, guests only look.
    pub fn profile_for(&self, person: Option<&Person>, role: Role) -> &Profile {
        let by_role = match role {
            Role::Admin => "project-manager",
            Role::Member => "developer",
            Role::Guest => "guest",
        };
        // A guest never gets more than the guest profile, whatever was configured.
        let wanted = match person.and_then(|p| p.profile.as_deref()) {
            Some(_) if role == Role::Guest => "guest",
            Some(name) => name,
            None => by_role,
        };
        self.profiles
            .get(wanted)
            .or_else(|| self.profiles.get("guest"))
            .unwrap_or_else(|| unreachable!("the guest profile is bundled"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_profiles_parse_and_guests_only_read() {
        let prompts = Prompts::bundled().unwrap();
        assert!(prompts.system.len() > 100);
        let guest = prompts.profile_for(None, Role::Guest);
        assert_eq!(guest.name, "guest");
        for write in [
            "create_task",
            "change_status",
            "assign_task",
            "propose_action",
            "add_comment",
        ] {
            assert!(!guest.tools.iter().any(|t| t == write), "guests may not {write}");
        }
        let pm = prompts.profile_for(None, Role::Admin);
        assert!(pm.tools.iter().any(|t| t == "propose_action"));
    }
}
