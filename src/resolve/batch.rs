//! Fetching many secrets' current versions with BatchGetSecretValue (20 a call), for
//! `env`. A batch only fills the cache: afterwards each secret is resolved as usual and
//! finds a fresh entry. When the batch call is denied or unavailable, nothing is lost:
//! the secrets are fetched one by one.

use super::{Resolver, Selector};
use crate::aws::Fetched;
use crate::cache::policy::{self, Millis};

/// BatchGetSecretValue takes at most this many secret ids.
const BATCH_LIMIT: usize = 20;
/// The only stage a batch call returns.
const CURRENT: &str = "AWSCURRENT";

impl Resolver<'_> {
    /// Fetches in batches the current versions of those `secret_ids` the cache cannot
    /// answer alone. Does nothing for other stages, or for a single secret.
    pub fn prefetch(&mut self, secret_ids: &[String], selector: &Selector) {
        if *selector != Selector::Stage(CURRENT.into()) {
            return;
        }
        let mut missed: Vec<String> = Vec::new();
        for id in secret_ids {
            if self.hit_answers.contains_key(id) || missed.contains(id) {
                continue;
            }
            match self.hit(id, selector) {
                Some(resolved) => drop(self.hit_answers.insert(id.clone(), resolved)),
                None => missed.push(id.clone()),
            }
        }
        if missed.len() < 2 {
            return;
        }
        self.open_cache();
        let now = policy::now();
        let mut wanted: Vec<String> = Vec::new();
        for id in missed {
            if self.needs_fetch(&id, now) {
                wanted.push(id);
            }
        }
        if wanted.len() < 2 {
            return;
        }
        for chunk in wanted.chunks(BATCH_LIMIT) {
            // The cache is closed for the call, as for any network call.
            let outcome = self.while_closed(|this| this.aws().and_then(|aws| aws.batch(chunk)));
            let (fetched, errors) = match outcome {
                Ok(outcome) => outcome,
                Err(err) => {
                    tracing::info!(code = %err.code, "batch call failed; fetching one by one");
                    return;
                }
            };
            for version in fetched {
                if let Some(id) = requested_id(chunk, &version) {
                    self.store_batched(&id, version, now);
                }
            }
            for (id, error) in errors {
                if let Some(slot) = self.slot_of(&id) {
                    let known = self.new_entry(&id);
                    self.remember_failure(&slot, &known, &error, now);
                }
            }
        }
    }

    /// Whether resolving `secret_id` now would call Secrets Manager.
    fn needs_fetch(&mut self, secret_id: &str, now: Millis) -> bool {
        let Some(slot) = self.slot_of(secret_id) else {
            return !self.prefetched.contains_key(secret_id);
        };
        let Some(Some(entry)) = self.cache_op(|c| c.entry(&slot)) else {
            return true;
        };
        let policy = &self.config.policy;
        if entry
            .failure
            .as_ref()
            .is_some_and(|f| policy.in_backoff(f.retry_at, now))
        {
            return false;
        }
        let due = entry.next_check.is_none_or(|at| policy.is_due(at, now));
        let cached = entry
            .version_for_stage(CURRENT)
            .is_some_and(|v| entry.has_version(v));
        due || entry.failure.is_some() || !cached
    }

    /// Records a batch-fetched version as a successful check of its secret.
    fn store_batched(&mut self, secret_id: &str, fetched: Fetched, now: Millis) {
        let Some(slot) = self.slot_of(secret_id) else {
            self.prefetched.insert(secret_id.to_owned(), fetched);
            return;
        };
        let Some(entry) = self.cache_op(|c| c.entry(&slot)) else {
            return;
        };
        let mut entry = entry.unwrap_or_else(|| self.new_entry(secret_id));
        entry.arn.clone_from(&fetched.arn);
        entry.name.clone_from(&fetched.name);
        // A batch tells only the current version's stages; the rest are unknown now and
        // are learnt again from DescribeSecret when asked for.
        entry.stages.clear();
        entry.stages_complete = false;
        entry.assign_stages(&fetched.version_id, &fetched.stages);
        self.mark_checked(&mut entry, now);
        if entry.has_version(&fetched.version_id) {
            self.save(&slot, &entry, None, &[]);
        } else {
            self.store_version(&slot, &mut entry, &fetched, now);
        }
    }
}

/// Which of the requested ids a batch result answers: by name or by ARN.
fn requested_id(requested: &[String], fetched: &Fetched) -> Option<String> {
    requested
        .iter()
        .find(|id| {
            Some(id.as_str()) == fetched.name.as_deref()
                || Some(id.as_str()) == fetched.arn.as_deref()
        })
        .cloned()
}
