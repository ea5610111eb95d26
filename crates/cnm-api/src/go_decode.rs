//! Go's `encoding/json` rules over borrowed slices of the request body, without a `serde_json::Value`
//! tree.
//!
//! A struct collects its keys and the raw text of their values first (`&RawValue`s: a scan, no
//! allocation), so that Go's rules can be applied — case-insensitive field names, `null` means
//! absent, the last of two keys naming one field wins — then hands each value to the field's type as
//! another raw slice. Maps and lists stream: each value is given to the element type as serde_json
//! reads it, so a map with 10,000 keys (`HostConfig.PortBindings` for a port range) is read once, at
//! its element type's cost. Strings without escapes reach the visitors borrowed from the body.

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

    fn json(&self) -> serde_json::Deserializer<serde_json::de::StrRead<'de>> {
        serde_json::Deserializer::from_str(self.text())
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

/// A struct's members as (field name after Go's matching, raw value), `null`s dropped, one per field,
/// read from `d` in one pass. A `null` struct has none; anything but an object is refused with the
/// words of the `Value` decoder (`invalid type: number, expected a JSON object`).
fn struct_members<'de, D: Deserializer<'de>>(
    d: D,
    fields: &'static [&'static str],
) -> Result<Vec<(Cow<'de, str>, &'de RawValue)>, D::Error> {
    struct Collect;
    impl<'de> Visitor<'de> for Collect {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::invalid_type(de::Unexpected::Other("number"), &self))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::invalid_type(de::Unexpected::Other("number"), &self))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::invalid_type(de::Unexpected::Other("number"), &self))
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
    let members = d.deserialize_any(Collect)?;
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
        GoDirect(&mut self.json()).deserialize_any(visitor)
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
        let members = struct_members(&mut self.json(), fields)?;
        visitor.visit_map(Members {
            iter: members.into_iter(),
            value: None,
        })
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

/// Go's rules on a deserializer positioned at a value (serde_json's, inside a map or list being
/// read): maps, lists and options stream through with their values wrapped again, so they are read
/// once; only a struct takes its value's raw text first (a scan) to apply Go's field rules.
pub(crate) struct GoDirect<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for GoDirect<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_option(Wrap(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let members = struct_members(self.0, fields)?;
        visitor
            .visit_map(Members {
                iter: members.into_iter(),
                value: None,
            })
            .map_err(rewrap)
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
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// A visitor whose maps, lists and `Some` values are read with [`GoDirect`] again.
struct Wrap<V>(V);

macro_rules! forward_visits {
    ($($method:ident($t:ty)),* $(,)?) => {
        $(fn $method<E: de::Error>(self, v: $t) -> Result<Self::Value, E> {
            self.0.$method(v)
        })*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.expecting(f)
    }

    forward_visits! {
        visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_i128(i128), visit_u128(u128),
        visit_f64(f64), visit_char(char), visit_str(&str), visit_borrowed_str(&'de str),
        visit_string(String), visit_bytes(&[u8]), visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(GoDirect(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(GoDirect(d))
    }

    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(DirectMap(m))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(DirectSeq(s))
    }
}

/// A value seed whose deserializer is wrapped in [`GoDirect`].
struct DirectSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for DirectSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(GoDirect(d))
    }
}

struct DirectMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for DirectMap<A> {
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
        self.0.next_value_seed(DirectSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct DirectSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for DirectSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(DirectSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}
