//! `smcache purge`: remove cached secrets.

use anyhow::{Context, Result, anyhow};

use crate::cli::PurgeArgs;
use crate::config::Config;
use crate::store::Store;

pub fn run(config: &Config, args: &PurgeArgs) -> Result<()> {
    let removed = if args.secret_ids.is_empty() {
        purge_all(config)?
    } else {
        purge_some(config, &args.secret_ids)?
    };
    let noun = if removed == 1 { "entry" } else { "entries" };
    eprintln!("purged {removed} cache {noun}");
    Ok(())
}

/// Everything goes, whatever key sealed it: no key is needed to empty the cache.
fn purge_all(config: &Config) -> Result<u64> {
    let dir = config
        .cache_dir
        .as_deref()
        .map_err(|why| anyhow!("failed to purge: {why}"))?;
    if !dir.exists() {
        return Ok(0);
    }
    let mut store = Store::open(dir, config.lock_wait).context("failed to purge the cache")?;
    let removed = store.scan(b"e")?.len() as u64;
    store.clear()?;
    store.flush()?;
    Ok(removed)
}

/// The named secrets in the current namespace: their slots need the key.
fn purge_some(config: &Config, secret_ids: &[String]) -> Result<u64> {
    let mut cache = crate::open::open_for_maintenance(config).context("failed to purge")?;
    let mut removed = 0;
    for id in secret_ids {
        let slot = cache.slot(&config.namespace, id);
        removed += u64::from(cache.remove(&slot)?);
    }
    cache.close()?;
    Ok(removed)
}
