//! Hit files: one sealed file per fresh cache entry, so that a cache hit needs neither
//! sled nor the cache lock.
//!
//! Opening sled costs a process more than everything else a hit does (sled starts a
//! thread pool on every open), so the entries that can answer alone are also written,
//! sealed, to `hits/<slot in hex>` beside the database. A hit reads one such file; any
//! doubt about it (missing, not ours, not private, does not open, not fresh) sends the
//! caller to the database, which stays the record of truth. This module only moves
//! opaque bytes; what they hold and how they are sealed is [`crate::cache::hit`]'s.
//!
//! Rules that keep the files and the database in step:
//! - Only a process holding the store (and its lock) writes or removes hit files, and it
//!   removes an entry's hit file *before* changing the entry in the database, writing
//!   the new one after. A crash in between leaves no hit file, never a stale one.
//! - Emptying the database empties the directory first.
//! - A file is replaced by rename, so a reader sees a whole old file or a whole new one.
//!
//! Recency: a hit marks its file as used by moving its access time past its
//! modification time (one `futimens`, and only the first time after a write). Eviction
//! gives a marked entry a second chance instead of evicting it, and clears the mark.

use std::fs::{self, DirBuilder, File, FileTimes, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::{Mode, OFlags};

/// Name of the hit-file directory inside the cache directory.
const HITS_DIR: &str = "hits";
/// A hit file larger than this is not read (ten 64 KiB values and their metadata fit
/// many times over).
const MAX_FILE_LEN: u64 = 4 << 20;

/// The hit-file directory of one cache directory.
#[derive(Debug, Clone)]
pub struct HitFiles {
    dir: PathBuf,
}

impl HitFiles {
    /// The hit files of the cache in `cache_dir`, for a process that holds the store.
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join(HITS_DIR),
        }
    }

    /// The hit files of the cache in `cache_dir`, for reading without the store: `None`
    /// unless the cache directory and its hit-file directory are private directories of
    /// this user (the checks [`crate::store`] makes before it opens the cache), and the
    /// hit-file directory is writable by its owner: where a hit file could not be removed,
    /// none is trusted.
    pub fn for_reading(cache_dir: &Path) -> Option<Self> {
        let files = Self::new(cache_dir);
        let private_dir = |path: &Path| {
            fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir() && owned_and_private(&meta))
        };
        let removable = fs::symlink_metadata(&files.dir).is_ok_and(|meta| meta.mode() & 0o200 != 0);
        (private_dir(cache_dir) && private_dir(&files.dir) && removable).then_some(files)
    }

    /// The bytes of the hit file `name`, if there is one that is this user's, private and
    /// a plain file. Marks it as used.
    pub fn read(&self, name: &[u8; 32]) -> Option<Vec<u8>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut file = File::from(rustix::fs::open(self.path(name), flags, Mode::empty()).ok()?);
        let meta = file.metadata().ok()?;
        let trusted = meta.is_file() && owned_and_private(&meta) && meta.len() <= MAX_FILE_LEN;
        if !trusted {
            tracing::debug!("ignoring a hit file that is not a private file of this user");
            return None;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).ok()?;
        if !marked_used(&meta) {
            // Best effort: an unmarked hit only makes this entry an eviction candidate.
            let _ = file.set_times(FileTimes::new().set_accessed(SystemTime::now()));
        }
        Some(bytes)
    }

    /// Replaces the hit file `name` with `bytes`.
    pub fn write(&self, name: &[u8; 32], bytes: &[u8]) -> io::Result<()> {
        match DirBuilder::new().mode(0o700).create(&self.dir) {
            Err(err) if err.kind() != io::ErrorKind::AlreadyExists => return Err(err),
            _ => {}
        }
        let path = self.path(name);
        // Writers hold the store's lock, so one temporary name per file is enough.
        let temporary = path.with_extension("new");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(OFlags::NOFOLLOW.bits().cast_signed())
            .open(&temporary)?;
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&temporary, &path)
    }

    /// Removes the hit file `name`, if there is one. The caller must not change the
    /// entry when this fails: the file would go on answering for it.
    pub fn remove(&self, name: &[u8; 32]) -> io::Result<()> {
        match fs::remove_file(self.path(name)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[cfg(test)]
    fn exists(&self, name: &[u8; 32]) -> bool {
        fs::symlink_metadata(self.path(name)).is_ok()
    }

    /// Removes every hit file.
    pub fn clear(&self) -> io::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Whether the hit file `name` answered a hit since it was written or last forgotten.
    pub fn used(&self, name: &[u8; 32]) -> bool {
        fs::symlink_metadata(self.path(name)).is_ok_and(|meta| marked_used(&meta))
    }

    /// Clears the used mark of the hit file `name`.
    pub fn forget_use(&self, name: &[u8; 32]) {
        let Ok(file) = File::open(self.path(name)) else {
            return;
        };
        if let Ok(modified) = file.metadata().and_then(|meta| meta.modified()) {
            let _ = file.set_times(FileTimes::new().set_accessed(modified));
        }
    }

    fn path(&self, name: &[u8; 32]) -> PathBuf {
        let mut hex = String::with_capacity(64);
        for byte in name {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        self.dir.join(hex)
    }
}

/// Whether this user owns the file and nobody else may open it.
fn owned_and_private(meta: &fs::Metadata) -> bool {
    let open_to_others = meta.mode() & 0o077 != 0;
    meta.uid() == rustix::process::geteuid().as_raw() && !open_to_others
}

/// A file read since it was written has its access time past its modification time
/// (set by [`HitFiles::read`], or by the kernel's own `relatime` update).
fn marked_used(meta: &fs::Metadata) -> bool {
    (meta.atime(), meta.atime_nsec()) > (meta.mtime(), meta.mtime_nsec())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn private_dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        DirBuilder::new().mode(0o700).create(&dir).unwrap();
        (tmp, dir)
    }

    #[test]
    fn a_written_file_reads_back_and_is_marked_used_by_the_read() {
        let (_tmp, dir) = private_dir();
        let files = HitFiles::new(&dir);
        let name = [7; 32];
        files.write(&name, b"sealed bytes").unwrap();
        files.forget_use(&name);
        assert!(!files.used(&name));
        let reader = HitFiles::for_reading(&dir).unwrap();
        assert_eq!(reader.read(&name).as_deref(), Some(&b"sealed bytes"[..]));
        assert!(files.used(&name));
        files.forget_use(&name);
        assert!(!files.used(&name));
        let mode = fs::metadata(dir.join(HITS_DIR)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn files_that_are_not_private_or_not_files_are_not_read() {
        let (_tmp, dir) = private_dir();
        let files = HitFiles::new(&dir);
        let open = [1; 32];
        files.write(&open, b"x").unwrap();
        fs::set_permissions(files.path(&open), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(files.read(&open), None);
        let link = [2; 32];
        files.write(&[3; 32], b"y").unwrap();
        std::os::unix::fs::symlink(files.path(&[3; 32]), files.path(&link)).unwrap();
        assert_eq!(files.read(&link), None, "a symbolic link is not followed");
        assert_eq!(files.read(&[4; 32]), None);
    }

    #[test]
    fn a_cache_or_hit_directory_open_to_others_is_not_read_from() {
        let (_tmp, dir) = private_dir();
        assert!(HitFiles::for_reading(&dir).is_none(), "no hit files yet");
        HitFiles::new(&dir).write(&[1; 32], b"x").unwrap();
        assert!(HitFiles::for_reading(&dir).is_some());
        fs::set_permissions(dir.join(HITS_DIR), fs::Permissions::from_mode(0o770)).unwrap();
        assert!(
            HitFiles::for_reading(&dir).is_none(),
            "hits/ open to the group"
        );
        fs::set_permissions(dir.join(HITS_DIR), fs::Permissions::from_mode(0o500)).unwrap();
        assert!(HitFiles::for_reading(&dir).is_none(), "hits/ not writable");
        fs::set_permissions(dir.join(HITS_DIR), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            HitFiles::for_reading(&dir).is_none(),
            "the cache open to others"
        );
        assert!(HitFiles::for_reading(&dir.join("missing")).is_none());
    }

    #[test]
    fn remove_and_clear_take_the_files_away() {
        let (_tmp, dir) = private_dir();
        let files = HitFiles::new(&dir);
        files.write(&[1; 32], b"a").unwrap();
        files.write(&[2; 32], b"b").unwrap();
        files.remove(&[1; 32]).unwrap();
        files.remove(&[1; 32]).unwrap();
        assert!(!files.exists(&[1; 32]));
        assert!(files.exists(&[2; 32]));
        files.clear().unwrap();
        assert!(!dir.join(HITS_DIR).exists());
        files.clear().unwrap();
    }
}
