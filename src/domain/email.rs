//! An email address as the bot uses its own (`EMAIL_FROM`): a display name, and a local part
//! that carries a task as a plus tag (`bot+t42@example.org`) or in our Message-IDs.

/// The bot's own address (`EMAIL_FROM`, e.g. `Coordinator <bot@example.org>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    /// The display name, when `EMAIL_FROM` has one.
    pub name: Option<String>,
    /// Lowercased.
    pub local: String,
    /// Lowercased.
    pub domain: String,
}

impl EmailAddress {
    /// Reads `Name <local@domain>` or `local@domain`.
    pub fn parse(from: &str) -> Result<Self, String> {
        let from = from.trim();
        let (name, address) = match (from.rfind('<'), from.ends_with('>')) {
            (Some(open), true) => {
                let name = from[..open].trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_owned()),
                    &from[open + 1..from.len() - 1],
                )
            }
            _ => (None, from),
        };
        let (local, domain) = address
            .trim()
            .split_once('@')
            .filter(|(l, d)| !l.is_empty() && d.contains('.') && !l.contains(char::is_whitespace))
            .ok_or_else(|| format!("'{from}' is not an email address"))?;
        Ok(Self {
            name,
            local: local.to_lowercase(),
            domain: domain.to_lowercase(),
        })
    }

    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The address whose replies belong to task `id`: `local+t42@domain`.
    pub fn task_address(&self, id: i64) -> String {
        format!("{}+t{id}@{}", self.local, self.domain)
    }

    /// Whether `address` is ours, with or without a plus tag.
    pub fn is_ours(&self, address: &str) -> bool {
        let Some((local, domain)) = address.split_once('@') else {
            return false;
        };
        let base = local.split_once('+').map_or(local, |(base, _)| base);
        base.eq_ignore_ascii_case(&self.local) && domain.eq_ignore_ascii_case(&self.domain)
    }

    /// The task of a plus-address `local+t42@domain`.
    pub fn task_in_address(&self, address: &str) -> Option<i64> {
        let (local, domain) = address.split_once('@')?;
        let (base, tag) = local.split_once('+')?;
        if !base.eq_ignore_ascii_case(&self.local) || !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        task_tag(tag)
    }

    /// The task in one of our Message-IDs (`t42.…@domain`).
    pub fn task_in_message_id(&self, id: &str) -> Option<i64> {
        let (left, domain) = id.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        task_tag(left.split_once('.')?.0)
    }
}

/// `t42` → 42.
fn task_tag(tag: &str) -> Option<i64> {
    let digits = tag.strip_prefix('t')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}
