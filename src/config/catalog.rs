//! The settings catalog: every setting the service reads, with its default and one line on
//! what it does, grouped by area. Each area's module lists its own settings next to the code
//! that reads them; this module gathers the lists, answers "what is the default of X" for the
//! [`Reader`](super::values::Reader), and writes the commented `.env` of `coordinator init`
//! (the repository's `.env.example` is the same text, checked by a test).

use super::{channels, email, files, integrations, models, queues, service, slack};

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable (also the `coordinator.toml` key, in any case).
    pub name: &'static str,
    /// The value used when it is unset; `None`: unset means off (or not configured).
    pub default: Option<&'static str>,
    /// What it does, in one line (examples of values included).
    pub about: &'static str,
}

impl Setting {
    /// A setting that is off (or not configured) until it is set.
    pub const fn off(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            default: None,
            about,
        }
    }

    /// A setting with a default.
    pub const fn default_to(name: &'static str, default: &'static str, about: &'static str) -> Self {
        Self {
            name,
            default: Some(default),
            about,
        }
    }
}

/// Settings that belong together (a platform, an integration), in the order they are shown.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub title: &'static str,
    pub settings: &'static [Setting],
}

/// Every group, in the order `.env` shows them.
pub fn groups() -> impl Iterator<Item = &'static Group> {
    [
        service::GROUPS,
        models::GROUPS,
        files::GROUPS,
        channels::GROUPS,
        slack::GROUPS,
        email::GROUPS,
        queues::GROUPS,
        integrations::GROUPS,
    ]
    .into_iter()
    .flatten()
}

/// Every setting, group after group.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    groups().flat_map(|g| g.settings.iter())
}

/// The setting called `name`, if the catalog lists it.
pub fn find(name: &str) -> Option<&'static Setting> {
    settings().find(|s| s.name == name)
}

/// The commented `.env` that `coordinator init` writes: every setting, commented out, with its
/// default (or empty: nothing is invented, least of all a secret).
pub fn env_file() -> String {
    let mut out = String::from(
        "# Settings of coordinator, written by `coordinator init`; the repository ships the same\n\
         # text as .env.example. Every line is commented out: uncomment one and set its value.\n\
         # A commented line keeps the default it shows; an empty value means unset (off).\n\
         # Precedence: coordinator.toml > the environment > this file. README.md, Configuration,\n\
         # says more about each setting.\n",
    );
    for group in groups() {
        out.push_str(&format!("\n# --- {} ---\n", group.title));
        for setting in group.settings {
            out.push_str(&format!(
                "# {}\n# {}={}\n",
                setting.about,
                setting.name,
                setting.default.unwrap_or("")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn names_are_unique_and_lines_are_single() {
        let mut seen = BTreeSet::new();
        for s in settings() {
            assert!(seen.insert(s.name), "{} is listed twice", s.name);
            assert!(!s.about.contains('\n') && !s.about.is_empty(), "{}", s.name);
            assert!(s.default.is_none_or(|d| !d.contains('\n')), "{}", s.name);
        }
    }

    /// Every setting named in the config sources is in the catalog, and every catalog entry
    /// is read there: the catalog cannot drift from what is read.
    #[test]
    fn the_catalog_lists_exactly_what_config_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
        let mut named = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n == "catalog.rs" || n == "tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Read names are string literals such as "TELEGRAM_BOT_TOKEN": capitals, digits
            // and at least one '_'. (Comments and lists name them without quotes.)
            for literal in text.split('"').skip(1).step_by(2) {
                let shaped = literal.contains('_')
                    && literal.starts_with(|c: char| c.is_ascii_uppercase())
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if shaped {
                    named.insert(literal.to_owned());
                }
            }
        }
        let listed: BTreeSet<String> = settings().map(|s| s.name.to_owned()).collect();
        let unlisted: Vec<_> = named.difference(&listed).collect();
        assert!(unlisted.is_empty(), "read but not in the catalog: {unlisted:?}");
        let unread: Vec<_> = listed.difference(&named).collect();
        assert!(unread.is_empty(), "in the catalog but never read: {unread:?}");
    }

    /// Setting any setting to its listed default changes nothing: the defaults shown are the
    /// defaults used.
    #[test]
    fn listed_defaults_are_the_defaults_used() {
        let plain = format!("{:?}", Settings::with(&[]).unwrap());
        for s in settings() {
            if let Some(default) = s.default {
                let set = Settings::with(&[(s.name, default)])
                    .unwrap_or_else(|e| panic!("{}'s default is refused: {e}", s.name));
                assert_eq!(format!("{set:?}"), plain, "{}", s.name);
            }
        }
    }

    #[test]
    fn the_env_file_parses_to_the_defaults() {
        let text = env_file();
        for s in settings() {
            let line = format!("# {}={}\n", s.name, s.default.unwrap_or(""));
            assert!(text.contains(&line), "{line}");
        }
        // Uncommented, the file is a valid .env whose values are all defaults.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| settings().any(|s| l.starts_with(&format!("{}=", s.name))))
            .map(|l| format!("{l}\n"))
            .collect();
        let source = dotenvy::from_read_iter(uncommented.as_bytes())
            .map(|item| item.unwrap())
            .collect();
        let parsed = Settings::from_source(&source).unwrap();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", Settings::with(&[]).unwrap())
        );
    }

    #[test]
    fn the_repository_ships_the_same_env_example() {
        let shipped = include_str!("../../.env.example");
        assert!(
            shipped == env_file(),
            ".env.example differs from `coordinator init`: run `coordinator init` in an empty \
             folder and copy its .env over .env.example"
        );
    }
}
