//! Answering "what is the value of this secret" from the cache and Secrets Manager.
//!
//! The model is the AWS caching libraries', with their bugs fixed:
//! - DescribeSecret tells which version carries a stage; GetSecretValue fetches a version
//!   by id. A version's content never changes, so a cached version is never fetched again.
//! - After a successful check the next one is due at a moment drawn from
//!   [interval/2, interval]; until then the cache answers alone.
//! - Failures are remembered with their code and count; within the back-off window the
//!   remembered failure is the answer, without a call.
//! - A transient failure (network, timeout, 5xx, throttling) still lets a cached value be
//!   served, for at most `--max-stale` past its refresh time, with a warning. A permanent
//!   one (access denied, not found, deleted) is reported, and the cached values are
//!   dropped: revocation takes effect.
//! - `--refresh` checks now and stores what it finds; if the check fails, the command
//!   fails and the cache stays as it was.
//!
//! A fresh entry answers from its hit file ([`crate::hits`]) without opening the
//! database; the database is opened on the first request the hit files cannot answer.

mod batch;
mod remote;

use std::collections::HashMap;

use crate::aws::{Aws, AwsError, Fetched};
use crate::cache::policy::{self, Millis};
use crate::cache::{EncryptionHook, Entry, Failure, Slot, VersionInfo};
use crate::config::Config;
use crate::hits::HitFiles;
use crate::keys::KeyError;
use crate::open::{Cache, FoundKey};
use crate::secret::SecretValue;
use crate::store::StoreError;
use remote::Outcome;

/// Which version of a secret is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Stage(String),
    VersionId(String),
}

/// One request for a secret's value.
#[derive(Debug, Clone)]
pub struct Request {
    pub secret_id: String,
    pub selector: Selector,
    pub refresh: bool,
}

/// A secret's value with the metadata `get --output json` shows.
#[derive(Debug)]
pub struct Resolved {
    pub value: SecretValue,
    pub arn: Option<String>,
    pub name: Option<String>,
    pub version_id: String,
    pub stages: Vec<String>,
    pub created_date: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("secret `{secret_id}`: {error}")]
    Aws { secret_id: String, error: AwsError },
    #[error("secret `{secret_id}`: {error} (remembered; next try in {retry_in}s)")]
    Remembered {
        secret_id: String,
        error: AwsError,
        retry_in: i64,
    },
    #[error("secret `{secret_id}` has no version with stage `{stage}`")]
    NoStage { secret_id: String, stage: String },
    #[error("secret `{secret_id}` version `{version_id}`: {error}")]
    Version {
        secret_id: String,
        version_id: String,
        error: AwsError,
    },
}

/// The hit files and the cache (each if it could be opened, the cache on first need),
/// and a Secrets Manager client made on first need.
pub struct Resolver<'a> {
    config: &'a Config,
    hits: Option<(EncryptionHook, HitFiles)>,
    /// The key found for the cache, until the cache is opened with it.
    key: Option<FoundKey>,
    opened: bool,
    cache: Option<Cache>,
    /// Answers read from hit files ahead of their requests (by `prefetch`).
    hit_answers: HashMap<String, Resolved>,
    aws: Option<Result<Aws, AwsError>>,
    /// Values fetched by a batch call when there is no cache to hold them.
    prefetched: HashMap<String, Fetched>,
    /// When this process started resolving: failures since then are not "remembered".
    started: Millis,
}

impl<'a> Resolver<'a> {
    /// Looks up the cache key and opens nothing yet. Fails only for an invalid
    /// `SMCACHE_KEY`: any other cache problem ends in answers without the cache.
    pub fn new(config: &'a Config) -> Result<Self, KeyError> {
        let key = match &config.cache_dir {
            Ok(dir) if config.use_cache => Some(crate::open::find_key(dir)),
            _ => None,
        };
        if let Some(Err(KeyError::InvalidEnvKey)) = key {
            return Err(KeyError::InvalidEnvKey);
        }
        let hits = match (&key, &config.cache_dir) {
            (Some(Ok(Some((key, _)))), Ok(dir)) => {
                HitFiles::for_reading(dir).map(|files| (EncryptionHook::new(key), files))
            }
            _ => None,
        };
        Ok(Self {
            config,
            hits,
            key,
            opened: false,
            cache: None,
            hit_answers: HashMap::new(),
            aws: None,
            prefetched: HashMap::new(),
            started: policy::now(),
        })
    }

    /// Opens the cache, the first time it is needed.
    fn open_cache(&mut self) {
        if !self.opened {
            self.opened = true;
            // An invalid SMCACHE_KEY was reported by `new`: nothing else fails here.
            self.cache = crate::open::open_with(self.config, self.key.take())
                .ok()
                .flatten();
        }
    }

    /// The answer of the hit file of `secret_id`: a fresh entry's version, or `None`
    /// when the database must be asked (no usable hit file, or anything but a fresh
    /// entry holding the version asked for).
    fn hit(&mut self, secret_id: &str, selector: &Selector) -> Option<Resolved> {
        if let Some(resolved) = self.hit_answers.remove(secret_id) {
            return Some(resolved);
        }
        let (hook, files) = self.hits.as_ref()?;
        let slot = crate::cache::slot_of(hook, &self.config.namespace, secret_id);
        let mut record = crate::cache::hit::read(files, hook, &slot)?;
        let entry = &record.entry;
        let fresh = entry.failure.is_none()
            && entry.secret_id == secret_id
            && entry
                .next_check
                .is_some_and(|at| !self.config.policy.is_due(at, policy::now()));
        if !fresh {
            return None;
        }
        let version_id = match selector {
            Selector::VersionId(id) => id.as_str(),
            Selector::Stage(stage) => entry.version_for_stage(stage)?,
        }
        .to_owned();
        let info = entry.versions.iter().find(|v| v.version_id == version_id)?;
        let (created_date, arn, name) = (
            info.created_date.clone(),
            entry.arn.clone(),
            entry.name.clone(),
        );
        let stages = entry.stages_of(&version_id);
        let value = record.take_value(&version_id)?;
        tracing::info!("cache hit");
        Some(Resolved {
            value,
            arn,
            name,
            version_id,
            stages,
            created_date,
        })
    }

    /// Flushes and releases the cache. Called before anything slow or final (exec).
    pub fn close(&mut self) {
        if let Some(cache) = self.cache.take()
            && let Err(err) = cache.close()
        {
            tracing::warn!("{err}");
        }
    }

    /// The value `request` asks for.
    pub fn resolve(&mut self, request: &Request) -> Result<Resolved, ResolveError> {
        if !request.refresh
            && let Some(resolved) = self.hit(&request.secret_id, &request.selector)
        {
            return Ok(resolved);
        }
        self.open_cache();
        let now = policy::now();
        let Some(slot) = self.slot_of(&request.secret_id) else {
            return self.fetch_uncached(request);
        };
        if !request.refresh
            && let Some(answer) = self.cached_answer(&slot, request, now)
        {
            return answer;
        }
        let (_claim, waited) = self.claim_fetch(&slot);
        if waited
            && !request.refresh
            && let Some(answer) = self.cached_answer(&slot, request, now)
        {
            return answer;
        }
        let entry = self.cache_op(|c| c.entry(&slot)).flatten();
        let entry = entry.unwrap_or_else(|| self.new_entry(&request.secret_id));
        let stale = self.cached_target(&slot, &entry, &request.selector);
        match self.refresh(&slot, &entry, request, now) {
            Ok(resolved) => Ok(resolved),
            Err(err) if request.refresh => Err(err),
            Err(ResolveError::Aws { secret_id, error }) => {
                if !error.local {
                    self.remember_failure(&slot, &entry, &error, now);
                }
                match stale {
                    Some(resolved) if error.transient && self.may_serve_stale(&entry, now) => {
                        warn_stale(&secret_id, &error);
                        Ok(resolved)
                    }
                    _ => Err(ResolveError::Aws { secret_id, error }),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The answer the cache alone gives for `request`, if any.
    fn cached_answer(
        &mut self,
        slot: &Slot,
        request: &Request,
        now: Millis,
    ) -> Option<Result<Resolved, ResolveError>> {
        let entry = self.cache_op(|c| c.entry(slot)).flatten()?;
        self.answer_from_cache(slot, &entry, request, now)
    }
    /// The answer the cache alone can give: a fresh value, a remembered failure, or a
    /// stale value during back-off. `None` when Secrets Manager must be asked.
    fn answer_from_cache(
        &mut self,
        slot: &Slot,
        entry: &Entry,
        request: &Request,
        now: Millis,
    ) -> Option<Result<Resolved, ResolveError>> {
        let policy = &self.config.policy;
        if let Some(failure) = entry
            .failure
            .as_ref()
            .filter(|f| policy.in_backoff(f.retry_at, now))
        {
            tracing::info!(code = %failure.code, "within back-off after a failure");
            let error = AwsError {
                code: failure.code.clone(),
                message: failure.message.clone(),
                transient: failure.transient,
                local: false,
            };
            if failure.transient
                && self.may_serve_stale(entry, now)
                && let Some(resolved) = self.cached_target(slot, entry, &request.selector)
            {
                warn_stale(&request.secret_id, &error);
                return Some(Ok(resolved));
            }
            if failure.failed_at >= self.started {
                // Failed moments ago in this very process (a batch call): not a memory.
                let secret_id = request.secret_id.clone();
                return Some(Err(ResolveError::Aws { secret_id, error }));
            }
            let retry_in = (failure.retry_at - now + 999) / 1000;
            return Some(Err(ResolveError::Remembered {
                secret_id: request.secret_id.clone(),
                error,
                retry_in,
            }));
        }
        let due = entry.next_check.is_none_or(|at| policy.is_due(at, now));
        if due || entry.failure.is_some() {
            return None;
        }
        if let Selector::Stage(stage) = &request.selector
            && entry.stages_complete
            && entry.version_for_stage(stage).is_none()
        {
            // Like a stage that is on a version, a stage that is on none is believed
            // until the next check.
            tracing::info!("no version carried the stage at the last check");
            return Some(Err(ResolveError::NoStage {
                secret_id: request.secret_id.clone(),
                stage: stage.clone(),
            }));
        }
        let resolved = self.cached_target(slot, entry, &request.selector)?;
        tracing::info!("cache hit");
        self.cache_op(|c| c.served(slot, entry));
        Some(Ok(resolved))
    }

    /// Checks Secrets Manager (with the cache closed) and stores what it says on top of
    /// what the cache holds by then.
    fn refresh(
        &mut self,
        slot: &Slot,
        known: &Entry,
        request: &Request,
        now: Millis,
    ) -> Result<Resolved, ResolveError> {
        let secret_id = request.secret_id.clone();
        let remote = self
            .while_closed(|this| this.check_remote(known, &request.secret_id, &request.selector))
            .map_err(|error| ResolveError::Aws {
                secret_id: secret_id.clone(),
                error,
            })?;
        // Another process may have stored this secret while the cache was closed.
        let mut entry = self
            .cache_op(|c| c.entry(slot))
            .flatten()
            .unwrap_or_else(|| known.clone());
        entry.arn = remote.description.arn;
        entry.name = remote.description.name;
        entry.stages = remote.description.stages;
        entry.stages_complete = true;
        self.mark_checked(&mut entry, now);
        // A failed --refresh leaves the entry as it was.
        let keep = !request.refresh;
        let fetched = match remote.outcome {
            Outcome::NoStage(stage) => {
                if keep {
                    self.save(slot, &entry, None, &[]);
                }
                return Err(ResolveError::NoStage { secret_id, stage });
            }
            Outcome::MissingVersion(version_id, error) => {
                if keep {
                    self.save(slot, &entry, None, &[]);
                }
                return Err(ResolveError::Version {
                    secret_id,
                    version_id,
                    error,
                });
            }
            Outcome::Cached(version_id) => {
                let target = Selector::VersionId(version_id.clone());
                if let Some(resolved) = self.cached_target(slot, &entry, &target) {
                    tracing::info!("metadata checked; the version is already cached");
                    self.save(slot, &entry, None, &[]);
                    return Ok(resolved);
                }
                // Its value went (purged) while the cache was closed: fetch it after all.
                self.aws()
                    .and_then(|aws| aws.value(&request.secret_id, &version_id))
                    .map_err(|error| ResolveError::Aws { secret_id, error })?
            }
            Outcome::Fetched(fetched) => fetched,
        };
        tracing::info!("fetched a new version");
        entry.assign_stages(&fetched.version_id, &fetched.stages);
        self.store_version(slot, &mut entry, &fetched, now);
        Ok(resolved_from(&entry, fetched))
    }

    /// Records a successful check of `entry` at `now`: clears its failure and draws its
    /// next check.
    fn mark_checked(&self, entry: &mut Entry, now: Millis) {
        entry.region = self.aws_region().or(entry.region.take());
        entry.checked_at = Some(now);
        entry.next_check = Some(self.config.policy.next_check(now, policy::random_unit()));
        entry.failure = None;
    }

    /// Adds a fetched version to `entry` and saves both, with the value in its slot.
    fn store_version(&mut self, slot: &Slot, entry: &mut Entry, fetched: &Fetched, now: Millis) {
        let dropped = entry.add_version(VersionInfo {
            version_id: fetched.version_id.clone(),
            created_date: fetched.created_date.clone(),
            fetched_at: now,
        });
        self.save(slot, entry, Some(fetched), &dropped);
    }

    /// Without a cache: one GetSecretValue by stage or version id.
    fn fetch_uncached(&mut self, request: &Request) -> Result<Resolved, ResolveError> {
        if let Some(fetched) = self.prefetched.remove(&request.secret_id) {
            return Ok(resolved_from(&Entry::new(&request.secret_id), fetched));
        }
        let fetched = self
            .aws()
            .and_then(|aws| match &request.selector {
                Selector::VersionId(id) => aws.value(&request.secret_id, id),
                Selector::Stage(stage) => aws.value_by_stage(&request.secret_id, stage),
            })
            .map_err(|error| ResolveError::Aws {
                secret_id: request.secret_id.clone(),
                error,
            })?;
        let entry = Entry::new(&request.secret_id);
        Ok(resolved_from(&entry, fetched))
    }

    /// Records a failed check; a permanent failure also drops the cached values.
    /// Counts on the entry as the cache holds it now, which another process may have
    /// updated while this one was on the network.
    fn remember_failure(&mut self, slot: &Slot, known: &Entry, error: &AwsError, now: Millis) {
        let current = self.cache_op(|c| c.entry(slot)).flatten();
        let mut entry = current.unwrap_or_else(|| known.clone());
        let count = entry
            .failure
            .as_ref()
            .map_or(0, |f| f.count)
            .saturating_add(1);
        let retry_at = self.config.policy.retry_at(count, now);
        tracing::info!(code = %error.code, count, "remembering a failure");
        entry.failure = Some(Failure {
            code: error.code.clone(),
            message: error.message.clone(),
            count,
            failed_at: now,
            retry_at,
            transient: error.transient,
        });
        let dropped = if error.transient {
            Vec::new()
        } else {
            entry.drop_versions()
        };
        self.save(slot, &entry, None, &dropped);
    }

    /// The cached value the selector points at, if the entry knows it.
    fn cached_target(
        &mut self,
        slot: &Slot,
        entry: &Entry,
        selector: &Selector,
    ) -> Option<Resolved> {
        let version_id = match selector {
            Selector::VersionId(id) => id.as_str(),
            Selector::Stage(stage) => entry.version_for_stage(stage)?,
        };
        let info = entry
            .versions
            .iter()
            .find(|v| v.version_id == version_id)?
            .clone();
        let value = self.cache_op(|c| c.value(slot, version_id)).flatten()?;
        Some(Resolved {
            value,
            arn: entry.arn.clone(),
            name: entry.name.clone(),
            stages: entry.stages_of(version_id),
            version_id: info.version_id,
            created_date: info.created_date,
        })
    }

    /// The slot of `secret_id`, when there is a cache.
    fn slot_of(&self, secret_id: &str) -> Option<Slot> {
        Some(self.cache.as_ref()?.slot(&self.config.namespace, secret_id))
    }

    fn may_serve_stale(&self, entry: &Entry, now: Millis) -> bool {
        entry
            .next_check
            .is_some_and(|at| self.config.policy.may_serve_stale(at, now))
    }

    fn new_entry(&self, secret_id: &str) -> Entry {
        let mut entry = Entry::new(secret_id);
        entry.region.clone_from(&self.config.aws.region);
        entry.profile.clone_from(&self.config.aws.profile);
        entry.endpoint.clone_from(&self.config.aws.endpoint);
        entry
    }

    fn save(&mut self, slot: &Slot, entry: &Entry, fetched: Option<&Fetched>, dropped: &[String]) {
        let values: Vec<(&str, &SecretValue)> = fetched
            .map(|f| (f.version_id.as_str(), &f.value))
            .into_iter()
            .collect();
        self.cache_op(|c| c.save(slot, entry, &values, dropped));
    }

    /// Runs a cache operation; a failing cache is closed and the command goes on without it.
    fn cache_op<T>(&mut self, op: impl FnOnce(&mut Cache) -> Result<T, StoreError>) -> Option<T> {
        let result = op(self.cache.as_mut()?);
        match result {
            Ok(value) => Some(value),
            // Nothing is wrong with the database: keep it.
            Err(err @ (StoreError::Seal | StoreError::Io { .. })) => {
                tracing::warn!("{}; going on without the cache", crate::open::chain(&err));
                self.close();
                None
            }
            Err(err) => {
                tracing::warn!(
                    "{}; going on without the cache (the next run rebuilds it)",
                    crate::open::chain(&err)
                );
                if let Some(cache) = self.cache.take() {
                    cache.discard();
                }
                None
            }
        }
    }

    fn aws(&mut self) -> Result<&Aws, AwsError> {
        let settings = &self.config.aws;
        self.aws
            .get_or_insert_with(|| Aws::connect(settings))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn aws_region(&self) -> Option<String> {
        match &self.aws {
            Some(Ok(aws)) => aws.region().map(str::to_owned),
            _ => None,
        }
    }
}

fn resolved_from(entry: &Entry, fetched: Fetched) -> Resolved {
    Resolved {
        value: fetched.value,
        arn: fetched.arn.or_else(|| entry.arn.clone()),
        name: fetched.name.or_else(|| entry.name.clone()),
        version_id: fetched.version_id,
        stages: fetched.stages,
        created_date: fetched.created_date,
    }
}

fn warn_stale(secret_id: &str, error: &AwsError) {
    tracing::warn!(
        "secret `{secret_id}`: Secrets Manager failed ({}); serving the cached value",
        error.code
    );
}
