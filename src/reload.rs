//! SIGHUP: re-read every file the gateway watches, at once, and log what
//! changed. It never stops the process (without a handler, SIGHUP's default
//! action would end it, exit 129).
//!
//! The files are re-read on their own too (the key file before each upstream
//! request, the callers file every second); SIGHUP is the operator's "now"
//! (`systemctl reload`, `kill -HUP`), e.g. right after editing the callers
//! file, or for a file whose change its stamp cannot show.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::auth::file::CallersFile;
use crate::secret::{ApiKey, KeySource};
use crate::webhook::WebhookSecret;

/// What re-reading one file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// Not read from a file (e.g. the key from `ALTUR_API_KEY`): nothing to do.
    NotAFile,
    Unchanged,
    /// The new contents are in force; what changed, for the log.
    Changed(String),
    /// Unusable; the last good contents stay in force (the file logs why).
    Failed(String),
}

pub type Reloading<'a> = Pin<Box<dyn Future<Output = Reloaded> + Send + 'a>>;

/// A file the gateway watches, as SIGHUP re-reads it.
pub trait Watched: Send + Sync {
    /// Its name in the log: the setting it comes from.
    fn name(&self) -> &'static str;
    /// Re-reads it now if it changed.
    fn reload(&self) -> Reloading<'_>;
}

impl Watched for ApiKey {
    fn name(&self) -> &'static str {
        "upstream.api_key_file"
    }

    fn reload(&self) -> Reloading<'_> {
        Box::pin(async move {
            if !matches!(self.source(), KeySource::File(_)) {
                return Reloaded::NotAFile;
            }
            if ApiKey::reload(self).await {
                Reloaded::Changed("new api key in use".into())
            } else if self.reload_failing() {
                Reloaded::Failed("unusable; the last good key stays in use".into())
            } else {
                Reloaded::Unchanged
            }
        })
    }
}

impl Watched for WebhookSecret {
    fn name(&self) -> &'static str {
        "webhook.secret_file"
    }

    fn reload(&self) -> Reloading<'_> {
        Box::pin(async move {
            if WebhookSecret::reload(self).await {
                Reloaded::Changed("new webhook secret in use".into())
            } else if self.health.failing().is_some() {
                Reloaded::Failed("unusable; the last good secret stays in use".into())
            } else {
                Reloaded::Unchanged
            }
        })
    }
}

impl Watched for CallersFile {
    fn name(&self) -> &'static str {
        "callers.file"
    }

    fn reload(&self) -> Reloading<'_> {
        Box::pin(async move {
            if self.path().is_none() {
                return Reloaded::NotAFile;
            }
            let names = |f: &CallersFile| -> BTreeSet<String> {
                f.current().iter().map(|c| c.name.to_string()).collect()
            };
            let before = names(self);
            if CallersFile::reload(self).await {
                let after = names(self);
                let added: Vec<_> = after.difference(&before).collect();
                let removed: Vec<_> = before.difference(&after).collect();
                Reloaded::Changed(format!(
                    "{} callers in force; added {added:?}, removed {removed:?}",
                    after.len()
                ))
            } else if let Some(e) = self.health.failing() {
                Reloaded::Failed(format!("{e}; the last good callers file stays in force"))
            } else {
                Reloaded::Unchanged
            }
        })
    }
}

/// Every file SIGHUP re-reads.
pub struct Reloader {
    files: Vec<Arc<dyn Watched>>,
}

impl Reloader {
    /// `files`: every watched file, built in one place (`lib::run_with`).
    pub fn new(files: Vec<Arc<dyn Watched>>) -> Reloader {
        Reloader { files }
    }

    /// Re-reads every file, all at once, and logs one line per file and a
    /// summary. Returns what each one found.
    pub async fn reload_all(&self) -> Vec<(&'static str, Reloaded)> {
        let found = futures_join_all(
            self.files
                .iter()
                .map(|f| async move { (f.name(), f.reload().await) }),
        )
        .await;
        let mut changed = Vec::new();
        for (name, r) in &found {
            match r {
                Reloaded::Changed(what) => {
                    changed.push(*name);
                    tracing::info!(
                        file = name,
                        change = what.as_str(),
                        "SIGHUP: re-read, changed"
                    );
                }
                Reloaded::Failed(why) => {
                    tracing::error!(file = name, error = why.as_str(), "SIGHUP: re-read failed");
                }
                Reloaded::Unchanged => tracing::info!(file = name, "SIGHUP: re-read, unchanged"),
                Reloaded::NotAFile => {}
            }
        }
        tracing::info!(changed = ?changed, "SIGHUP: every watched file re-read");
        found
    }
}

/// Runs the futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Stops the SIGHUP listener when dropped (the gateway has stopped serving).
pub struct Listening(Option<tokio::task::JoinHandle<()>>);

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Installs the SIGHUP handler now (from here on SIGHUP no longer ends the
/// process) and re-reads every file on each SIGHUP until the returned guard
/// is dropped. Signals that arrive during a re-read are coalesced into one more.
pub fn on_sighup(reloader: Reloader) -> Listening {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => Listening(Some(tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    reloader.reload_all().await;
                }
            }))),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; files are still re-read when they change");
                Listening(None)
            }
        }
    }
    #[cfg(not(unix))]
    {
        drop(reloader);
        Listening(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scopes::Scopes;

    fn caller(name: &str) -> String {
        format!(
            "[[caller]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nscopes = [\"read\"]\nweight = 1\n",
            "ab".repeat(32)
        )
    }

    #[tokio::test]
    async fn every_file_is_re_read_and_what_changed_is_said() {
        let dir = std::env::temp_dir().join(format!("altur-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (key_path, callers_path) = (dir.join("key"), dir.join("callers.toml"));
        std::fs::write(&key_path, "first").expect("write");
        std::fs::write(&callers_path, caller("billing")).expect("write");
        let key = Arc::new(ApiKey::load(None, Some(&key_path)).expect("key"));
        let callers =
            Arc::new(CallersFile::load(Some(&callers_path), Scopes::default()).expect("callers"));
        let env_key = Arc::new(ApiKey::load(Some("k".into()), None).expect("key"));
        let r = Reloader::new(vec![key, callers, env_key]);
        assert_eq!(
            r.reload_all().await,
            [
                ("upstream.api_key_file", Reloaded::Unchanged),
                ("callers.file", Reloaded::Unchanged),
                ("upstream.api_key_file", Reloaded::NotAFile),
            ]
        );
        std::fs::write(&key_path, "second").expect("write");
        std::fs::write(&callers_path, caller("ops")).expect("write");
        let found = r.reload_all().await;
        assert!(matches!(found[0].1, Reloaded::Changed(_)), "{found:?}");
        assert_eq!(
            found[1].1,
            Reloaded::Changed("1 callers in force; added [\"ops\"], removed [\"billing\"]".into())
        );
        std::fs::write(&callers_path, "not toml [").expect("write");
        let found = r.reload_all().await;
        assert!(matches!(found[1].1, Reloaded::Failed(_)), "{found:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
