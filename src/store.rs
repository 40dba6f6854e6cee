//! The on-disk store: a sled database in the cache directory.
//!
//! This is the only module that talks to sled. It knows nothing of secrets: it keeps
//! opaque byte records, applies batches of changes atomically, and guards the files:
//!
//! - The directory is created `0700` and must stay private: one that is not a plain
//!   directory owned by this user, or that group or others can open, is refused, never
//!   repaired silently.
//! - Files are created `0600`: the process umask is `077` while the store is open.
//! - sled locks its database for a whole process. A second process waits up to a bounded
//!   time on smcache's own lock file, then gives up; its caller answers uncached.
//! - A database sled cannot open (corrupt, truncated, foreign) is removed and rebuilt.
//! - The hit files ([`crate::hits`]) beside the database go whenever its records go.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::Mode;

use crate::hits::HitFiles;

/// Name of the lock file beside the database.
const LOCK_FILE: &str = "lock";
/// Name of sled's database directory inside the cache directory.
const DB_DIR: &str = "db";
/// Fetch locks are striped over this many files, named `fetch-00` .. `fetch-3f`.
const FETCH_STRIPES: u8 = 64;

/// The right to fetch the secrets of one stripe from Secrets Manager, held while the
/// cache itself is closed for the network call. Processes that want the same secret
/// wait for it and then read what the holder stored, instead of fetching it again.
#[derive(Debug)]
pub struct FetchClaim {
    _lock: File,
}

impl FetchClaim {
    /// Claims the stripe of `slot_byte` in the cache directory `dir`, waiting up to `wait`
    /// for another process to finish its fetch.
    pub fn acquire(dir: &Path, slot_byte: u8, wait: Duration) -> Result<Self, StoreError> {
        let name = format!("fetch-{:02x}", slot_byte % FETCH_STRIPES);
        lock_file(dir, &dir.join(name), wait).map(|lock| Self { _lock: lock })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache directory `{}` {reason}", path.display())]
    Insecure { path: PathBuf, reason: String },
    #[error("cache at `{}` is in use by another smcache process", path.display())]
    Busy { path: PathBuf },
    #[error("cache at `{}` cannot be used", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cache database at `{}` failed: {detail}", path.display())]
    Database { path: PathBuf, detail: String },
    /// The hook could not seal a record (no randomness): nothing is wrong with the files.
    #[error("sealing a cache record failed")]
    Seal,
}

/// A key and its value.
pub type Record = (Vec<u8>, Vec<u8>);

/// An open store. Holds the cache lock until dropped.
pub struct Store {
    /// `None` only while being dropped.
    db: Option<sled::Db>,
    path: PathBuf,
    dirty: bool,
    discard: bool,
    _lock: File,
    previous_umask: Mode,
}

/// One atomic set of changes.
#[derive(Default)]
pub struct Changes {
    batch: sled::Batch,
    empty: bool,
}

impl Changes {
    pub fn new() -> Self {
        Self {
            batch: sled::Batch::default(),
            empty: true,
        }
    }

    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.batch.insert(key.as_ref(), value.as_ref());
        self.empty = false;
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.batch.remove(key.as_ref());
        self.empty = false;
    }
}

impl Store {
    /// Opens the store in `dir`, creating it, waiting up to `wait` for another process
    /// to release it.
    pub fn open(dir: &Path, wait: Duration) -> Result<Self, StoreError> {
        let previous_umask = rustix::process::umask(Mode::from_raw_mode(0o077));
        match Self::open_inner(dir, wait, previous_umask) {
            Ok(store) => Ok(store),
            Err(err) => {
                rustix::process::umask(previous_umask);
                Err(err)
            }
        }
    }

    fn open_inner(dir: &Path, wait: Duration, previous_umask: Mode) -> Result<Self, StoreError> {
        let deadline = Instant::now() + wait;
        ensure_private_dir(dir)?;
        let lock = acquire_lock(dir, wait)?;
        let path = dir.join(DB_DIR);
        ensure_room(dir)?;
        let db = match open_db_waiting(&path, deadline) {
            Ok(db) => db,
            Err(OpenFailure::Locked) => {
                return Err(StoreError::Busy {
                    path: dir.to_owned(),
                });
            }
            Err(OpenFailure::Unusable(source)) => return Err(StoreError::Io { path, source }),
            Err(OpenFailure::Damaged(detail)) => {
                tracing::warn!("cache database was unreadable ({detail}); rebuilding it");
                // The hit files are copies of what is lost: they go first.
                if let Err(err) = HitFiles::new(dir).clear() {
                    tracing::debug!("could not remove the hit files: {err}");
                }
                remove_db(&path)?;
                open_db(&path).map_err(|failure| StoreError::Database {
                    path: path.clone(),
                    detail: failure.to_string(),
                })?
            }
        };
        Ok(Self {
            db: Some(db),
            path,
            dirty: false,
            discard: false,
            _lock: lock,
            previous_umask,
        })
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.guarded(|db| db.get(key).map(|v| v.map(|v| v.to_vec())))
    }

    /// All records whose key starts with `prefix`, in key order.
    pub fn scan(&self, prefix: &[u8]) -> Result<Vec<Record>, StoreError> {
        self.first_n(prefix, usize::MAX)
    }

    /// The first record whose key starts with `prefix`.
    pub fn first(&self, prefix: &[u8]) -> Result<Option<Record>, StoreError> {
        Ok(self.first_n(prefix, 1)?.pop())
    }

    /// The first `n` records whose key starts with `prefix`, in key order.
    pub fn first_n(&self, prefix: &[u8], n: usize) -> Result<Vec<Record>, StoreError> {
        self.guarded(|db| {
            db.scan_prefix(prefix)
                .take(n)
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect()
        })
    }

    /// Applies `changes` atomically: after a crash, all or none of them are there.
    pub fn apply(&mut self, changes: Changes) -> Result<(), StoreError> {
        if changes.empty {
            return Ok(());
        }
        self.dirty = true;
        self.guarded(|db| db.apply_batch(changes.batch))
    }

    /// Removes every record, and every hit file first.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        let hits = self.hit_files();
        hits.clear().map_err(|source| StoreError::Io {
            path: hits.dir().to_owned(),
            source,
        })?;
        self.dirty = true;
        self.guarded(|db| db.clear())
    }

    /// The hit files of this cache, which only a process holding the store may change.
    pub fn hit_files(&self) -> HitFiles {
        HitFiles::new(self.path.parent().unwrap_or(&self.path))
    }

    /// Writes what changed to disk. Called before the lock is released.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.dirty {
            self.guarded(|db| db.flush().map(drop))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Marks the database for removal when the store is dropped, for one that failed in
    /// use: the next process starts with a new one.
    pub fn discard(&mut self) {
        self.discard = true;
    }

    /// Runs a database operation; an error or a panic inside sled becomes a
    /// [`StoreError::Database`].
    fn guarded<T>(&self, op: impl FnOnce(&sled::Db) -> sled::Result<T>) -> Result<T, StoreError> {
        let db = self
            .db
            .as_ref()
            .expect("the database is open until the store is dropped");
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(db))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.db_error(err.to_string())),
            Err(_) => Err(self.db_error("the database library panicked".into())),
        }
    }

    fn db_error(&self, detail: String) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            detail,
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A failed flush (a full disk) loses the last changes at most: sled recovers
        // from a torn log on the next open, so the entries before stay.
        if !self.discard
            && let Err(err) = self.flush()
        {
            tracing::warn!("{}", crate::open::chain(&err));
        }
        // sled's files must be closed before its directory goes; the lock is still ours.
        drop(self.db.take());
        if self.discard {
            if let Err(err) = self.hit_files().clear() {
                tracing::warn!("{err}");
            }
            match remove_db(&self.path) {
                Ok(()) => tracing::debug!("removed the damaged cache database"),
                Err(err) => tracing::warn!("{err}"),
            }
        }
        rustix::process::umask(self.previous_umask);
    }
}

/// Why sled did not open a database.
#[derive(Debug)]
enum OpenFailure {
    /// sled's own lock is still held: a process that just released smcache's lock may
    /// hold it for a moment longer while it exits.
    Locked,
    /// The disk is full, read-only or not ours to write: rebuilding would not help, and
    /// would throw away entries that still answer once there is room.
    Unusable(io::Error),
    /// Anything else: the files are damaged.
    Damaged(String),
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Locked => f.write_str("the database is locked"),
            Self::Unusable(err) => write!(f, "{err}"),
            Self::Damaged(detail) => f.write_str(detail),
        }
    }
}

/// Opens the database, retrying while sled's own lock is held, until `deadline`.
fn open_db_waiting(path: &Path, deadline: Instant) -> Result<sled::Db, OpenFailure> {
    loop {
        match open_db(path) {
            Err(OpenFailure::Locked) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return other,
        }
    }
}

/// sled tuned for a process that lives for milliseconds: no background flusher (the
/// store flushes once before it lets go), and a small page cache.
fn open_db(path: &Path) -> Result<sled::Db, OpenFailure> {
    let config = sled::Config::new()
        .path(path)
        .flush_every_ms(None)
        .cache_capacity(1 << 20);
    // sled panics on some damaged files instead of returning an error.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(err))) => Err(classify_io(err)),
        Ok(Err(err)) => Err(OpenFailure::Damaged(err.to_string())),
        Err(_) => Err(OpenFailure::Damaged(
            "the database library panicked reading it".into(),
        )),
    }
}

fn classify_io(err: io::Error) -> OpenFailure {
    use rustix::io::Errno;

    // sled reports its lock as an `Other` error with this text, and nothing more typed.
    if err.to_string().contains("could not acquire lock") {
        return OpenFailure::Locked;
    }
    let unusable = [
        Errno::NOSPC,
        Errno::ROFS,
        Errno::ACCESS,
        Errno::PERM,
        Errno::DQUOT,
    ];
    match Errno::from_io_error(&err) {
        Some(errno) if unusable.contains(&errno) => OpenFailure::Unusable(err),
        _ => OpenFailure::Damaged(err.to_string()),
    }
}

fn remove_db(path: &Path) -> Result<(), StoreError> {
    // A foreign cache may have put a file, or a link, where the database should be.
    let is_dir = fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir());
    let removed = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// sled writes while it opens (a snapshot, a log segment header); when the disk fills up
/// in the middle of that, it can leave a torn snapshot that the next open reads as
/// corruption, and the cache would be lost. Below this much free space it is not opened.
const MIN_FREE_BYTES: u64 = 256 * 1024;

fn ensure_room(dir: &Path) -> Result<(), StoreError> {
    let Ok(stats) = rustix::fs::statvfs(dir) else {
        return Ok(());
    };
    if stats.f_bavail.saturating_mul(stats.f_frsize) < MIN_FREE_BYTES {
        let source = io::Error::from(rustix::io::Errno::NOSPC);
        return Err(StoreError::Io {
            path: dir.to_owned(),
            source,
        });
    }
    Ok(())
}

/// Creates `dir` as `0700` if it is missing, then checks that it is private.
fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => check_private(dir),
        Err(source) => Err(StoreError::Io {
            path: dir.to_owned(),
            source,
        }),
    }
}

fn check_private(dir: &Path) -> Result<(), StoreError> {
    let insecure = |reason: &str| StoreError::Insecure {
        path: dir.to_owned(),
        reason: reason.into(),
    };
    let meta = fs::symlink_metadata(dir).map_err(|source| StoreError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(insecure("is not a directory"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(insecure("is owned by another user"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(insecure("is open to group or others (chmod 700 it)"));
    }
    Ok(())
}

/// Takes smcache's lock on the cache, polling for up to `wait`.
fn acquire_lock(dir: &Path, wait: Duration) -> Result<File, StoreError> {
    lock_file(dir, &dir.join(LOCK_FILE), wait)
}

/// Locks the file at `path` (created `0600`), polling for up to `wait`.
fn lock_file(dir: &Path, path: &Path, wait: Duration) -> Result<File, StoreError> {
    let path = path.to_owned();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: dir.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Io { path, source });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_directory_and_private_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let mut store = Store::open(&dir, Duration::ZERO).unwrap();
        let mut changes = Changes::new();
        changes.insert(b"k", b"v");
        store.apply(changes).unwrap();
        drop(store);
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        for entry in walk(&dir) {
            let mode = fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
            if entry.is_file() {
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.display());
            }
        }
    }

    #[test]
    fn refuses_a_directory_open_to_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = Store::open(&dir, Duration::ZERO).err().unwrap();
        assert!(matches!(err, StoreError::Insecure { .. }), "{err}");
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_second_opener_is_told_the_cache_is_busy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let _first = Store::open(&dir, Duration::ZERO).unwrap();
        let second = Store::open(&dir, Duration::from_millis(30));
        assert!(matches!(second, Err(StoreError::Busy { .. })));
    }

    #[test]
    fn records_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let mut store = Store::open(&dir, Duration::ZERO).unwrap();
        let mut changes = Changes::new();
        changes.insert(b"a1", b"x");
        changes.insert(b"a2", b"y");
        changes.insert(b"b1", b"z");
        store.apply(changes).unwrap();
        drop(store);
        let store = Store::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(store.get(b"a2").unwrap().as_deref(), Some(&b"y"[..]));
        assert_eq!(store.scan(b"a").unwrap().len(), 2);
        assert_eq!(store.first(b"b").unwrap().unwrap().1, b"z");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
        out
    }
}
