//! The reference reader: serde_json into a [`Document`]. It reads whatever
//! the scanner gives up on and is the only source of [`StatsError`]s
//! (see `oracle` for how the two are kept in step).

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::document::{BlkioOp, BlkioTotals, Document, NetTotals, ReadTime};
use super::StatsError;

/// Reads `doc` with serde_json.
pub(super) fn document(doc: &[u8]) -> Result<Document, StatsError> {
    let Object(document) = serde_json::from_slice::<Object<Document>>(doc)?;
    Ok(document)
}

/// Deserializes `Option<T>` from `null` or a JSON object only. serde's derived
/// structs also accept an array (fields by position), which would read
/// garbage such as `"memory_stats": [1, 2]` as real values.
pub(super) fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Object<T>>::deserialize(deserializer).map(|o| o.map(|Object(inner)| inner))
}

/// A `T` that must come from a JSON object (see [`object`]). Its keys are
/// matched as raw bytes (see [`ByteKeys`]).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(ByteKeys(map))).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// A map whose keys are handed to the field visitor as raw bytes: serde_json
/// then skips the UTF-8 and control-character checks of a key (as it does for
/// every string of a skipped value): 16% fewer instructions on a cgroup v1
/// document. A key that is not valid UTF-8 is just an unknown field.
struct ByteKeys<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ByteKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(KeySeed(seed))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Wraps a key's seed so that it sees a [`ByteKey`] deserializer.
struct KeySeed<K>(K);

impl<'de, K: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for KeySeed<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        self.0.deserialize(ByteKey(deserializer))
    }
}

/// A key deserializer that reads identifiers as bytes.
struct ByteKey<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ByteKey<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum
    }
}

/// Deserializes the `networks` map (or `null`), summed over interfaces.
pub(super) fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NetTotals>, D::Error> {
    Option::<NetworksTotal>::deserialize(deserializer).map(|o| o.map(|NetworksTotal(total)| total))
}

/// `networks`, summed.
struct NetworksTotal(NetTotals);

impl<'de> Deserialize<'de> for NetworksTotal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NetworksVisitor;

        impl<'de> Visitor<'de> for NetworksVisitor {
            type Value = NetworksTotal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of interface names to network counters")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NetworksTotal, A::Error> {
                let mut total = NetTotals::ZERO;
                while map.next_key::<IgnoredAny>()?.is_some() {
                    let Object(interface) = map.next_value::<Object<NetTotals>>()?;
                    total = total
                        .checked_add(interface)
                        .ok_or_else(|| de::Error::custom("network counters summed over interfaces overflow u64"))?;
                }
                Ok(NetworksTotal(total))
            }
        }

        deserializer.deserialize_map(NetworksVisitor)
    }
}

impl<'de> Deserialize<'de> for ReadTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReadTimeVisitor;

        impl Visitor<'_> for ReadTimeVisitor {
            type Value = ReadTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ReadTime, E> {
                ReadTime::from_text(text).ok_or_else(|| {
                    // Quote at most 40 characters of a bad time.
                    let shown = text.char_indices().nth(40).map_or(text, |(end, _)| &text[..end]);
                    E::invalid_value(de::Unexpected::Str(shown), &"an RFC 3339 time")
                })
            }
        }

        deserializer.deserialize_str(ReadTimeVisitor)
    }
}

/// One entry of `io_service_bytes_recursive`.
#[derive(Deserialize)]
struct BlkioEntry {
    op: BlkioOp,
    value: u64,
}

impl<'de> Deserialize<'de> for BlkioOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OpVisitor;

        impl Visitor<'_> for OpVisitor {
            type Value = BlkioOp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a blkio op name")
            }

            fn visit_str<E: de::Error>(self, op: &str) -> Result<BlkioOp, E> {
                Ok(BlkioOp::from_name(op))
            }
        }

        deserializer.deserialize_str(OpVisitor)
    }
}

impl<'de> Deserialize<'de> for BlkioTotals {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = BlkioTotals;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of blkio entries")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BlkioTotals, A::Error> {
                let mut total = BlkioTotals::default();
                while let Some(Object(entry)) = seq.next_element::<Object<BlkioEntry>>()? {
                    total
                        .add(entry.op, entry.value)
                        .ok_or_else(|| de::Error::custom("blkio bytes summed over devices overflow u64"))?;
                }
                Ok(total)
            }
        }

        deserializer.deserialize_seq(EntriesVisitor)
    }
}
