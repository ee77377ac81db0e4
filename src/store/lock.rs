//! The lock that keeps a second hub off a database another hub writes.
//!
//! An exclusive `flock` on `<database>.lock`, taken before the database is
//! opened and held for the life of the [`Store`](super::Store). We do not use
//! SQLite's `locking_mode=EXCLUSIVE`: it is taken only at the first write
//! (a second hub would start, restore and only then fail), it would shut out
//! our own reader connections and `homebus db stats` while the hub runs, and
//! its error ("database is locked") does not say who holds it. The kernel
//! drops a `flock` when the process dies, even by `kill -9`, so a crash never
//! leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::StoreError;

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct LockFile {
    /// Kept open: the lock lives as long as this open file.
    file: File,
    /// `<database>.lock`.
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock of `database`, failing at once when another process holds it.
    pub fn acquire(database: &Path) -> Result<Self, StoreError> {
        let path = lock_path(database);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                action: "create the lock file",
                hint: "homebus needs write access to the database's directory (the lock, WAL and shared-memory files live beside the database); fix the permissions or set `server.database` to a writable place",
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(LockFile { file, path }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
                database: database.to_path_buf(),
                lock: path,
            }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                path,
                action: "lock",
                hint: "the file system may not support locks (a network share?); put the database on a local disk",
                source,
            }),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockFile {
    /// Unlocks before the file closes. Closing alone is not enough while a
    /// child process is being started elsewhere in this process: between
    /// its fork and its exec the child holds a copy of every descriptor,
    /// and with it this lock, so a hub reopened at once would find its own
    /// database "in use". An explicit unlock releases it for every copy.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// `<database>.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
