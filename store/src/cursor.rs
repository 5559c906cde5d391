//! Cursors: where each of the collector's forwardings stopped, by name, in
//! the `cursors` tree, so that a restart neither loses nor repeats what it
//! sends. The value is the forwarder's own document; the store keeps the
//! bytes. Written by the writer thread (the one writer), flushed at once.

use super::key::Tree;
use super::reader::Reader;
use super::{Store, StoreError};

impl Store {
    /// Stores the cursor `name` and flushes it to disk.
    pub fn put_cursor(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let handle = self.handle();
        handle.tree(Tree::Cursors).insert(name.as_bytes(), value).map_err(|e| handle.error(e))?;
        self.flush()
    }
}

impl Reader {
    /// The cursor `name`, as last stored.
    pub fn cursor(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv().get(Tree::Cursors, name.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    #[test]
    fn a_cursor_is_stored_and_read_back_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.put_cursor("hinemos", b"{\"a\":1}").unwrap();
        store.put_cursor("hinemos", b"{\"a\":2}").unwrap();
        drop(store);
        let reader = Reader::open(dir.path()).unwrap();
        assert_eq!(reader.cursor("hinemos").unwrap().as_deref(), Some(&b"{\"a\":2}"[..]));
        assert_eq!(reader.cursor("other").unwrap(), None);
    }
}
