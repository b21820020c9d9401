//! The agent's prompts: the system prompt (`system.md`) and the role profiles
//! (`roles/NAME.md`, a TOML front matter with `name` and `tools` between `+++` lines, then a
//! text). Built into the binary from `prompts/`; at start, the files in
//! `COORDINATOR_PROMPTS_DIR` replace the built-in ones they name (and a new `roles/NAME.md`
//! adds a profile), each checked first: a file that lacks a placeholder it needs, names an
//! unknown one or an unknown tool stops the start with a message naming the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::domain::{Person, Role};
use crate::tools::Toolbox;

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

/// The placeholders of `system.md`, filled at every turn; a system prompt needs each of them.
pub const SYSTEM_PLACEHOLDERS: [(&str, &str); 2] = [
    ("profile", "where the speaker's role profile goes"),
    ("speaker", "where who is speaking, their role and the time go"),
];

/// The setting a bad prompt file is reported under.
const SETTING: &str = "COORDINATOR_PROMPTS_DIR";

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// The tools this profile may use.
    pub tools: Vec<String>,
    pub text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    name: String,
    tools: Vec<String>,
}

fn parse(text: &str) -> Result<Profile, String> {
    let rest = text
        .trim_start()
        .strip_prefix("+++")
        .ok_or("missing +++ front matter (name and tools)")?;
    let (front, body) = rest.split_once("+++").ok_or("unterminated +++ front matter")?;
    let front: FrontMatter = toml::from_str(front).map_err(|e| e.message().to_owned())?;
    Ok(Profile {
        name: front.name,
        tools: front.tools,
        text: body.trim().to_owned(),
    })
}

/// The `{{name}}` placeholders in `text`, in order.
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    found
}

/// `text` with each `{{name}}` of `values` replaced, in one pass: a value's own text is never
/// read for placeholders. Runs of blank lines left by empty values are closed up.
fn render(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        match values.iter().find(|(name, _)| *name == after[..end].trim()) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let mut closed = String::with_capacity(out.len());
    for line in out.trim().lines() {
        if line.trim().is_empty() && (closed.is_empty() || closed.ends_with("\n\n")) {
            continue;
        }
        closed.push_str(line.trim_end());
        closed.push('\n');
    }
    closed.trim_end().to_owned()
}

/// Checks the system prompt: every placeholder it needs, none it does not know.
fn check_system(text: &str) -> Result<(), String> {
    let found = placeholders(text);
    if let Some(unknown) = found
        .iter()
        .find(|p| !SYSTEM_PLACEHOLDERS.iter().any(|(name, _)| name == *p))
    {
        return Err(format!(
            "unknown placeholder {{{{{unknown}}}}} (system.md knows {})",
            known_placeholders()
        ));
    }
    for (name, what) in SYSTEM_PLACEHOLDERS {
        if !found.contains(&name) {
            return Err(format!("missing the placeholder {{{{{name}}}}} ({what})"));
        }
    }
    Ok(())
}

fn known_placeholders() -> String {
    SYSTEM_PLACEHOLDERS
        .iter()
        .map(|(name, _)| format!("{{{{{name}}}}}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Checks a role profile (`name`, the file's name): its front matter, tools that exist (and,
/// for guests, only tools that read), and no placeholders (a profile is what fills
/// `{{profile}}`).
fn check_profile(name: &str, text: &str, toolbox: &Toolbox) -> Result<Profile, String> {
    let profile = parse(text)?;
    let known = toolbox.names();
    if let Some(unknown) = profile.tools.iter().find(|t| !known.contains(&t.as_str())) {
        return Err(format!(
            "unknown tool '{unknown}' in tools (known: {})",
            known.join(", ")
        ));
    }
    if name == "guest" {
        if let Some(writing) = profile.tools.iter().find(|t| toolbox.writes(t)) {
            return Err(format!(
                "guests only look things up, and '{writing}' changes the workspace"
            ));
        }
    }
    if let Some(p) = placeholders(&profile.text).first() {
        return Err(format!(
            "unknown placeholder {{{{{p}}}}} (role profiles take none; system.md has {})",
            known_placeholders()
        ));
    }
    Ok(profile)
}

pub struct Prompts {
    /// The system prompt, with its placeholders.
    system: String,
    profiles: HashMap<String, Profile>,
    /// The files that came from disk, by their name under the prompts folder.
    from_disk: Vec<String>,
}

impl Prompts {
    /// The bundled prompts. A broken profile file is a build mistake caught by the tests.
    pub fn bundled() -> Result<Self, String> {
        check_system(SYSTEM).map_err(|e| format!("system.md: {e}"))?;
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
            from_disk: Vec::new(),
        })
    }

    /// The bundled prompts with the files in `dir` (`system.md`, `roles/*.md`) in their place;
    /// `toolbox` holds the tools a profile may name. A missing folder or file keeps the bundled
    /// one.
    pub fn load(dir: &Path, toolbox: &Toolbox) -> Result<Self, ConfigError> {
        let mut prompts = Self::bundled().map_err(|e| ConfigError::new(SETTING, e))?;
        let bad = |file: &Path, problem: String| {
            ConfigError::new(SETTING, format!("{}: {problem}", file.display()))
        };
        let read = |file: &Path| -> Result<Option<String>, ConfigError> {
            match std::fs::read_to_string(file) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(bad(file, format!("cannot be read ({e})"))),
            }
        };
        let system_file = dir.join("system.md");
        if let Some(text) = read(&system_file)? {
            check_system(&text).map_err(|e| bad(&system_file, e))?;
            prompts.system = text.trim().to_owned();
            prompts.from_disk.push("system.md".into());
        }
        // Sorted, so that the log and any error are the same from one start to the next.
        let mut roles = BTreeMap::new();
        match std::fs::read_dir(dir.join("roles")) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let name = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
                    if let (Some(name), Some("md")) = (name, path.extension().and_then(|e| e.to_str())) {
                        roles.insert(name, path);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(bad(&dir.join("roles"), format!("cannot be read ({e})"))),
        }
        for (name, path) in roles {
            let Some(text) = read(&path)? else { continue };
            let profile = check_profile(&name, &text, toolbox).map_err(|e| bad(&path, e))?;
            prompts.profiles.insert(name.clone(), profile);
            prompts.from_disk.push(format!("roles/{name}.md"));
        }
        Ok(prompts)
    }

    /// The files that replaced (or added to) the built-in prompts, e.g. `roles/guest.md`.
    pub fn from_disk(&self) -> &[String] {
        &self.from_disk
    }

    /// The system prompt with `profile` and `speaker` in their places.
    pub fn system_prompt(&self, profile: &str, speaker: &str) -> String {
        render(&self.system, &[("profile", profile), ("speaker", speaker)])
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
mod tests;
