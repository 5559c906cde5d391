//! Behaviour of [`parse_stats`] on the recorded fixtures and on hand-made
//! documents: values, no-data documents, errors, and what it returned before
//! the fast path existed (`golden`).

use proptest::prelude::*;

use super::parse_stats;
use kura_store::sample::{Field, Sample, State};

/// The recorded documents: `<workspace>/fixtures`.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn v1(name: &str) -> Vec<u8> {
    fixture(&format!("docker-20.10-cgroup-v1/{name}"))
}

fn running(doc: &[u8]) -> Sample {
    parse_stats(doc, State::Running).unwrap().unwrap()
}

/// Every stats fixture, by name, read once.
pub(super) fn all_stats_fixtures() -> &'static [(String, Vec<u8>)] {
    static DOCS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    DOCS.get_or_init(read_stats_fixtures)
}

fn read_stats_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../fixtures/docker-20.10-cgroup-v1", env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("stats_"))
        .map(|name| {
            let doc = v1(&name);
            (name, doc)
        })
        .collect();
    for name in ["docker-cgroup-v2-stats-2023.json", "docker-1.6-stats-2015.json"] {
        docs.push((name.to_owned(), fixture(name)));
    }
    docs.sort();
    docs
}

/// What `parse_stats` returned for every fixture before the scanner existed
/// (the serde_json-only parser of commit 6a9a44c), in `Running` state: `None`
/// for a zero document, else the time, the fields in [`Field`] order and
/// `percpu_ns`. The fields from `CpuUserNs` on came later: their values were
/// read from the fixtures by a script of their own (Python's `json`).
type Golden = Option<(i64, [Option<u64>; kura_store::sample::FIELD_COUNT], &'static [u64])>;

#[rustfmt::skip]
const GOLDEN: [(&str, Golden); 20] = [
    ("docker-1.6-stats-2015.json", Some((1441490348423, [Some(19377187586), Some(2), Some(0), Some(14479360), Some(3609448448), Some(5312512), Some(8556544), Some(5922816), Some(5640192), Some(0), Some(1854), Some(23), Some(738), Some(9), None, Some(40000000), Some(60000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[10738949512, 8638238074]))),
    ("stats_burn.json", Some((1795394918784, [Some(8420285708), Some(2), Some(5941587195), Some(335872), Some(25276502016), Some(0), Some(61440), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(8280000000), Some(130000000), Some(171), Some(156), Some(0), Some(0), Some(0), Some(0), Some(0)], &[3549734151, 4870551557]))),
    ("stats_created.json", None),
    ("stats_exited0.json", None),
    ("stats_flappy.json", None),
    ("stats_oneshot_burn.json", Some((1795394919788, [Some(8914563318), Some(2), Some(6245702668), Some(335872), Some(25276502016), Some(0), Some(61440), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(8760000000), Some(140000000), Some(181), Some(165), Some(0), Some(0), Some(0), Some(0), Some(0)], &[3777079333, 5137483985]))),
    ("stats_oneshot_created.json", None),
    ("stats_oneshot_exited0.json", None),
    ("stats_oneshot_flappy.json", None),
    ("stats_oneshot_oom.json", None),
    ("stats_oneshot_paused.json", Some((1795394928823, [Some(23440393), Some(2), Some(0), Some(319488), Some(25276502016), Some(0), Some(49152), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(0), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[3650364, 19790029]))),
    ("stats_oneshot_procs.json", Some((1795394922798, [Some(27407943), Some(2), Some(0), Some(700416), Some(25276502016), Some(0), Some(200704), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(4), Some(10000000), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[12209398, 15198545]))),
    ("stats_oneshot_web1.json", Some((1795394916774, [Some(28378953), Some(2), Some(0), Some(360448), Some(67108864), Some(4096), Some(57344), Some(16384), Some(0), Some(0), Some(876), Some(10), Some(0), Some(0), Some(1), Some(10000000), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[18473303, 9905650]))),
    ("stats_oneshot_writer.json", Some((1795394925811, [Some(30138609), Some(2), Some(0), Some(21876736), Some(25276502016), Some(20971520), Some(49152), Some(20975616), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(0), Some(20000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[9673735, 20464874]))),
    ("stats_oom.json", None),
    ("stats_paused.json", Some((1795394927820, [Some(23440393), Some(2), Some(0), Some(319488), Some(25276502016), Some(0), Some(49152), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(0), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[3650364, 19790029]))),
    ("stats_procs.json", Some((1795394921795, [Some(27407943), Some(2), Some(0), Some(700416), Some(25276502016), Some(0), Some(200704), Some(0), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(4), Some(10000000), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[12209398, 15198545]))),
    ("stats_web1.json", Some((1795394915771, [Some(28378953), Some(2), Some(0), Some(360448), Some(67108864), Some(4096), Some(57344), Some(16384), Some(0), Some(0), Some(806), Some(9), Some(0), Some(0), Some(1), Some(10000000), Some(10000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[18473303, 9905650]))),
    ("stats_writer.json", Some((1795394924808, [Some(30138609), Some(2), Some(0), Some(21876736), Some(25276502016), Some(20971520), Some(49152), Some(20975616), Some(0), Some(0), Some(656), Some(8), Some(0), Some(0), Some(1), Some(0), Some(20000000), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)], &[9673735, 20464874]))),
    ("docker-cgroup-v2-stats-2023.json", Some((1691224640278, [Some(167978000), Some(4), Some(0), Some(856064), Some(4124508160), Some(0), Some(507904), Some(4096), Some(4096), Some(0), Some(2276), Some(30), Some(0), Some(0), Some(1), Some(53879000), Some(114098000), Some(0), Some(0), None, Some(0), Some(0), Some(0), Some(0)], &[]))),
];

#[test]
fn every_fixture_gives_what_it_gave_before_the_scanner() {
    let docs = all_stats_fixtures();
    assert_eq!(docs.len(), GOLDEN.len());
    for (name, doc) in docs {
        let (_, golden) = GOLDEN.iter().find(|(golden_name, _)| golden_name == name).unwrap();
        let expected = golden.map(|(time, fields, percpu_ns)| Sample {
            fields,
            percpu_ns: percpu_ns.to_vec(),
            ..Sample::state_only(time, State::Running)
        });
        assert_eq!(parse_stats(doc, State::Running).unwrap(), expected, "{name}");
    }
}

#[test]
fn v1_stream_false_document() {
    let s = running(&v1("stats_burn.json"));
    assert_eq!(s.time, 1_795_394_918_784);
    assert_eq!(s.state, State::Running);
    assert_eq!(s.get(Field::CpuTotalNs), Some(8_420_285_708));
    assert_eq!(s.percpu_ns, vec![3_549_734_151, 4_870_551_557]);
    assert_eq!(s.get(Field::OnlineCpus), Some(2));
    assert_eq!(s.get(Field::ThrottledNs), Some(5_941_587_195));
    assert_eq!(s.get(Field::MemUsage), Some(335_872));
    assert_eq!(s.get(Field::MemLimit), Some(25_276_502_016));
    assert_eq!(s.get(Field::MemInactiveFile), Some(0));
    assert_eq!(s.get(Field::MemRss), Some(61_440));
    assert_eq!(s.get(Field::MemCache), Some(0));
    // Empty blkio list on this kernel: zero bytes, as the docker CLI says.
    assert_eq!(s.get(Field::BlkReadBytes), Some(0));
    assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
    assert_eq!(s.get(Field::NetRxBytes), Some(656));
    assert_eq!(s.get(Field::NetRxPackets), Some(8));
    assert_eq!(s.get(Field::NetTxBytes), Some(0));
    assert_eq!(s.get(Field::NetTxPackets), Some(0));
    assert_eq!(s.get(Field::Pids), Some(1));
}

#[test]
fn v1_one_shot_document() {
    let s = parse_stats(&v1("stats_oneshot_burn.json"), State::Paused).unwrap().unwrap();
    assert_eq!(s.state, State::Paused);
    assert_eq!(s.time, 1_795_394_919_788);
    assert_eq!(s.get(Field::CpuTotalNs), Some(8_914_563_318));
    assert_eq!(s.percpu_ns, vec![3_777_079_333, 5_137_483_985]);
    assert_eq!(s.get(Field::ThrottledNs), Some(6_245_702_668));
}

#[test]
fn cgroup_v2_document() {
    let s = running(&fixture("docker-cgroup-v2-stats-2023.json"));
    assert_eq!(s.time, 1_691_224_640_278);
    assert_eq!(s.get(Field::CpuTotalNs), Some(167_978_000));
    assert!(s.percpu_ns.is_empty());
    assert_eq!(s.get(Field::OnlineCpus), Some(4));
    assert_eq!(s.get(Field::ThrottledNs), Some(0));
    assert_eq!(s.get(Field::MemUsage), Some(856_064));
    assert_eq!(s.get(Field::MemLimit), Some(4_124_508_160));
    assert_eq!(s.get(Field::MemInactiveFile), Some(0));
    assert_eq!(s.get(Field::MemRss), Some(507_904));
    assert_eq!(s.get(Field::MemCache), Some(4096));
    assert_eq!(s.get(Field::BlkReadBytes), Some(4096));
    assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
    assert_eq!(s.get(Field::NetRxBytes), Some(2276));
    assert_eq!(s.get(Field::NetRxPackets), Some(30));
    assert_eq!(s.get(Field::Pids), Some(1));
}

#[test]
fn docker_1_6_document() {
    let s = running(&fixture("docker-1.6-stats-2015.json"));
    assert_eq!(s.time, 1_441_490_348_423);
    assert_eq!(s.get(Field::CpuTotalNs), Some(19_377_187_586));
    assert_eq!(s.percpu_ns, vec![10_738_949_512, 8_638_238_074]);
    // No online_cpus in 2015: the length of percpu_usage.
    assert_eq!(s.get(Field::OnlineCpus), Some(2));
    assert_eq!(s.get(Field::MemUsage), Some(14_479_360));
    assert_eq!(s.get(Field::MemInactiveFile), Some(5_312_512));
    assert_eq!(s.get(Field::MemRss), Some(8_556_544));
    assert_eq!(s.get(Field::MemCache), Some(5_922_816));
    assert_eq!(s.get(Field::BlkReadBytes), Some(5_640_192));
    assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
    assert_eq!(s.get(Field::NetRxBytes), Some(1854));
    assert_eq!(s.get(Field::NetRxPackets), Some(23));
    assert_eq!(s.get(Field::NetTxBytes), Some(738));
    assert_eq!(s.get(Field::NetTxPackets), Some(9));
    assert_eq!(s.get(Field::Pids), None);
}

#[test]
fn every_fixture_parses_and_zero_documents_have_no_data() {
    let zero = [
        "stats_created.json",
        "stats_exited0.json",
        "stats_flappy.json",
        "stats_oom.json",
        "stats_oneshot_created.json",
        "stats_oneshot_exited0.json",
        "stats_oneshot_flappy.json",
        "stats_oneshot_oom.json",
    ];
    let docs = all_stats_fixtures();
    assert_eq!(docs.len(), 20);
    for (name, doc) in docs {
        let sample = parse_stats(doc, State::Running).unwrap_or_else(|e| panic!("{name}: {e}"));
        if zero.contains(&name.as_str()) {
            assert_eq!(sample, None, "{name}");
        } else {
            let sample = sample.unwrap_or_else(|| panic!("{name}: no data"));
            assert!(sample.time > 1_400_000_000_000, "{name}");
            for field in [Field::CpuTotalNs, Field::MemUsage, Field::MemLimit] {
                assert!(sample.get(field).is_some(), "{name}: {field:?}");
            }
        }
    }
}

#[test]
fn running_v1_fixtures_hold_their_values() {
    let procs = running(&v1("stats_procs.json"));
    assert_eq!(procs.get(Field::Pids), Some(4));
    let web1 = running(&v1("stats_web1.json"));
    assert_eq!(web1.get(Field::MemLimit), Some(64 * 1024 * 1024));
    let writer = running(&v1("stats_oneshot_writer.json"));
    assert!(writer.get(Field::MemCache).unwrap() > 0);
}

#[test]
fn no_data_documents() {
    for doc in [
        &b"{}"[..],
        br#"{"read":"0001-01-01T00:00:00Z","cpu_stats":{"cpu_usage":{"total_usage":0}}}"#,
        br#"{"cpu_stats":{"cpu_usage":{"total_usage":5}}}"#,
        br#"{"read":null}"#,
        br#"{"read":""}"#,
        b" {}\n",
    ] {
        assert_eq!(parse_stats(doc, State::Running).unwrap(), None, "{}", String::from_utf8_lossy(doc));
    }
}

fn error(doc: &str) -> String {
    match parse_stats(doc.as_bytes(), State::Running) {
        Err(e) => e.to_string(),
        Ok(s) => panic!("{doc} parsed as {s:?}"),
    }
}

#[test]
fn bad_documents_are_errors_that_say_why() {
    let read = r#""read":"2026-11-23T00:48:38Z""#;
    let cases = [
        ("null".to_owned(), "invalid type: null"),
        ("[]".to_owned(), "invalid type: sequence"),
        (String::new(), "ends early"),
        (r#"{"read":"2026-11"#.to_owned(), "ends early"),
        ("{'read': 1}".to_owned(), "not valid JSON"),
        (r#"{"read":42}"#.to_owned(), "invalid type: integer `42`"),
        (r#"{"read":"yesterday"}"#.to_owned(), "RFC 3339"),
        (format!(r#"{{"read":"{}"}}"#, "x".repeat(100)), &format!("\"{}\"", "x".repeat(40))),
        (format!(r#"{{{read},"memory_stats":{{"usage":-1}}}}"#), "invalid value: integer `-1`"),
        (format!(r#"{{{read},"memory_stats":{{"usage":18446744073709551616}}}}"#), "invalid type: floating point"),
        (format!(r#"{{{read},"memory_stats":{{"usage":1.5}}}}"#), "invalid type: floating point"),
        (format!(r#"{{{read},"memory_stats":[1,2]}}"#), "expected a JSON object"),
        (format!(r#"{{{read},"pids_stats":{{"current":"4"}}}}"#), "invalid type: string"),
        (format!(r#"{{{read},"networks":{{"eth0":{{"rx_bytes":1}}}}}}"#), "missing field `rx_packets`"),
        (
            format!(
                r#"{{{read},"blkio_stats":{{"io_service_bytes_recursive":[{{"op":"Read","value":18446744073709551615}},{{"op":"read","value":1}}]}}}}"#
            ),
            "overflow u64",
        ),
        (format!(r#"{{{read}}} trailing"#), "trailing characters"),
        (format!(r#"{{{read},{read}}}"#), "duplicate field"),
    ];
    for (doc, expected) in cases {
        let message = error(&doc);
        assert!(message.contains(expected), "{doc}: {message}");
    }
    assert!(error("{\n\"read\": 7}").contains("line 2 column"));
}

#[test]
fn percpu_is_cut_to_online_cpus() {
    let doc = br#"{"read":"2026-11-23T00:48:38Z","cpu_stats":{"cpu_usage":{"total_usage":30,"percpu_usage":[10,20,0,0]},"online_cpus":2}}"#;
    let s = running(doc);
    assert_eq!(s.percpu_ns, vec![10, 20]);
    assert_eq!(s.get(Field::OnlineCpus), Some(2));
    let doc = br#"{"read":"2026-11-23T00:48:38Z","cpu_stats":{"cpu_usage":{"total_usage":30,"percpu_usage":[10,20,0]},"online_cpus":0}}"#;
    let s = running(doc);
    assert_eq!(s.percpu_ns, vec![10, 20, 0]);
    assert_eq!(s.get(Field::OnlineCpus), Some(3));
}

#[test]
fn missing_sections_are_none_not_zero() {
    let s = running(br#"{"read":"2026-11-23T00:48:38Z","memory_stats":{}}"#);
    assert_eq!(s.fields, [None; kura_store::sample::FIELD_COUNT]);
    assert!(s.percpu_ns.is_empty());
    let s = running(
        br#"{"read":"2026-11-23T00:48:38Z","blkio_stats":{"io_service_bytes_recursive":null},"networks":null}"#,
    );
    assert_eq!(s.get(Field::BlkReadBytes), None);
    assert_eq!(s.get(Field::NetRxBytes), None);
}

#[test]
fn networks_sum_over_interfaces_and_win_over_network() {
    let doc = br#"{"read":"2026-11-23T00:48:38Z",
        "networks":{"eth0":{"rx_bytes":1,"rx_packets":2,"tx_bytes":3,"tx_packets":4},
                    "eth1":{"rx_bytes":10,"rx_packets":20,"tx_bytes":30,"tx_packets":40}},
        "network":{"rx_bytes":7,"rx_packets":7,"tx_bytes":7,"tx_packets":7}}"#;
    let s = running(doc);
    assert_eq!(s.get(Field::NetRxBytes), Some(11));
    assert_eq!(s.get(Field::NetRxPackets), Some(22));
    assert_eq!(s.get(Field::NetTxBytes), Some(33));
    assert_eq!(s.get(Field::NetTxPackets), Some(44));
}

#[test]
fn drops_and_errors_sum_over_interfaces_unless_one_lacks_them() {
    let doc = br#"{"read":"2026-11-23T00:48:38Z",
        "networks":{"eth0":{"rx_bytes":1,"rx_packets":2,"tx_bytes":3,"tx_packets":4,"rx_dropped":1,"rx_errors":2,"tx_dropped":3,"tx_errors":4},
                    "eth1":{"rx_bytes":10,"rx_packets":20,"tx_bytes":30,"tx_packets":40,"rx_dropped":10,"rx_errors":20,"tx_dropped":30}}}"#;
    let s = running(doc);
    assert_eq!(s.get(Field::NetRxDropped), Some(11));
    assert_eq!(s.get(Field::NetRxErrors), Some(22));
    assert_eq!(s.get(Field::NetTxDropped), Some(33));
    assert_eq!(s.get(Field::NetTxErrors), None, "eth1 has no tx_errors");
    let empty = running(br#"{"read":"2026-11-23T00:48:38Z","networks":{}}"#);
    assert_eq!(empty.get(Field::NetRxDropped), Some(0));
    let none = running(br#"{"read":"2026-11-23T00:48:38Z","networks":null}"#);
    assert_eq!(none.get(Field::NetRxDropped), None);
}

#[test]
fn failcnt_is_zero_on_cgroup_v1_when_docker_leaves_it_out_and_none_on_v2() {
    let read = r#""read":"2026-11-23T00:48:38Z""#;
    let doc = |memory: &str| format!(r#"{{{read},"memory_stats":{memory}}}"#);
    let failcnt = |memory: &str| running(doc(memory).as_bytes()).get(Field::MemFailcnt);
    assert_eq!(failcnt(r#"{"usage":1,"failcnt":7,"stats":{"total_rss":1}}"#), Some(7));
    assert_eq!(failcnt(r#"{"usage":1,"stats":{"total_rss":1,"total_cache":0}}"#), Some(0));
    assert_eq!(failcnt(r#"{"usage":1,"stats":{"cache":0}}"#), Some(0));
    assert_eq!(failcnt(r#"{"usage":1,"stats":{"anon":1,"file":0}}"#), None);
    assert_eq!(failcnt(r#"{"usage":1}"#), None);
    // The recorded documents: v1 without it, the 2015 one with it, v2.
    assert_eq!(running(&v1("stats_burn.json")).get(Field::MemFailcnt), Some(0));
    assert_eq!(running(&fixture("docker-1.6-stats-2015.json")).get(Field::MemFailcnt), Some(0));
    assert_eq!(running(&fixture("docker-cgroup-v2-stats-2023.json")).get(Field::MemFailcnt), None);
}

#[test]
fn cpu_modes_and_cfs_periods_are_read() {
    let s = running(&v1("stats_burn.json"));
    assert_eq!(s.get(Field::CpuUserNs), Some(8_280_000_000));
    assert_eq!(s.get(Field::CpuSystemNs), Some(130_000_000));
    assert_eq!(s.get(Field::CfsPeriods), Some(171));
    assert_eq!(s.get(Field::CfsThrottledPeriods), Some(156));
    let v2 = running(&fixture("docker-cgroup-v2-stats-2023.json"));
    assert_eq!(v2.get(Field::CpuUserNs), Some(53_879_000));
    assert_eq!(v2.get(Field::CpuSystemNs), Some(114_098_000));
}

#[test]
fn every_truncation_of_every_fixture_is_an_error() {
    for (name, doc) in all_stats_fixtures() {
        for len in 0..doc.trim_ascii_end().len() {
            assert!(parse_stats(&doc[..len], State::Running).is_err(), "{name} cut at {len}");
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(doc in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_any(&doc)?;
    }

    #[test]
    fn json_like_text_never_panics(doc in "[{}\\[\\]\":,.0-9eE+ -]{0,64}") {
        check_any(doc.as_bytes())?;
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let docs = all_stats_fixtures();
        let mut doc = docs[pick.index(docs.len())].1.clone();
        for (at, byte) in edits {
            let at = at.index(doc.len());
            doc[at] = byte;
        }
        check_any(&doc)?;
    }
}

/// Whatever the input: a sample of the given state, no data, or an error
/// with a message.
fn check_any(doc: &[u8]) -> Result<(), TestCaseError> {
    match parse_stats(doc, State::Dead) {
        Ok(Some(sample)) => prop_assert_eq!(sample.state, State::Dead),
        Ok(None) => {}
        Err(error) => prop_assert!(error.to_string().len() > 30),
    }
    Ok(())
}
