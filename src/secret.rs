//! The Altur API key: loaded once, re-read from its file when it changes, and
//! exposed in exactly one place, [`ApiKey::authorization`].
//!
//! `Debug` prints `[REDACTED]`; nothing here logs or formats the value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use http::HeaderValue;

use crate::watched::{self, Health, Stamp};

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
    #[error("upstream.api_key_file: {0}")]
    File(watched::FileError),
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
    /// The key, and the stamp of the file version it came from.
    current: Mutex<(Secret, Option<Stamp>)>,
    health: Health,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("source", &self.source)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

const FILE_KEY: &str = "upstream.api_key_file";

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
            (Some(v), None) => Ok(Self::new(KeySource::Env, to_secret(&v, ENV_VAR)?, None)),
            (None, Some(path)) => {
                let (bytes, stamp) = watched::read(path).map_err(SecretError::File)?;
                let secret = to_secret(&String::from_utf8_lossy(&bytes), FILE_KEY)?;
                Ok(Self::new(
                    KeySource::File(path.to_path_buf()),
                    secret,
                    Some(stamp),
                ))
            }
        }
    }

    /// A fixed key, for the demo and tests.
    ///
    /// # Errors
    /// An empty key or one that is no valid header.
    pub fn fixed(key: &str) -> Result<ApiKey, SecretError> {
        Ok(Self::new(KeySource::Fixed, to_secret(key, "demo")?, None))
    }

    fn new(source: KeySource, secret: Secret, stamp: Option<Stamp>) -> ApiKey {
        ApiKey {
            source,
            current: Mutex::new((secret, stamp)),
            health: Health::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Secret, Option<Stamp>)> {
        // Plain assignments only: a poisoned lock still holds a valid key.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// How often re-reading the key file failed (a run of failures counts
    /// once; the last good key was kept).
    pub fn reload_failures(&self) -> u64 {
        self.health.failures()
    }

    /// Whether the last re-read of the key file failed.
    pub fn reload_failing(&self) -> bool {
        self.health.failing().is_some()
    }

    /// The `Authorization` header for the next upstream request: the one place
    /// the key leaves this module.
    ///
    /// With a key file, the file is looked at again first (a `stat`, and a
    /// read when it changed, on the blocking pool; at most
    /// `requests_per_second` times a second), so a rotated key is used by the
    /// very next request, whether the file was rewritten in place or replaced
    /// through a symlink swap as Kubernetes does. An unreadable, empty or
    /// unusable file keeps the last good key and logs an error once.
    pub async fn authorization(&self) -> HeaderValue {
        self.reload().await;
        self.lock().0.0.clone()
    }

    /// Re-reads the key file now if it changed (also on SIGHUP); true when
    /// the key changed.
    pub async fn reload(&self) -> bool {
        let KeySource::File(path) = &self.source else {
            return false;
        };
        let known = self.lock().1;
        let read = watched::read_if_changed(path, known)
            .await
            .map_err(SecretError::File)
            .and_then(|r| match r {
                None => Ok(None),
                Some((bytes, stamp)) => {
                    to_secret(&String::from_utf8_lossy(&bytes), FILE_KEY).map(|s| Some((s, stamp)))
                }
            });
        match read {
            Ok(None) => {
                self.recovered(path);
                false
            }
            Ok(Some((secret, stamp))) => {
                *self.lock() = (secret, Some(stamp));
                self.recovered(path);
                tracing::info!(path = %path.display(), "api key file changed; using the new key");
                true
            }
            Err(e) => {
                if self.health.failed(&e) {
                    tracing::error!(error = %e, "keeping the last good api key");
                }
                false
            }
        }
    }

    fn recovered(&self, path: &Path) {
        if self.health.ok() {
            tracing::info!(path = %path.display(), "api key file readable again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_never_shows_the_key() {
        let k = ApiKey::fixed("sk-very-secret").expect("valid");
        let shown = format!("{k:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("REDACTED"));
        assert_eq!(k.authorization().await, "api-key sk-very-secret");
        assert!(k.authorization().await.is_sensitive());
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

    #[tokio::test]
    async fn file_is_trimmed_reloaded_and_last_good_key_kept() {
        let dir = std::env::temp_dir().join(format!("altur-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("key");
        std::fs::write(&path, "  first\n").expect("write");
        let k = ApiKey::load(None, Some(&path)).expect("valid");
        assert_eq!(k.authorization().await, "api-key first");
        std::fs::write(&path, "second\n").expect("write");
        assert_eq!(k.authorization().await, "api-key second");
        std::fs::remove_file(&path).expect("rm");
        assert_eq!(k.authorization().await, "api-key second");
        assert_eq!(k.reload_failures(), 1);
        std::fs::write(&path, "\n").expect("write");
        assert_eq!(k.authorization().await, "api-key second");
        assert!(k.reload_failing());
        assert!(matches!(
            ApiKey::load(None, Some(&path)),
            Err(SecretError::Empty(_))
        ));
        std::fs::write(&path, "third").expect("write");
        assert_eq!(k.authorization().await, "api-key third");
        assert!(!k.reload_failing());
        assert_eq!(k.reload_failures(), 1, "one run of failures");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
