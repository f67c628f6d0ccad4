//! The Altur API key: loaded once, re-read from its file when it changes, and
//! exposed in exactly one place, [`ApiKey::authorization`].
//!
//! `Debug` prints `[REDACTED]`; nothing here logs or formats the value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use http::HeaderValue;

/// The environment variable that may hold the key.
pub const ENV_VAR: &str = "ALTUR_API_KEY";

/// Why no usable key could be had. Messages never contain the key.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "no API key: set the ALTUR_API_KEY environment variable or upstream.api_key_file (ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE)"
    )]
    Missing,
    #[error(
        "both ALTUR_API_KEY and upstream.api_key_file are set: pick one (unset ALTUR_API_KEY to use the file)"
    )]
    Both,
    #[error("cannot read upstream.api_key_file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the API key from {0} is empty")]
    Empty(&'static str),
    #[error("the API key from {0} has characters not allowed in an HTTP header")]
    NotHeaderSafe(&'static str),
}

/// The `Authorization` header value, built once per key. Marked sensitive so
/// HTTP/2 never puts it in an HPACK table.
#[derive(Clone)]
struct Secret(HeaderValue);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

fn to_secret(raw: &str, origin: &'static str) -> Result<Secret, SecretError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(SecretError::Empty(origin));
    }
    let mut value = HeaderValue::try_from(format!("api-key {key}"))
        .map_err(|_| SecretError::NotHeaderSafe(origin))?;
    value.set_sensitive(true);
    Ok(Secret(value))
}

/// Where the key comes from, for `check-config` and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    Fixed,
}

/// The current API key; can change at run time when read from a file.
pub struct ApiKey {
    source: KeySource,
    current: Mutex<(Secret, Vec<u8>)>,
    reload_failures: AtomicU64,
    /// The last re-read of the key file failed (the last good key is in use).
    reload_failing: AtomicBool,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("source", &self.source)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

impl ApiKey {
    /// Picks the key from `ALTUR_API_KEY` (`env`) or the key file, exactly one of them.
    ///
    /// # Errors
    /// Missing, both set, unreadable or empty file, or a value that is no valid header.
    pub fn load(env: Option<String>, file: Option<&Path>) -> Result<ApiKey, SecretError> {
        let env = env.filter(|v| !v.is_empty());
        match (env, file) {
            (Some(_), Some(_)) => Err(SecretError::Both),
            (None, None) => Err(SecretError::Missing),
            (Some(v), None) => Ok(Self::new(
                KeySource::Env,
                to_secret(&v, ENV_VAR)?,
                Vec::new(),
            )),
            (None, Some(path)) => {
                let bytes = read_file(path)?;
                let secret = to_secret(&String::from_utf8_lossy(&bytes), "upstream.api_key_file")?;
                Ok(Self::new(
                    KeySource::File(path.to_path_buf()),
                    secret,
                    bytes,
                ))
            }
        }
    }

    /// A fixed key, for the demo and tests.
    ///
    /// # Errors
    /// An empty key or one that is no valid header.
    pub fn fixed(key: &str) -> Result<ApiKey, SecretError> {
        Ok(Self::new(
            KeySource::Fixed,
            to_secret(key, "demo")?,
            Vec::new(),
        ))
    }

    fn new(source: KeySource, secret: Secret, raw: Vec<u8>) -> ApiKey {
        ApiKey {
            source,
            current: Mutex::new((secret, raw)),
            reload_failures: AtomicU64::new(0),
            reload_failing: AtomicBool::new(false),
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// How often re-reading the key file failed (the last good key was kept).
    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }

    /// Whether the last re-read of the key file failed.
    pub fn reload_failing(&self) -> bool {
        self.reload_failing.load(Ordering::Relaxed)
    }

    /// The `Authorization` header for the next upstream request: the one place
    /// the key leaves this module.
    ///
    /// With a key file, the file is read again first (a few microseconds; at
    /// most `requests_per_second` times a second), so a rotated key is used by
    /// the very next request, whether the file was rewritten in place or
    /// replaced through a symlink swap as Kubernetes does. An unreadable or
    /// empty file keeps the last good key and logs an error.
    pub fn authorization(&self) -> HeaderValue {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let KeySource::File(path) = &self.source {
            match read_file(path).and_then(|bytes| {
                if bytes == current.1 {
                    return Ok(None);
                }
                let s = to_secret(&String::from_utf8_lossy(&bytes), "upstream.api_key_file")?;
                Ok(Some((s, bytes)))
            }) {
                Ok(None) => self.reload_failing.store(false, Ordering::Relaxed),
                Ok(Some(new)) => {
                    *current = new;
                    self.reload_failing.store(false, Ordering::Relaxed);
                    tracing::info!(path = %path.display(), "api key file changed; using the new key");
                }
                Err(e) => {
                    self.reload_failures.fetch_add(1, Ordering::Relaxed);
                    self.reload_failing.store(true, Ordering::Relaxed);
                    tracing::error!(error = %e, "keeping the last good api key");
                }
            }
        }
        current.0.0.clone()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, SecretError> {
    // std::fs on purpose: the file is tiny, and tokio::fs would hop to the
    // blocking pool for every upstream request.
    std::fs::read(path).map_err(|e| SecretError::Unreadable {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let k = ApiKey::fixed("sk-very-secret").expect("valid");
        let shown = format!("{k:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("REDACTED"));
        assert_eq!(k.authorization(), "api-key sk-very-secret");
        assert!(k.authorization().is_sensitive());
    }

    #[test]
    fn exactly_one_source() {
        assert!(matches!(
            ApiKey::load(None, None),
            Err(SecretError::Missing)
        ));
        let msg = SecretError::Missing.to_string();
        assert!(msg.contains("ALTUR_API_KEY") && msg.contains("upstream.api_key_file"));
        assert!(matches!(
            ApiKey::load(Some("a".into()), Some(Path::new("/x"))),
            Err(SecretError::Both)
        ));
        assert!(matches!(
            ApiKey::load(Some("  ".into()), None),
            Err(SecretError::Empty(_))
        ));
        assert!(matches!(
            ApiKey::load(Some("bad\nkey".into()), None),
            Err(SecretError::NotHeaderSafe(_))
        ));
    }

    #[test]
    fn file_is_trimmed_reloaded_and_last_good_key_kept() {
        let dir = std::env::temp_dir().join(format!("altur-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("key");
        std::fs::write(&path, "  first\n").expect("write");
        let k = ApiKey::load(None, Some(&path)).expect("valid");
        assert_eq!(k.authorization(), "api-key first");
        std::fs::write(&path, "second\n").expect("write");
        assert_eq!(k.authorization(), "api-key second");
        std::fs::remove_file(&path).expect("rm");
        assert_eq!(k.authorization(), "api-key second");
        assert_eq!(k.reload_failures(), 1);
        std::fs::write(&path, "\n").expect("write");
        assert_eq!(k.authorization(), "api-key second");
        assert!(matches!(
            ApiKey::load(None, Some(&path)),
            Err(SecretError::Empty(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
