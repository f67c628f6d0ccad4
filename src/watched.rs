//! Files the gateway watches (the API key, the callers file, the webhook
//! secret): read safely, re-read when they change, the last good contents
//! kept when they break.
//!
//! Reading one must never stall request handling. A named pipe would block
//! `open` until a writer appears and a device could stream forever, so only
//! a regular file of at most [`MAX_BYTES`] is accepted: it is opened
//! non-blocking and checked on the open descriptor (a swap between a check
//! by path and the open cannot slip a pipe in), and read with a bound. The
//! read runs on tokio's blocking pool under a timeout, so even a hung
//! filesystem only delays the re-read, never a request.
//!
//! A change is noticed by the file's identity and size and times (`stat`
//! through symlinks), so an in-place rewrite and a Kubernetes symlink swap
//! (`..data` renamed onto a new directory) are both seen.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The largest watched file accepted.
pub const MAX_BYTES: u64 = 64 * 1024;
/// How long a re-read may take before it is given up (the last good stays).
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a watched file could not be used. Never holds its contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} is not a regular file")]
    NotRegular { path: String },
    #[error("{path} is larger than 64 KiB")]
    TooLarge { path: String },
    #[error("reading {path} took longer than {} s", READ_TIMEOUT.as_secs())]
    Timeout { path: String },
}

/// What identifies one version of a file: a different value means it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    fn of(m: &Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        }
    }
}

/// Reads `path` if it is a regular file of at most [`MAX_BYTES`], without
/// ever blocking on a pipe or device. Synchronous: call it at start-up, or
/// through [`read_async`].
///
/// # Errors
/// [`FileError`], naming the path, never the contents.
pub fn read(path: &Path) -> Result<(Vec<u8>, Stamp), FileError> {
    let shown = || path.display().to_string();
    let unreadable = |e: std::io::Error| FileError::Unreadable {
        path: shown(),
        reason: e.kind().to_string(),
    };
    // Cheap refusal by path first; the descriptor is checked again below.
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { path: shown() });
    }
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { path: shown() });
    }
    if meta.len() > MAX_BYTES {
        return Err(FileError::TooLarge { path: shown() });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(FileError::TooLarge { path: shown() });
    }
    Ok((bytes, Stamp::of(&meta)))
}

/// The file's current stamp, if it can be had.
///
/// # Errors
/// As [`read`].
pub fn stamp(path: &Path) -> Result<Stamp, FileError> {
    std::fs::metadata(path)
        .map(|m| Stamp::of(&m))
        .map_err(|e| FileError::Unreadable {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })
}

/// [`read`] on the blocking pool, unless the file's stamp is still `known`
/// (then `Ok(None)`), within a timeout.
///
/// # Errors
/// As [`read`], or [`FileError::Timeout`].
pub async fn read_if_changed(
    path: &Path,
    known: Option<Stamp>,
) -> Result<Option<(Vec<u8>, Stamp)>, FileError> {
    let owned: PathBuf = path.to_path_buf();
    let job = tokio::task::spawn_blocking(move || {
        if known.is_some() && stamp(&owned).ok() == known {
            return Ok(None);
        }
        read(&owned).map(Some)
    });
    match tokio::time::timeout(READ_TIMEOUT, job).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) | Err(_) => Err(FileError::Timeout {
            path: path.display().to_string(),
        }),
    }
}

/// Health of a watched file: counted failures (a run of failures counts
/// once) and the error while it lasts, for logs, metrics and `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<(u64, Option<String>)>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Option<String>)> {
        // Plain assignments only: a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a failed re-read; true when it starts a run of failures
    /// (log it then, not on every retry).
    pub fn failed(&self, e: &dyn std::fmt::Display) -> bool {
        let mut s = self.lock();
        let first = s.1.is_none();
        if first {
            s.0 += 1;
        }
        s.1 = Some(e.to_string());
        first
    }

    /// Records a good read; true when it ends a run of failures.
    pub fn ok(&self) -> bool {
        self.lock().1.take().is_some()
    }

    /// Runs of failures so far.
    pub fn failures(&self) -> u64 {
        self.lock().0
    }

    /// The current error, while the last re-read failed.
    pub fn failing(&self) -> Option<String> {
        self.lock().1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("altur-watched-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn a_pipe_a_directory_and_a_big_file_are_refused_at_once() {
        let d = dir("kinds");
        let fifo = d.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let t = std::time::Instant::now();
        assert!(matches!(read(&fifo), Err(FileError::NotRegular { .. })));
        assert!(t.elapsed() < Duration::from_secs(1), "did not block");
        assert!(matches!(read(&d), Err(FileError::NotRegular { .. })));
        let big = d.join("big");
        std::fs::write(&big, vec![b'k'; 64 * 1024 + 1]).expect("write");
        assert!(matches!(read(&big), Err(FileError::TooLarge { .. })));
        std::fs::write(&big, vec![b'k'; 64 * 1024]).expect("write");
        assert_eq!(read(&big).expect("at the limit").0.len(), 64 * 1024);
        let e = read(&d.join("missing")).expect_err("missing");
        assert!(e.to_string().contains("missing"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_change_is_seen_and_an_unchanged_file_is_not_read_again() {
        let d = dir("change");
        let p = d.join("f");
        std::fs::write(&p, "one").expect("write");
        let (bytes, s1) = read(&p).expect("read");
        assert_eq!(bytes, b"one");
        assert!(read_if_changed(&p, Some(s1)).await.expect("ok").is_none());
        std::fs::write(&p, "two!").expect("rewrite");
        let (bytes, _) = read_if_changed(&p, Some(s1))
            .await
            .expect("ok")
            .expect("changed");
        assert_eq!(bytes, b"two!");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_run_of_failures_counts_once() {
        let h = Health::default();
        assert!(h.failed(&"gone"));
        assert!(!h.failed(&"still gone"));
        assert_eq!(h.failures(), 1);
        assert_eq!(h.failing().as_deref(), Some("still gone"));
        assert!(h.ok());
        assert!(!h.ok());
        assert!(h.failed(&"again"));
        assert_eq!(h.failures(), 2);
    }
}
