//! Host names that outlive the machine's: the name the store keeps the
//! implicit local host under, and renaming a host.
//!
//! Without a configured host the collector samples the local daemon under
//! this machine's host name. Machines get renamed (a cloned VM, a new
//! naming scheme); a store that followed would split one history into two
//! hosts, and every `kura` without `--host` would stop answering. So the
//! first name is recorded (`meta/local_host`) and kept; renaming the
//! history is an operator's decision, made with [`Store::rename_host`]
//! (`kura-collector --rename-host OLD=NEW`).

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::db::Store;
use crate::key::{self, Tree, HOST_LEN, SERIES_LEN};
use crate::reader::Scan;
use crate::record::SeriesInfo;
use crate::StoreError;

/// `meta` key of the name the implicit local host is kept under (UTF-8).
pub const META_LOCAL_HOST: &[u8] = b"local_host";

impl Store {
    /// The name to keep the implicit local host under: the one recorded
    /// first, else `current` (this machine's host name), recorded now.
    pub fn local_host_name(&self, current: &str) -> Result<String, StoreError> {
        let h = self.handle();
        let meta = h.tree(Tree::Meta);
        if let Some(name) = meta.get(META_LOCAL_HOST).map_err(|e| h.error(e))? {
            return String::from_utf8(name.to_vec()).map_err(|_| h.corrupt("meta/local_host is not UTF-8".to_owned()));
        }
        meta.insert(META_LOCAL_HOST, current.as_bytes()).map_err(|e| h.error(e))?;
        self.flush()?;
        Ok(current.to_owned())
    }

    /// Renames host `from` to `to`, its whole history with it (and the
    /// implicit local host's recorded name, if it was `from`), in one
    /// transaction. Returns the number of container series renamed. `to`
    /// must be a usable host name the store does not hold yet.
    pub fn rename_host(&self, from: &str, to: &str) -> Result<usize, StoreError> {
        let h = self.handle();
        let refuse = |detail: String| StoreError::Options { path: h.path().to_path_buf(), detail };
        crate::config::check_host_name(to).map_err(|e| refuse(e.to_string()))?;
        let hosts = h.tree(Tree::Hosts);
        let id = hosts
            .get(key::host(from))
            .map_err(|e| h.error(e))?
            .ok_or_else(|| StoreError::UnknownHost { path: h.path().to_path_buf(), host: from.to_owned() })?;
        if hosts.get(key::host(to)).map_err(|e| h.error(e))?.is_some() {
            return Err(refuse(format!("cannot rename host {from} to {to}: the store already holds a host {to}")));
        }
        let host: [u8; HOST_LEN] =
            id.as_ref().try_into().map_err(|_| h.corrupt(format!("host id of {from} is not 2 bytes")))?;
        let mut renamed = Vec::new();
        let mut bad = None;
        h.for_each(Tree::Series, &Scan::prefix(&host), |_, id| {
            let described = key::series_of(id).filter(|_| id.len() == SERIES_LEN).map(|series| {
                let json = h.tree(Tree::SeriesInfo).get(key::series_prefix(series)).ok().flatten();
                (series, json)
            });
            match described {
                Some((series, Some(json))) => renamed.push((series, json)),
                // Cut short by a crash before its description: nothing to rename.
                Some((_, None)) => {}
                None => bad = Some("a series id is not 4 bytes".to_owned()),
            }
            true
        })?;
        if let Some(detail) = bad {
            return Err(h.corrupt(detail));
        }
        let mut infos = Vec::with_capacity(renamed.len());
        for (series, json) in renamed {
            let mut info: SeriesInfo =
                serde_json::from_slice(&json).map_err(|e| h.corrupt(format!("series_info of series {series}: {e}")))?;
            to.clone_into(&mut info.host);
            let json =
                serde_json::to_vec(&info).map_err(|e| h.corrupt(format!("series_info of series {series}: {e}")))?;
            infos.push((key::series_prefix(series), json));
        }
        let local = h.tree(Tree::Meta).get(META_LOCAL_HOST).map_err(|e| h.error(e))?;
        let was_local = local.as_deref() == Some(from.as_bytes());
        let trees = (hosts, h.tree(Tree::SeriesInfo), h.tree(Tree::Meta));
        let done: Result<(), TransactionError<()>> = trees.transaction(|(hosts, series_info, meta)| {
            hosts.remove(key::host(from))?;
            hosts.insert(key::host(to), id.clone())?;
            for (series, json) in &infos {
                series_info.insert(series.as_slice(), json.as_slice())?;
            }
            if was_local {
                meta.insert(META_LOCAL_HOST, to.as_bytes())?;
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        match done {
            Ok(()) => {}
            Err(TransactionError::Storage(e)) => return Err(h.error(e)),
            Err(TransactionError::Abort(())) => return Err(h.corrupt("the rename was aborted".to_owned())),
        }
        // The writer caches host and series names: start it afresh.
        *self.writer() = crate::write::WriteState::default();
        self.flush()?;
        Ok(infos.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{Simulation, Simulator};
    use crate::{Reader, StoreOptions};

    #[test]
    fn the_first_local_name_is_kept_and_a_rename_moves_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions { block_rows: 4, ..StoreOptions::default() }).unwrap();
        assert_eq!(store.local_host_name("vm-a").unwrap(), "vm-a");
        assert_eq!(store.local_host_name("vm-b").unwrap(), "vm-a", "the machine was renamed: the store keeps its name");
        let simulation = |host: &str, start: i64| Simulation {
            host: host.to_owned(),
            sweeps: 10,
            start,
            ..Simulation::days(2, 1, 1_000)
        };
        Simulator::new(simulation("vm-a", 1_767_225_600_000)).run(&store).unwrap();
        let reader = Reader::Handle(store.read_handle());
        let before = reader.series("vm-a").unwrap();
        let samples = reader.samples(before[0].series, 0, i64::MAX).unwrap();
        let sweeps = reader.sweeps("vm-a", 0, i64::MAX).unwrap();
        assert_eq!(sweeps.len(), 10);

        assert_eq!(store.rename_host("vm-a", "vm-b").unwrap(), before.len());
        assert_eq!(reader.hosts().unwrap(), ["vm-b"]);
        let after = reader.series("vm-b").unwrap();
        let ids = |all: &[SeriesInfo]| all.iter().map(|s| s.series).collect::<Vec<_>>();
        assert_eq!(ids(&after), ids(&before));
        assert!(after.iter().all(|s| s.host == "vm-b"));
        assert_eq!(reader.samples(after[0].series, 0, i64::MAX).unwrap(), samples);
        assert_eq!(reader.sweeps("vm-b", 0, i64::MAX).unwrap(), sweeps);
        assert_eq!(store.local_host_name("vm-c").unwrap(), "vm-b", "the recorded local name follows the rename");
        // Sweeps go on under the new name, after the old ones.
        Simulator::new(simulation("vm-b", 1_767_225_700_000)).run(&store).unwrap();
        assert_eq!(reader.sweeps("vm-b", 0, i64::MAX).unwrap().len(), 20);
        assert_eq!(reader.hosts().unwrap(), ["vm-b"]);

        for (from, to, why) in
            [("vm-a", "x", "unknown host"), ("vm-b", "vm-b", "already holds"), ("vm-b", "a b", "letters")]
        {
            let error = store.rename_host(from, to).unwrap_err().to_string();
            assert!(error.contains(why), "{from} -> {to}: {error}");
        }
    }
}
