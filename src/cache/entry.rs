//! What the cache remembers about one secret: its metadata, the versions it holds, and
//! its last failure. Values are not here: each version's value has its own sealed slot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::policy::Millis;

/// At most this many versions of one secret are kept.
pub const MAX_VERSIONS: usize = 10;

/// One cached secret in one namespace (endpoint, region, profile).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub secret_id: String,
    /// The namespace as the user would name it, for `status`.
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    pub arn: Option<String>,
    pub name: Option<String>,
    /// Stage -> version id, as last seen. A stage is on at most one version.
    pub stages: BTreeMap<String, String>,
    /// Whether `stages` holds every stage of the secret (as DescribeSecret tells), so
    /// that a stage missing from it is on no version. A batch call tells only the
    /// current version's stages. Entries written before this field say `false`.
    #[serde(default)]
    pub stages_complete: bool,
    /// When Secrets Manager last answered for this secret.
    pub checked_at: Option<Millis>,
    /// When the metadata must be checked again.
    pub next_check: Option<Millis>,
    /// Cached versions, most recently fetched first.
    pub versions: Vec<VersionInfo>,
    pub failure: Option<Failure>,
}

/// A cached version's metadata (its value is in its own slot).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionInfo {
    pub version_id: String,
    /// RFC 3339, as Secrets Manager reported it.
    pub created_date: Option<String>,
    pub fetched_at: Millis,
}

/// The last consecutive failure for a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    /// The AWS error code, or a name of smcache's for network failures.
    pub code: String,
    pub message: String,
    /// Consecutive failures so far.
    pub count: u32,
    pub failed_at: Millis,
    pub retry_at: Millis,
    /// Whether a cached value may still be served (network, 5xx, throttling).
    pub transient: bool,
}

impl Entry {
    pub fn new(secret_id: &str) -> Self {
        Self {
            secret_id: secret_id.to_owned(),
            region: None,
            profile: None,
            endpoint: None,
            arn: None,
            name: None,
            stages: BTreeMap::new(),
            stages_complete: false,
            checked_at: None,
            next_check: None,
            versions: Vec::new(),
            failure: None,
        }
    }

    /// The version id carrying `stage`, as last seen.
    pub fn version_for_stage(&self, stage: &str) -> Option<&str> {
        self.stages.get(stage).map(String::as_str)
    }

    pub fn has_version(&self, version_id: &str) -> bool {
        self.versions.iter().any(|v| v.version_id == version_id)
    }

    /// The stages `version_id` carries, as last seen.
    pub fn stages_of(&self, version_id: &str) -> Vec<String> {
        self.stages
            .iter()
            .filter(|(_, v)| *v == version_id)
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Records that `version_id` carries `stages`, taking them off any other version.
    pub fn assign_stages(&mut self, version_id: &str, stages: &[String]) {
        for stage in stages {
            self.stages.insert(stage.clone(), version_id.to_owned());
        }
    }

    /// Adds a fetched version at the front; returns the version ids pushed out to keep
    /// at most [`MAX_VERSIONS`], preferring to drop versions no stage points at.
    pub fn add_version(&mut self, version: VersionInfo) -> Vec<String> {
        self.versions.retain(|v| v.version_id != version.version_id);
        self.versions.insert(0, version);
        let mut dropped = Vec::new();
        while self.versions.len() > MAX_VERSIONS {
            let unstaged = self
                .versions
                .iter()
                .rposition(|v| !self.stages.values().any(|id| *id == v.version_id));
            let at = unstaged.unwrap_or(self.versions.len() - 1);
            dropped.push(self.versions.remove(at).version_id);
        }
        dropped
    }

    /// Forgets every cached version; returns their ids.
    pub fn drop_versions(&mut self) -> Vec<String> {
        self.versions.drain(..).map(|v| v.version_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> VersionInfo {
        VersionInfo {
            version_id: id.into(),
            created_date: None,
            fetched_at: 0,
        }
    }

    #[test]
    fn keeps_at_most_ten_versions_dropping_unstaged_first() {
        let mut entry = Entry::new("s");
        entry.assign_stages("v0", &["AWSPREVIOUS".into()]);
        let mut dropped = Vec::new();
        for i in 0..12 {
            dropped.extend(entry.add_version(version(&format!("v{i}"))));
        }
        assert_eq!(entry.versions.len(), MAX_VERSIONS);
        assert_eq!(dropped, ["v1", "v2"]);
        assert!(entry.has_version("v0"), "the staged oldest version stays");
    }

    #[test]
    fn a_stage_moves_between_versions() {
        let mut entry = Entry::new("s");
        entry.assign_stages("v1", &["AWSCURRENT".into()]);
        entry.assign_stages("v2", &["AWSCURRENT".into(), "X".into()]);
        assert_eq!(entry.version_for_stage("AWSCURRENT"), Some("v2"));
        assert_eq!(entry.stages_of("v2"), ["AWSCURRENT", "X"]);
        assert!(entry.stages_of("v1").is_empty());
    }
}
