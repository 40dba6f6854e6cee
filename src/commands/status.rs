//! `smcache status`: what is cached, and in what state. Never a value, nor its length.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cache::Entry;
use crate::cache::policy::{self, Millis, Policy};
use crate::cli::{StatusArgs, StatusOutput};
use crate::config::Config;

/// One row of `status`; these field names are the documented JSON format.
#[derive(Debug, Serialize)]
pub struct Row {
    pub secret_id: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    /// Stage -> version id, as last seen.
    pub stages: std::collections::BTreeMap<String, String>,
    /// Version ids whose values are cached.
    pub versions: Vec<String>,
    pub fetched_at: Option<String>,
    pub next_check: Option<String>,
    /// `fresh`, `stale` or `backoff`.
    pub state: &'static str,
    pub failures: u32,
    pub last_error: Option<String>,
    pub next_retry: Option<String>,
}

pub fn run(config: &Config, args: &StatusArgs) -> Result<()> {
    let cache = crate::open::open_for_maintenance(config).context("cannot read the cache")?;
    let now = policy::now();
    let mut rows: Vec<Row> = cache
        .entries()?
        .into_iter()
        .map(|(_, e)| row(&e, &config.policy, now))
        .collect();
    rows.sort_by(|a, b| a.secret_id.cmp(&b.secret_id).then(a.region.cmp(&b.region)));
    cache.close()?;
    let text = match args.output {
        StatusOutput::Json => serde_json::to_string_pretty(&rows)? + "\n",
        StatusOutput::Text => table(&rows),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("failed to write to stdout")
}

fn row(entry: &Entry, policy: &Policy, now: Millis) -> Row {
    let in_backoff = entry
        .failure
        .as_ref()
        .is_some_and(|f| policy.in_backoff(f.retry_at, now));
    let due = entry.next_check.is_none_or(|at| policy.is_due(at, now));
    let state = match (in_backoff, due || entry.failure.is_some()) {
        (true, _) => "backoff",
        (false, true) => "stale",
        (false, false) => "fresh",
    };
    Row {
        secret_id: entry.secret_id.clone(),
        region: entry.region.clone(),
        profile: entry.profile.clone(),
        endpoint: entry.endpoint.clone(),
        stages: entry.stages.clone(),
        versions: entry
            .versions
            .iter()
            .map(|v| v.version_id.clone())
            .collect(),
        fetched_at: entry
            .versions
            .iter()
            .map(|v| v.fetched_at)
            .max()
            .map(timestamp),
        next_check: entry.next_check.map(timestamp),
        state,
        failures: entry.failure.as_ref().map_or(0, |f| f.count),
        last_error: entry.failure.as_ref().map(|f| f.code.clone()),
        next_retry: entry.failure.as_ref().map(|f| timestamp(f.retry_at)),
    }
}

/// RFC 3339 in UTC, to the second; `never` past what RFC 3339 can write (year 9999).
fn timestamp(at: Millis) -> String {
    const LAST_RFC3339_MILLIS: Millis = 253_402_300_799_000;
    if at > LAST_RFC3339_MILLIS {
        return "never".into();
    }
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(at).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

fn table(rows: &[Row]) -> String {
    let header = [
        "SECRET",
        "REGION",
        "PROFILE/ENDPOINT",
        "STAGES",
        "FETCHED",
        "NEXT CHECK",
        "STATE",
        "ERROR",
    ];
    let cells: Vec<[String; 8]> = rows.iter().map(cells).collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |fields: &[&str]| {
        let padded: Vec<String> = fields
            .iter()
            .zip(widths)
            .map(|(f, w)| format!("{f:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &cells {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

fn cells(row: &Row) -> [String; 8] {
    let dash = || "-".to_owned();
    let stages = row
        .stages
        .iter()
        .map(|(s, v)| format!("{s}={}", short(v)))
        .collect::<Vec<_>>();
    let error = match &row.last_error {
        Some(code) => format!("{code} x{}", row.failures),
        None => dash(),
    };
    [
        row.secret_id.clone(),
        row.region.clone().unwrap_or_else(dash),
        row.endpoint
            .clone()
            .or_else(|| row.profile.clone())
            .unwrap_or_else(dash),
        if stages.is_empty() {
            dash()
        } else {
            stages.join(",")
        },
        row.fetched_at.clone().unwrap_or_else(dash),
        row.next_check.clone().unwrap_or_else(dash),
        row.state.to_owned(),
        error,
    ]
}

/// The first 8 characters of a version id: enough to tell versions apart in a table.
fn short(version_id: &str) -> &str {
    version_id.get(..8).unwrap_or(version_id)
}
