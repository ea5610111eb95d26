//! JSON encoding as Docker does it, and request decoding with the rules of Go's `encoding/json`.
//!
//! Encoding: compact, keys in struct declaration order, map keys sorted, one `"\n"` at the end.
//!
//! Decoding ([`decode_json_body`]): like moby's handlers, which use Go's decoder —
//! * object keys match struct fields **case-insensitively** (exact spelling preferred), for every
//!   nested struct, not only the spellings listed as serde aliases;
//! * `null` for a field is the same as leaving the field out (its default);
//! * unknown fields are ignored; when two keys name the same field, the last one wins;
//! * only the first JSON value of the body is read (20.10 ignored trailing bytes);
//! * a truncated body is `400 unexpected EOF`, an empty one `400 got EOF while reading request body`.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Compact JSON of `value` followed by `"\n"`: the exact body bytes dockerd writes.
///
/// Serializing the wire types of this crate cannot fail (string map keys only); should a foreign
/// type fail anyway, the result is `"null\n"`.
///
/// Like Go's encoder (with `SetEscapeHTML(false)`, as moby uses it), `<`, `>` and `&` are written
/// as they are, while U+2028 and U+2029 are escaped as `\u2028` / `\u2029`.
pub fn to_json_body<T: Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, GoFormatter);
    if value.serialize(&mut ser).is_err() {
        return "null\n".to_string();
    }
    buf.push(b'\n');
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Compact output with Go's extra escapes of the JavaScript line terminators.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(['\u{2028}', '\u{2029}']) {
            writer.write_all(&rest.as_bytes()[..i])?;
            let c = &rest[i..i + 3];
            writer.write_all(if c == "\u{2028}" {
                b"\\u2028"
            } else {
                b"\\u2029"
            })?;
            rest = &rest[i + 3..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// Decodes a request body the way moby's handlers do (see the module docs). An empty body (or only
/// whitespace) is an error, as in Docker 20.10's `POST /networks/create`.
pub fn decode_json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match decode_json_body_opt(body)? {
        Some(v) => Ok(v),
        None => Err(ApiError::bad_request("got EOF while reading request body")),
    }
}

/// Like [`decode_json_body`], but an empty body gives `Ok(None)` (Docker ≥ 23 accepts an empty body
/// on most routes and uses the defaults).
pub fn decode_json_body_opt<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    // Straight from the body: a struct reads its members' text in one pass (which checks the syntax
    // of the whole object before any field is decoded), maps and lists stream (go_decode.rs).
    let mut de = serde_json::Deserializer::from_slice(body);
    let err = match T::deserialize(crate::go_decode::GoDirect(&mut de)) {
        Ok(v) => return Ok(Some(v)),
        Err(e) => e,
    };
    if matches!(
        err.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    ) {
        return Err(json_error(body, &err));
    }
    // A refused value: the error a syntax check of the whole first value, then the types, give
    // (a body that is not an object is refused for its syntax first, as Go's decoder does).
    let mut stream =
        serde_json::Deserializer::from_slice(body).into_iter::<&serde_json::value::RawValue>();
    let raw = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(json_error(body, &e)),
        None => return Ok(None),
    };
    T::deserialize(crate::go_decode::GoRaw(raw))
        .map(Some)
        .map_err(|e| ApiError::bad_request(crate::go_decode::plain_message(&e)))
}

fn json_error(body: &[u8], e: &serde_json::Error) -> ApiError {
    match e.classify() {
        serde_json::error::Category::Eof => ApiError::bad_request("unexpected EOF"),
        // Go's wording of the same syntax error; serde's own text only if Go would accept the body.
        serde_json::error::Category::Syntax => ApiError::bad_request(
            crate::go_syntax::go_syntax_error(body).unwrap_or_else(|| e.to_string()),
        ),
        _ => ApiError::bad_request(e.to_string()),
    }
}

/// Deserializes `T` from a parsed JSON value with Go's decoding rules (the same rules as
/// [`decode_json_body`], for a body already parsed into a tree) (case-insensitive field
/// names, `null` = absent). See the module docs.
pub fn from_value_go<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(GoValue(value))
}

/// A `serde_json::Value` deserializer with Go's struct-field rules.
struct GoValue(Value);

fn fold_keys(map: Map<String, Value>, fields: &'static [&'static str]) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        if value.is_null() {
            // Go leaves the field at its zero value; so does an absent key.
            continue;
        }
        let name = if fields.contains(&key.as_str()) {
            key
        } else if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(&key)) {
            (*f).to_string()
        } else {
            key
        };
        out.insert(name, value);
    }
    out
}

impl<'de> Deserializer<'de> for GoValue {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(GoMap {
                iter: m.into_iter(),
                value: None,
            }),
            Value::Array(a) => visitor.visit_seq(GoSeq {
                iter: a.into_iter(),
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(GoMap {
                iter: fold_keys(m, fields).into_iter(),
                value: None,
            }),
            Value::Null => visitor.visit_map(GoMap {
                iter: Map::new().into_iter(),
                value: None,
            }),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
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
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

pub(crate) fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct GoMap {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for GoMap {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key: de::value::StringDeserializer<serde_json::Error> = k.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(GoValue(v)),
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct GoSeq {
    iter: std::vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for GoSeq {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.iter.next() {
            Some(v) => seed.deserialize(GoValue(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// serde helper for tri-state fields `Option<Option<T>>`: absent → `None`, `null` → `Some(None)`,
/// a value → `Some(Some(v))`. Use with `#[serde(default, deserialize_with = "…")]`.
pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// serde helper for Go's `strslice.StrSlice` (`Cmd`, `Entrypoint`): accepts a JSON array of strings,
/// a single string (one element) or `null`.
pub(crate) fn str_slice<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        #[serde(rename = "IPv4Address")]
        ipv4_address: String,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Outer {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "Internal")]
        internal: bool,
        #[serde(rename = "Inner")]
        inner: Option<Inner>,
        #[serde(rename = "Labels")]
        labels: BTreeMap<String, String>,
        #[serde(rename = "List")]
        list: Vec<Inner>,
    }

    #[test]
    fn go_rules() {
        let o: Outer = decode_json_body(
            br#"{"NAME":"a","internal":null,"inner":{"ipv4ADDRESS":"1.2.3.4"},"Labels":{"Keep.Case":"x"},"list":[{"IPV4ADDRESS":"5.6.7.8"}],"Bogus":1}"#,
        )
        .expect("decode");
        assert_eq!(o.name, "a");
        assert!(!o.internal);
        assert_eq!(o.inner.expect("inner").ipv4_address, "1.2.3.4");
        assert_eq!(o.labels.get("Keep.Case").map(String::as_str), Some("x"));
        assert_eq!(o.list[0].ipv4_address, "5.6.7.8");

        // last duplicate wins, trailing content ignored
        let o: Outer = decode_json_body(br#"{"Name":"a","name":"b"} trailing"#).expect("decode");
        assert_eq!(o.name, "b");
    }

    #[test]
    fn go_errors() {
        let e = decode_json_body::<Outer>(br#"{"Name":"#).expect_err("eof");
        assert_eq!((e.status, e.message.as_str()), (400, "unexpected EOF"));
        let e = decode_json_body::<Outer>(b"").expect_err("empty");
        assert_eq!(
            (e.status, e.message.as_str()),
            (400, "got EOF while reading request body")
        );
        assert_eq!(
            decode_json_body_opt::<Outer>(b"  ").expect("empty ok"),
            None
        );
        let e = decode_json_body::<Outer>(b"[1]").expect_err("array");
        assert_eq!(e.status, 400);
        let e = decode_json_body::<Outer>(br#"{"Internal":"yes"}"#).expect_err("type");
        assert_eq!(e.status, 400);
        let o: Outer = decode_json_body(b"null").expect("null is fine");
        assert_eq!(o, Outer::default());
    }

    /// The streaming decoder and the `Value` tree one must agree, values and error texts alike.
    fn same<T: DeserializeOwned + PartialEq + std::fmt::Debug>(body: &str) {
        let tree = serde_json::from_str::<Value>(body)
            .map_err(|e| e.to_string())
            .and_then(|v| from_value_go::<T>(v).map_err(|e| e.to_string()));
        let streamed = decode_json_body::<T>(body.as_bytes()).map_err(|e| e.message);
        assert_eq!(tree, streamed, "{body}");
    }

    #[test]
    fn streaming_matches_the_value_tree() {
        for body in [
            r#"{"NAME":"a","internal":null,"inner":{"ipv4ADDRESS":"1.2.3.4"},"Labels":{"Keep.Case":"x"},"list":[{"IPV4ADDRESS":"5.6.7.8"},null]}"#,
            r#"{"Name":"a","name":"b","Name":null}"#,
            r#"{"Inner":null,"List":null,"Labels":null}"#,
            r#"{"Inner":"x"}"#,
            r#"{"Inner":[1]}"#,
            r#"{"List":{"a":1}}"#,
            r#"{"Labels":{"a":1}}"#,
            r#"{"Labels":{"a":"1","a":"2"}}"#,
            r#"{"Name":"\u00e9t\u00e9","Labels":{"k\"ey":"v"}}"#,
            r#"{"Internal":"yes"}"#,
            r#"{"Internal":1}"#,
            r#" { "Name" : "spaced" , "List" : [ { "IPv4Address" : "1" } ] } "#,
            "null",
            "[1]",
            "\"x\"",
        ] {
            same::<Outer>(body);
        }
        for body in [
            r#"{"Name":"n","CheckDuplicate":true,"Driver":"bridge","IPAM":{"Driver":"default","Config":[{"Subnet":"10.1.0.0/16","gateway":"10.1.0.1"}],"Options":null},"Options":{"com.docker.network.bridge.name":"br0"},"Labels":{},"EnableIPv6":null}"#,
            r#"{"name":"n","ipam":{"config":[{"SUBNET":"10.1.0.0/16"}]},"internal":"no"}"#,
        ] {
            same::<crate::NetworkCreateRequest>(body);
        }
        for body in [
            r#"{"Container":"c","EndpointConfig":{"Aliases":["a"],"IPAMConfig":{"IPv4Address":"10.0.0.2"},"DriverOpts":{"k":"v"},"GwPriority":5}}"#,
            r#"{"container":"c","endpointconfig":{"aliases":null,"ipamconfig":null}}"#,
        ] {
            same::<crate::NetworkConnectRequest>(body);
        }
        for body in [
            r#"{"Hostname":"h","Cmd":"sleep 1","Entrypoint":null,"ExposedPorts":{"80/tcp":{},"81/tcp":{},"x":{}},"HostConfig":{"NetworkMode":"n","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"81/tcp":[{"hostport":"8081","HostIp":null}],"53/udp":null},"Dns":[],"LogConfig":{"Type":"json-file","Config":{}}},"NetworkingConfig":{"EndpointsConfig":{"n":{"Aliases":["web"]}}}}"#,
            r#"{"hostconfig":{"portbindings":{"80/tcp":[null,{"HostPort":"1"}]},"publishallports":true},"exposedports":{"80/tcp":null}}"#,
            r#"{"ExposedPorts":{"80/tcp":1}}"#,
            r#"{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":1}]}}}"#,
        ] {
            same::<crate::ContainerCreateRequest>(body);
        }
        for body in [
            r#"{"Cmd":["sh","-c","x"],"AttachStdout":true,"Env":null,"Tty":false,"User":""}"#,
            r#"{"cmd":"sh","ENV":["A=1"]}"#,
        ] {
            same::<crate::ExecCreateRequest>(body);
        }
    }

    #[test]
    fn body_has_newline() {
        assert_eq!(
            to_json_body(&serde_json::json!({"b":1,"a":[]})),
            "{\"b\":1,\"a\":[]}\n"
        );
        assert_eq!(
            to_json_body(&serde_json::json!({"m":"<a&b>\u{2028}x\u{2029}\u{1b}\n"})),
            "{\"m\":\"<a&b>\\u2028x\\u2029\\u001b\\n\"}\n"
        );
    }
}
