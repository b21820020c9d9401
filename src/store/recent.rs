//! Reads kept for a moment: answers that nearly every message asks for and that change rarely
//! (the project of a chat, an integration's settings), so that they do not cost a statement
//! each time. A write through this store forgets them at once; a write through another
//! replica sharing the database is seen once the entry is older than its time to live.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a kept read is used before the database is asked again.
pub const KEPT_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most; past that, the expired ones are dropped, and if that is not enough,
/// all of them (a burst of new keys costs reads again, never memory).
const CAPACITY: usize = 4_096;

/// Recent reads by key.
pub(crate) struct Recent<K, V> {
    ttl: Duration,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    /// Counts the writes that made entries stale: a read that began before one of them must
    /// not keep what the write replaced.
    generation: u64,
    entries: HashMap<K, (Instant, V)>,
}

/// What [`Recent::get`] found: the kept value, or a ticket to keep what is read now.
pub(crate) enum Kept<V> {
    Hit(V),
    Miss(Ticket),
}

/// Taken before reading the database; [`Recent::keep`] keeps the value read only if no write
/// happened since.
pub(crate) struct Ticket(u64);

impl<K: Eq + Hash, V: Clone> Default for Recent<K, V> {
    fn default() -> Self {
        Self::new(KEPT_FOR)
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves a consistent map (every change is one call).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get<Q>(&self, key: &Q) -> Kept<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let inner = self.lock();
        match inner.entries.get(key) {
            Some((at, value)) if at.elapsed() < self.ttl => Kept::Hit(value.clone()),
            _ => Kept::Miss(Ticket(inner.generation)),
        }
    }

    /// Keeps `value`, read after `ticket` was taken, unless a write came in between.
    pub fn keep(&self, ticket: Ticket, key: K, value: V) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            let ttl = self.ttl;
            inner.entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if inner.entries.len() >= CAPACITY {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (Instant::now(), value));
    }

    /// Forgets every kept read: called after each write that may change them.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(recent: &Recent<&'static str, i64>, key: &str) -> Ticket {
        match recent.get(key) {
            Kept::Miss(ticket) => ticket,
            Kept::Hit(v) => panic!("{key} was kept ({v})"),
        }
    }

    #[test]
    fn a_kept_read_is_used_until_a_write_or_its_time_runs_out() {
        let recent = Recent::new(Duration::from_secs(60));
        let t = ticket(&recent, "a");
        recent.keep(t, "a", 1);
        assert!(matches!(recent.get("a"), Kept::Hit(1)));
        recent.forget();
        let t = ticket(&recent, "a");
        recent.keep(t, "a", 2);
        assert!(matches!(recent.get("a"), Kept::Hit(2)));

        let short = Recent::new(Duration::from_millis(1));
        let t = ticket(&short, "a");
        short.keep(t, "a", 1);
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(short.get("a"), Kept::Miss(_)));
    }

    #[test]
    fn a_read_begun_before_a_write_is_not_kept() {
        let recent = Recent::new(Duration::from_secs(60));
        let before = ticket(&recent, "a");
        recent.forget();
        recent.keep(before, "a", 1);
        assert!(matches!(recent.get("a"), Kept::Miss(_)));
    }

    #[test]
    fn many_keys_never_grow_past_the_capacity() {
        let recent: Recent<String, usize> = Recent::new(Duration::from_secs(60));
        for n in 0..CAPACITY * 2 + 3 {
            let Kept::Miss(t) = recent.get(n.to_string().as_str()) else {
                panic!("{n} was kept before it was read");
            };
            recent.keep(t, n.to_string(), n);
        }
        assert!(recent.lock().entries.len() <= CAPACITY);
        assert!(matches!(
            recent.get((CAPACITY * 2 + 2).to_string().as_str()),
            Kept::Hit(_)
        ));
    }
}
