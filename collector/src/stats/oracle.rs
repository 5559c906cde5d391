//! The scanner against serde_json: wherever `scan` answers, `json` must read
//! the same [`Document`]; on every recorded fixture `scan` must answer.
//!
//! Documents come from the fixtures, from byte edits of them, and from a
//! generator of stats-shaped documents in which a chosen share of values is
//! junk (wrong types, `null`, floats, overflow, escapes, duplicate keys).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use super::document::Document;
use super::tests::all_stats_fixtures;
use super::{json, scan};

/// `scan`'s answer on `doc`, after checking it against serde_json's.
fn agreed(doc: &[u8]) -> Result<Option<Document>, TestCaseError> {
    let Some(fast) = scan::document(doc) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(doc);
    match json::document(doc) {
        Ok(reference) => prop_assert_eq!(&fast, &reference, "{}", text),
        Err(error) => prop_assert!(false, "scan read what serde_json rejects ({}): {}", error, text),
    }
    Ok(Some(fast))
}

#[test]
fn scan_reads_every_fixture_as_serde_does() {
    for (name, doc) in all_stats_fixtures() {
        assert!(agreed(doc).unwrap().is_some(), "scan gave up on {name}");
    }
}

#[test]
fn scan_gives_up_on_what_it_cannot_be_sure_of() {
    let read = r#""read":"2026-11-23T00:48:38Z""#;
    for doc in [
        format!(r#"{{{read},"name":"a\"b"}}"#),
        format!(r#"{{{read},"na\u006de":"x"}}"#),
        format!(r#"{{{read},"name":"é"}}"#),
        format!(r#"{{{read},"x":1.5}}"#),
        format!(r#"{{{read},"x":1e3}}"#),
        format!(r#"{{{read},"x":-}}"#),
        format!(r#"{{{read},"x":01}}"#),
        format!(r#"{{{read},"pids_stats":{{"current":18446744073709551616}}}}"#),
        format!(r#"{{{read},{read}}}"#),
        format!(r#"{{{read},"networks":{{"eth0":{{"rx_bytes":1}}}}}}"#),
        format!(r#"{{{read},"x":{}1{}}}"#, "[".repeat(40), "]".repeat(40)),
        format!(r#"{{{read}}} x"#),
        format!(r#"{{{read},}}"#),
        format!("{{{read},\"name\":\"tab\there\"}}"),
        format!("{{{read},\"x\":1\x0c}}"),
        format!(r#"{{{read},"cpu_stats":{{"cpu_usage":{{"percpu_usage":[1,2,]}}}}}}"#),
        format!(r#"{{{read},"blkio_stats":{{"io_service_bytes_recursive":[{{"op":"Read","value":1}},]}}}}"#),
        format!(r#"{{{read},"blkio_stats":{{"io_service_bytes_recursive":[{{"value":1}}]}}}}"#),
        format!(r#"{{{read},"pids_stats":{{"current":1,}}}}"#),
        format!(r#"{{{read},"memory_stats":{{"usage":1 "limit":2}}}}"#),
        format!(r#"{{{read},"x":[1 2]}}"#),
    ] {
        assert_eq!(scan::document(doc.as_bytes()), None, "{doc}");
    }
}

/// A key/value list as a JSON object, `space` around every token.
fn object_text(members: &[(String, String)], space: &str) -> String {
    let members: Vec<String> =
        members.iter().map(|(key, value)| format!("{space}\"{key}\"{space}:{space}{value}{space}")).collect();
    format!("{{{}}}", members.join(","))
}

/// Values as a JSON array.
fn array_text(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// Any value, valid or not, that may stand where the generator wants junk.
fn junk() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("null"),
        Just("true"),
        Just("false"),
        Just("0"),
        Just("-0"),
        Just("-1"),
        Just("1.5"),
        Just("2e3"),
        Just("01"),
        Just("18446744073709551615"),
        Just("18446744073709551616"),
        Just(r#""""#),
        Just(r#""Read""#),
        Just(r#""a\"b""#),
        Just(r#""\u0041""#),
        Just("\"é\""),
        Just("\"tab\there\""),
        Just(r#""2026-11-23T00:48:38Z""#),
        Just("nul"),
        Just("[1,]"),
        Just(r#"{"a":1,}"#),
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| array_text(&items)),
            vec((prop_oneof![Just("a"), Just("read"), Just("op"), Just("rx_bytes")], inner), 0..4).prop_map(
                |members| {
                    let members: Vec<(String, String)> =
                        members.into_iter().map(|(key, value)| (key.to_owned(), value)).collect();
                    object_text(&members, "")
                }
            ),
        ]
    })
    .boxed()
}

/// Any valid JSON value without escapes (what Docker may add one day).
fn any_json() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        10 => prop_oneof![Just("null"), Just("true"), Just("false"), Just("-0")].prop_map(str::to_owned),
        10 => any::<i64>().prop_map(|n| n.to_string()),
        10 => "[a-z0-9 :/._~-]{0,24}".prop_map(|text| format!("\"{text}\"")),
        1 => Just("0.25".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| array_text(&items)),
            vec(("[a-z_]{0,12}", inner), 0..4).prop_map(|members| object_text(&members, "")),
        ]
    })
    .boxed()
}

/// Generators of stats-shaped documents where `junk` values in 1000 are
/// replaced by [`junk`] (and as many keys repeated or dropped).
struct Shapes {
    junk: u32,
}

impl Shapes {
    /// `good`, or now and then junk.
    fn or_junk(&self, good: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![1000 - self.junk => good, self.junk.max(1) => junk()].boxed()
    }

    fn counter(&self) -> BoxedStrategy<String> {
        let number = prop_oneof![4 => Just(0_u64), 8 => 0_u64..100_000, 1 => any::<u64>()].prop_map(|n| n.to_string());
        // `null` is no value for an optional counter, an error elsewhere.
        self.or_junk(prop_oneof![100 => number, 1 => Just("null".to_owned())].boxed())
    }

    /// An object of these members, in any order, each usually once, with
    /// one unknown member now and then and some white space.
    fn object(&self, fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
        let rate = self.junk;
        let members: Vec<BoxedStrategy<Vec<(String, String)>>> = fields
            .into_iter()
            .map(|(key, value)| {
                prop_oneof![
                    rate + 15 => Just(Vec::new()),
                    1000 - rate => value.clone().prop_map(move |v| vec![(key.to_owned(), v)]),
                    rate.max(1) => vec(value, 2..=2).prop_map(move |v| v.into_iter().map(|v| (key.to_owned(), v)).collect()),
                ]
                .boxed()
            })
            .collect();
        // Unknown members, which the scanner must skip as serde does.
        let unknown = prop_oneof![3 => self.counter(), 1 => any_json(), self.junk.max(1) => junk()];
        let odd_key = prop_oneof![Just("x"), Just("re\\u0061d")];
        let extra = prop_oneof![
            4 * (1000 - rate) => Just(Vec::new()),
            1000 - rate => vec((Just("unknown"), unknown), 1..=1),
            rate.max(1) => vec((odd_key, junk()), 1..3),
        ];
        let space = prop_oneof![20 => Just(""), 1 => Just(" "), 1 => Just("\n  "), 1 => Just("\t")];
        let object = (members, extra, space)
            .prop_flat_map(|(members, extra, space)| {
                let mut all: Vec<(String, String)> = members.into_iter().flatten().collect();
                all.extend(extra.into_iter().map(|(key, value)| (key.to_owned(), value)));
                (Just(all).prop_shuffle(), Just(space))
            })
            .prop_map(|(members, space)| object_text(&members, space));
        self.or_junk(self.or_malformed(object.boxed()))
    }

    fn array(&self, item: BoxedStrategy<String>) -> BoxedStrategy<String> {
        self.or_junk(self.or_malformed(vec(item, 0..4).prop_map(|items| array_text(&items)).boxed()))
    }

    /// An array or object, now and then with a comma before its closing
    /// bracket or one of its commas dropped.
    fn or_malformed(&self, good: BoxedStrategy<String>) -> BoxedStrategy<String> {
        let broken = good.clone().prop_map(|mut text| {
            text.insert(text.len() - 1, ',');
            text
        });
        let merged = good.clone().prop_map(|text| text.replacen(',', " ", 1));
        prop_oneof![1000 - self.junk => good, self.junk.max(1) => broken, self.junk.max(1) => merged].boxed()
    }

    fn read(&self) -> BoxedStrategy<String> {
        let good = prop_oneof![
            8 => Just(r#""2026-11-23T00:48:38.78471862Z""#),
            1 => Just(r#""0001-01-01T00:00:00Z""#),
            1 => Just(r#""""#),
            1 => Just("null"),
            1 => Just(r#""2026-11-23t00:48:38z""#),
            1 => Just(r#""2016-12-31T23:59:60Z""#),
            1 => Just(r#""2026-11-23T09:48:38+09:00""#),
            1 => Just(r#""yesterday""#),
        ];
        self.or_junk(good.prop_map(str::to_owned).boxed())
    }

    fn interface(&self) -> BoxedStrategy<String> {
        self.object(vec![
            ("rx_bytes", self.counter()),
            ("rx_packets", self.counter()),
            ("rx_errors", self.counter()),
            ("rx_dropped", self.counter()),
            ("tx_bytes", self.counter()),
            ("tx_packets", self.counter()),
            ("tx_errors", self.counter()),
            ("tx_dropped", self.counter()),
        ])
    }

    fn cpu(&self) -> BoxedStrategy<String> {
        let usage = self.object(vec![
            ("total_usage", self.counter()),
            ("percpu_usage", self.array(self.counter())),
            ("usage_in_kernelmode", self.counter()),
            ("usage_in_usermode", self.counter()),
        ]);
        let throttling = self.object(vec![
            ("periods", self.counter()),
            ("throttled_periods", self.counter()),
            ("throttled_time", self.counter()),
        ]);
        self.object(vec![
            ("cpu_usage", usage),
            ("system_cpu_usage", self.counter()),
            ("online_cpus", self.counter()),
            ("throttling_data", throttling),
        ])
    }

    fn memory(&self) -> BoxedStrategy<String> {
        let keys = [
            "total_inactive_file",
            "inactive_file",
            "total_rss",
            "rss",
            "anon",
            "total_cache",
            "cache",
            "file",
            "pgfault",
        ];
        let stats = self.object(keys.into_iter().map(|key| (key, self.counter())).collect());
        self.object(vec![
            ("usage", self.counter()),
            ("max_usage", self.counter()),
            ("stats", stats),
            ("failcnt", self.counter()),
            ("limit", self.counter()),
        ])
    }

    fn blkio(&self) -> BoxedStrategy<String> {
        let op = prop_oneof![
            Just(r#""Read""#),
            Just(r#""read""#),
            Just(r#""Write""#),
            Just(r#""write""#),
            Just(r#""Sync""#)
        ];
        let entry = self.object(vec![
            ("major", self.counter()),
            ("op", self.or_junk(op.prop_map(str::to_owned).boxed())),
            ("value", self.counter()),
        ]);
        self.object(vec![
            ("io_service_bytes_recursive", self.array(entry.clone())),
            ("io_serviced_recursive", self.array(entry)),
        ])
    }

    fn networks(&self) -> BoxedStrategy<String> {
        let interfaces = vec((prop_oneof![Just("eth0"), Just("eth1")], self.interface()), 0..3).prop_map(|members| {
            let members: Vec<(String, String)> =
                members.into_iter().map(|(name, counters)| (name.to_owned(), counters)).collect();
            object_text(&members, "")
        });
        self.or_junk(interfaces.boxed())
    }

    fn document(&self) -> BoxedStrategy<String> {
        self.object(vec![
            ("read", self.read()),
            ("preread", self.read()),
            ("pids_stats", self.object(vec![("current", self.counter())])),
            ("blkio_stats", self.blkio()),
            ("cpu_stats", self.cpu()),
            ("precpu_stats", self.cpu()),
            ("memory_stats", self.memory()),
            ("name", Just(r#""/burn""#.to_owned()).boxed()),
            ("networks", self.networks()),
            ("network", self.interface()),
        ])
    }
}

/// Stats-shaped documents with no junk, a little, or a lot.
fn stats_documents() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just(0_u32), 2 => Just(3), 2 => Just(20), 1 => Just(100)]
        .prop_flat_map(|junk| Shapes { junk }.document())
}

proptest! {
    #![proptest_config(Config { cases: 1000, ..Config::default() })]

    #[test]
    fn scan_agrees_with_serde_on_generated_documents(doc in stats_documents()) {
        agreed(doc.as_bytes())?;
    }

    #[test]
    fn scan_agrees_with_serde_on_edited_fixtures(
        pick in any::<prop::sample::Index>(),
        edits in vec((any::<prop::sample::Index>(), 0..3_u8, prop::sample::select(b"0179\"\\,:{}[] \t\n-.eEn\x80\x1fa".to_vec())), 1..4),
    ) {
        let docs = all_stats_fixtures();
        let mut doc = docs[pick.index(docs.len())].1.clone();
        for (at, edit, byte) in edits {
            let at = at.index(doc.len());
            match edit {
                0 => doc[at] = byte,
                1 => drop(doc.remove(at)),
                _ => doc.insert(at, byte),
            }
        }
        agreed(&doc)?;
    }
}

proptest! {
    /// White space between tokens is skipped, in a string it is an error;
    /// form feed and vertical tab are no JSON white space.
    #[test]
    fn scan_agrees_with_serde_on_inserted_white_space(
        pick in any::<prop::sample::Index>(),
        inserts in vec((any::<prop::sample::Index>(), prop::sample::select(b" \t\n\r\x0c\x0b".to_vec())), 1..4),
    ) {
        let docs = all_stats_fixtures();
        let mut doc = docs[pick.index(docs.len())].1.clone();
        for (at, byte) in inserts {
            let at = at.index(doc.len());
            doc.insert(at, byte);
        }
        agreed(&doc)?;
    }
}

/// The generator is only worth its cases if the scanner answers on many of
/// them (so answers are compared) and gives up on many (so junk is made).
#[test]
fn generated_documents_exercise_both_paths() {
    let mut runner = TestRunner::deterministic();
    let strategy = stats_documents();
    let (mut answered, mut gave_up, mut with_time) = (0, 0, 0);
    for _ in 0..600 {
        let doc = strategy.new_tree(&mut runner).unwrap().current();
        match scan::document(doc.as_bytes()) {
            Some(document) => {
                answered += 1;
                with_time += usize::from(matches!(document.read, Some(super::document::ReadTime::At(_))));
            }
            None => gave_up += 1,
        }
    }
    assert!(
        answered >= 120 && gave_up >= 120 && with_time >= 80,
        "{answered} answered, {gave_up} gave up, {with_time} timed"
    );
}
