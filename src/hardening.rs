//! Keeping secrets out of core dumps, and giving a command started by `env` the
//! process limits the user gave smcache.

use std::sync::OnceLock;

use rustix::process::{DumpableBehavior, Resource, Rlimit};

/// The core-file limit smcache started with.
static ORIGINAL_CORE_LIMIT: OnceLock<Rlimit> = OnceLock::new();

/// No core file, and no ptrace or `/proc/<pid>/mem` access by other processes of the
/// same user. Only the soft limit is lowered, so that a command started by `env` can be
/// given the original back.
pub fn harden_process() {
    let original = rustix::process::getrlimit(Resource::Core);
    let lowered = Rlimit {
        current: Some(0),
        maximum: original.maximum,
    };
    let _ = ORIGINAL_CORE_LIMIT.set(original);
    let _ = rustix::process::setrlimit(Resource::Core, lowered);
    let _ = rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable);
}

/// Restores the core-file limit for the command that is about to replace smcache (the
/// dumpable flag is reset by exec itself).
pub fn restore_for_child() {
    if let Some(original) = ORIGINAL_CORE_LIMIT.get() {
        let _ = rustix::process::setrlimit(Resource::Core, *original);
    }
}
