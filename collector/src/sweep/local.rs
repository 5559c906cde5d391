//! Which source a host's running containers' counters come from
//! (`source`): the local cgroup files ([`CgroupFs`]) or the API.

use kura_store::endpoint::Endpoint;

use crate::config::{HostConfig, Source};
use crate::stats::cgroup::CgroupFs;

/// The host's cgroup files when its `source` asks for them and they can
/// be read; `None` (the API) otherwise, said in one line when the host
/// asked for them (`cgroupfs`, or `auto` on a local socket) and they
/// cannot be read.
pub fn local_source(config: &HostConfig) -> Option<CgroupFs> {
    let local_socket = matches!(config.endpoint, Endpoint::Unix(_));
    let asked = match config.source {
        Source::Api => return None,
        Source::Auto if !local_socket => return None,
        Source::Auto | Source::Cgroupfs => config.source,
    };
    match CgroupFs::probe(&config.cgroup_root) {
        Ok(fs) => {
            tracing::info!(host = %config.name, root = %config.cgroup_root.display(), hierarchy = ?fs.hierarchy(), "counters from the cgroup files");
            Some(fs)
        }
        Err(e) if asked == Source::Cgroupfs => {
            tracing::warn!(host = %config.name, "{e}; counters from the API instead");
            None
        }
        Err(e) => {
            tracing::info!(host = %config.name, "{e}; counters from the API");
            None
        }
    }
}
