//! The closed sets of values: statuses, priorities, roles and channels, each with one spelling
//! on the wire and in the database.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling; the error names `field` and lists the valid values.
            pub fn parse_field(text: &str, field: &str) -> Result<Self, ValidationError> {
                let wanted = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $(if wanted == $text { return Ok($name::$variant); })+
                Err(ValidationError::new(
                    field,
                    format!("'{}' is not one of: {}", text, [$($text),+].join(", ")),
                ))
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_field(s, $field)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(TaskStatus, "status", {
    Todo => "todo",
    InProgress => "in_progress",
    Done => "done",
    Blocked => "blocked",
});

wire_enum!(Priority, "priority", {
    Low => "low",
    Medium => "medium",
    High => "high",
    Urgent => "urgent",
});

wire_enum!(ProjectStatus, "status", {
    Active => "active",
    Completed => "completed",
    OnHold => "on_hold",
});

wire_enum!(
    /// What a person may do: admins everything, members the day-to-day work, guests read.
    Role, "role", {
    Admin => "admin",
    Member => "member",
    Guest => "guest",
});

wire_enum!(
    /// Where a message came from or goes to.
    Channel, "channel", {
    Telegram => "telegram",
    Discord => "discord",
    Whatsapp => "whatsapp",
    Email => "email",
    Cli => "cli",
    Slack => "slack",
});

impl Channel {
    /// Whether the platform shows the person who pressed a button the text that answers the
    /// press (a Telegram toast, a Discord or Slack notice only they see).
    pub fn notifies_presser(self) -> bool {
        matches!(self, Channel::Telegram | Channel::Discord | Channel::Slack)
    }
}

wire_enum!(
    /// Where a proposed AI action stands.
    ActionStatus, "status", {
    Proposed => "proposed",
    Approved => "approved",
    Rejected => "rejected",
    Done => "done",
    Failed => "failed",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wire_spellings_leniently() {
        assert_eq!(
            "in_progress".parse::<TaskStatus>().unwrap(),
            TaskStatus::InProgress
        );
        assert_eq!(
            "In Progress".parse::<TaskStatus>().unwrap(),
            TaskStatus::InProgress
        );
        assert_eq!("on-hold".parse::<ProjectStatus>().unwrap(), ProjectStatus::OnHold);
        let err = "later".parse::<TaskStatus>().unwrap_err();
        assert_eq!(err.field, "status");
        assert!(err.message.contains("todo, in_progress, done, blocked"));
    }

    #[test]
    fn round_trips_through_serde() {
        let json = serde_json::to_string(&Priority::Urgent).unwrap();
        assert_eq!(json, "\"urgent\"");
        assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), Priority::Urgent);
    }
}

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    pub fn length(self) -> chrono::Duration {
        match self {
            Period::Daily => chrono::Duration::days(1),
            Period::Weekly => chrono::Duration::days(7),
            Period::Monthly => chrono::Duration::days(30),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "daily" | "day" => Ok(Period::Daily),
            "weekly" | "week" => Ok(Period::Weekly),
            "monthly" | "month" => Ok(Period::Monthly),
            other => Err(format!("'{other}' is not a period: use daily, weekly or monthly")),
        }
    }
}
