//! JSON lines: one object per line. Configured keys give the time, level, service and message;
//! every key not configured for those becomes an extra column (strings as they are, other scalars and nested values as
//! compact JSON text, `null` as null). Key order is kept; for a repeated key the last value wins.

use super::{Fields, Role, RoleKeys, TimeValue};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone)]
pub struct JsonFormat {
    keys: RoleKeys,
}

impl JsonFormat {
    pub fn new(keys: RoleKeys) -> Self {
        JsonFormat { keys }
    }

    pub fn keys(&self) -> &RoleKeys {
        &self.keys
    }

    pub(crate) fn parse<'a>(&'a self, line: &'a str) -> Result<Fields<'a>, String> {
        let mut de = serde_json::Deserializer::from_str(line);
        let Entries(entries) =
            Entries::deserialize(&mut de).map_err(|e| format!("invalid JSON: {e}"))?;
        de.end().map_err(|e| format!("invalid JSON: {e}"))?;
        let flags: Vec<(&str, bool)> = entries
            .iter()
            .map(|(k, v)| (k.as_ref(), matches!(v, Value::Null)))
            .collect();
        let chosen = self.keys.select(&flags);
        drop(flags);
        let mut fields = Fields::default();
        let mut used = [usize::MAX; 4];
        for role in Role::ALL {
            if let Some(i) = chosen[role as usize] {
                used[role as usize] = i;
            }
        }
        fields.ts = match chosen[Role::Time as usize] {
            None => TimeValue::Missing(
                self.keys
                    .missing(Role::Time, entries.iter().map(|(k, _)| k.as_ref())),
            ),
            Some(i) => {
                fields.ts_key = key_of(&entries[i].0, &self.keys, Role::Time);
                match &entries[i].1 {
                    Value::Str(s) => TimeValue::Text(s.clone()),
                    Value::Number(n) => TimeValue::Number(Cow::Owned(n.clone())),
                    Value::Bool(b) => TimeValue::Other("boolean", Cow::Owned(b.to_string())),
                    Value::Nested(kind, text) => TimeValue::Other(kind, Cow::Owned(text.clone())),
                    Value::Null => unreachable!("null values are never chosen"),
                }
            }
        };
        let mut extras = Vec::with_capacity(entries.len());
        for (i, (key, value)) in entries.into_iter().enumerate() {
            let text = value.into_text();
            if i == used[Role::Level as usize] {
                fields.level = text;
            } else if i == used[Role::Service as usize] {
                fields.service = text;
            } else if i == used[Role::Message as usize] {
                fields.message = text;
            } else if i != used[Role::Time as usize] && !self.keys.is_candidate(&key) {
                extras.push((key, text));
            }
        }
        fields.extras = extras;
        Ok(fields)
    }
}

/// The configured key name (borrowed from the config, so it outlives the parsed entries).
fn key_of<'a>(key: &str, keys: &'a RoleKeys, role: Role) -> &'a str {
    keys.get(role)
        .iter()
        .find(|k| k.as_str() == key)
        .map_or("", String::as_str)
}

/// A JSON value as the parser needs it.
#[derive(Debug)]
enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Number(String),
    Bool(bool),
    /// `("object" | "array", compact JSON text)`.
    Nested(&'static str, String),
}

impl<'a> Value<'a> {
    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(s),
            Value::Number(n) => Some(Cow::Owned(n)),
            Value::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            Value::Nested(_, text) => Some(Cow::Owned(text)),
        }
    }
}

/// Top-level object entries in document order.
struct Entries<'a>(Vec<(Cow<'a, str>, Value<'a>)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    let value: Value<'de> = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// An object key, borrowed from the line when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Value::Number(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Value::Number(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Value::Number(float_text(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Value::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let mut out = String::new();
                RawVisitor(&mut out).visit_seq(seq)?;
                Ok(Value::Nested("array", out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let mut out = String::new();
                RawVisitor(&mut out).visit_map(map)?;
                Ok(Value::Nested("object", out))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

fn float_text(v: f64) -> String {
    serde_json::Number::from_f64(v).map_or_else(|| "null".to_string(), |n| n.to_string())
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Re-emits any JSON value as compact text into the buffer, keeping key order.
struct RawVisitor<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for RawVisitor<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RawVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.push_str("null");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.push_str(&v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.push_str(&v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push_str(&float_text(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        push_json_str(self.0, v);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push('[');
        let mut first = true;
        loop {
            if !first {
                // Tentatively add the separator; removed again if the sequence ended.
                self.0.push(',');
            }
            if seq.next_element_seed(RawVisitor(self.0))?.is_none() {
                if !first {
                    self.0.pop();
                }
                break;
            }
            first = false;
        }
        self.0.push(']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.push('{');
        let mut first = true;
        while let Some(Key(key)) = map.next_key()? {
            if !first {
                self.0.push(',');
            }
            first = false;
            push_json_str(self.0, &key);
            self.0.push(':');
            map.next_value_seed(RawVisitor(self.0))?;
        }
        self.0.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> JsonFormat {
        JsonFormat::new(RoleKeys::json_defaults())
    }

    #[test]
    fn picks_roles_and_keeps_extras_in_order() {
        let f = format();
        let line = r#"{"zeta":1,"ts":"2024-01-15T10:00:00Z","level":"warn","message":"hi \"you\"","nested":{"b":[1, 2.5,{"x":null}],"a":true},"ok":false,"none":null,"service":"api"}"#;
        let fields = f.parse(line).unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "2024-01-15T10:00:00Z"));
        assert_eq!(fields.ts_key, "ts");
        assert_eq!(fields.level.as_deref(), Some("warn"));
        assert_eq!(fields.service.as_deref(), Some("api"));
        assert_eq!(fields.message.as_deref(), Some("hi \"you\""));
        let extras: Vec<_> = fields
            .extras
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect();
        assert_eq!(
            extras,
            [
                ("zeta", Some("1")),
                ("nested", Some(r#"{"b":[1,2.5,{"x":null}],"a":true}"#)),
                ("ok", Some("false")),
                ("none", None)
            ]
        );
    }

    #[test]
    fn numbers_and_odd_types_for_time() {
        let f = format();
        assert!(
            matches!(f.parse(r#"{"ts":1705312800.5}"#).unwrap().ts, TimeValue::Number(ref n) if n == "1705312800.5")
        );
        assert!(matches!(
            f.parse(r#"{"ts":[1]}"#).unwrap().ts,
            TimeValue::Other("array", _)
        ));
        assert!(
            matches!(f.parse(r#"{"ts":null}"#).unwrap().ts, TimeValue::Missing(ref m) if m.contains("null"))
        );
        // The last value of a repeated key counts, even when null; candidate keys are no columns.
        let fields = f.parse(r#"{"ts":1,"ts":null,"level":null}"#).unwrap();
        assert!(matches!(fields.ts, TimeValue::Missing(ref m) if m == "key \"ts\" is null"));
        assert!(fields.extras.is_empty() && fields.level.is_none());
        assert!(
            matches!(f.parse(r#"{"x":1}"#).unwrap().ts, TimeValue::Missing(ref m) if m.contains("\"ts\""))
        );
    }

    #[test]
    fn bad_json_is_a_reason() {
        let f = format();
        for (line, needle) in [
            ("{\"ts\":", "EOF"),
            ("[1,2]", "expected a JSON object"),
            ("{\"a\":1} trailing", "trailing"),
            ("\"just a string\"", "expected a JSON object"),
            ("{\"a\":1e999}", "out of range"),
        ] {
            let why = f.parse(line).unwrap_err();
            assert!(
                why.starts_with("invalid JSON: ") && why.contains(needle),
                "{line}: {why}"
            );
        }
    }

    #[test]
    fn escaped_keys_and_last_duplicate_win() {
        let f = format();
        let fields = f
            .parse(r#"{"ts":"a","ts":"b","k\u0065y":"v","key":"w"}"#)
            .unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "b"));
        let extras: Vec<_> = fields
            .extras
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect();
        assert_eq!(extras, [("key", Some("v")), ("key", Some("w"))]);
    }
}
