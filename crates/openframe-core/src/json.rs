//! Parsing JSON text into a [`serde_json::Value`] tree that refuses a key appearing twice in one object, at
//! any depth, as the XML reader refuses a repeated element: a client's `{"phoneLogs":[…],"phoneLogs":[…]}`
//! must not lose its first list silently (serde_json's own `Value` keeps the last).
//!
//! The check happens in the one parse (a visitor that builds the tree and looks each key up as it inserts
//! it), not in a second pass over the text; objects keep their key order as `serde_json::Map` does. The
//! duplicated key's path is built only on the way out of a failed parse, so a valid document pays one map
//! lookup per key and nothing else.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Why [`parse`] refused a text.
#[derive(Debug)]
pub enum JsonError {
    /// A key appeared twice in one object; the path names it the way request errors name fields
    /// (`phoneLogs[1].call_id`, `interaction`).
    Duplicate {
        /// The duplicated key's path from the root.
        path: String,
    },
    /// The text is not one JSON value (serde_json's message, with line and column).
    Syntax(serde_json::Error),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Duplicate { path } => write!(f, "{path}: appears more than once"),
            JsonError::Syntax(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parses `bytes` as one JSON value (whitespace around it allowed, nothing else), refusing duplicate keys.
///
/// # Errors
/// [`JsonError::Duplicate`] naming the first duplicated key's path, or [`JsonError::Syntax`].
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut duplicate = None;
    let value = ValueSeed {
        duplicate: &mut duplicate,
    }
    .deserialize(&mut de);
    match (value, duplicate) {
        (_, Some(path)) => Err(JsonError::Duplicate {
            path: path.render(),
        }),
        (Err(e), None) => Err(JsonError::Syntax(e)),
        (Ok(value), None) => {
            de.end().map_err(JsonError::Syntax)?;
            Ok(value)
        }
    }
}

/// Parses `text` as [`parse`] does.
///
/// # Errors
/// As [`parse`].
pub fn parse_str(text: &str) -> Result<Value, JsonError> {
    parse(text.as_bytes())
}

/// A path segment, innermost first while the error unwinds.
enum Segment {
    Key(String),
    Index(usize),
}

/// The duplicated key's path, built from the inside out as the failed parse unwinds.
struct Path(Vec<Segment>);

impl Path {
    fn render(mut self) -> String {
        self.0.reverse();
        let mut out = String::new();
        for segment in self.0 {
            match segment {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&k);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// Builds one value; on a duplicate key it records the path in `duplicate` and fails the parse.
struct ValueSeed<'a> {
    duplicate: &'a mut Option<Path>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let next = seq.next_element_seed(ValueSeed {
                duplicate: &mut *self.duplicate,
            });
            match next {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    if let Some(path) = self.duplicate.as_mut() {
                        path.0.push(Segment::Index(items.len()));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Occupied(taken) => {
                    *self.duplicate = Some(Path(vec![Segment::Key(taken.key().clone())]));
                    return Err(de::Error::custom("duplicate key"));
                }
                Entry::Vacant(slot) => {
                    let value = access.next_value_seed(ValueSeed {
                        duplicate: &mut *self.duplicate,
                    });
                    match value {
                        Ok(value) => {
                            slot.insert(value);
                        }
                        Err(e) => {
                            if let Some(path) = self.duplicate.as_mut() {
                                path.0.push(Segment::Key(slot.key().clone()));
                            }
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn duplicate(text: &str) -> String {
        match parse_str(text) {
            Err(JsonError::Duplicate { path }) => path,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn duplicates_are_named_by_path() {
        assert_eq!(duplicate(r#"{"a":1,"a":2}"#), "a");
        assert_eq!(
            duplicate(r#"{"phoneLogs":[],"x":{},"phoneLogs":[{"a":1}]}"#),
            "phoneLogs"
        );
        assert_eq!(
            duplicate(r#"{"interaction":{"userPhoneNumber":"+1","userPhoneNumber":"+2"}}"#),
            "interaction.userPhoneNumber"
        );
        assert_eq!(
            duplicate(r#"{"phoneLogs":[{"call_id":"1"},{"call_id":"2","call_id":"3"}]}"#),
            "phoneLogs[1].call_id"
        );
        assert_eq!(duplicate(r#"[[{"k":1}],[{"k":1,"k":1}]]"#), "[1][0].k");
        // The same key in sibling objects is no duplicate.
        assert!(parse_str(r#"{"a":{"k":1},"b":{"k":1}}"#).is_ok());
    }

    #[test]
    fn same_tree_as_serde_json() {
        let text = r#" {"z":1,"a":[true,null,-3,1.5,18446744073709551615,"s\u00e9"],"m":{"b":{},"a":[]}} "#;
        let ours = parse_str(text).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        // Key order is kept (preserve_order).
        assert_eq!(
            ours.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["z", "a", "m"]
        );
        assert_eq!(ours["a"][5], json!("sé"));
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for text in ["", "{", r#"{"a":1} x"#, "{\"a\":1,}", "[1,]", "nul"] {
            assert!(
                matches!(parse_str(text), Err(JsonError::Syntax(_))),
                "{text:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(parse_str(&deep), Err(JsonError::Syntax(_))));
    }
}
