//! JSON lines: one object per line. Configured keys give the time, level, service and message;
//! every key not configured for those becomes an extra column (strings as they are, other scalars and nested values as
//! compact JSON text, `null` as null). Key order is kept; for a repeated key the last value wins.
//! A configured key may be a dotted path into nested objects (`ctx.service`; see
//! [`key_path`](super::config::key_path)): a top-level key spelled like the whole path wins.

use super::config::key_path;
use super::{Fields, Role, RoleKeys, TimeValue};
use crate::error::{Error, Result as CoreResult};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// A configured key: looked up as a top-level key first, then (for a dotted path) inside nested
/// objects.
#[derive(Debug, Clone)]
struct KeySpec {
    key: String,
    path: Option<Vec<String>>,
}

impl KeySpec {
    /// The top-level key this spec names when its path is a single escaped key (`a\.b`).
    fn escaped_key(&self) -> Option<&str> {
        match self.path.as_deref() {
            Some([key]) => Some(key),
            _ => None,
        }
    }

    fn names_top_level(&self, key: &str) -> bool {
        self.key == key || self.escaped_key() == Some(key)
    }

    fn new(key: &str, option: &str) -> CoreResult<KeySpec> {
        let path = key_path(key).map_err(|why| Error::config(format!("json: {option}: {why}")))?;
        Ok(KeySpec {
            key: key.to_string(),
            path,
        })
    }
}

#[derive(Debug, Clone)]
pub struct JsonFormat {
    keys: RoleKeys,
    roles: [Vec<KeySpec>; 4],
    /// Extra fields named by a dotted path (from `extra_fields` or `fields`).
    extra_paths: Vec<KeySpec>,
}

/// Where a standard field's value was found.
enum Pick<'a> {
    /// A top-level entry.
    Top(usize, &'a str),
    /// Inside a nested object, under this configured path.
    Deep(Value<'static>, &'a str),
}

impl JsonFormat {
    /// `extra_names`: the configured extra field names (paths among them are looked up in nested
    /// objects). Fails with a config error for a malformed path.
    pub fn new(keys: RoleKeys, extra_names: &[(String, &str)]) -> CoreResult<Self> {
        let mut roles: [Vec<KeySpec>; 4] = Default::default();
        for role in Role::ALL {
            roles[role as usize] = keys
                .get(role)
                .iter()
                .map(|k| KeySpec::new(k, role.option()))
                .collect::<CoreResult<_>>()?;
        }
        let mut extra_paths = Vec::new();
        for (name, option) in extra_names {
            let spec = KeySpec::new(name, option)?;
            if spec.path.is_some() && !extra_paths.iter().any(|s: &KeySpec| s.key == spec.key) {
                extra_paths.push(spec);
            }
        }
        Ok(JsonFormat {
            keys,
            roles,
            extra_paths,
        })
    }

    pub fn keys(&self) -> &RoleKeys {
        &self.keys
    }

    /// The first candidate of `role` with a non-null value: a top-level key spelled like the
    /// candidate wins; else, for a dotted path, the value inside nested objects.
    fn pick<'a>(&'a self, entries: &[(Cow<'a, str>, Value<'a>)], role: Role) -> Option<Pick<'a>> {
        for spec in &self.roles[role as usize] {
            if let Some(i) = entries.iter().rposition(|(k, _)| spec.names_top_level(k)) {
                if !matches!(entries[i].1, Value::Null) {
                    return Some(Pick::Top(i, &spec.key));
                }
                continue;
            }
            if let Some(path) = &spec.path {
                match lookup(entries, path) {
                    None | Some(Value::Null) => {}
                    Some(value) => return Some(Pick::Deep(value, &spec.key)),
                }
            }
        }
        None
    }

    /// Whether a top-level key is named by a standard field's candidates (it is then no extra).
    fn is_candidate(&self, key: &str) -> bool {
        self.roles
            .iter()
            .flatten()
            .any(|spec| spec.names_top_level(key))
    }

    pub(crate) fn parse<'a>(&'a self, line: &'a str) -> Result<Fields<'a>, String> {
        let mut de = serde_json::Deserializer::from_str(line);
        let Entries(entries) =
            Entries::deserialize(&mut de).map_err(|e| format!("invalid JSON: {e}"))?;
        de.end().map_err(|e| format!("invalid JSON: {e}"))?;
        let mut fields = Fields::default();
        let mut used = [usize::MAX; 4];
        let mut deep: [Option<Value<'static>>; 4] = Default::default();
        for role in Role::ALL {
            match self.pick(&entries, role) {
                None => {}
                Some(Pick::Top(i, key)) => {
                    used[role as usize] = i;
                    if role == Role::Time {
                        fields.ts_key = key;
                    }
                }
                Some(Pick::Deep(value, key)) => {
                    if role == Role::Time {
                        fields.ts_key = key;
                    }
                    deep[role as usize] = Some(value);
                }
            }
        }
        let [deep_ts, deep_level, deep_service, deep_message] = deep;
        let time_value = match (used[Role::Time as usize], &deep_ts) {
            (usize::MAX, None) => None,
            (usize::MAX, Some(value)) => Some(value),
            (i, _) => Some(&entries[i].1),
        };
        fields.ts = match time_value {
            None => TimeValue::Missing(
                self.keys
                    .missing(Role::Time, entries.iter().map(|(k, _)| k.as_ref())),
            ),
            Some(value) => match value {
                Value::Str(s) => TimeValue::Text(s.clone()),
                Value::Number(n) => TimeValue::Number(Cow::Owned(n.clone())),
                Value::Bool(b) => TimeValue::Other("boolean", Cow::Owned(b.to_string())),
                Value::Nested(kind, text) => TimeValue::Other(kind, Cow::Owned(text.clone())),
                Value::Null => unreachable!("null values are never chosen"),
            },
        };
        fields.level = deep_level.and_then(Value::into_text);
        fields.service = deep_service.and_then(Value::into_text);
        fields.message = deep_message.and_then(Value::into_text);
        let mut extras = Vec::with_capacity(entries.len());
        let mut path_extras = Vec::new();
        for spec in &self.extra_paths {
            if entries.iter().any(|(k, _)| k == &spec.key) {
                continue; // a top-level key spelled like the path wins (it is an extra as it is)
            }
            if let Some(value) = lookup(&entries, spec.path.as_deref().unwrap_or_default()) {
                path_extras.push((Cow::Borrowed(spec.key.as_str()), value.into_text()));
            }
        }
        for (i, (key, value)) in entries.into_iter().enumerate() {
            if i == used[Role::Time as usize] {
                continue;
            }
            let text = value.into_text();
            if i == used[Role::Level as usize] {
                fields.level = text;
            } else if i == used[Role::Service as usize] {
                fields.service = text;
            } else if i == used[Role::Message as usize] {
                fields.message = text;
            } else if !self.is_candidate(&key) {
                extras.push((key, text));
            }
        }
        extras.extend(path_extras);
        fields.extras = extras;
        Ok(fields)
    }
}

/// The value at `path` (at least two keys) inside the nested objects of `entries`; None when a key
/// is absent or a value on the way is not an object. For a repeated key the last value counts.
fn lookup(entries: &[(Cow<'_, str>, Value<'_>)], path: &[String]) -> Option<Value<'static>> {
    let (first, rest) = path.split_first()?;
    let i = entries.iter().rposition(|(k, _)| k == first)?;
    if rest.is_empty() {
        return Some(entries[i].1.to_owned_value());
    }
    let Value::Nested("object", text) = &entries[i].1 else {
        return None;
    };
    let mut current: &RawValue = serde_json::from_str(text).ok()?;
    for key in rest {
        let object: HashMap<Cow<'_, str>, &RawValue> = serde_json::from_str(current.get()).ok()?;
        current = object.get(key.as_str())?;
    }
    let value: Value<'_> = serde_json::from_str(current.get()).ok()?;
    Some(value.to_owned_value())
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
    fn to_owned_value(&self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Str(s) => Value::Str(Cow::Owned(s.to_string())),
            Value::Number(n) => Value::Number(n.clone()),
            Value::Bool(b) => Value::Bool(*b),
            Value::Nested(kind, text) => Value::Nested(kind, text.clone()),
        }
    }

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
        JsonFormat::new(RoleKeys::json_defaults(), &[]).unwrap()
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

    fn extras<'a>(fields: &'a Fields<'_>) -> Vec<(&'a str, Option<&'a str>)> {
        fields
            .extras
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect()
    }

    #[test]
    fn nested_paths_for_standard_fields_and_extras() {
        let keys = RoleKeys {
            time: vec!["meta.time".into()],
            service: vec!["ctx.service".into(), "svc".into()],
            level: vec!["a\\.b".into()],
            ..RoleKeys::json_defaults()
        };
        let names = [
            ("ctx.user.id".to_string(), "extra_fields"),
            ("ctx.missing".to_string(), "extra_fields"),
        ];
        let f = JsonFormat::new(keys, &names).unwrap();
        let line = r#"{"meta":{"time":"2024-01-15T10:00:00Z"},"ctx":{"service":"api","user":{"id":7,"x":[1]}},"a.b":"warn","message":"m"}"#;
        let fields = f.parse(line).unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "2024-01-15T10:00:00Z"));
        assert_eq!(fields.ts_key, "meta.time");
        assert_eq!(fields.service.as_deref(), Some("api"));
        // `a\.b` is the key "a.b" (an escaped dot), not "b" inside "a".
        assert_eq!(fields.level.as_deref(), Some("warn"));
        assert_eq!(fields.message.as_deref(), Some("m"));
        // The objects stay extra columns as JSON text; a path extra is added when found.
        assert_eq!(
            extras(&fields),
            [
                ("meta", Some(r#"{"time":"2024-01-15T10:00:00Z"}"#)),
                ("ctx", Some(r#"{"service":"api","user":{"id":7,"x":[1]}}"#)),
                ("ctx.user.id", Some("7")),
            ]
        );
    }

    #[test]
    fn literal_dotted_key_wins_over_path_and_null_falls_through() {
        let keys = RoleKeys {
            service: vec!["ctx.service".into(), "svc".into()],
            ..RoleKeys::json_defaults()
        };
        let f = JsonFormat::new(keys, &[]).unwrap();
        let both = f
            .parse(r#"{"ts":1,"ctx":{"service":"nested"},"ctx.service":"literal"}"#)
            .unwrap();
        assert_eq!(both.service.as_deref(), Some("literal"));
        // A null (or absent, or non-object parent) at the path moves on to the next candidate.
        for line in [
            r#"{"ts":1,"ctx":{"service":null},"svc":"next"}"#,
            r#"{"ts":1,"ctx":"not an object","svc":"next"}"#,
            r#"{"ts":1,"svc":"next"}"#,
        ] {
            assert_eq!(
                f.parse(line).unwrap().service.as_deref(),
                Some("next"),
                "{line}"
            );
        }
        // Repeated keys: the last one counts, at every level.
        let fields = f
            .parse(r#"{"ts":1,"ctx":{"service":"a"},"ctx":{"service":"b","service":"c"}}"#)
            .unwrap();
        assert_eq!(fields.service.as_deref(), Some("c"));
    }

    #[test]
    fn bad_paths_are_config_errors_naming_the_option() {
        for (key, needle) in [
            ("ctx..service", "empty key name"),
            (".ctx", "empty key name"),
            ("ctx.", "empty key name"),
            ("a\\b", "backslash"),
        ] {
            let keys = RoleKeys {
                service: vec![key.into()],
                ..RoleKeys::json_defaults()
            };
            let why = JsonFormat::new(keys, &[]).unwrap_err().to_string();
            assert!(
                why.contains("service_field") && why.contains(needle),
                "{key}: {why}"
            );
        }
        let names = [("a..b".to_string(), "fields")];
        let why = JsonFormat::new(RoleKeys::json_defaults(), &names)
            .unwrap_err()
            .to_string();
        assert!(why.contains("json: fields: bad key path \"a..b\""), "{why}");
    }
}
