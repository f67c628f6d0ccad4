//! The callers file in force: loaded at start-up (a bad one stops it), then
//! re-read when it changes (a bad one keeps the last good table, logged,
//! counted and noted in `/readyz`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::callers::Callers;
use super::scopes::Scopes;
use crate::watched::{self, Health, Stamp};

/// How often the file is looked at (a `stat`; read only when it changed).
pub const POLL: Duration = Duration::from_secs(1);

/// The callers table and where it comes from.
pub struct CallersFile {
    path: Option<PathBuf>,
    anonymous: Scopes,
    table: ArcSwap<Callers>,
    stamp: Mutex<Option<Stamp>>,
    pub health: Health,
}

impl std::fmt::Debug for CallersFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallersFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CallersFile {
    /// Loads the file (or, without one, only the anonymous caller).
    ///
    /// # Errors
    /// A message naming the file and the problem.
    pub fn load(path: Option<&Path>, anonymous: Scopes) -> Result<CallersFile, String> {
        let (table, stamp) = match path {
            None => (Callers::anonymous_only(anonymous), None),
            Some(p) => {
                let (bytes, stamp) = watched::read(p).map_err(|e| format!("callers.file: {e}"))?;
                let table = Callers::parse(&bytes, anonymous, None)
                    .map_err(|e| format!("callers.file {}: {e}", p.display()))?;
                (table, Some(stamp))
            }
        };
        Ok(CallersFile {
            path: path.map(Path::to_path_buf),
            anonymous,
            table: ArcSwap::from_pointee(table),
            stamp: Mutex::new(stamp),
            health: Health::default(),
        })
    }

    /// The table in force. Cheap: no shared reference count is touched.
    pub fn current(&self) -> arc_swap::Guard<Arc<Callers>> {
        self.table.load()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn stamp(&self) -> std::sync::MutexGuard<'_, Option<Stamp>> {
        self.stamp.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the file if it changed; true when a new table is in force.
    pub async fn reload(&self) -> bool {
        let Some(path) = &self.path else { return false };
        let known = *self.stamp();
        let result = match watched::read_if_changed(path, known).await {
            Ok(None) => Ok(None),
            Ok(Some((bytes, stamp))) => {
                let previous = self.table.load();
                Callers::parse(&bytes, self.anonymous, Some(&previous))
                    .map(|t| Some((t, stamp)))
                    .map_err(|e| format!("callers.file {}: {e}", path.display()))
            }
            Err(e) => Err(format!("callers.file: {e}")),
        };
        match result {
            Ok(None) => {
                if self.health.ok() {
                    tracing::info!(path = %path.display(), "callers file usable again");
                }
                false
            }
            Ok(Some((table, stamp))) => {
                let names: Vec<String> = table.iter().map(|c| c.name.to_string()).collect();
                self.table.store(Arc::new(table));
                *self.stamp() = Some(stamp);
                self.health.ok();
                tracing::info!(path = %path.display(), callers = ?names, "callers file reloaded");
                true
            }
            Err(e) => {
                if self.health.failed(&e) {
                    tracing::error!(error = %e, "keeping the last good callers file");
                }
                false
            }
        }
    }

    /// Looks at the file every [`POLL`] while the gateway lives.
    pub fn watch(self: &Arc<Self>) {
        if self.path.is_none() {
            return;
        }
        let weak: Weak<CallersFile> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                let Some(file) = weak.upgrade() else { return };
                file.reload().await;
            }
        });
    }
}
