//! Validated values: once constructed, a `TaskTitle` or a `Handle` is always valid.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;

/// A task title: not blank, at most 300 characters, kept exactly as written apart from
/// surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub const MAX_CHARS: usize = 300;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("title", "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "title",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A person's handle, as written after `@` in chat: 1–32 of `a-z 0-9 _ . -`, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::parse_field(text, "handle")
    }

    pub fn parse_field(text: &str, field: &str) -> Result<Self, ValidationError> {
        let handle = text.trim().trim_start_matches('@').to_ascii_lowercase();
        let valid = !handle.is_empty()
            && handle.len() <= 32
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if valid {
            Ok(Self(handle))
        } else {
            Err(ValidationError::new(
                field,
                format!("'{text}' is not a handle (1-32 of a-z, 0-9, '_', '.', '-')"),
            ))
        }
    }

    /// A handle a new person may take: not one of the service's own principals (the
    /// integrations and the system write as `zendesk`, `crm`, `system`), which no person may
    /// impersonate.
    pub fn parse_new(text: &str) -> Result<Self, ValidationError> {
        let handle = Self::parse(text)?;
        if RESERVED_HANDLES.contains(&handle.as_str()) {
            return Err(ValidationError::new(
                "handle",
                format!("'{}' is reserved for the service itself", handle.as_str()),
            ));
        }
        Ok(handle)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The names the service's own principals act under (audit records, comment authors).
pub const RESERVED_HANDLES: &[&str] = &["system", "zendesk", "crm", "bootstrap", "api", "cli"];

/// A task label, e.g. `{"name": "client", "color": "#ff0000"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Label {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

impl Label {
    pub fn validate(self) -> Result<Self, ValidationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(ValidationError::new(
                "labels",
                "a label name must be 1-50 characters",
            ));
        }
        let color = match self.color.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() <= 32 => Some(c.to_owned()),
            Some(_) => {
                return Err(ValidationError::new(
                    "labels",
                    "a label color is at most 32 characters",
                ))
            }
        };
        Ok(Self { name, color })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_trimmed_and_never_empty() {
        assert_eq!(TaskTitle::parse("  Ship it  ").unwrap().as_str(), "Ship it");
        assert_eq!(TaskTitle::parse("   ").unwrap_err().field, "title");
        assert!(TaskTitle::parse(&"x".repeat(301)).is_err());
        assert_eq!(
            TaskTitle::parse("Robert'); DROP TABLE tasks;-- 🚀")
                .unwrap()
                .as_str(),
            "Robert'); DROP TABLE tasks;-- 🚀"
        );
    }

    #[test]
    fn handle_accepts_at_prefix_and_lowercases() {
        assert_eq!(Handle::parse("@Anna").unwrap().as_str(), "anna");
        assert!(Handle::parse("an na").is_err());
        assert!(Handle::parse("").is_err());
    }
}
