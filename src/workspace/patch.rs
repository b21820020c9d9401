//! `Patch<T>`: a field of an update that may be absent (keep), `null` (clear) or a value (set).

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the patch to the current value.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// Called only when the field is present (absent fields take `Default`, with
    /// `#[serde(default)]`), so `null` means clear.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Update {
        #[serde(default)]
        due: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let keep: Update = serde_json::from_str("{}").unwrap();
        let clear: Update = serde_json::from_str(r#"{"due": null}"#).unwrap();
        let set: Update = serde_json::from_str(r#"{"due": "x"}"#).unwrap();
        assert_eq!(keep.due, Patch::Keep);
        assert_eq!(clear.due, Patch::Clear);
        assert_eq!(set.due, Patch::Set("x".into()));
        assert_eq!(Patch::Set(1).apply(Some(2)), Some(1));
        assert_eq!(Patch::<i32>::Keep.apply(Some(2)), Some(2));
    }
}
