//! Keyrings for the tests that need one of their own, and smcache's copy of the data
//! key in the kernel keyring.
//!
//! [`PrivateKeyring`] starts a Secret Service for one test: a private D-Bus daemon and
//! gnome-keyring-daemon with an unlocked login keyring in a temporary directory, so
//! locking it or deleting items touches no other test. The kernel keyring copy
//! (description `smcache:<cache dir>`) lives in the test's session keyring, which
//! `scripts/test` makes private (`keyctl session -`); each cache directory is unique,
//! so tests never share a copy.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

use super::{TestEnv, stderr};

/// Password of each private login keyring. Not a secret: the keyring lives in a
/// temporary directory for one test.
const KEYRING_PASSWORD: &str = "smcache-test";

/// What happens when the keyring wants to ask for its password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// The system's prompter, which fails at once without a display: dismissed.
    Dismissed,
    /// A prompter that starts and never answers, as when nobody is at the screen.
    NeverAnswered,
}

/// A Secret Service of one test's own: D-Bus daemon plus gnome-keyring-daemon.
/// Both, and anything the bus started, are killed when it is dropped.
pub struct PrivateKeyring {
    dir: TempDir,
    address: String,
    bus: Child,
    daemon: Child,
}

impl PrivateKeyring {
    /// A keyring whose password prompt is dismissed at once ([`Prompt::Dismissed`]).
    pub fn start() -> PrivateKeyring {
        Self::start_with(Prompt::Dismissed)
    }

    /// A keyring, unlocked and ready, whose password prompt behaves as `prompt` says.
    pub fn start_with(prompt: Prompt) -> PrivateKeyring {
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
    pub fn attach(&self, env: TestEnv) -> TestEnv {
        env.without_key()
            .with_env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }

    /// The key text the keyring holds for `dir`, if any.
    pub fn stored_key(&self, dir: &Path) -> Option<String> {
        let out = self.tool("secret-tool", &lookup_args("lookup", dir), b"");
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).expect("UTF-8 key text"))
    }

    /// Deletes the item for `dir`; panics unless it is gone.
    pub fn clear_key(&self, dir: &Path) {
        let out = self.tool("secret-tool", &lookup_args("clear", dir), b"");
        assert!(out.status.success(), "secret-tool clear: {}", stderr(&out));
        assert_eq!(self.stored_key(dir), None, "the item is still there");
    }

    /// Stores `text` as the item for `dir`.
    pub fn store_key(&self, dir: &Path, text: &str) {
        let mut args = vec!["store".to_string(), "--label=smcache test".to_string()];
        args.extend(lookup_args("", dir).into_iter().skip(1));
        let out = self.tool("secret-tool", &args, text.as_bytes());
        assert!(out.status.success(), "secret-tool store: {}", stderr(&out));
    }

    /// Locks the login collection, where the keyring crates keep items.
    pub fn lock(&self) {
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
pub fn description(dir: &Path) -> String {
    format!("smcache:{}", dir.display())
}

/// Runs `keyctl ARGS...` with `input` on its stdin and returns its output.
pub fn keyctl(args: &[&str], input: &[u8]) -> Output {
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
pub fn fast_copy(dir: &Path) -> Option<Vec<u8>> {
    let found = keyctl(&["search", "@s", "user", &description(dir)], b"");
    if !found.status.success() {
        return None;
    }
    let id = String::from_utf8_lossy(&found.stdout).trim().to_string();
    let out = keyctl(&["pipe", &id], b"");
    assert!(out.status.success(), "keyctl pipe: {}", stderr(&out));
    Some(out.stdout)
}

/// Removes smcache's kernel keyring copy of `dir`'s key, if there is one, so the next
/// run must go to the Secret Service.
pub fn drop_fast_copy(dir: &Path) {
    let found = keyctl(&["search", "@s", "user", &description(dir)], b"");
    if found.status.success() {
        let id = String::from_utf8_lossy(&found.stdout).trim().to_string();
        let out = keyctl(&["unlink", &id, "@s"], b"");
        assert!(out.status.success(), "keyctl unlink: {}", stderr(&out));
    }
}

/// Decodes a stored key text; panics unless it is base64 of 32 bytes.
pub fn key_bytes(text: &str) -> Vec<u8> {
    let bytes = STANDARD
        .decode(text.trim())
        .unwrap_or_else(|e| panic!("stored key is not base64: {e}"));
    assert_eq!(bytes.len(), 32, "stored key is not 32 bytes");
    bytes
}
