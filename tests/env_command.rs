//! `smcache env ... -- COMMAND` against moto: the command replaces smcache and gets
//! its exit status, sees the variables and the inherited environment, and never runs
//! when a variable cannot be had or is malformed (127 and 126 when it cannot be run).
//! Naming, precedence and the output formats are in `env.rs`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use common::{TestEnv, assert_exit, assert_success, stderr, stdout, unique_name};

#[test]
fn the_command_exit_status_is_smcaches() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/status", "v");
    let var = format!("X={id}");

    for code in [0, 1, 7, 42] {
        let script = format!("exit {code}");
        let out = env.run(&["env", "-e", &var, "--", "sh", "-c", &script]);
        assert_exit(&out, code);
    }
}

#[test]
fn the_command_replaces_smcache() {
    // exec, not a child: the command runs with smcache's own process id, so signals sent
    // to "smcache" reach it directly.
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/exec", "v");

    let mut cmd = env.cmd();
    cmd.args([
        "env",
        "-e",
        &format!("X={id}"),
        "--",
        "sh",
        "-c",
        "printf %s $$",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn smcache");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for smcache");

    assert_eq!(assert_success(&out), pid.to_string());
}

#[test]
fn the_command_sees_the_variables_and_the_inherited_environment() {
    let env = TestEnv::new();
    let (a, _) = env.new_secret("env/child-a", "value a");
    let (b, _) = env.new_secret("env/child-b", r#"{"shadow": "from secret"}"#);
    let script = r#"printf '%s|%s|%s|%s|%s' "$A" "$INHERITED" "$SHADOW" "$1" "$2""#;

    let out = env.run_with(|cmd| {
        cmd.env("INHERITED", "from parent")
            .env("SHADOW", "from parent")
            .args(["env", "-e", &format!("A={a}"), "-s", &b])
            .args(["--", "sh", "-c", script, "sh", "first arg", "--second"]);
    });

    assert_eq!(
        assert_success(&out),
        "value a|from parent|from secret|first arg|--second"
    );
}

#[test]
fn a_command_that_cannot_be_found_exits_127() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/127", "v");
    let missing = env.root().join("no-such-command");
    let missing = missing.to_str().unwrap();

    for program in [missing, "smcache-no-such-command-on-path"] {
        let out = env.run(&["env", "-e", &format!("X={id}"), "--", program]);
        assert_exit(&out, 127);
        assert!(stderr(&out).contains(program), "{}", stderr(&out));
    }
}

#[test]
fn a_command_that_cannot_be_executed_exits_126() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/126", "v");
    let script = env.write_file("not-executable.sh", b"#!/bin/sh\ntouch ran\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let dir = env.root().to_str().unwrap();

    for program in [script.as_str(), dir] {
        let out = env.run(&["env", "-e", &format!("X={id}"), "--", program]);
        assert_exit(&out, 126);
        assert!(stderr(&out).contains(program), "{}", stderr(&out));
    }
    assert!(!env.root().join("ran").exists());
}

/// Runs `env ARGS... -- sh -c 'touch ran'` and checks that it failed with exit 1, that
/// the command never ran, and that stderr holds every one of `mentions`.
fn assert_nothing_runs(env: &TestEnv, args: &[&str], mentions: &[&str]) {
    let marker = env.root().join("ran");
    let out = env.run_with(|cmd| {
        cmd.arg("env")
            .args(args)
            .args(["--", "sh", "-c", "touch ran"]);
    });
    assert_exit(&out, 1);
    assert!(!marker.exists(), "the command ran although a secret failed");
    assert!(stdout(&out).is_empty(), "stdout: {}", stdout(&out));
    for mention in mentions {
        assert!(
            stderr(&out).contains(mention),
            "stderr does not name `{mention}`: {}",
            stderr(&out)
        );
    }
}

#[test]
fn nothing_runs_when_a_key_is_missing() {
    let env = TestEnv::new();
    let (good, _) = env.new_secret("env/good", "fine");
    let (object, _) = env.new_secret("env/nokey", r#"{"user": "app"}"#);
    let args = [
        "-e",
        &format!("G={good}"),
        "-e",
        &format!("P={object}#password"),
    ];

    assert_nothing_runs(&env, &args, &[&object, "password"]);
}

#[test]
fn nothing_runs_when_a_key_is_asked_of_a_secret_that_is_not_json() {
    let env = TestEnv::new();
    let (plain, _) = env.new_secret("env/notjson", "just text");

    assert_nothing_runs(
        &env,
        &["-e", &format!("P={plain}#password")],
        &[&plain, "password"],
    );
}

#[test]
fn nothing_runs_when_a_secret_does_not_exist() {
    let env = TestEnv::new();
    let (good, _) = env.new_secret("env/good", "fine");
    let missing = unique_name("env/missing");
    let args = ["-s", &good, "-e", &format!("M={missing}")];

    assert_nothing_runs(&env, &args, &[&missing, "ResourceNotFoundException"]);
}

#[test]
fn nothing_runs_when_a_secret_holds_only_binary() {
    let env = TestEnv::new();
    let id = unique_name("env/binary");
    env.moto.create_binary(&id, b"\x00\x01\x02");

    assert_nothing_runs(&env, &["-s", &id], &[&id, "SecretBinary"]);
}

#[test]
fn a_malformed_var_is_a_usage_error() {
    let env = TestEnv::new();
    let marker = env.root().join("ran");

    for bad in [
        "NOEQUALS",
        "1BAD=x",
        "BAD-NAME=x",
        "X=",
        "X=#key",
        "X=id#",
        "=id",
    ] {
        let out = env.run(&["env", "-e", bad, "--", "sh", "-c", "touch ran"]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("--var"), "{bad}: {}", stderr(&out));
        assert!(!marker.exists(), "{bad}: the command ran");
    }
    assert_eq!(env.proxy.total_calls(), 0, "a usage error called AWS");
}
