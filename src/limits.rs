//! How much one chat identity or one API token may spend: messages per minute, agent turns and
//! language-model tokens per day (settings `COORDINATOR_MESSAGES_PER_MINUTE`,
//! `COORDINATOR_AGENT_TURNS_PER_DAY`, `COORDINATOR_LLM_TOKENS_PER_DAY`,
//! `COORDINATOR_API_REQUESTS_PER_MINUTE`). Each is a GCRA rate limiter (`governor`) per key, so
//! a day's allowance refills gradually rather than at midnight. Keys that have been idle are
//! forgotten. Refusals are counted in `/metrics` (`limits_refused_total{kind}`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

pub use crate::config::Allowances;

/// What a limit said no to, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub kind: &'static str,
    pub retry_after: Duration,
}

/// The limiters; cheap to share behind an `Arc`.
pub struct Limits {
    messages: DefaultKeyedRateLimiter<String>,
    turns: DefaultKeyedRateLimiter<String>,
    tokens: DefaultKeyedRateLimiter<String>,
    api: DefaultKeyedRateLimiter<String>,
    /// One "slow down" notice per key and minute, so that refusing does not become spam.
    notices: DefaultKeyedRateLimiter<String>,
}

fn quota(per: Duration, n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per / n.get())
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(n)
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

impl Limits {
    pub fn new(a: Allowances) -> Self {
        Self {
            messages: DefaultKeyedRateLimiter::keyed(quota(MINUTE, a.messages_per_minute)),
            turns: DefaultKeyedRateLimiter::keyed(quota(DAY, a.agent_turns_per_day)),
            tokens: DefaultKeyedRateLimiter::keyed(quota(DAY, a.llm_tokens_per_day)),
            api: DefaultKeyedRateLimiter::keyed(quota(MINUTE, a.api_requests_per_minute)),
            notices: DefaultKeyedRateLimiter::keyed(quota(MINUTE, 1)),
        }
    }

    fn check(
        limiter: &DefaultKeyedRateLimiter<String>,
        kind: &'static str,
        key: &str,
    ) -> Result<(), Refused> {
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            metrics::counter!("limits_refused_total", "kind" => kind).increment(1);
            Refused {
                kind,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }

    /// One more message from chat identity `key`.
    pub fn message(&self, key: &str) -> Result<(), Refused> {
        Self::check(&self.messages, "messages", key)
    }

    /// One more agent turn for `key`; also refused once its tokens of the day are spent.
    pub fn agent_turn(&self, key: &str) -> Result<(), Refused> {
        if let Err(not_until) = self.tokens.check_key(&key.to_owned()) {
            metrics::counter!("limits_refused_total", "kind" => "llm_tokens").increment(1);
            return Err(Refused {
                kind: "llm_tokens",
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            });
        }
        Self::check(&self.turns, "agent_turns", key)
    }

    /// Charges `tokens` language-model tokens to `key` after a turn (what cannot be charged
    /// any more empties the day's allowance).
    pub fn spent_tokens(&self, key: &str, tokens: u64) {
        let key = key.to_owned();
        let mut left = tokens;
        while left > 0 {
            let chunk = u32::try_from(left.min(10_000)).unwrap_or(10_000);
            let Some(n) = NonZeroU32::new(chunk) else { break };
            if !matches!(self.tokens.check_key_n(&key, n), Ok(Ok(()))) {
                // Over: spend the rest of the burst one token at a time until refused.
                while self.tokens.check_key(&key).is_ok() {}
                break;
            }
            left -= u64::from(chunk);
        }
    }

    /// One more API request with token `key`.
    pub fn api_request(&self, key: &str) -> Result<(), Refused> {
        Self::check(&self.api, "api_requests", key)
    }

    /// Whether `key` should be told it hit a limit (once a minute at most).
    pub fn should_notify(&self, key: &str) -> bool {
        self.notices.check_key(&key.to_owned()).is_ok()
    }

    /// Forgets keys whose limiters are back to full (idle chats, one-off Discord users).
    pub fn forget_idle(&self) {
        for limiter in [
            &self.messages,
            &self.turns,
            &self.tokens,
            &self.api,
            &self.notices,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_allowance() {
        let limits = Limits::new(Allowances {
            messages_per_minute: 3,
            agent_turns_per_day: 2,
            llm_tokens_per_day: 1_000,
            api_requests_per_minute: 2,
        });
        for _ in 0..3 {
            assert!(limits.message("telegram:1").is_ok());
        }
        let refused = limits.message("telegram:1").unwrap_err();
        assert_eq!(refused.kind, "messages");
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= MINUTE);
        assert!(limits.message("telegram:2").is_ok());
        assert!(limits.agent_turn("a").is_ok());
        limits.spent_tokens("a", 5_000);
        assert_eq!(limits.agent_turn("a").unwrap_err().kind, "llm_tokens");
        assert!(limits.api_request("t").is_ok() && limits.api_request("t").is_ok());
        assert_eq!(limits.api_request("t").unwrap_err().kind, "api_requests");
        assert!(limits.should_notify("k") && !limits.should_notify("k"));
        limits.forget_idle();
    }
}
