//! The cache key: the canonical upstream target below the base URL, e.g.
//! `/campaigns/7` or `/campaigns/7/contacts?status=queue`.
//!
//! One string is at once the key of the cache, of the single-flight map and of
//! the shared cache in Redis, and the target of the upstream request, so the
//! entry a caller reads and the request that filled it cannot disagree.
//! Routing builds it (path parameters and query in canonical form); nothing
//! else does.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A canonical upstream target. Cheap to clone; hashes and compares as its
/// text, so a `&str` looks it up without building one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(Arc<str>);

impl CacheKey {
    /// Wraps a target routing has already put in canonical form.
    pub fn new(canonical_target: &str) -> CacheKey {
        CacheKey(Arc::from(canonical_target))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path part (before any `?`): the group a write or webhook invalidates.
    pub fn path(&self) -> &str {
        path_of(&self.0)
    }

    /// Bytes the cache charges for the key.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The path part of a target.
pub fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(p, _)| p)
}

impl Borrow<str> for CacheKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_str_finds_the_key_and_the_path_drops_the_query() {
        let k = CacheKey::new("/campaigns/7/contacts?status=queue");
        let mut m = HashMap::new();
        m.insert(k.clone(), 1);
        assert_eq!(m.get("/campaigns/7/contacts?status=queue"), Some(&1));
        assert_eq!(k.path(), "/campaigns/7/contacts");
        assert_eq!(CacheKey::new("/campaigns/7").path(), "/campaigns/7");
    }
}
