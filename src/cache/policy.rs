//! When a cached secret is fresh, when to check it again, and how long to back off
//! after failures. Pure functions of the configuration, the current time and a random
//! draw, so they are tested without sleeping.

use std::time::Duration;

/// Milliseconds since the Unix epoch: what the store records for every moment.
pub type Millis = i64;

/// The current time as [`Millis`].
pub fn now() -> Millis {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, millis)
}

/// A duration as [`Millis`], saturating.
pub fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// A uniform draw from [0, 1) using the operating system's random source.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0 - f64::EPSILON;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The refresh, back-off and staleness settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub refresh_interval: Duration,
    pub retry_base: Duration,
    pub retry_growth: f64,
    pub retry_max: Duration,
    pub max_stale: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(3600),
            retry_base: Duration::from_secs(1),
            retry_growth: 2.0,
            retry_max: Duration::from_secs(3600),
            max_stale: Duration::from_secs(86_400),
        }
    }
}

impl Policy {
    /// The next check after a successful one at `now`: drawn uniformly from
    /// [interval/2, interval], so that many processes do not refresh in step.
    /// `unit` is a draw from [0, 1).
    pub fn next_check(&self, now: Millis, unit: f64) -> Millis {
        let interval = millis(self.refresh_interval);
        let half = interval / 2;
        let jitter = ((interval - half) as f64 * unit.clamp(0.0, 1.0)) as Millis;
        now.saturating_add(half + jitter)
    }

    /// Whether a check scheduled for `next_check` is due at `now`. A moment further
    /// ahead than the interval allows (the clock was set back) counts as due.
    pub fn is_due(&self, next_check: Millis, now: Millis) -> bool {
        now >= next_check || next_check - now > millis(self.refresh_interval)
    }

    /// The back-off after the `failures`-th consecutive failure (1 = first):
    /// base * growth^(failures-1), capped at the maximum. In seconds, not milliseconds.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(1_000) as i32;
        let seconds = self.retry_base.as_secs_f64() * self.retry_growth.powi(exponent);
        let cap = self.retry_max.as_secs_f64();
        Duration::from_secs_f64(if seconds.is_finite() {
            seconds.min(cap)
        } else {
            cap
        })
    }

    /// The moment to retry after the `failures`-th consecutive failure at `now`.
    pub fn retry_at(&self, failures: u32, now: Millis) -> Millis {
        now.saturating_add(millis(self.backoff(failures)))
    }

    /// Whether a failure remembered until `retry_at` still holds at `now`. A moment
    /// further ahead than the cap allows (the clock was set back) does not.
    pub fn in_backoff(&self, retry_at: Millis, now: Millis) -> bool {
        now < retry_at && retry_at - now <= millis(self.retry_max)
    }

    /// Whether a value whose check was due at `next_check` may still be served at `now`
    /// when Secrets Manager cannot be reached.
    pub fn may_serve_stale(&self, next_check: Millis, now: Millis) -> bool {
        now.saturating_sub(next_check) <= millis(self.max_stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Millis = 1000;

    #[test]
    fn next_check_is_drawn_from_half_to_full_interval() {
        let policy = Policy {
            refresh_interval: Duration::from_secs(100),
            ..Policy::default()
        };
        assert_eq!(policy.next_check(0, 0.0), 50 * S);
        assert_eq!(policy.next_check(0, 0.5), 75 * S);
        assert!(policy.next_check(0, 0.999_999) <= 100 * S);
        assert!(policy.next_check(0, 0.999_999) > 99 * S);
        for _ in 0..1000 {
            let at = policy.next_check(10 * S, random_unit());
            assert!((60 * S..=110 * S).contains(&at), "{at}");
        }
    }

    #[test]
    fn interval_zero_is_always_due() {
        let policy = Policy {
            refresh_interval: Duration::ZERO,
            ..Policy::default()
        };
        let next = policy.next_check(5 * S, 0.7);
        assert_eq!(next, 5 * S);
        assert!(policy.is_due(next, 5 * S));
    }

    #[test]
    fn due_when_passed_or_implausibly_far_ahead() {
        let policy = Policy {
            refresh_interval: Duration::from_secs(100),
            ..Policy::default()
        };
        assert!(!policy.is_due(150 * S, 100 * S));
        assert!(policy.is_due(150 * S, 150 * S));
        assert!(policy.is_due(150 * S, 200 * S));
        // The clock went back an hour: a check 3600 s ahead cannot come from a 100 s interval.
        assert!(policy.is_due(3700 * S, 100 * S));
    }

    #[test]
    fn backoff_grows_in_seconds_and_is_capped() {
        let policy = Policy::default();
        let secs: Vec<u64> = (1..=14).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(
            secs,
            [
                1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600
            ]
        );
        assert_eq!(policy.backoff(u32::MAX).as_secs(), 3600);
        let custom = Policy {
            retry_base: Duration::from_secs(3),
            retry_growth: 3.0,
            retry_max: Duration::from_secs(50),
            ..Policy::default()
        };
        let secs: Vec<u64> = (1..=4).map(|n| custom.backoff(n).as_secs()).collect();
        assert_eq!(secs, [3, 9, 27, 50]);
        assert_eq!(custom.retry_at(2, 10 * S), 19 * S);
    }

    #[test]
    fn backoff_window_and_clock_sanity() {
        let policy = Policy {
            retry_max: Duration::from_secs(60),
            ..Policy::default()
        };
        assert!(policy.in_backoff(20 * S, 10 * S));
        assert!(!policy.in_backoff(20 * S, 20 * S));
        assert!(!policy.in_backoff(1000 * S, 10 * S));
    }

    #[test]
    fn stale_values_are_bounded() {
        let policy = Policy {
            max_stale: Duration::from_secs(60),
            ..Policy::default()
        };
        assert!(policy.may_serve_stale(100 * S, 160 * S));
        assert!(!policy.may_serve_stale(100 * S, 161 * S));
    }
}
