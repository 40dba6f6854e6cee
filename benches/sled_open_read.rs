//! The baseline of issue #5's benchmark: a bare process that opens a sled database,
//! reads one key, prints the value's length and exits. It uses sled's default settings,
//! as a program would that never tuned sled for a short-lived process.
//!
//! ```text
//! sled_open_read DB_DIR KEY              read KEY, print its length (exit 1 if absent)
//! sled_open_read --setup DB_DIR KEY LEN  write KEY with a LEN-byte value, flush, exit
//! ```
//!
//! Two flags, for `scripts/bench`'s analysis only, before the other arguments:
//! - `--smcache-config`: open with smcache's settings (`flush_every_ms(None)`,
//!   `cache_capacity(1 MiB)`) instead of sled's defaults.
//! - `--touch`: after the read, write one small record and flush, as smcache's hit path
//!   does when it records the access for its LRU.
//!
//! Run by `scripts/bench`; built with `cargo build --release --example sled_open_read`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: sled_open_read [--smcache-config] [--touch] DB_DIR KEY\n       \
                     sled_open_read [--smcache-config] --setup DB_DIR KEY LEN";

struct Options {
    setup: bool,
    smcache_config: bool,
    touch: bool,
    rest: Vec<String>,
}

fn parse() -> Option<Options> {
    let mut options = Options {
        setup: false,
        smcache_config: false,
        touch: false,
        rest: Vec::new(),
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--setup" => options.setup = true,
            "--smcache-config" => options.smcache_config = true,
            "--touch" => options.touch = true,
            flag if flag.starts_with("--") => return None,
            _ => options.rest.push(arg),
        }
    }
    Some(options)
}

fn open(path: PathBuf, smcache_config: bool) -> sled::Result<sled::Db> {
    let config = sled::Config::new().path(path);
    let config = if smcache_config {
        config.flush_every_ms(None).cache_capacity(1 << 20)
    } else {
        config
    };
    config.open()
}

fn run(options: &Options) -> Result<ExitCode, String> {
    let fail = |err: sled::Error| err.to_string();
    match (options.setup, options.rest.as_slice()) {
        (true, [dir, key, len]) => {
            let len: usize = len.parse().map_err(|_| format!("bad length `{len}`"))?;
            let db = open(dir.into(), options.smcache_config).map_err(fail)?;
            db.insert(key.as_bytes(), vec![b'x'; len]).map_err(fail)?;
            db.flush().map_err(fail)?;
            Ok(ExitCode::SUCCESS)
        }
        (false, [dir, key]) => {
            let db = open(dir.into(), options.smcache_config).map_err(fail)?;
            let Some(value) = db.get(key.as_bytes()).map_err(fail)? else {
                eprintln!("sled_open_read: no key `{key}`");
                return Ok(ExitCode::FAILURE);
            };
            if options.touch {
                let tick = u64::try_from(value.len()).unwrap_or_default().to_be_bytes();
                db.insert(b"touch", &tick[..]).map_err(fail)?;
                db.flush().map_err(fail)?;
            }
            println!("{}", value.len());
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let Some(options) = parse() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&options) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sled_open_read: {message}");
            ExitCode::FAILURE
        }
    }
}
