//! Reading raw values: the [`Reader`] that every area's parser goes through (it fills in the
//! catalog's defaults, so a default is written once), `coordinator.toml`, and the small value
//! formats several settings share (durations, lists of durations, booleans, URLs).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::{catalog, ConfigError, Secret};

/// Raw values by setting name, before they are checked.
pub(super) type Source = HashMap<String, String>;

/// The raw values, read by setting name.
pub(super) struct Reader<'a> {
    source: &'a Source,
}

impl<'a> Reader<'a> {
    pub(super) fn new(source: &'a Source) -> Self {
        Self { source }
    }

    /// The value set for `name`, trimmed; `None` when unset or blank.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        debug_assert!(
            catalog::find(name).is_some(),
            "{name} is read but not listed in the settings catalog (src/config/)"
        );
        self.source
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` is set at all, even to an empty value.
    pub(super) fn is_set(&self, name: &str) -> bool {
        self.source.contains_key(name)
    }

    /// The value set for `name`, else its default from the catalog (empty when it has none).
    pub(super) fn value(&self, name: &str) -> String {
        self.get(name)
            .or_else(|| catalog::find(name).and_then(|s| s.default).map(str::to_owned))
            .unwrap_or_default()
    }

    pub(super) fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }

    /// A URL (the value or the default), checked, without a trailing `/`.
    pub(super) fn url(&self, name: &str) -> Result<String, ConfigError> {
        let value = self.value(name);
        reqwest::Url::parse(&value)
            .map_err(|e| ConfigError::new(name, format!("'{value}' is not a URL ({e})")))?;
        Ok(value.trim_end_matches('/').to_owned())
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), the default when unset.
    pub(super) fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.value(name).to_ascii_lowercase().as_str() {
            "" | "false" | "0" | "no" => Ok(false),
            "true" | "1" | "yes" => Ok(true),
            other => Err(ConfigError::new(name, format!("'{other}' is not true or false"))),
        }
    }

    /// A duration above zero such as `30s` or `1m`.
    pub(super) fn duration(&self, name: &str) -> Result<Duration, ConfigError> {
        let text = self.value(name);
        humantime::parse_duration(&text)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError::new(name, format!("'{text}' is not a duration such as 30s or 1m")))
    }

    /// A whole number of at least `min`.
    pub(super) fn number<T>(&self, name: &str, min: T, what: &str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let text = self.value(name);
        text.parse::<T>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| ConfigError::new(name, format!("'{text}' is not {what} (at least {min})")))
    }
}

/// `coordinator.toml`: a flat table whose keys are the setting names, in any case
/// (`database_url = "postgres://…"` or `DATABASE_URL = …`).
pub(super) fn read_toml(path: &Path) -> Result<Source, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Source::new()),
        Err(e) => return Err(ConfigError::new("coordinator.toml", e.to_string())),
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new("coordinator.toml", e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(key, value)| {
            let name = key.to_ascii_uppercase();
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(ConfigError::new(&name, "must be a string, number or boolean")),
            };
            Ok((name, text))
        })
        .collect()
}

/// `24h,2h` → the durations, longest first; empty (`none`) turns reminders off.
pub(super) fn parse_leads(text: &str) -> Option<Vec<Duration>> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    let mut leads = text
        .split(',')
        .map(|part| {
            humantime::parse_duration(part.trim())
                .ok()
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(30 * 24 * 3600))
        })
        .collect::<Option<Vec<_>>>()?;
    leads.sort_by(|a, b| b.cmp(a));
    leads.dedup();
    Some(leads)
}
