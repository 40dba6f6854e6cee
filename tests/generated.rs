//! Files generated from the clap model and kept in the repository: the completion
//! scripts (`completions/`), the man pages (`man/`) and the pinned `--help` texts
//! (`tests/snapshots/`). Every test renders them afresh and compares them with the
//! committed files, so they cannot drift from the code. After a change to the command
//! line, rewrite them all with
//!
//! ```text
//! SMCACHE_UPDATE_GENERATED=1 cargo test --test generated
//! ```
//!
//! and review the difference like any other change.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::builder::StyledStr;
use clap_complete::{Generator, Shell};

use man::{ENVIRONMENT, man_pages};

#[path = "generated/man.rs"]
mod man;

/// Set to rewrite the committed files instead of comparing with them.
const UPDATE_VAR: &str = "SMCACHE_UPDATE_GENERATED";

/// The shells `smcache completions` supports, and the file each script is kept in.
const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "smcache.bash"),
    (Shell::Zsh, "_smcache"),
    (Shell::Fish, "smcache.fish"),
    (Shell::Elvish, "smcache.elv"),
    (Shell::PowerShell, "_smcache.ps1"),
];

/// One generated file: its path in the repository and its content.
struct Generated {
    path: String,
    bytes: Vec<u8>,
}

impl Generated {
    fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

// --- the tests -------------------------------------------------------------------------

#[test]
fn completion_scripts_are_up_to_date() {
    check(&completion_scripts(), Some("completions"));
}

#[test]
fn man_pages_are_up_to_date() {
    check(&man_pages(), Some("man"));
}

#[test]
fn help_texts_are_pinned() {
    let mut texts = Vec::new();
    for path in command_paths() {
        let mut args = path.clone();
        args.push("--help".into());
        let out = smcache(&args);
        let name = if path.is_empty() {
            "smcache".to_string()
        } else {
            format!("smcache-{}", path.join("-"))
        };
        texts.push(Generated::new(format!("tests/snapshots/{name}.help"), out));
    }
    check(&texts, None);
}

#[test]
fn completions_command_prints_the_committed_scripts() {
    for (shell, file) in SHELLS {
        let printed = smcache(&["completions".into(), shell.to_string()]);
        // While the files are being rewritten they may be half-written: compare with what
        // they are being rewritten to instead.
        let want = if updating() {
            render_completion(shell)
        } else {
            read_committed(&format!("completions/{file}"))
        };
        assert!(
            printed == want,
            "`smcache completions {shell}` differs from completions/{file}; {}",
            how_to_update()
        );
    }
}

#[test]
fn completion_file_names_are_the_conventional_ones() {
    for (shell, file) in SHELLS {
        assert_eq!(shell.file_name("smcache"), file);
    }
}

#[test]
fn every_environment_variable_is_documented() {
    let documented: BTreeSet<&str> = ENVIRONMENT.iter().flat_map(|e| e.names).copied().collect();
    let mut used = BTreeSet::new();
    // Every variable an option reads, and every one its help text names...
    let mut cmd = smcache::cli::command();
    cmd.build();
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            used.insert(env.to_string_lossy().into_owned());
        }
        let help = arg.get_long_help().or(arg.get_help());
        used.extend(variable_names(
            &help.map(StyledStr::to_string).unwrap_or_default(),
        ));
    }
    // ...and every SMCACHE_ variable the code reads anywhere.
    for file in rust_files(&repo().join("src")) {
        let text = fs::read_to_string(&file).unwrap();
        used.extend(variable_names(&text).filter(|n| n.starts_with("SMCACHE_")));
    }

    let missing: Vec<&String> = used
        .iter()
        .filter(|n| !documented.contains(n.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in ENVIRONMENT: {missing:?}");
}

#[test]
fn man_pages_format_without_warnings() {
    for page in man_pages() {
        let path = repo().join(&page.path);
        let out = Command::new("groff")
            .args(["-man", "-ww", "-z", "-Tutf8"])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("run groff (Debian: apt-get install groff-base): {e}"));
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "{}: {warnings}",
            page.path
        );
    }
}

// --- comparing and updating --------------------------------------------------------------

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

fn how_to_update() -> String {
    format!(
        "if the change is intended, run `{UPDATE_VAR}=1 cargo test --test generated` and commit \
         the result"
    )
}

fn read_committed(path: &str) -> Vec<u8> {
    fs::read(repo().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}; {}", how_to_update()))
}

/// Compares `files` with the committed ones, or writes them when updating. `owned_dir`
/// holds only generated files: one there that is not generated any more is stale.
fn check(files: &[Generated], owned_dir: Option<&str>) {
    let stale = owned_dir
        .map(|dir| stale_files(dir, files))
        .unwrap_or_default();
    if updating() {
        for file in files {
            let path = repo().join(&file.path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &file.bytes).unwrap_or_else(|e| panic!("write {}: {e}", file.path));
        }
        for path in &stale {
            fs::remove_file(repo().join(path)).unwrap();
        }
        return;
    }
    let mut problems = String::new();
    for file in files {
        match fs::read(repo().join(&file.path)) {
            Err(e) => {
                let _ = writeln!(problems, "  {}: cannot be read ({e})", file.path);
            }
            Ok(committed) if committed != file.bytes => {
                let at = first_difference(&committed, &file.bytes);
                let _ = writeln!(problems, "  {}: differs from line {at}", file.path);
            }
            Ok(_) => {}
        }
    }
    for path in &stale {
        let _ = writeln!(problems, "  {path}: no longer generated");
    }
    assert!(
        problems.is_empty(),
        "generated files are out of date:\n{problems}{}",
        how_to_update()
    );
}

/// Files in `dir` that are not among `files`.
fn stale_files(dir: &str, files: &[Generated]) -> Vec<String> {
    let Ok(entries) = fs::read_dir(repo().join(dir)) else {
        return Vec::new();
    };
    let mut stale: Vec<String> = entries
        .map(|entry| format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()))
        .filter(|path| files.iter().all(|f| &f.path != path))
        .collect();
    stale.sort();
    stale
}

/// The 1-based number of the first line where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    1 + a[..same].split(|&c| c == b'\n').count() - 1
}

/// Runs the real binary with an empty environment, so that no variable
/// shows up as an option's value in the help, and returns its stdout; panics unless it
/// succeeds.
fn smcache(args: &[String]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_smcache"))
        .env_clear()
        .args(args)
        .output()
        .expect("run smcache");
    assert!(
        out.status.success(),
        "smcache {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `[]` for the top level, then `["get"]`, `["env"]`, ... for each subcommand.
fn command_paths() -> Vec<Vec<String>> {
    let cmd = smcache::cli::command();
    let subcommands = cmd
        .get_subcommands()
        .map(|s| vec![s.get_name().to_string()]);
    std::iter::once(Vec::new()).chain(subcommands).collect()
}

/// Every `SMCACHE_*` or `AWS_*` name in `text`.
fn variable_names(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| {
            let rest = w
                .strip_prefix("SMCACHE_")
                .or_else(|| w.strip_prefix("AWS_"));
            rest.is_some_and(|r| !r.is_empty())
        })
        .map(str::to_string)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

// --- completion scripts ------------------------------------------------------------------

fn completion_scripts() -> Vec<Generated> {
    SHELLS
        .iter()
        .map(|&(shell, file)| {
            Generated::new(format!("completions/{file}"), render_completion(shell))
        })
        .collect()
}

/// What `smcache completions SHELL` prints.
fn render_completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut smcache::cli::command(), "smcache", &mut script);
    script
}
