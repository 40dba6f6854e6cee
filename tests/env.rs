//! `smcache env` against moto: the three ways to name variables, naming rules,
//! precedence, and the three output formats read back by the programs they are meant
//! for (`sh`, python-dotenv, serde_json). The command it runs is in `env_command.rs`.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use common::{TestEnv, assert_exit, assert_success, stderr, stdout, unique_name};

/// The variable `scripts/test` sets to the Python of its venv, which has python-dotenv.
const PYTHON_VAR: &str = "SMCACHE_TEST_PYTHON";

/// A value that breaks every naive quoting: both quotes, `$` in all its forms, backticks,
/// backslashes, newlines (also trailing), CR, tab, a glob and non-ASCII text. The `$(...)`
/// and backticks would create a file named `pwned` if anything ever evaluated them.
const NASTY: &str = "it's \"quoted\" $HOME $1 $$ `touch pwned` $(touch pwned) \\ \\\\ \\n \\' \
                     line1\nline2\r\n\ttab *.rs é ✓ ''' \"\"\" ;|&<> # end\n\n";

/// `smcache env ARGS... --format json` as a map; panics unless it succeeds.
fn env_json(env: &TestEnv, args: &[&str]) -> BTreeMap<String, String> {
    let out = env.run_with(|cmd| {
        cmd.arg("env").args(args).args(["--format", "json"]);
    });
    let text = assert_success(&out);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a JSON object of strings: {e}\n{text}"))
}

/// A map from `(name, value)` pairs, for comparing with [`env_json`].
fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Runs a program with only `PATH` in its environment, in the test's directory.
fn run_clean(env: &TestEnv, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.env_clear().current_dir(env.root()).args(args);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn python() -> String {
    match std::env::var(PYTHON_VAR) {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "{PYTHON_VAR} is not set: run the tests with `scripts/test`, which exports the \
             Python of its venv (it has python-dotenv)"
        ),
    }
}

// --- the three forms ---------------------------------------------------------------

#[test]
fn var_gets_the_whole_secret_string() {
    let env = TestEnv::new();
    let value = r#"{"user": "app", "port": 5432}"#;
    let (id, _) = env.new_secret("env/whole", value);

    let got = env_json(&env, &["-e", &format!("DB_JSON={id}")]);

    assert_eq!(got, vars(&[("DB_JSON", value)]));
}

#[test]
fn var_with_a_key_gets_that_top_level_key() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/key", r#"{"password": "s3cret", "user": "app"}"#);

    let got = env_json(&env, &["-e", &format!("PGPASSWORD={id}#password")]);

    assert_eq!(got, vars(&[("PGPASSWORD", "s3cret")]));
}

#[test]
fn secret_makes_one_variable_per_key_with_sanitized_names() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret(
        "env/expand",
        r#"{"user": "app", "db-host.name": "h", "1st": "one", "MixedCase": "m",
            "with space": "s", "ünï": "u", "already_OK_9": "k"}"#,
    );

    let got = env_json(&env, &["-s", &id]);

    let want = vars(&[
        ("USER", "app"),
        ("DB_HOST_NAME", "h"),
        ("_1ST", "one"),
        ("MIXEDCASE", "m"),
        ("WITH_SPACE", "s"),
        ("_N_", "u"),
        ("ALREADY_OK_9", "k"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn secret_that_is_not_a_json_object_is_one_variable_named_after_its_id() {
    let env = TestEnv::new();
    let base = unique_name("env/plain");
    let plain = format!("{base}/api-token");
    env.moto.create_secret(&plain, "tok en");
    let array = format!("{base}/9.list");
    env.moto.create_secret(&array, "[1, 2]");
    let flat = unique_name("flat");
    env.moto.create_secret(&flat, "\"a JSON string\"");

    let got = env_json(&env, &["-s", &plain, "-s", &array, "-s", &flat]);

    let flat_name = flat.to_uppercase().replace('-', "_");
    let want = vars(&[
        ("API_TOKEN", "tok en"),
        ("_9_LIST", "[1, 2]"),
        (&flat_name, "\"a JSON string\""),
    ]);
    assert_eq!(got, want);
}

#[test]
fn prefix_goes_before_names_made_by_secret_only() {
    let env = TestEnv::new();
    let (object, _) = env.new_secret("env/prefix", r#"{"user": "app", "1st": "x"}"#);
    let plain = format!("{}/token", unique_name("env/prefix"));
    env.moto.create_secret(&plain, "t");

    let got = env_json(
        &env,
        &[
            "--prefix",
            "DB_",
            "-s",
            &object,
            "-s",
            &plain,
            "-e",
            &format!("RAW={plain}"),
        ],
    );

    let want = vars(&[
        ("DB_USER", "app"),
        ("DB__1ST", "x"),
        ("DB_TOKEN", "t"),
        ("RAW", "t"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn a_prefix_that_cannot_start_a_name_is_a_usage_error() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("env/badprefix", r#"{"user": "app"}"#);

    let out = env.run(&["env", "--prefix", "1-", "-s", &id]);

    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--prefix"), "{}", stderr(&out));
    assert_eq!(env.proxy.total_calls(), 0);
}

#[test]
fn stage_and_version_id_apply_to_every_secret() {
    let env = TestEnv::new();
    let id = unique_name("env/versions");
    let first = env.moto.create_secret(&id, r#"{"pw": "old"}"#);
    let second = env.moto.put_value(&id, r#"{"pw": "new"}"#, &[]);
    let spec = format!("A={id}#pw");
    let with = |extra: &[&str]| {
        let mut args = vec!["-e", spec.as_str(), "-s", id.as_str()];
        args.extend_from_slice(extra);
        env_json(&env, &args)
    };

    assert_eq!(with(&[]), vars(&[("A", "new"), ("PW", "new")]));
    assert_eq!(
        with(&["--stage", "AWSPREVIOUS"]),
        vars(&[("A", "old"), ("PW", "old")])
    );
    assert_eq!(
        with(&["--version-id", &first]),
        vars(&[("A", "old"), ("PW", "old")])
    );
    assert_eq!(
        with(&["--version-id", &second, "--stage", "AWSPREVIOUS"]),
        vars(&[("A", "new"), ("PW", "new")])
    );
}

// --- values and precedence -----------------------------------------------------------

#[test]
fn non_string_json_values_are_their_json_text() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret(
        "env/types",
        r#"{"port": 5432, "ssl": true, "ratio": 0.5, "none": null,
            "list": [1, "a"], "obj": {"k": "v"}, "empty": ""}"#,
    );

    let expanded = env_json(&env, &["-s", &id]);
    let keyed = env_json(
        &env,
        &["-e", &format!("P={id}#port"), "-e", &format!("S={id}#ssl")],
    );

    let want = vars(&[
        ("PORT", "5432"),
        ("SSL", "true"),
        ("RATIO", "0.5"),
        ("NONE", "null"),
        ("LIST", r#"[1,"a"]"#),
        ("OBJ", r#"{"k":"v"}"#),
        ("EMPTY", ""),
    ]);
    assert_eq!(expanded, want);
    assert_eq!(keyed, vars(&[("P", "5432"), ("S", "true")]));
}

#[test]
fn var_beats_secret_for_the_same_name_in_either_order() {
    let env = TestEnv::new();
    let (object, _) = env.new_secret("env/prec", r#"{"user": "from-secret", "host": "h"}"#);
    let (other, _) = env.new_secret("env/prec-var", "from-var");
    let var = format!("USER={other}");

    let var_first = env_json(&env, &["-e", &var, "-s", &object]);
    let var_last = env_json(&env, &["-s", &object, "-e", &var]);

    let want = vars(&[("USER", "from-var"), ("HOST", "h")]);
    assert_eq!(var_first, want);
    assert_eq!(var_last, want);
}

#[test]
fn a_later_secret_beats_an_earlier_one() {
    let env = TestEnv::new();
    let (a, _) = env.new_secret("env/later-a", r#"{"host": "a", "only_a": "1"}"#);
    let (b, _) = env.new_secret("env/later-b", r#"{"host": "b", "only_b": "2"}"#);

    let a_then_b = env_json(&env, &["-s", &a, "-s", &b]);
    let b_then_a = env_json(&env, &["-s", &b, "-s", &a]);

    assert_eq!(
        a_then_b,
        vars(&[("HOST", "b"), ("ONLY_A", "1"), ("ONLY_B", "2")])
    );
    assert_eq!(
        b_then_a,
        vars(&[("HOST", "a"), ("ONLY_A", "1"), ("ONLY_B", "2")])
    );
}

// --- output formats ------------------------------------------------------------------

#[test]
fn shell_format_is_the_default_and_evaluates_to_the_exact_value() {
    let env = TestEnv::new();
    let (nasty, _) = env.new_secret("env/nasty", NASTY);
    let (other, _) = env.new_secret("env/other", "plain");
    let args = [
        "env",
        "-e",
        &format!("NASTY={nasty}"),
        "-e",
        &format!("OTHER={other}"),
    ];

    let default = assert_success(&env.run(&args));
    let explicit = env.run_with(|cmd| {
        cmd.args(args).args(["--format", "shell"]);
    });
    assert_eq!(default, assert_success(&explicit));
    let file = env.write_file("vars.sh", default.as_bytes());

    for shell in ["sh", "bash"] {
        let script = r#"eval "$(cat "$1")"; printf %s "$NASTY""#;
        let out = run_clean(&env, shell, &["-c", script, shell, &file]);
        assert_eq!(out.stdout, NASTY.as_bytes(), "{shell}: {}", stderr(&out));
        // Exported, not just set: a child process sees them.
        let out = run_clean(
            &env,
            shell,
            &[
                "-c",
                r#"eval "$(cat "$1")"; exec printenv OTHER"#,
                shell,
                &file,
            ],
        );
        assert_eq!(stdout(&out), "plain\n", "{shell}: {}", stderr(&out));
    }
    assert!(
        !env.root().join("pwned").exists(),
        "eval ran a command from a value"
    );
}

/// Loads `file` with python-dotenv and returns what it read.
fn dotenv_values(file: &str, interpolate: bool) -> BTreeMap<String, String> {
    let script = "import json, sys\n\
                  from dotenv import dotenv_values\n\
                  values = dotenv_values(sys.argv[1], interpolate=sys.argv[2] == 'yes')\n\
                  sys.stdout.write(json.dumps(values))\n";
    let flag = if interpolate { "yes" } else { "no" };
    let out = Command::new(python())
        .args(["-c", script, file, flag])
        .env_clear()
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python-dotenv failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("python printed a JSON object of strings")
}

#[test]
fn dotenv_format_reads_back_exactly_with_python_dotenv() {
    let env = TestEnv::new();
    let (nasty, _) = env.new_secret("env/dotenv", NASTY);
    let (object, _) = env.new_secret("env/dotenv-obj", r#"{"port": 5432, "q": "a\"b"}"#);

    let out = env.run(&[
        "env",
        "-e",
        &format!("NASTY={nasty}"),
        "-s",
        &object,
        "--format",
        "dotenv",
    ]);
    let file = env.write_file("vars.env", assert_success(&out).as_bytes());

    let want = vars(&[("NASTY", NASTY), ("PORT", "5432"), ("Q", "a\"b")]);
    assert_eq!(dotenv_values(&file, true), want);
    assert_eq!(dotenv_values(&file, false), want);
}

#[test]
fn dotenv_braced_variables_read_back_exactly_only_without_interpolation() {
    // python-dotenv expands `${NAME}` even in quoted values and has no escape for it; the
    // man page says so. With expansion off, the value comes back exactly.
    let env = TestEnv::new();
    let value = "${HOME} and ${UNSET:-default}";
    let (id, _) = env.new_secret("env/braces", value);

    let out = env.run(&["env", "-e", &format!("B={id}"), "--format", "dotenv"]);
    let file = env.write_file("braces.env", assert_success(&out).as_bytes());

    assert_eq!(dotenv_values(&file, false), vars(&[("B", value)]));
}

#[test]
fn json_format_is_one_object_of_strings() {
    let env = TestEnv::new();
    let (nasty, _) = env.new_secret("env/json", NASTY);
    let (object, _) = env.new_secret("env/json-obj", r#"{"port": 5432, "ssl": false}"#);

    let out = env.run(&[
        "env",
        "-e",
        &format!("NASTY={nasty}"),
        "-s",
        &object,
        "--format",
        "json",
    ]);

    let parsed: serde_json::Value = serde_json::from_str(&assert_success(&out)).unwrap();
    let want = serde_json::json!({ "NASTY": NASTY, "PORT": "5432", "SSL": "false" });
    assert_eq!(parsed, want);
}

#[test]
fn no_variables_print_nothing_or_an_empty_object() {
    let env = TestEnv::new();

    assert_eq!(assert_success(&env.run(&["env"])), "");
    assert_eq!(assert_success(&env.run(&["env", "--format", "dotenv"])), "");
    let json = assert_success(&env.run(&["env", "--format", "json"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        serde_json::json!({})
    );
}

// --- the cache -----------------------------------------------------------------------

#[test]
fn every_secret_comes_through_the_cache() {
    let env = TestEnv::new();
    let (object, _) = env.new_secret("env/cached-obj", r#"{"user": "app", "password": "pw"}"#);
    let (plain, _) = env.new_secret("env/cached-plain", "token-plaintext-3f9c1e");
    let args = [
        "-s",
        &object,
        "-e",
        &format!("PW={object}#password"),
        "-e",
        &format!("TOKEN={plain}"),
    ];
    let want = vars(&[
        ("USER", "app"),
        ("PASSWORD", "pw"),
        ("PW", "pw"),
        ("TOKEN", "token-plaintext-3f9c1e"),
    ]);

    assert_eq!(env_json(&env, &args), want);
    assert!(env.proxy.total_calls() > 0, "the first run called nothing");
    env.proxy.reset();

    assert_eq!(env_json(&env, &args), want);
    let out = env.run_with(|cmd| {
        cmd.arg("env")
            .args(args)
            .args(["--", "sh", "-c", r#"printf %s "$TOKEN""#]);
    });
    assert_eq!(assert_success(&out), "token-plaintext-3f9c1e");
    let get = env.run(&["get", &plain]);
    assert_eq!(assert_success(&get), "token-plaintext-3f9c1e\n");

    assert_eq!(env.proxy.total_calls(), 0, "{:?}", env.proxy.requests());
    env.assert_no_plaintext(&[b"token-plaintext-3f9c1e"]);
}

#[test]
fn a_secret_named_twice_is_fetched_once() {
    let env = TestEnv::new();
    let (object, _) = env.new_secret("env/once", r#"{"a": "1", "b": "2"}"#);
    let args = [
        "--no-cache",
        "-s",
        &object,
        "-e",
        &format!("X={object}#a"),
        "-e",
        &format!("Y={object}#b"),
    ];

    let got = env_json(&env, &args);

    assert_eq!(got, vars(&[("A", "1"), ("B", "2"), ("X", "1"), ("Y", "2")]));
    assert_eq!(
        env.proxy.calls("GetSecretValue"),
        1,
        "{:?}",
        env.proxy.requests()
    );
}
