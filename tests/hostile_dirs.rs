//! Cache directories smcache must not or cannot use: open to group or others, owned
//! by another user, not a directory, read-only, immutable, unwritable for the user,
//! and on a full disk. Each time the value is still printed with exit 0 and stderr
//! says why the cache was not used; nothing is repaired silently (modes and owners
//! stay), nothing is written where it may not be, and no plaintext lands on disk.
//! Where the directory is still private and readable (read-only, immutable, full), a
//! fresh entry still answers from its hit file, which needs no writing.
//!
//! Most cases need root (chown, mount, chattr), which is how the suite runs; without
//! it they say so and pass without checking. Mounts and immutable flags are undone
//! when a test ends, also when it fails.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{TestEnv, assert_success, mode, run_tool, stderr, unique_name, warm};

/// The user the unprivileged cases run as (`nobody`).
const NOBODY: u32 = 65_534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Returns false, after saying so, when the test cannot run here.
fn needs_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    eprintln!("{test}: skipped, needs root");
    false
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Path -> content of every file under `dir`, to show nothing changed.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("read directory entry").path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            let bytes = fs::read(&path).expect("read cache file");
            out.insert(path, bytes);
        }
    }
    out
}

/// Asserts the value was printed with exit 0, fetched from Secrets Manager (so not from
/// a cache), and that stderr names `dir` and contains each of `reasons` (any case).
fn assert_uncached(env: &TestEnv, out: &Output, value: &str, dir: &Path, reasons: &[&str]) {
    assert_eq!(assert_success(out), format!("{value}\n"));
    let err = stderr(out);
    let dir_text = dir.to_str().expect("UTF-8 path");
    assert!(
        err.contains(dir_text),
        "stderr does not name {dir_text}: {err}"
    );
    for reason in reasons {
        assert!(
            err.to_lowercase().contains(&reason.to_lowercase()),
            "stderr does not say why (`{reason}`): {err}"
        );
    }
    assert!(!err.contains(value), "stderr holds the value: {err}");
    assert!(
        env.proxy.calls("GetSecretValue") >= 1,
        "answered without Secrets Manager: {err}"
    );
}

/// Asserts `out` is a plain cache hit: `value`, nothing on stderr, no call.
fn assert_hit(env: &TestEnv, out: &Output, value: &str) {
    assert_eq!(assert_success(out), format!("{value}\n"));
    assert_eq!(stderr(out), "", "a hit said something");
    assert_eq!(env.proxy.total_calls(), 0, "a hit called Secrets Manager");
}

/// A new environment and secret.
fn secret(prefix: &str, value: &str) -> (TestEnv, String) {
    let env = TestEnv::new();
    let (name, _) = env.new_secret(prefix, value);
    (env, name)
}

/// Injects: a cache directory with group or others bits, empty and then holding a
/// cache. It is refused, its mode is left as it is, and nothing is written inside.
#[test]
fn a_directory_open_to_group_or_others_is_refused_and_left_alone() {
    let value = "open-dir-value-4e21";
    for bits in [0o755, 0o750, 0o701, 0o770, 0o702] {
        let (env, name) = secret("hostile/mode", value);
        fs::create_dir(&env.cache_dir).expect("create cache dir");
        set_mode(&env.cache_dir, bits);
        for _ in 0..2 {
            let out = env.get(&name);
            assert_uncached(&env, &out, value, &env.cache_dir, &["group or others"]);
            assert_eq!(mode(&env.cache_dir), bits, "the mode was changed");
            assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());
            env.proxy.reset();
        }
    }

    let (env, [name]) = warm("hostile/mode-warm", [value]);
    set_mode(&env.cache_dir, 0o755);
    let before = snapshot(&env.cache_dir);
    let out = env.get(&name);
    assert_uncached(&env, &out, value, &env.cache_dir, &["group or others"]);
    assert_eq!(mode(&env.cache_dir), 0o755, "the mode was changed");
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: a cache directory (mode 0700) owned by another user, empty and then holding
/// a cache. It is refused, its owner is left as it is, and nothing is written inside.
#[test]
fn a_directory_owned_by_another_user_is_refused_and_left_alone() {
    if !needs_root("a_directory_owned_by_another_user_is_refused_and_left_alone") {
        return;
    }
    let value = "foreign-owner-value-90ad";
    let (env, name) = secret("hostile/owner", value);
    fs::create_dir(&env.cache_dir).expect("create cache dir");
    set_mode(&env.cache_dir, 0o700);
    std::os::unix::fs::chown(&env.cache_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    let out = env.get(&name);
    assert_uncached(&env, &out, value, &env.cache_dir, &["another user"]);
    let meta = fs::metadata(&env.cache_dir).expect("stat");
    assert_eq!(
        (meta.uid(), meta.gid(), mode(&env.cache_dir)),
        (NOBODY, NOBODY, 0o700)
    );
    assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());

    let (env, [name]) = warm("hostile/owner-warm", [value]);
    std::os::unix::fs::chown(&env.cache_dir, Some(NOBODY), None).expect("chown");
    let before = snapshot(&env.cache_dir);
    let out = env.get(&name);
    assert_uncached(&env, &out, value, &env.cache_dir, &["another user"]);
    assert_eq!(fs::metadata(&env.cache_dir).expect("stat").uid(), NOBODY);
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: a regular file where the cache directory should be. It is left as it is.
#[test]
fn a_file_in_place_of_the_directory_is_left_alone() {
    let value = "file-not-dir-value-c3b6";
    let (env, name) = secret("hostile/file", value);
    fs::write(&env.cache_dir, b"my notes, not a cache\n").expect("write file");
    let out = env.get(&name);
    assert_uncached(&env, &out, value, &env.cache_dir, &["not a directory"]);
    assert_eq!(
        fs::read(&env.cache_dir).expect("read file"),
        b"my notes, not a cache\n"
    );
}

/// A mount that is undone when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Runs `mount ARGS... TARGET`; `None`, after saying why, if this system refuses.
    fn new(args: &[&str], target: &Path) -> Option<Mount> {
        let out = Command::new("mount").args(args).arg(target).output().ok()?;
        if out.status.success() {
            return Some(Mount(target.to_owned()));
        }
        eprintln!("mount {args:?} {}: {}", target.display(), stderr(&out));
        None
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = run_tool("umount", &[&self.0]);
    }
}

/// Injects: the cache directory, holding a cache, bind-mounted read-only over itself.
/// smcache answers without the cache and says the file system is read-only.
#[test]
fn a_read_only_cache_directory_is_answered_around() {
    if !needs_root("a_read_only_cache_directory_is_answered_around") {
        return;
    }
    let value = "read-only-value-17f8";
    let cold_value = "read-only-cold-value-20b4";
    let (env, [name]) = warm("hostile/readonly", [value]);
    let (cold, _) = env.new_secret("hostile/readonly-cold", cold_value);
    let before = snapshot(&env.cache_dir);
    let Some(_mount) = Mount::new(
        &["--bind", "-o", "ro", env.cache_dir.to_str().unwrap()],
        &env.cache_dir,
    ) else {
        eprintln!("a_read_only_cache_directory_is_answered_around: skipped, no bind mount");
        return;
    };
    assert_eq!(
        File::create(env.cache_dir.join("probe"))
            .map_err(|e| e.kind())
            .err(),
        Some(ErrorKind::ReadOnlyFilesystem),
        "the bind mount is not read-only"
    );
    env.proxy.reset();
    for _ in 0..2 {
        assert_hit(&env, &env.get(&name), value);
        let out = env.get(&cold);
        assert_uncached(&env, &out, cold_value, &env.cache_dir, &["read-only"]);
        env.proxy.reset();
    }
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes(), cold.as_bytes()]);
}

/// `chattr ARGS... PATH`, undone with the opposite flag when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: &Path) -> Option<Immutable> {
        let out = run_tool(
            "chattr",
            &[OsStr::new("-R"), OsStr::new("+i"), path.as_os_str()],
        );
        if out.status.success() {
            return Some(Immutable(path.to_owned()));
        }
        eprintln!("chattr -R +i {}: {}", path.display(), stderr(&out));
        None
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = run_tool(
            "chattr",
            &[OsStr::new("-R"), OsStr::new("-i"), self.0.as_os_str()],
        );
    }
}

/// Injects: `chattr -R +i` on the cache directory, empty and then holding a cache
/// (root can write through any mode, but not into immutable files).
#[test]
fn an_immutable_cache_directory_is_answered_around() {
    if !needs_root("an_immutable_cache_directory_is_answered_around") {
        return;
    }
    let value = "immutable-value-6d0c";
    let (env, name) = secret("hostile/immutable", value);
    fs::create_dir(&env.cache_dir).expect("create cache dir");
    set_mode(&env.cache_dir, 0o700);
    let Some(flag) = Immutable::new(&env.cache_dir) else {
        eprintln!("an_immutable_cache_directory_is_answered_around: skipped, no chattr");
        return;
    };
    let out = env.get(&name);
    assert_uncached(&env, &out, value, &env.cache_dir, &["not permitted"]);
    assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());
    drop(flag);

    let (env, [name]) = warm("hostile/immutable-warm", [value]);
    let (cold, _) = env.new_secret("hostile/immutable-cold", "immutable-cold-value-5b1e");
    let before = snapshot(&env.cache_dir);
    let _flag = Immutable::new(&env.cache_dir).expect("chattr worked a moment ago");
    env.proxy.reset();
    assert_hit(&env, &env.get(&name), value);
    let out = env.get(&cold);
    assert_uncached(
        &env,
        &out,
        "immutable-cold-value-5b1e",
        &env.cache_dir,
        &["not permitted"],
    );
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// `smcache ARGS...` as the unprivileged user [`NOBODY`], with the test's environment.
fn run_as_nobody(env: &TestEnv, args: &[&str]) -> Output {
    let smcache = env.cmd();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--",
    ])
    .arg(smcache.get_program())
    .args(args)
    .env_clear()
    .current_dir(env.root())
    .stdin(Stdio::null());
    for (name, value) in smcache.get_envs() {
        if let Some(value) = value {
            cmd.env(name, value);
        }
    }
    cmd.output().expect("run setpriv")
}

/// Injects: an ordinary user whose cache directory is not writable for them: their own
/// private directory with mode 0500, then a cache directory to be made under a parent
/// they cannot write. Mode bits bind them, unlike root.
#[test]
fn an_unwritable_cache_directory_is_answered_around_for_an_ordinary_user() {
    if !needs_root("an_unwritable_cache_directory_is_answered_around_for_an_ordinary_user") {
        return;
    }
    let value = "unwritable-value-b5e2";
    let (env, name) = secret("hostile/unwritable", value);
    // The user must reach the directories; the temporary root is 0700 by default.
    set_mode(env.root(), 0o711);
    fs::create_dir(&env.cache_dir).expect("create cache dir");
    std::os::unix::fs::chown(&env.cache_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    set_mode(&env.cache_dir, 0o500);
    let out = run_as_nobody(&env, &["get", &name]);
    assert_uncached(&env, &out, value, &env.cache_dir, &["permission denied"]);
    assert_eq!(mode(&env.cache_dir), 0o500, "the mode was changed");
    assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());

    env.proxy.reset();
    let parent = env.root().join("not-mine");
    fs::create_dir(&parent).expect("create parent");
    set_mode(&parent, 0o755);
    let cache_dir = parent.join("cache");
    let dir_text = cache_dir.to_str().expect("UTF-8 path");
    let out = run_as_nobody(&env, &["--cache-dir", dir_text, "get", &name]);
    assert_uncached(&env, &out, value, &cache_dir, &["permission denied"]);
    assert!(!cache_dir.exists(), "a cache directory appeared");
}

/// Fills the file system holding `dir` with a file `dir/filler` until it is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("create filler");
    let block = vec![0x5a_u8; 4096];
    loop {
        match file.write_all(&block).and_then(|()| file.sync_all()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("fill {}: {e}", dir.display()),
        }
    }
    // A last partial block may still fit.
    let _ = file.write_all(&[0x5a; 1]);
    path
}

/// Injects: a cache on a 1 MiB tmpfs that is then filled to the last byte. A get that
/// must write (`--refresh`) and a cold get of another secret still print their values
/// with exit 0 and say the disk is full; once space is back, the cache is rebuilt.
#[test]
fn a_full_disk_is_answered_around_and_the_cache_recovers() {
    if !needs_root("a_full_disk_is_answered_around_and_the_cache_recovers") {
        return;
    }
    let (env, name) = secret("hostile/full", "full-disk-value-1-8c2f");
    let other = unique_name("hostile/full-other");
    env.moto.create_secret(&other, "full-disk-value-2-5a77");
    fs::create_dir(&env.cache_dir).expect("create cache dir");
    let Some(_mount) = Mount::new(
        &["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"],
        &env.cache_dir,
    ) else {
        eprintln!("a_full_disk_is_answered_around_and_the_cache_recovers: skipped, no tmpfs");
        return;
    };
    let out = env.get(&name);
    assert_eq!(assert_success(&out), "full-disk-value-1-8c2f\n");
    assert_eq!(stderr(&out), "", "the cache did not fit in 1 MiB");

    let filler = fill(&env.cache_dir);
    env.proxy.reset();
    let out = env.run(&["get", "--refresh", &name]);
    eprintln!("refresh on a full disk: {:?}", stderr(&out));
    assert_eq!(assert_success(&out), "full-disk-value-1-8c2f\n");
    let out = env.get(&other);
    eprintln!("cold get on a full disk: {:?}", stderr(&out));
    assert_eq!(assert_success(&out), "full-disk-value-2-5a77\n");
    assert!(
        stderr(&out).to_lowercase().contains("no space left"),
        "a cold get on a full disk does not say why its value was not cached: {}",
        stderr(&out)
    );

    fs::remove_file(filler).expect("remove filler");
    for _ in 0..2 {
        assert_eq!(assert_success(&env.get(&other)), "full-disk-value-2-5a77\n");
    }
    env.proxy.reset();
    let out = env.get(&other);
    assert_eq!(assert_success(&out), "full-disk-value-2-5a77\n");
    assert_eq!(stderr(&out), "");
    assert_eq!(
        env.proxy.total_calls(),
        0,
        "the cache did not recover with space back"
    );
    env.assert_no_plaintext(&[
        b"full-disk-value-1-8c2f",
        b"full-disk-value-2-5a77",
        name.as_bytes(),
        other.as_bytes(),
    ]);
}

/// Injects: a cache on a 1 MiB tmpfs that is then filled to the last byte. A full disk
/// is a reason not to write, not a damaged cache: while it is full smcache answers from
/// Secrets Manager and says why (sled cannot even open without writing), and once space
/// is back the entries cached before are still there.
#[test]
fn a_full_disk_does_not_cost_the_cached_entries() {
    if !needs_root("a_full_disk_does_not_cost_the_cached_entries") {
        return;
    }
    let value = "kept-on-full-disk-value-3e90";
    let (env, name) = secret("hostile/full-keep", value);
    let other = unique_name("hostile/full-keep-other");
    env.moto
        .create_secret(&other, "cold-on-full-disk-value-d418");
    fs::create_dir(&env.cache_dir).expect("create cache dir");
    let Some(_mount) = Mount::new(
        &["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"],
        &env.cache_dir,
    ) else {
        eprintln!("a_full_disk_does_not_cost_the_cached_entries: skipped, no tmpfs");
        return;
    };
    assert_eq!(assert_success(&env.get(&name)), format!("{value}\n"));
    let filler = fill(&env.cache_dir);

    // A hit needs no room; anything else does, and goes without the cache.
    env.proxy.reset();
    assert_hit(&env, &env.get(&name), value);
    let out = env.get(&other);
    assert_eq!(assert_success(&out), "cold-on-full-disk-value-d418\n");
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    fs::remove_file(filler).expect("remove filler");
    env.proxy.reset();
    let out = env.get(&name);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert_eq!(
        env.proxy.total_calls(),
        0,
        "the cached entry was lost on the full disk"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: `chattr +i` on a cached secret's hit file, so that it cannot be removed.
/// Purging that secret fails and says where, and changes nothing: the entry and its hit
/// file stay in step (a purged entry whose hit file went on answering would be worse).
/// Once the file is mutable again, the purge works and the secret is fetched again.
#[test]
fn an_entry_whose_hit_file_cannot_be_removed_is_not_changed() {
    if !needs_root("an_entry_whose_hit_file_cannot_be_removed_is_not_changed") {
        return;
    }
    let value = "pinned-hit-value-9a3e";
    let (env, [name]) = warm("hostile/pinned-hit", [value]);
    let hits = env.cache_dir.join("hits");
    let [file] = fs::read_dir(&hits)
        .expect("read the hit files")
        .map(|entry| entry.expect("hit-file entry").path())
        .collect::<Vec<_>>()
        .try_into()
        .expect("one hit file");
    let Some(flag) = Immutable::new(&file) else {
        eprintln!("an_entry_whose_hit_file_cannot_be_removed_is_not_changed: skipped, no chattr");
        return;
    };
    let out = env.run(&["purge", &name]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(hits.to_str().expect("UTF-8 path")) && err.contains("not permitted"),
        "stderr does not say what failed: {err}"
    );
    env.proxy.reset();
    assert_hit(&env, &env.get(&name), value);
    drop(flag);

    assert_success(&env.run(&["purge", &name]));
    assert!(!file.exists(), "the hit file outlived its entry");
    env.proxy.reset();
    assert_eq!(assert_success(&env.get(&name)), format!("{value}\n"));
    assert_eq!(
        env.proxy.calls("GetSecretValue"),
        1,
        "the purge did not take"
    );
}
