//! Support shared by the integration tests: a per-test environment that runs
//! the real `smcache` binary against moto through a recording proxy.
//!
//! Every test makes its own [`TestEnv`]: a temporary directory, an empty AWS
//! configuration, a fresh data key and a [`Proxy`] in front of the moto server
//! that `scripts/test` starts. [`Moto`] changes secrets behind smcache's back.
//! [`keyring`] gives a test a Secret Service of its own and reaches smcache's copy of
//! the data key in the kernel keyring.

// Each tests/*.rs file is its own crate that compiles this module and uses only
// part of it; the rest would otherwise warn as dead code in every one of them.
#![allow(dead_code)]

pub mod http;
pub mod keyring;
mod moto;
mod proxy;

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

// Re-exports so tests write `common::Fault`; the same subset problem as above.
#[allow(unused_imports)]
pub use http::Response;
#[allow(unused_imports)]
pub use moto::{DEFAULT_REGION, MOTO_URL_VAR, Moto, unique_name};
#[allow(unused_imports)]
pub use proxy::{Fault, Proxy, dead_endpoint};

/// Variables passed through from the test's own environment when set: the
/// session bus and runtime dir let the keyring tests reach a Secret Service.
const PASSED_THROUGH: &[&str] = &["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"];

/// One test's private world: directories, key, proxy and moto client.
pub struct TestEnv {
    /// Owns the temporary directory; everything below lives inside it.
    pub tmp: TempDir,
    /// `HOME` for smcache (created, empty).
    pub home: PathBuf,
    /// `SMCACHE_CACHE_DIR` (not created: smcache must make it).
    pub cache_dir: PathBuf,
    /// An empty file used as AWS config and credentials file.
    pub empty_file: PathBuf,
    /// The data key as standard base64 of 32 random bytes, for `SMCACHE_KEY`.
    pub key_b64: String,
    /// smcache's endpoint: forwards to moto, records, injects faults.
    pub proxy: Proxy,
    /// Admin client straight to moto, region us-east-1.
    pub moto: Moto,
    use_key: bool,
    extra_env: Vec<(OsString, OsString)>,
}

impl TestEnv {
    /// A fresh environment; panics if `SMCACHE_TEST_MOTO` is not set.
    pub fn new() -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("smcache-test-")
            .tempdir()
            .expect("create temporary directory");
        let home = tmp.path().join("home");
        fs::create_dir(&home).expect("create test HOME");
        let empty_file = tmp.path().join("empty");
        fs::write(&empty_file, b"").expect("create empty AWS config file");

        let moto = Moto::from_env();
        let proxy = Proxy::start(moto.url());
        TestEnv {
            cache_dir: tmp.path().join("cache"),
            home,
            empty_file,
            key_b64: random_key_b64(),
            proxy,
            moto,
            use_key: true,
            extra_env: Vec::new(),
            tmp,
        }
    }

    /// Leaves `SMCACHE_KEY` unset, so smcache turns to the OS keyring.
    pub fn without_key(mut self) -> TestEnv {
        self.use_key = false;
        self
    }

    /// Sets `name` for every command made by [`TestEnv::cmd`] from now on.
    pub fn with_env(mut self, name: &str, value: impl Into<OsString>) -> TestEnv {
        self.extra_env.push((name.into(), value.into()));
        self
    }

    /// The temporary directory everything lives in.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// `smcache` with a cleared environment holding only this test's settings,
    /// run from the temporary directory.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smcache"));
        cmd.env_clear().current_dir(self.root());
        cmd.envs(self.base_env());
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `smcache ARGS...` with stdin closed and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(|cmd| {
            cmd.args(args);
        })
    }

    /// Runs `smcache` after `configure` has added arguments or environment.
    pub fn run_with(&self, configure: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = self.cmd();
        cmd.stdin(Stdio::null());
        configure(&mut cmd);
        cmd.output().expect("run smcache")
    }

    /// `smcache get NAME`.
    pub fn get(&self, name: &str) -> Output {
        self.get_with(name, &[])
    }

    /// `smcache get NAME ARGS...`.
    pub fn get_with(&self, name: &str, args: &[&str]) -> Output {
        self.run_with(|cmd| {
            cmd.arg("get").arg(name).args(args);
        })
    }

    /// `smcache get NAME ARGS...` as a command, not yet started (stdin, stdout and
    /// stderr as the caller sets them).
    pub fn get_cmd(&self, name: &str, args: &[&str]) -> Command {
        let mut cmd = self.cmd();
        cmd.arg("get").arg(name).args(args);
        cmd
    }

    /// Calls that reached Secrets Manager: (DescribeSecret, GetSecretValue).
    pub fn calls(&self) -> (usize, usize) {
        (
            self.proxy.calls("DescribeSecret"),
            self.proxy.calls("GetSecretValue"),
        )
    }

    /// Creates a secret in moto with a unique name under `prefix`, holding `value` as
    /// `SecretString`; returns (name, version id).
    pub fn new_secret(&self, prefix: &str, value: &str) -> (String, String) {
        let name = unique_name(prefix);
        let version = self.moto.create_secret(&name, value);
        (name, version)
    }

    /// Writes `bytes` to `name` in the test's directory and returns its path as text.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.root().join(name);
        fs::write(&path, bytes).expect("write test file");
        path.to_str().expect("UTF-8 temp path").to_string()
    }

    /// Every file under the cache directory, recursively, sorted; none if it
    /// does not exist.
    pub fn cache_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect_files(&self.cache_dir, &mut files);
        files.sort();
        files
    }

    /// Panics naming the file if any needle appears in any file under the cache
    /// directory. Passes trivially when there is no file: check that apart.
    pub fn assert_no_plaintext(&self, needles: &[&[u8]]) {
        assert!(
            needles.iter().all(|n| !n.is_empty()),
            "an empty needle matches everything"
        );
        for file in self.cache_files() {
            let bytes = fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            for needle in needles {
                assert!(
                    !contains(&bytes, needle),
                    "plaintext `{}` found in cache file {}",
                    String::from_utf8_lossy(needle),
                    file.display()
                );
            }
        }
    }

    fn base_env(&self) -> Vec<(&'static str, OsString)> {
        let endpoint = self.proxy.url();
        let mut vars: Vec<(&'static str, OsString)> = vec![
            ("HOME", self.home.clone().into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", self.empty_file.clone().into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.empty_file.clone().into(),
            ),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", DEFAULT_REGION.into()),
            // SDK retries would multiply the proxy's counts; a test can raise it.
            ("AWS_MAX_ATTEMPTS", "1".into()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.into()),
            ("SMCACHE_CACHE_DIR", self.cache_dir.clone().into()),
        ];
        if self.use_key {
            vars.push(("SMCACHE_KEY", self.key_b64.clone().into()));
        }
        for name in std::iter::once(&"PATH").chain(PASSED_THROUGH) {
            if let Some(value) = std::env::var_os(name) {
                vars.push((name, value));
            }
        }
        vars
    }
}

/// A new environment with one secret per value (unique names under `prefix`), each
/// read once with `get` so that the cache holds it; the proxy's counts are then reset.
/// Returns the environment and the names, in the order of `values`.
pub fn warm<const N: usize>(prefix: &str, values: [&str; N]) -> (TestEnv, [String; N]) {
    let env = TestEnv::new();
    let names = values.map(|_| unique_name(prefix));
    for (name, value) in names.iter().zip(values) {
        env.moto.create_secret(name, value);
        assert_eq!(assert_success(&env.get(name)), format!("{value}\n"));
    }
    env.proxy.reset();
    (env, names)
}

/// Builds `n` commands with `make(i)`, starts them all, then waits for all.
/// Output is drained on one thread per child so a chatty one cannot block.
pub fn run_parallel(n: usize, make: impl Fn(usize) -> Command) -> Vec<Output> {
    let mut commands: Vec<Command> = (0..n).map(make).collect();
    let children: Vec<_> = commands
        .iter_mut()
        .map(|cmd| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn command")
        })
        .collect();
    thread::scope(|scope| {
        let waiters: Vec<_> = children
            .into_iter()
            .map(|child| scope.spawn(move || child.wait_with_output().expect("wait for command")))
            .collect();
        waiters
            .into_iter()
            .map(|w| w.join().expect("waiter thread"))
            .collect()
    })
}

/// stdout as text; panics printing status, stdout and stderr unless it exited 0.
pub fn assert_success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got {}",
        describe(out)
    );
    stdout(out)
}

/// Panics printing status, stdout and stderr unless it exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert!(
        out.status.code() == Some(code),
        "expected exit {code}, got {}",
        describe(out)
    );
}

/// stdout as text, invalid UTF-8 replaced.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text, invalid UTF-8 replaced.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `program ARGS...` with the test process's environment, stdin closed; returns
/// its output; panics if it cannot be started.
pub fn run_tool<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// The permission bits (`0o7777`) of `path` itself, not following a symlink.
pub fn mode(path: &Path) -> u32 {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o7777
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// 32 bytes from the OS generator as standard base64 (std has no RNG of its own).
fn random_key_b64() -> String {
    let mut key = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .expect("read /dev/urandom");
    STANDARD.encode(key)
}

/// Appends the files under `dir` to `files`; a missing `dir` has none, but an
/// unreadable one panics rather than pass a plaintext check vacuously.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        result => result.unwrap_or_else(|e| panic!("read {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        // file_type does not follow symlinks, so a link loop cannot recurse forever.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_files(&entry.path(), files);
        } else {
            files.push(entry.path());
        }
    }
}

/// Whether `needle` occurs in `haystack`; `needle` must not be empty.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
