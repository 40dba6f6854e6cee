//! The network side of a refresh, run with the cache closed.
//!
//! sled locks its database for a whole process, so a process that kept the cache open
//! through DescribeSecret and GetSecretValue (seconds, on a bad network) would make
//! every other smcache wait, even those whose secrets are fresh in the cache. Instead the
//! cache is closed for the network calls and reopened to store what they returned. A
//! [`FetchClaim`] keeps the cold-start burst to about one round of calls: processes that
//! want the same secret wait for the one fetching it, then read what it stored.

use super::{Resolver, Selector};
use crate::aws::{AwsError, Description, Fetched};
use crate::cache::{Entry, Slot};
use crate::store::FetchClaim;

/// What Secrets Manager said about a secret.
pub(super) struct Remote {
    pub description: Description,
    pub outcome: Outcome,
}

/// What became of the version asked for.
pub(super) enum Outcome {
    /// The version (by this id) is one the cache already holds: nothing to fetch.
    Cached(String),
    Fetched(Fetched),
    /// No version carries this stage.
    NoStage(String),
    /// The version asked for by id does not exist.
    MissingVersion(String, AwsError),
}

impl Resolver<'_> {
    /// Closes the cache, releasing its lock, while `network` runs; then reopens it.
    pub(super) fn while_closed<T>(&mut self, network: impl FnOnce(&mut Self) -> T) -> T {
        let had_cache = self.cache.is_some();
        self.close();
        let result = network(self);
        if had_cache {
            self.cache = crate::open::open(self.config).ok().flatten();
        }
        result
    }

    /// Claims the right to fetch the secret at `slot`. When another process holds it,
    /// waits with the cache closed (so that process can store its result) and returns
    /// `waited = true`: the caller should look in the cache again.
    pub(super) fn claim_fetch(&mut self, slot: &Slot) -> (Option<FetchClaim>, bool) {
        let Ok(dir) = self.config.cache_dir.clone() else {
            return (None, false);
        };
        if let Ok(claim) = FetchClaim::acquire(&dir, slot[0], std::time::Duration::ZERO) {
            return (Some(claim), false);
        }
        tracing::info!("another smcache is fetching this secret; waiting for it");
        let wait = self.config.lock_wait;
        let claim = self.while_closed(|_| FetchClaim::acquire(&dir, slot[0], wait).ok());
        (claim, true)
    }

    /// DescribeSecret, then GetSecretValue of the version asked for unless `known`
    /// already holds it. Touches no cache.
    pub(super) fn check_remote(
        &mut self,
        known: &Entry,
        secret_id: &str,
        selector: &Selector,
    ) -> Result<Remote, AwsError> {
        let description = self.aws()?.describe(secret_id)?;
        let version_id = match selector {
            Selector::VersionId(id) => id.clone(),
            Selector::Stage(stage) => {
                let Some(id) = description.stages.get(stage).cloned() else {
                    let outcome = Outcome::NoStage(stage.clone());
                    return Ok(Remote {
                        description,
                        outcome,
                    });
                };
                id
            }
        };
        if known.has_version(&version_id) {
            return Ok(Remote {
                description,
                outcome: Outcome::Cached(version_id),
            });
        }
        let outcome = match self.aws()?.value(secret_id, &version_id) {
            Ok(fetched) => Outcome::Fetched(fetched),
            // The secret answered and only the version asked for by id is not there (a
            // mistyped --version-id): no reason to back off from, or forget, the secret's
            // other versions. Any other failure is the secret's.
            Err(error)
                if error.code == "ResourceNotFoundException"
                    && matches!(selector, Selector::VersionId(_)) =>
            {
                Outcome::MissingVersion(version_id, error)
            }
            Err(error) => return Err(error),
        };
        Ok(Remote {
            description,
            outcome,
        })
    }
}
