//! Output folders written as a unit.
//!
//! A command stages its whole output folder in a hidden sibling
//! (`.NAME.tmp-PID`) and swaps it in at the end: on Linux with one atomic
//! `renameat2(RENAME_EXCHANGE)`, so a reader, a crash or a full disk leaves
//! either the old folder or the new one, never a mix; a failed command
//! leaves the old folder untouched. A run replaces the folder whole, so
//! nothing another command wrote stays behind.
//!
//! Two writers to one folder refuse instead of interleaving: each holds an
//! advisory lock on a sibling `.NAME.lock` file from before it simulates
//! until its folder is in place; the operating system drops the lock when
//! a process dies, so a killed run never blocks the next one.

use super::AppError;
use std::fs::File;
use std::path::{Path, PathBuf};

/// An output folder being written: write into [`Staged::dir`], then
/// [`Staged::commit`]. Dropped without a commit, the staged files go.
pub struct Staged {
    target: PathBuf,
    tmp: PathBuf,
    committed: bool,
    _lock: File,
}

fn sibling(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.{suffix}"))
}

fn io(what: &Path, e: std::io::Error) -> AppError {
    AppError::Output(format!("cannot write {}: {e}", what.display()))
}

impl Staged {
    /// Lock `target` for this process and start an empty staging folder
    /// beside it. Refuses (exit 3) if another surge holds the lock.
    pub fn begin(target: &Path) -> Result<Staged, AppError> {
        let target = if target.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            target.to_path_buf()
        };
        // The folder is replaced whole: never the one we stand in, or one
        // above it (`--out .` would swap the working folder away).
        if let (Ok(t), Ok(cwd)) = (std::fs::canonicalize(&target), std::env::current_dir())
            && cwd.starts_with(&t)
        {
            return Err(AppError::Input(format!(
                "--out {}: expected a folder of its own, found the current folder (or one above it), which surge would replace whole; use e.g. --out output/NAME",
                target.display()
            )));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let lock_path = sibling(&target, "lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AppError::Output(format!(
                    "{} is being written by another surge (it holds {}); wait for it, or choose another --out",
                    target.display(),
                    lock_path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
        }
        // Left by a killed run: ours to clean now that we hold the lock.
        let stem = sibling(&target, "tmp-");
        if let (Some(dir), Some(prefix)) = (stem.parent(), stem.file_name()) {
            let prefix = prefix.to_string_lossy().into_owned();
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&prefix) {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let tmp = sibling(&target, &format!("tmp-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        Ok(Staged {
            target,
            tmp,
            committed: false,
            _lock: lock,
        })
    }

    /// Where to write the folder's files.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// The folder's final place.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Put every entry of the existing folder whose name `keep` accepts
    /// (files, and folders with their contents) into the staging folder,
    /// for commands that add to a folder, like `surge chart`.
    pub fn copy_existing(&self, keep: impl Fn(&str) -> bool) -> Result<(), AppError> {
        let Ok(entries) = std::fs::read_dir(&self.target) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if keep(&name) {
                copy_tree(&e.path(), &self.tmp.join(&name))?;
            }
        }
        Ok(())
    }

    /// Swap the staged folder in for the old one (or move it in place).
    pub fn commit(mut self) -> Result<(), AppError> {
        sync_dir(&self.tmp);
        if self.target.exists() {
            exchange(&self.tmp, &self.target).map_err(|e| io(&self.target, e))?;
            // `tmp` now holds the old folder.
            let _ = std::fs::remove_dir_all(&self.tmp);
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| io(&self.target, e))?;
        }
        if let Some(parent) = self.target.parent() {
            sync_dir(parent);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), AppError> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
        for e in std::fs::read_dir(from).map_err(|e| io(from, e))?.flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
    } else if from.is_file() {
        std::fs::copy(from, to).map_err(|e| io(to, e))?;
    }
    Ok(())
}

/// Flush a directory's entries to disk (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Atomically exchange two paths (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("a path with a NUL byte"))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths, relative to the current
    // directory; renameat2 reads them and touches no other memory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere: move the old folder aside, then the new one in (a reader may
/// find no folder for a moment, never a mix).
#[cfg(not(target_os = "linux"))]
fn exchange(new: &Path, target: &Path) -> std::io::Result<()> {
    let aside = new.with_extension("old");
    std::fs::rename(target, &aside)?;
    std::fs::rename(new, target)?;
    std::fs::rename(&aside, new)
}
