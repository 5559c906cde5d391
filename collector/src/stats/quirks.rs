//! What some daemons' stats documents get wrong, known from `/version`,
//! and set right after parsing, so that the store holds what the container
//! did and never a daemon's constant.

use kura_store::sample::{Field, Sample};

use crate::api::Version;

/// The corrections a daemon's stats need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Podman before 4.4 reports the bytes a container sent as received
    /// and the reverse (podman issue 16618, fixed by commit 75f6a1d in 4.4).
    pub swapped_network_bytes: bool,
    /// Podman before 5.0 writes 0 for every packet count (its compat API
    /// has no packet counters before podman PR 21534): not reported, not 0.
    pub no_network_packets: bool,
}

impl Quirks {
    /// The corrections for the daemon that answered `version`.
    pub fn of(version: &Version) -> Quirks {
        match version.podman() {
            Some(podman) => Quirks { swapped_network_bytes: podman < (4, 4), no_network_packets: podman < (5, 0) },
            None => Quirks::default(),
        }
    }

    /// Whether any correction applies.
    pub fn any(self) -> bool {
        self != Quirks::default()
    }

    /// What the corrections are, for the log.
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.swapped_network_bytes {
            parts.push("its network bytes received and sent are swapped (Podman before 4.4): kura swaps them back");
        }
        if self.no_network_packets {
            parts.push("it counts no network packets (Podman before 5.0): kura stores none");
        }
        parts.join("; ")
    }

    /// Sets a parsed sample right.
    pub fn apply(self, sample: &mut Sample) {
        if self.swapped_network_bytes {
            let (rx, tx) = (sample.get(Field::NetRxBytes), sample.get(Field::NetTxBytes));
            sample.set(Field::NetRxBytes, tx);
            sample.set(Field::NetTxBytes, rx);
        }
        if self.no_network_packets {
            sample.set(Field::NetRxPackets, None);
            sample.set(Field::NetTxPackets, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::sample::State;

    fn podman_fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/podman-4.3-cgroup-v1/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    fn version(components: &str) -> Version {
        let doc = format!(r#"{{"Version":"x","ApiVersion":"1.41","Components":{components}}}"#);
        crate::api::parse("version", doc.as_bytes()).unwrap()
    }

    #[test]
    fn podman_4_3_bytes_are_swapped_back_and_its_zero_packets_dropped() {
        let quirks = Quirks::of(&crate::api::parse("version", &podman_fixture("version.json")).unwrap());
        assert_eq!(quirks, Quirks { swapped_network_bytes: true, no_network_packets: true });
        // The httpd container served a 500 KiB file: it sent, it did not receive.
        let mut sample =
            crate::stats::parse_stats(&podman_fixture("stats_oneshot_srv.json"), State::Running).unwrap().unwrap();
        assert_eq!(sample.get(Field::NetRxBytes), Some(515_041));
        assert_eq!(sample.get(Field::NetRxPackets), Some(0));
        quirks.apply(&mut sample);
        assert_eq!(sample.get(Field::NetRxBytes), Some(3_581));
        assert_eq!(sample.get(Field::NetTxBytes), Some(515_041));
        assert_eq!(sample.get(Field::NetRxPackets), None);
        assert_eq!(sample.get(Field::NetTxPackets), None);
    }

    #[test]
    fn which_daemons_need_what() {
        let engine = |name: &str, v: &str| version(&format!(r#"[{{"Name":"{name}","Version":"{v}"}}]"#));
        assert_eq!(Quirks::of(&engine("Engine", "20.10.24+dfsg1")), Quirks::default());
        assert_eq!(Quirks::of(&version("null")), Quirks::default());
        assert_eq!(
            Quirks::of(&engine("Podman Engine", "4.4.0")),
            Quirks { swapped_network_bytes: false, no_network_packets: true }
        );
        assert_eq!(Quirks::of(&engine("Podman Engine", "5.0.0-rc1")), Quirks::default());
        assert!(!Quirks::default().any());
        assert!(Quirks::of(&engine("Podman Engine", "4.3.1")).describe().contains("swapped"));
    }
}
