//! The data key going missing or changing: no keyring daemon, a Secret Service item
//! deleted, an unreadable item, a changed `SMCACHE_KEY`, a stale kernel keyring copy, a
//! locked keyring. Every case ends in a working command; where a key can be had, the
//! cache is rebuilt under it (or, when the cache still opens, kept).
//!
//! Tests that need a Secret Service start their own: a private D-Bus daemon and
//! gnome-keyring-daemon with an unlocked login keyring in a temporary directory, so
//! locking it or deleting items touches no other test. The kernel keyring copy
//! (description `smcache:<cache dir>`) goes to the test's session keyring, which
//! `scripts/test` makes private (`keyctl session -`); each cache directory is unique,
//! so tests never share a copy.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

use common::{TestEnv, assert_success, stderr, unique_name};

/// Password of each private login keyring. Not a secret: the keyring lives in a
/// temporary directory for one test.
const KEYRING_PASSWORD: &str = "smcache-test";

/// What happens when the keyring wants to ask for its password.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// The system's prompter, which fails at once without a display: dismissed.
    Dismissed,
    /// A prompter that starts and never answers, as when nobody is at the screen.
    NeverAnswered,
}

/// A Secret Service of one test's own: D-Bus daemon plus gnome-keyring-daemon.
/// Both, and anything the bus started, are killed when it is dropped.
struct PrivateKeyring {
    dir: TempDir,
    address: String,
    bus: Child,
    daemon: Child,
}

impl PrivateKeyring {
    fn start() -> PrivateKeyring {
        Self::start_with(Prompt::Dismissed)
    }

    fn start_with(prompt: Prompt) -> PrivateKeyring {
        let dir = tempfile::Builder::new()
            .prefix("smcache-keyring-")
            .tempdir()
            .expect("create keyring directory");
        for sub in ["run", "data", "services"] {
            fs::create_dir(dir.path().join(sub)).expect("create keyring subdirectory");
        }
        let mut bus = Command::new("dbus-daemon");
        bus.args(["--nofork", "--print-address=1"]);
        match prompt {
            Prompt::Dismissed => {
                let address = format!("--address=unix:path={}", dir.path().join("bus").display());
                bus.args(["--session", &address]);
            }
            Prompt::NeverAnswered => {
                bus.arg(format!("--config-file={}", write_bus_config(dir.path())));
            }
        }
        let mut bus = bus
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (package dbus)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("dbus-daemon stdout"))
            .read_line(&mut address)
            .expect("read the bus address");
        let address = address.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");

        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(Self::vars(dir.path(), &address))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon (package gnome-keyring)");
        let mut stdin = daemon.stdin.take().expect("gnome-keyring-daemon stdin");
        stdin
            .write_all(KEYRING_PASSWORD.as_bytes())
            .expect("unlock password");
        drop(stdin);
        let keyring = PrivateKeyring {
            dir,
            address,
            bus,
            daemon,
        };
        keyring.wait_until_ready();
        keyring
    }

    fn vars(dir: &Path, address: &str) -> Vec<(&'static str, String)> {
        let at = |sub: &str| dir.join(sub).display().to_string();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", address.to_string()),
            ("XDG_RUNTIME_DIR", at("run")),
            ("XDG_DATA_HOME", at("data")),
            ("HOME", dir.display().to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
        ]
    }

    /// Runs a tool (`secret-tool`, `dbus-send`) against this keyring.
    fn tool<S: AsRef<OsStr>>(&self, program: &str, args: &[S], input: &[u8]) -> Output {
        let mut child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(Self::vars(self.dir.path(), &self.address))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        let mut stdin = child.stdin.take().expect("tool stdin");
        stdin.write_all(input).expect("write tool input");
        drop(stdin);
        child.wait_with_output().expect("wait for tool")
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let probe = self.tool(
                "secret-tool",
                &["search", "--all", "smcache-test", "probe"],
                b"",
            );
            // An empty search exits 1 on some versions; a missing service prints an error.
            if stderr(&probe).is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring-daemon did not come up: {}",
                stderr(&probe)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `env` without `SMCACHE_KEY`, talking to this keyring.
    fn attach(&self, env: TestEnv) -> TestEnv {
        env.without_key()
            .with_env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }

    /// The key text the keyring holds for `dir`, if any.
    fn stored_key(&self, dir: &Path) -> Option<String> {
        let out = self.tool("secret-tool", &lookup_args("lookup", dir), b"");
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).expect("UTF-8 key text"))
    }

    fn clear_key(&self, dir: &Path) {
        let out = self.tool("secret-tool", &lookup_args("clear", dir), b"");
        assert!(out.status.success(), "secret-tool clear: {}", stderr(&out));
        assert_eq!(self.stored_key(dir), None, "the item is still there");
    }

    fn store_key(&self, dir: &Path, text: &str) {
        let mut args = vec!["store".to_string(), "--label=smcache test".to_string()];
        args.extend(lookup_args("", dir).into_iter().skip(1));
        let out = self.tool("secret-tool", &args, text.as_bytes());
        assert!(out.status.success(), "secret-tool store: {}", stderr(&out));
    }

    /// Locks the login collection, where the keyring crates keep items.
    fn lock(&self) {
        let out = self.tool(
            "dbus-send",
            &[
                "--session",
                "--dest=org.freedesktop.secrets",
                "--type=method_call",
                "--print-reply",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ],
            b"",
        );
        assert!(out.status.success(), "lock the keyring: {}", stderr(&out));
        let locked = self.tool(
            "dbus-send",
            &[
                "--session",
                "--dest=org.freedesktop.secrets",
                "--print-reply=literal",
                "/org/freedesktop/secrets/collection/login",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ],
            b"",
        );
        let reply = String::from_utf8_lossy(&locked.stdout);
        assert!(reply.contains("true"), "the keyring is not locked: {reply}");
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        // What the bus started (a prompter, through a babysitter process) first, while
        // they can still be found as its descendants.
        for pid in descendants(self.bus.id()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        for child in [&mut self.daemon, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The processes descended from `pid`, deepest first.
fn descendants(pid: u32) -> Vec<i32> {
    let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
    let mut out = Vec::new();
    for child in children.unwrap_or_default().split_whitespace() {
        if let Ok(child) = child.parse::<u32>() {
            out.extend(descendants(child));
            out.push(child as i32);
        }
    }
    out
}

/// A session bus configuration whose only service is a password prompter that starts
/// and never answers (it gives up after 10 s, twice smcache's bound, in case it outlives
/// the test); returns its path.
fn write_bus_config(dir: &Path) -> String {
    let services = dir.join("services");
    fs::write(
        services.join("prompter.service"),
        "[D-BUS Service]\nName=org.gnome.keyring.SystemPrompter\nExec=/bin/sleep 10\n",
    )
    .expect("write prompter service");
    let config = format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={bus}</listen>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        bus = dir.join("bus").display(),
        services = services.display(),
    );
    let path = dir.join("bus.conf");
    fs::write(&path, config).expect("write bus configuration");
    path.display().to_string()
}

/// secret-tool arguments naming smcache's item for `dir`, after `verb`.
fn lookup_args(verb: &str, dir: &Path) -> Vec<String> {
    vec![
        verb.to_string(),
        "service".into(),
        "smcache".into(),
        "username".into(),
        dir.to_str().expect("UTF-8 cache directory").into(),
    ]
}

/// The kernel keyring copy's description for `dir`.
fn description(dir: &Path) -> String {
    format!("smcache:{}", dir.display())
}

fn keyctl(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new("keyctl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyctl (package keyutils)");
    let mut stdin = child.stdin.take().expect("keyctl stdin");
    stdin.write_all(input).expect("write keyctl input");
    drop(stdin);
    child.wait_with_output().expect("wait for keyctl")
}

/// The kernel keyring copy of `dir`'s key, if there is one.
fn fast_copy(dir: &Path) -> Option<Vec<u8>> {
    let found = keyctl(&["search", "@s", "user", &description(dir)], b"");
    if !found.status.success() {
        return None;
    }
    let id = String::from_utf8_lossy(&found.stdout).trim().to_string();
    let out = keyctl(&["pipe", &id], b"");
    assert!(out.status.success(), "keyctl pipe: {}", stderr(&out));
    Some(out.stdout)
}

fn drop_fast_copy(dir: &Path) {
    let found = keyctl(&["search", "@s", "user", &description(dir)], b"");
    if found.status.success() {
        let id = String::from_utf8_lossy(&found.stdout).trim().to_string();
        let out = keyctl(&["unlink", &id, "@s"], b"");
        assert!(out.status.success(), "keyctl unlink: {}", stderr(&out));
    }
    assert_eq!(
        fast_copy(dir),
        None,
        "the kernel keyring copy is still there"
    );
}

fn key_bytes(text: &str) -> Vec<u8> {
    let bytes = STANDARD.decode(text.trim()).expect("stored key is base64");
    assert_eq!(bytes.len(), 32, "stored key is not 32 bytes");
    bytes
}

/// Calls that reached Secrets Manager: (DescribeSecret, GetSecretValue).
fn calls(env: &TestEnv) -> (usize, usize) {
    (
        env.proxy.calls("DescribeSecret"),
        env.proxy.calls("GetSecretValue"),
    )
}

fn get(env: &TestEnv, name: &str) -> Output {
    env.run(&["get", name])
}

/// Resets the counts, runs a get, asserts it printed `value`, returns it.
fn counted_get(env: &TestEnv, name: &str, value: &str) -> Output {
    env.proxy.reset();
    let out = get(env, name);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    out
}

/// Asserts a get is answered by the cache alone, silently.
fn assert_hit(env: &TestEnv, name: &str, value: &str, when: &str) {
    let out = counted_get(env, name, value);
    assert_eq!(calls(env), (0, 0), "not answered from the cache {when}");
    assert_eq!(stderr(&out), "", "{when}");
}

/// Path -> content of every file under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read cache directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            out.insert(path.clone(), fs::read(&path).expect("read cache file"));
        }
    }
    out
}

/// Injects: no Secret Service at all (the bus address points nowhere) and no
/// `SMCACHE_KEY`. get and env answer from Secrets Manager with exactly one warning each,
/// every time, and write nothing.
#[test]
fn without_a_keyring_commands_run_uncached_with_one_warning() {
    let env = TestEnv::new()
        .without_key()
        .with_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let name = unique_name("keys/nobus");
    let value = "no-keyring-value-2b7c";
    env.moto.create_secret(&name, value);
    for _ in 0..2 {
        let out = counted_get(&env, &name, value);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "not exactly one warning: {err}");
        assert!(err.contains("without the cache"), "{err}");
        assert!(calls(&env).1 >= 1, "answered without Secrets Manager");

        let out = env.run(&["env", "-e", &format!("X={name}"), "--format", "json"]);
        assert!(assert_success(&out).contains(value));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());
    assert_eq!(
        fast_copy(&env.cache_dir),
        None,
        "a key appeared in the kernel keyring"
    );
}

/// Injects: the Secret Service item and the kernel keyring copy both deleted between
/// runs. A new key is made, the cache is rebuilt under it, and answers again.
#[test]
fn a_deleted_key_means_a_new_key_and_a_rebuilt_cache() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/deleted");
    let value = "deleted-key-value-f08e";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    assert_hit(&env, &name, value, "before the key was deleted");
    let old = key_bytes(
        &keyring
            .stored_key(&env.cache_dir)
            .expect("a key was created"),
    );
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&old[..]));

    keyring.clear_key(&env.cache_dir);
    drop_fast_copy(&env.cache_dir);
    let out = counted_get(&env, &name, value);
    assert_eq!(
        calls(&env),
        (1, 1),
        "the cache was not rebuilt: {}",
        stderr(&out)
    );
    assert!(stderr(&out).lines().count() <= 1, "{}", stderr(&out));

    let new = key_bytes(&keyring.stored_key(&env.cache_dir).expect("a new key"));
    assert_ne!(new, old, "the deleted key came back");
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&new[..]));
    assert_hit(&env, &name, value, "after the rebuild");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: the Secret Service item replaced by text that is no key, the kernel copy
/// gone. The item is replaced by a new key and the cache rebuilt.
#[test]
fn an_unreadable_stored_key_is_replaced_and_the_cache_rebuilt() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/unreadable");
    let value = "unreadable-key-value-61d3";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);

    keyring.store_key(&env.cache_dir, "this is not a key");
    drop_fast_copy(&env.cache_dir);
    let out = counted_get(&env, &name, value);
    assert!(stderr(&out).lines().count() <= 2, "{}", stderr(&out));
    key_bytes(&keyring.stored_key(&env.cache_dir).expect("a key"));
    assert_hit(&env, &name, value, "after the key was replaced");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: `SMCACHE_KEY` changed between runs, then changed back. Each change
/// discards the cache with one warning and rebuilds it under the key in use.
#[test]
fn a_changed_smcache_key_means_a_rebuilt_cache() {
    let env = TestEnv::new();
    let name = unique_name("keys/changed");
    let value = "changed-key-value-9a45";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    assert_hit(&env, &name, value, "under the first key");

    let other = STANDARD.encode([0x17_u8; 32]);
    let with_other = |env: &TestEnv| {
        env.proxy.reset();
        env.run_with(|cmd| {
            cmd.env("SMCACHE_KEY", &other).arg("get").arg(&name);
        })
    };
    let out = with_other(&env);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert_eq!(calls(&env), (1, 1), "not rebuilt under the new key");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    let out = with_other(&env);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert_eq!(calls(&env), (0, 0), "the rebuilt cache does not answer");

    let out = counted_get(&env, &name, value);
    assert_eq!(calls(&env), (1, 1), "not rebuilt under the first key again");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_hit(&env, &name, value, "back under the first key");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: a wrong 32-byte key put in the session keyring as the kernel copy, while
/// Secret Service holds the right one. The cache is kept (no calls, no warning) and the
/// copy is corrected.
#[test]
fn a_stale_kernel_copy_is_corrected_and_the_cache_kept() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/stale-copy");
    let value = "stale-copy-value-c25a";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    let right = key_bytes(&keyring.stored_key(&env.cache_dir).expect("a key"));

    let wrong = [0xa5_u8; 32];
    let out = keyctl(
        &["padd", "user", &description(&env.cache_dir), "@s"],
        &wrong,
    );
    assert!(out.status.success(), "keyctl padd: {}", stderr(&out));
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&wrong[..]));

    assert_hit(&env, &name, value, "with a stale kernel copy");
    assert_eq!(
        fast_copy(&env.cache_dir).as_deref(),
        Some(&right[..]),
        "the kernel copy was not corrected"
    );
    assert_eq!(
        keyring.stored_key(&env.cache_dir).map(|t| key_bytes(&t)),
        Some(right),
        "the Secret Service key changed"
    );
    assert_hit(&env, &name, value, "after the copy was corrected");
}

/// Injects: the login keyring locked, with a prompter that fails at once (no display).
#[test]
fn a_locked_keyring_means_uncached() {
    locked_keyring_means_uncached(Prompt::Dismissed);
}

/// Injects: the login keyring locked, with a prompter that never answers: smcache stops
/// waiting for the Secret Service after its 5 s bound.
#[test]
fn a_locked_keyring_whose_prompt_is_never_answered_means_uncached_within_seconds() {
    locked_keyring_means_uncached(Prompt::NeverAnswered);
}

/// While the kernel copy lives, the cache answers as before; with the copy gone, the get
/// still succeeds within a few seconds, says it ran without the cache, and leaves the
/// cache as it was.
fn locked_keyring_means_uncached(prompt: Prompt) {
    let keyring = PrivateKeyring::start_with(prompt);
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/locked");
    let value = "locked-keyring-value-8e1b";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);

    keyring.lock();
    assert_hit(
        &env,
        &name,
        value,
        "with a locked keyring and a kernel copy",
    );

    drop_fast_copy(&env.cache_dir);
    let before = snapshot(&env.cache_dir);
    let started = Instant::now();
    let out = counted_get(&env, &name, value);
    let elapsed = started.elapsed();
    eprintln!(
        "get with a locked keyring: {elapsed:.2?}, {:?}",
        stderr(&out)
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:.2?}");
    let err = stderr(&out);
    assert!(err.contains("without the cache"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(calls(&env).1 >= 1, "answered without Secrets Manager");
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}
