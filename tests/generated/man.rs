//! The man pages: clap_mangen's sections for each command, with the after-help examples
//! and prose moved into sections of their own, and the EXIT STATUS, ENVIRONMENT and FILES
//! sections that no option describes.

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use super::Generated;

/// One variable of the ENVIRONMENT section: its names and what it does.
pub struct EnvVar {
    pub names: &'static [&'static str],
    pub text: &'static str,
}

/// Written out rather than derived: most of these have more than one name, or no option.
/// `every_environment_variable_is_documented` keeps the list complete.
pub const ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        names: &["AWS_REGION", "AWS_DEFAULT_REGION"],
        text: "The region when --region is not given: the first of the two that is set. \
               Without either, the profile's region.",
    },
    EnvVar {
        names: &["AWS_PROFILE"],
        text: "The named profile when --profile is not given.",
    },
    EnvVar {
        names: &["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"],
        text: "The Secrets Manager endpoint when --endpoint-url is not given: the first of \
               the two that is set.",
    },
    EnvVar {
        names: &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ],
        text: "Read by the AWS SDK for credentials and configuration, as by the AWS CLI. The \
               access key id is part of what cache entries are kept apart by, so secrets \
               fetched with one set of credentials are not served to another.",
    },
    EnvVar {
        names: &["SMCACHE_CACHE_DIR"],
        text: "The cache directory when --cache-dir is not given.",
    },
    EnvVar {
        names: &["SMCACHE_NO_CACHE"],
        text: "1 (or true, yes, on) works as --no-cache; 0, false, no, off or empty do not.",
    },
    EnvVar {
        names: &["SMCACHE_REFRESH_INTERVAL"],
        text: "--refresh-interval when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_MAX_CACHE_SIZE"],
        text: "--max-cache-size when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_RETRY_BASE"],
        text: "--retry-base when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_RETRY_GROWTH"],
        text: "--retry-growth when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_RETRY_MAX"],
        text: "--retry-max when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_DEFAULT_STAGE"],
        text: "--default-stage when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_MAX_STALE"],
        text: "--max-stale when it is not given.",
    },
    EnvVar {
        names: &["SMCACHE_KEY"],
        text: "The data key instead of the OS keyring, for CI and containers: standard base64 \
               of exactly 32 bytes, as made by `head -c 32 /dev/urandom | base64`. Anything \
               else in it is an error (exit 1). A different key than the cache was sealed \
               with means the cache is discarded and rebuilt.",
    },
    EnvVar {
        names: &["SMCACHE_LOG"],
        text: "A tracing filter for diagnostics on stderr, such as smcache=debug; used when \
               neither -v nor -q is given. The default shows warnings.",
    },
    EnvVar {
        names: &["XDG_CACHE_HOME", "HOME"],
        text: "Where the default cache directory is (see FILES).",
    },
];

pub fn man_pages() -> Vec<Generated> {
    let mut root = smcache::cli::command().disable_help_subcommand(true);
    // Building propagates the global options to the subcommands and names them
    // `smcache-get` (page) and `smcache get` (synopsis).
    root.build();
    let mut pages = vec![man_page(&root, &main_sections())];
    for sub in root.get_subcommands() {
        pages.push(man_page(sub, &subcommand_sections(sub)));
    }
    pages
}

/// A page: clap_mangen's sections with the after-help examples and prose taken apart,
/// followed by `extra`.
fn man_page(cmd: &clap::Command, extra: &Roff) -> Generated {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let (examples, prose) = after_help(cmd);
    // The version is in the page footer, and the after-help parts get sections of their own.
    let plain = cmd.clone().after_help(None::<&str>).version(None::<&str>);
    let man = Man::new(plain);

    // Written by hand: roff drops an empty argument instead of quoting it, which would
    // shift the source and manual into the date's place. No date keeps the page
    // reproducible.
    let title = format!(
        ".TH {} 1 \"\" \"smcache {}\" \"User Commands\"\n",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION")
    );
    let mut out = Roff::new().render().into_bytes();
    out.extend(title.as_bytes());
    man.render_name_section(&mut out).unwrap();
    out.extend(body(&synopsis(cmd)));
    man.render_description_section(&mut out).unwrap();
    let mut prose_roff = Roff::new();
    for paragraph in prose {
        prose_roff.control("PP", []).text([roman(paragraph)]);
    }
    out.extend(body(&prose_roff));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).unwrap();
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out).unwrap();
    }
    out.extend(body(extra));
    if !examples.is_empty() {
        let mut roff = Roff::new();
        roff.control("SH", ["EXAMPLES"]);
        roff.control("RS", ["4"]).control("nf", []);
        for example in examples {
            roff.text([roman(example)]);
        }
        roff.control("fi", []).control("RE", []);
        out.extend(body(&roff));
    }
    out.extend(body(&see_also(cmd)));
    Generated::new(format!("man/{name}.1"), strip_repeated_preambles(&out))
}

/// The usage line `--help` shows (`smcache get [OPTIONS] <SECRET_ID>`): clap_mangen's
/// own synopsis lists every option without its value, which says less in more space.
fn synopsis(cmd: &clap::Command) -> Roff {
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
    let bin = cmd.get_bin_name().unwrap_or(cmd.get_name());
    let rest = usage.strip_prefix(bin).unwrap_or(usage);
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"])
        .text([bold(bin), roman(rest)]);
    roff
}

/// The roff of `roff` without the apostrophe preamble that every rendering starts with.
fn body(roff: &Roff) -> Vec<u8> {
    let preamble = Roff::new().render();
    let text = roff.render();
    text.strip_prefix(&preamble)
        .unwrap_or(&text)
        .as_bytes()
        .to_vec()
}

/// clap_mangen renders each section with the preamble in front; one is enough.
fn strip_repeated_preambles(page: &[u8]) -> Vec<u8> {
    let preamble = Roff::new().render();
    let text = String::from_utf8(page.to_vec()).unwrap();
    let rest = text
        .strip_prefix(&preamble)
        .expect("a page starts with the preamble");
    format!("{preamble}{}", rest.replace(&preamble, "")).into_bytes()
}

/// The after-help text split into example commands (the indented lines after
/// `Examples:`) and paragraphs of prose (every other line).
fn after_help(cmd: &clap::Command) -> (Vec<String>, Vec<String>) {
    let text = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (mut examples, mut prose) = (Vec::new(), Vec::new());
    let mut in_examples = false;
    for line in text.lines() {
        if line == "Examples:" {
            in_examples = true;
        } else if in_examples && line.starts_with("  ") {
            examples.push(line.trim().to_string());
        } else if !line.trim().is_empty() {
            in_examples = false;
            prose.push(line.trim().to_string());
        } else {
            in_examples = false;
        }
    }
    (examples, prose)
}

/// EXIT STATUS, ENVIRONMENT and FILES of `smcache(1)`.
fn main_sections() -> Roff {
    let mut roff = Roff::new();
    exit_status(&mut roff, true);

    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "A command-line option beats its environment variable, which beats the default.",
    )]);
    for var in ENVIRONMENT {
        let mut names = Vec::new();
        for (i, name) in var.names.iter().enumerate() {
            if i > 0 {
                names.push(roman(", "));
            }
            names.push(bold(*name));
        }
        roff.control("TP", []).text(names).text([roman(var.text)]);
    }

    files(&mut roff);
    roff
}

/// The FILES section, from the constants the code uses.
fn files(roff: &mut Roff) {
    let wait = smcache::config::LOCK_WAIT.as_secs();
    let ttl = smcache::keys::FAST_COPY_TTL.as_secs() / 60;
    let service = smcache::keys::SERVICE;
    roff.control("SH", ["FILES"]);
    let entries: Vec<(Vec<_>, String)> = vec![
        (
            vec![
                italic("$XDG_CACHE_HOME"),
                roman("/smcache, else "),
                italic("~"),
                roman("/.cache/smcache"),
            ],
            "The cache directory, unless --cache-dir or SMCACHE_CACHE_DIR names another; \
             DIR below. It is created with mode 0700, and one that is not a directory owned \
             by the user, or that group or others can open, is refused."
                .to_string(),
        ),
        (
            vec![italic("DIR"), roman("/db/")],
            "The database. Every record is sealed with the data key (XChaCha20-Poly1305), \
             and its lookup key is a keyed hash, so no secret id, region or value can be read \
             from the files. Files are created with mode 0600."
                .to_string(),
        ),
        (
            vec![italic("DIR"), roman("/hits/")],
            "One hit file per fresh entry: the entry and the values of its current \
             stages, sealed like the database records, so that a cache hit reads one file \
             instead of opening the database. Written only by the process holding the \
             lock; removed with their entries."
                .to_string(),
        ),
        (
            vec![italic("DIR"), roman("/lock")],
            format!(
                "Held by the process reading or writing the cache (not during Secrets Manager \
                 calls). Another one waits for it up to {wait} seconds, then works without \
                 the cache."
            ),
        ),
        (
            vec![italic("DIR"), roman("/fetch-00 .. fetch-3f")],
            "Held while a secret is fetched from Secrets Manager, one file per group of \
             secrets, so that processes wanting the same secret wait for one fetch instead \
             of each making their own."
                .to_string(),
        ),
        (
            vec![
                roman("keyring item: service "),
                bold(service),
                roman(", user "),
                italic("DIR"),
            ],
            format!(
                "The data key, as base64, in the Secret Service keyring (GNOME Keyring, \
                 KWallet), created on first use; DIR is the absolute path of the cache \
                 directory. A copy is kept in the kernel session keyring as {service}:DIR for \
                 {ttl} minutes. With the item deleted, the cache is discarded and rebuilt \
                 under a new key."
            ),
        ),
    ];
    for (name, text) in entries {
        roff.control("TP", []).text(name).text([roman(text)]);
    }
}

/// EXIT STATUS for a subcommand's page.
fn subcommand_sections(sub: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    exit_status(&mut roff, sub.get_name() == "env");
    roff
}

fn exit_status(roff: &mut Roff, with_command: bool) {
    roff.control("SH", ["EXIT STATUS"]);
    let mut codes = vec![
        ("0", "Success."),
        (
            "1",
            "Failure: an AWS error, a missing secret, stage or key, an invalid SMCACHE_KEY, ...",
        ),
        (
            "2",
            "Usage error: an unknown option, a malformed value, duration or --var.",
        ),
    ];
    if with_command {
        codes.extend([
            (
                "126",
                "smcache env: the command was found but could not be executed.",
            ),
            ("127", "smcache env: the command was not found."),
        ]);
    }
    for (code, text) in codes {
        roff.control("TP", [])
            .text([bold(code)])
            .text([roman(text)]);
    }
    if with_command {
        roff.control("PP", []).text([roman(
            "With smcache env ... -- COMMAND, smcache becomes the command, so any other \
             status is the command's own.",
        )]);
    }
}

fn see_also(cmd: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = if cmd.has_subcommands() {
        cmd.get_subcommands()
            .map(|s| format!("smcache-{}(1)", s.get_name()))
            .collect()
    } else {
        vec!["smcache(1)".to_string()]
    };
    refs.push("aws(1)".to_string());
    let line: Vec<_> = refs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            let (page, section) = r.split_once('(').unwrap();
            let sep = if i == 0 { "" } else { ", " };
            [roman(sep), bold(page), roman(format!("({section}"))]
        })
        .collect();
    roff.text(line);
    roff
}
