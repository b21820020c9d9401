//! The mapping file (`CRM_MAPPING_FILE`, TOML; `examples/crm-mapping.toml` documents it and is
//! the built-in mapping): which CRM object type becomes which of our resources, and which CRM
//! field fills which of ours. Checked when the settings are read, so a mistake stops the
//! service at start with the file named.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

const BUILT_IN: &str = include_str!("../../../examples/crm-mapping.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Project,
    Task,
    Person,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Project => "project",
            Resource::Task => "task",
            Resource::Person => "person",
        }
    }

    /// Our fields a CRM field may fill.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Resource::Project => &["name", "description", "status", "deadline"],
            Resource::Task => &[
                "title",
                "description",
                "status",
                "priority",
                "due_date",
                "time_estimate",
                "time_spent",
            ],
            Resource::Person => &["name", "handle", "email", "timezone"],
        }
    }

    /// The field a new record cannot do without.
    fn required(self) -> &'static str {
        match self {
            Resource::Task => "title",
            Resource::Project | Resource::Person => "name",
        }
    }

    /// References to other records, and the resource each must point at.
    fn refs(self) -> &'static [(&'static str, Resource)] {
        match self {
            Resource::Task => &[
                ("project_id", Resource::Project),
                ("assigned_to", Resource::Person),
            ],
            Resource::Project | Resource::Person => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Our record stays; the link to the CRM object is dropped.
    #[default]
    Unlink,
    /// Our record is deleted too.
    Delete,
}

/// A reference: the CRM id in `field` names an object of type `object`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ref {
    pub object: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMapping {
    pub resource: Resource,
    /// Where the CRM object's id is.
    #[serde(default = "default_id")]
    pub id: String,
    #[serde(default)]
    pub on_delete: OnDelete,
    /// Our field → the CRM field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// For one of our fields: CRM value → ours.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub refs: BTreeMap<String, Ref>,
}

fn default_id() -> String {
    "id".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub objects: BTreeMap<String, ObjectMapping>,
}

impl Mapping {
    /// The mapping of `examples/crm-mapping.toml`.
    pub fn built_in() -> Self {
        Self::parse(BUILT_IN).expect("the built-in CRM mapping is valid")
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        mapping.check()?;
        Ok(mapping)
    }

    fn check(&self) -> Result<(), String> {
        for (name, object) in &self.objects {
            let resource = object.resource;
            for field in object.fields.keys().chain(object.values.keys()) {
                if !resource.fields().contains(&field.as_str()) {
                    return Err(format!(
                        "objects.{name}: a {} has no field '{field}' (it has: {})",
                        resource.as_str(),
                        resource.fields().join(", ")
                    ));
                }
            }
            if !object.fields.contains_key(resource.required()) {
                return Err(format!(
                    "objects.{name}.fields: '{}' is required for a {}",
                    resource.required(),
                    resource.as_str()
                ));
            }
            for (field, target) in &object.refs {
                let Some((_, wanted)) = resource.refs().iter().find(|(f, _)| f == field) else {
                    return Err(format!(
                        "objects.{name}.refs: a {} has no reference '{field}'",
                        resource.as_str()
                    ));
                };
                match self.objects.get(&target.object) {
                    Some(other) if other.resource == *wanted => {}
                    _ => {
                        return Err(format!(
                            "objects.{name}.refs.{field}: '{}' must be an object mapped to a {}",
                            target.object,
                            wanted.as_str()
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

/// The value at a dotted `path` of a JSON object.
pub fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(data, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// A CRM id (a string or a number) as text.
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Unix seconds or milliseconds → RFC 3339.
fn unix_time(n: f64) -> Option<String> {
    let secs = if n.abs() >= 1e11 { n / 1000.0 } else { n };
    chrono::DateTime::from_timestamp(secs as i64, 0).map(|t| t.to_rfc3339())
}

impl ObjectMapping {
    /// Our fields from a CRM object: mapped, translated by `values`, and typed for our API.
    /// A field the object does not have is left out (an update keeps ours); one that is `null`
    /// clears ours.
    pub fn fields_of(&self, data: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        for (ours, theirs) in &self.fields {
            let present = theirs.split('.').try_fold(data, |v, key| v.get(key));
            let Some(value) = present else { continue };
            let text = match value {
                Value::String(s) => Some(s.trim().to_owned()),
                Value::Number(n) if matches!(ours.as_str(), "due_date" | "deadline") => {
                    n.as_f64().and_then(unix_time)
                }
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let text = text.map(|t| {
                let table = self.values.get(ours);
                table
                    .and_then(|m| m.get(&t).or_else(|| m.get(&t.to_lowercase())))
                    .cloned()
                    .unwrap_or(t)
            });
            let typed = match (ours.as_str(), text) {
                (_, None) => Value::Null,
                ("time_estimate" | "time_spent", Some(t)) => {
                    t.parse::<f64>().map(Value::from).unwrap_or(Value::Null)
                }
                (_, Some(t)) if t.is_empty() => Value::Null,
                (_, Some(t)) => Value::String(t),
            };
            out.insert(ours.clone(), typed);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_built_in_mapping_is_the_example_file() {
        let m = Mapping::built_in();
        assert_eq!(m.objects["deal"].resource, Resource::Task);
        assert_eq!(m.objects["contact"].resource, Resource::Person);
        assert_eq!(m.objects["project"].resource, Resource::Project);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = [
            ("[objects.deal]\nresource = \"task\"\n[objects.deal.fields]\nname = \"x\"\n", "no field 'name'"),
            ("[objects.deal]\nresource = \"task\"\n", "'title' is required"),
            ("[objects.deal]\nresource = \"deal\"\n", "unknown variant"),
            (
                "[objects.deal]\nresource = \"task\"\n[objects.deal.fields]\ntitle = \"n\"\n[objects.deal.refs]\nproject_id = { object = \"nope\", field = \"p\" }\n",
                "must be an object mapped to a project",
            ),
        ];
        for (text, wanted) in bad {
            let err = Mapping::parse(text).unwrap_err();
            assert!(err.contains(wanted), "{err}");
        }
    }

    #[test]
    fn fields_are_mapped_translated_and_typed() {
        let m = Mapping::built_in();
        let deal = json!({"id": 7, "name": " Website ", "stage": "won", "hours": "12.5",
            "close_date": 1_900_000_000_000_i64, "description": null});
        let f = m.objects["deal"].fields_of(&deal);
        assert_eq!(f["title"], "Website");
        assert_eq!(f["status"], "done");
        assert_eq!(f["time_estimate"], 12.5);
        assert!(f["due_date"].as_str().unwrap().starts_with("2030-03-17"));
        assert_eq!(f["description"], Value::Null);
        assert!(!f.contains_key("priority"));
        assert_eq!(lookup(&json!({"a": {"b": 3}}), "a.b"), Some(&json!(3)));
        assert_eq!(id_text(&json!(42)).as_deref(), Some("42"));
    }
}
