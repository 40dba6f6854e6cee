//! smcache: AWS Secrets Manager secrets for shell scripts, served from an encrypted
//! on-disk cache shared by every invocation.
//!
//! # Vocabulary
//!
//! - **secret id**: what the user names a secret by, its name or ARN.
//! - **stage**: a label such as `AWSCURRENT` that Secrets Manager moves between versions.
//! - **version**: one immutable value of a secret, named by its version id.
//! - **namespace**: the endpoint, region and profile a secret was fetched through;
//!   entries of different namespaces never meet.
//! - **entry**: what the cache remembers of one secret in one namespace: its stages, the
//!   versions it holds, when to check again, and its last failure.
//! - **slot**: the lookup key of an entry or a version's value: a keyed hash, so no
//!   secret id or region is readable in the files.
//! - **hit file**: a sealed copy of one fresh entry and the values of its stages, read
//!   by a cache hit instead of the database.
//! - **data key**: the 256-bit key that seals the cache, from `SMCACHE_KEY` or the OS
//!   keyring.
//! - **seal / open**: encrypt a record for its slot / decrypt and authenticate it.
//! - **fresh / stale / backoff**: an entry whose next check is ahead / passed / an entry
//!   whose last check failed and whose retry moment is ahead.
//!
//! # Modules
//!
//! Each heavy dependency has one owner: [`cli`] (clap), [`aws`] (the SDK, the only
//! async code), [`store`] (sled, and the [`hits`] files beside it), [`crypto`] (the AEAD), [`keys`] (keyrings). The cache
//! logic is in [`cache`] and [`resolve`]; each subcommand in [`commands`].

pub mod aws;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod duration;
pub mod hardening;
pub mod hits;
pub mod keys;
pub mod open;
pub mod resolve;
pub mod secret;
pub mod store;

mod run;

pub use run::main;
