//! Go's `encoding/json` rules over borrowed slices of the request body, without a `serde_json::Value`
//! tree.
//!
//! A body is split into `&RawValue`s (a scan, no allocation) level by level: a struct collects its
//! keys and the raw text of their values first (so that Go's rules can be applied — case-insensitive
//! field names, `null` means absent, the last of two keys naming one field wins), then hands each
//! value to the field's type as another raw slice. Maps and lists stream: each value is given to the
//! element type as it is read, so a map with 10,000 keys (`HostConfig.PortBindings` for a port range)
//! costs its element type's work and nothing per key here. Strings without escapes reach the
//! visitors borrowed from the body.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::value::RawValue;

/// A JSON value of the body (its exact text), deserialized with Go's struct-field rules.
pub(crate) struct GoRaw<'de>(pub(crate) &'de RawValue);

/// The message of `e` without serde_json's `at line L column C`: positions inside a slice of the body
/// mean nothing to a client (and the `Value` decoder never had them).
pub(crate) fn plain_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    if e.line() == 0 {
        return s;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match s.strip_suffix(&suffix) {
        Some(m) => m.to_string(),
        None => s,
    }
}

fn rewrap<E: de::Error>(e: serde_json::Error) -> E {
    E::custom(plain_message(&e))
}

impl<'de> GoRaw<'de> {
    fn text(&self) -> &'de str {
        self.0.get().trim_matches(|c: char| c.is_ascii_whitespace())
    }

    fn is_null(&self) -> bool {
        self.text() == "null"
    }

    fn first(&self) -> u8 {
        self.text().as_bytes().first().copied().unwrap_or(b' ')
    }

    fn json(&self) -> serde_json::Deserializer<serde_json::de::StrRead<'de>> {
        serde_json::Deserializer::from_str(self.text())
    }

    /// What a non-object value is, for Go's "expected a JSON object" error.
    fn unexpected_kind(&self) -> Result<serde_json::Error, serde_json::Error> {
        let v: serde_json::Value = serde_json::from_str(self.text())?;
        Ok(de::Error::invalid_type(
            crate::json::unexpected(&v),
            &"a JSON object",
        ))
    }
}

/// A key borrowed from the body when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A struct's members as (field name after Go's matching, raw value), `null`s dropped, one per field.
fn struct_members<'de>(
    raw: &GoRaw<'de>,
    fields: &'static [&'static str],
) -> Result<Vec<(Cow<'de, str>, &'de RawValue)>, serde_json::Error> {
    struct Collect;
    impl<'de> Visitor<'de> for Collect {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Key(k)) = m.next_key()? {
                let v: &'de RawValue = m.next_value()?;
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let members = raw.json().deserialize_map(Collect)?;
    let mut out: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        // Go leaves the field at its zero value; so does an absent key.
        if GoRaw(value).is_null() {
            continue;
        }
        let name = field_name(key, fields);
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    Ok(out)
}

/// The exact field name when there is one, else the first that matches case-insensitively (Go).
fn field_name<'de>(key: Cow<'de, str>, fields: &'static [&'static str]) -> Cow<'de, str> {
    if fields.contains(&key.as_ref()) {
        return key;
    }
    match fields.iter().find(|f| f.eq_ignore_ascii_case(&key)) {
        Some(f) => Cow::Borrowed(f),
        None => key,
    }
}

impl<'de> Deserializer<'de> for GoRaw<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.first() {
            b'{' => self.json().deserialize_map(StreamMap(visitor)),
            b'[' => self.json().deserialize_seq(StreamSeq(visitor)),
            _ => self.json().deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.first() {
            b'{' => {
                let members = struct_members(&self, fields)?;
                visitor.visit_map(Members {
                    iter: members.into_iter(),
                    value: None,
                })
            }
            b'n' if self.is_null() => visitor.visit_map(Members {
                iter: Vec::new().into_iter(),
                value: None,
            }),
            _ => Err(self.unexpected_kind()?),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json().deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // Already scanned (and so valid JSON): nothing to look at.
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// A struct's collected members, handed to the derived visitor.
struct Members<'de> {
    iter: std::vec::IntoIter<(Cow<'de, str>, &'de RawValue)>,
    value: Option<&'de RawValue>,
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key = match k {
                    Cow::Borrowed(b) => seed.deserialize(de::value::BorrowedStrDeserializer::<
                        serde_json::Error,
                    >::new(b)),
                    Cow::Owned(o) => {
                        seed.deserialize(de::value::StringDeserializer::<serde_json::Error>::new(o))
                    }
                };
                key.map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(GoRaw(v)),
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A map read as it streams: keys as serde_json gives them, each value another [`GoRaw`].
struct StreamMap<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for StreamMap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(StreamMapAccess(m))
    }
}

struct StreamMapAccess<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StreamMapAccess<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let raw: &'de RawValue = self.0.next_value()?;
        seed.deserialize(GoRaw(raw)).map_err(rewrap)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A list read as it streams, each element another [`GoRaw`].
struct StreamSeq<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for StreamSeq<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.expecting(f)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(StreamSeqAccess(s))
    }
}

struct StreamSeqAccess<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StreamSeqAccess<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.0.next_element::<&'de RawValue>()? {
            Some(raw) => seed.deserialize(GoRaw(raw)).map(Some).map_err(rewrap),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}
