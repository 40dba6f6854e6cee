//! Secrets never leave through stderr, argv, status output or the disk, at any log
//! level and on any failure; and the process that holds them cannot dump core.
//!
//! Every command here runs twice over, at `-vv` and at `SMCACHE_LOG=trace` (which also
//! lets the AWS SDK, hyper and sled log), through successes and failures: a missing
//! JSON key, a secret that is not JSON, a binary secret asked for as text, access
//! denied on a cold and on a cached secret.

mod common;

use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use std::process::Command;

use common::{Fault, TestEnv, assert_exit, assert_success, contains, stderr, unique_name};

const DENIED: Fault = Fault::Status(400, "AccessDeniedException");

/// The secrets of one run and every byte string that must not leak from them.
struct Secrets {
    plain: String,
    json: String,
    text: String,
    binary: String,
    needles: Vec<Vec<u8>>,
}

impl Secrets {
    fn create(env: &TestEnv) -> Secrets {
        let tag = unique_name("leak");
        let plain_value = format!("plainvalue-{tag}");
        let password = format!("jsonpassword-{tag}");
        let text_value = format!("textvalue-{{not json-{tag}");
        let binary_value = format!("binaryvalue-{tag}");
        let secrets = Secrets {
            plain: unique_name("leaks/plain"),
            json: unique_name("leaks/json"),
            text: unique_name("leaks/text"),
            binary: unique_name("leaks/binary"),
            needles: vec![
                plain_value.clone().into_bytes(),
                password.clone().into_bytes(),
                text_value.clone().into_bytes(),
                binary_value.clone().into_bytes(),
                STANDARD.encode(&binary_value).into_bytes(),
                env.key_b64.clone().into_bytes(),
            ],
        };
        env.moto.create_secret(&secrets.plain, &plain_value);
        let json = serde_json::json!({ "password": password, "user": "app" }).to_string();
        env.moto.create_secret(&secrets.json, &json);
        env.moto.create_secret(&secrets.text, &text_value);
        env.moto
            .create_binary(&secrets.binary, binary_value.as_bytes());
        secrets
    }

    fn plain_value(&self) -> String {
        String::from_utf8(self.needles[0].clone()).expect("UTF-8")
    }
}

/// Panics naming the needle and the command if any needle is in `bytes`.
fn assert_clean(bytes: &[u8], needles: &[Vec<u8>], what: &str) {
    for needle in needles {
        assert!(
            !contains(bytes, needle),
            "{what} holds the secret `{}`",
            String::from_utf8_lossy(needle)
        );
    }
}

/// How a run turns logging up.
#[derive(Clone, Copy, Debug)]
enum Loud {
    Flag,
    Trace,
}

fn run(env: &TestEnv, loud: Loud, args: &[&str]) -> Output {
    env.run_with(|cmd| {
        match loud {
            Loud::Flag => cmd.arg("-vv"),
            Loud::Trace => cmd.env("SMCACHE_LOG", "trace"),
        };
        cmd.args(args);
    })
}

/// Runs `args`, asserts exit `code` and nothing secret on stderr (nor on stdout unless
/// `prints_value`); returns the output.
fn check(env: &TestEnv, s: &Secrets, loud: Loud, args: &[&str], code: i32) -> Output {
    let out = run(env, loud, args);
    assert_exit(&out, code);
    let what = format!("stderr of {args:?} at {loud:?}");
    assert_clean(&out.stderr, &s.needles, &what);
    assert!(
        !out.stderr.is_empty() || code == 0,
        "{what}: a failure said nothing"
    );
    out
}

fn no_secret_reaches_stderr(loud: Loud) {
    let env = TestEnv::new();
    let s = Secrets::create(&env);
    let stdout_clean = |out: &Output, args: &[&str]| {
        assert_clean(&out.stdout, &s.needles, &format!("stdout of {args:?}"));
    };

    for args in [
        &["get", &s.plain][..],
        &["get", &s.plain],
        &["get", "--refresh", &s.plain],
        &["get", "--output", "json", &s.plain],
        &["get", "--json-key", "password", &s.json],
        &["get", "--json-key", "password", &s.json],
        &["get", "--binary", &s.binary],
        &[
            "env",
            "-e",
            &format!("A={}", s.plain),
            "-e",
            &format!("B={}#password", s.json),
        ],
        &["env", "-s", &s.json, "--format", "dotenv"],
        &["env", "-s", &s.text, "--format", "json"],
    ] {
        check(&env, &s, loud, args, 0);
    }
    for args in [
        &["get", "--json-key", "missing", &s.json][..],
        &["get", "--json-key", "password", &s.text],
        &["get", "--binary", &s.plain],
        &["get", &s.binary],
        &["env", "-e", &format!("A={}#missing", s.json)],
        &["env", "-e", &format!("A={}#password", s.text)],
    ] {
        let out = check(&env, &s, loud, args, 1);
        stdout_clean(&out, args);
    }
    for args in [
        &["status"][..],
        &["status", "--output", "json"],
        &["purge", &s.text],
    ] {
        let out = check(&env, &s, loud, args, 0);
        stdout_clean(&out, args);
    }

    // Access denied: on a secret never fetched, and on one whose value is cached.
    let denied = unique_name("leaks/denied");
    env.moto.create_secret(&denied, &s.plain_value());
    env.proxy.set_fault_for("GetSecretValue", DENIED);
    let out = check(&env, &s, loud, &["get", &denied], 1);
    assert!(
        stderr(&out).contains("AccessDeniedException"),
        "{}",
        stderr(&out)
    );
    env.proxy.set_fault_for("DescribeSecret", DENIED);
    let out = check(
        &env,
        &s,
        loud,
        &["get", "--refresh-interval", "0", &s.plain],
        1,
    );
    assert!(
        stderr(&out).contains("AccessDeniedException"),
        "{}",
        stderr(&out)
    );
    check(
        &env,
        &s,
        loud,
        &["get", "--json-key", "password", &s.json, "--refresh"],
        1,
    );
    env.proxy.clear_faults();

    let out = check(&env, &s, loud, &["purge"], 0);
    stdout_clean(&out, &["purge"]);
    assert!(!env.cache_files().is_empty(), "nothing was cached to check");
    let needles: Vec<&[u8]> = s.needles.iter().map(Vec::as_slice).collect();
    env.assert_no_plaintext(&needles);
}

/// Injects: every command, success and failure, at `-vv`.
#[test]
fn no_secret_reaches_stderr_at_vv() {
    no_secret_reaches_stderr(Loud::Flag);
}

/// Injects: every command, success and failure, at `SMCACHE_LOG=trace`.
#[test]
fn no_secret_reaches_stderr_at_trace() {
    no_secret_reaches_stderr(Loud::Trace);
}

/// Injects: `env -e X=ID -- sh -c ...` reading its own command line. The child gets the
/// value in its environment, never in argv (which other users can read in /proc).
#[test]
fn env_passes_values_in_the_environment_not_in_argv() {
    let env = TestEnv::new();
    let name = unique_name("leaks/argv");
    let value = "argv-value-never-in-cmdline-2d61";
    env.moto.create_secret(&name, value);
    let var = format!("X={name}");

    let out = env.run(&["env", "-e", &var, "--", "sh", "-c", "cat /proc/$$/cmdline"]);
    let cmdline = assert_success(&out);
    assert!(cmdline.starts_with("sh\0-c\0"), "{cmdline:?}");
    assert!(!cmdline.contains(value), "the value is in the child's argv");

    let out = env.run(&["env", "-e", &var, "--", "sh", "-c", "printf %s \"$X\""]);
    assert_eq!(
        assert_success(&out),
        value,
        "the child did not get the value"
    );
    assert_eq!(stderr(&out), "");
}

/// Injects: smcache started with core limits 4096 (soft) / 8192 (hard), running a child
/// that prints its own. smcache lowers only its own soft limit (to 0, so it never dumps a
/// secret) and gives the child the limits the user set.
#[test]
fn the_child_gets_the_core_limits_smcache_was_given() {
    let env = TestEnv::new();
    let name = unique_name("leaks/core");
    env.moto.create_secret(&name, "core-limit-value-7b10");
    let var = format!("X={name}");
    let smcache = env.cmd();
    let mut cmd = Command::new("prlimit");
    cmd.env_clear()
        .envs(smcache.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(env.root())
        .arg("--core=4096:8192")
        .arg(smcache.get_program())
        .args([
            "env",
            "-e",
            &var,
            "--",
            "sh",
            "-c",
            "ulimit -c; ulimit -H -c",
        ]);
    let out = cmd.output().expect("run prlimit");
    // ulimit -c counts 512-byte blocks in dash and 1024-byte ones in bash.
    let limits = assert_success(&out);
    assert!(limits == "8\n16\n" || limits == "4\n8\n", "{limits:?}");
}
