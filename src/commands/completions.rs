//! `smcache completions`: shell completion scripts from the clap model.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::CompletionsArgs;

pub fn run(args: &CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::cli::command(),
        "smcache",
        &mut script,
    );
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        // `smcache completions bash | head` is not a failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("failed to write to stdout"),
    }
}
