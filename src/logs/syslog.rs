//! Syslog RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`.
//!
//! APP-NAME is the service, the severity of PRI is the level (`EMERGENCY` .. `DEBUG`), MSG is the
//! message (a leading BOM removed). Extra columns: `facility` (keyword from PRI), `hostname`,
//! `procid`, `msgid`, `structured_data` (as written). A `-` (NILVALUE) header field is null.

use super::pattern::{Layout, Target};
use super::timestamp::TimeFormat;
use super::Role;

pub(crate) fn layout() -> Layout {
    let regex = concat!(
        r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<hostname>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) ",
        r#"(?P<sd>-|(?:\[(?:[^"\]]|"(?:[^"\\]|\\.)*")*\])+)(?: (?P<msg>.*))?$"#
    );
    let targets = vec![
        ("pri".to_string(), Target::SyslogPri),
        ("ts".to_string(), Target::Role(Role::Time)),
        ("hostname".to_string(), Target::Extra("hostname".into())),
        ("app".to_string(), Target::Role(Role::Service)),
        ("procid".to_string(), Target::Extra("procid".into())),
        ("msgid".to_string(), Target::Extra("msgid".into())),
        ("sd".to_string(), Target::Extra("structured_data".into())),
        ("msg".to_string(), Target::Role(Role::Message)),
    ];
    Layout {
        kind: "syslog",
        regex: regex.to_string(),
        targets,
        labels: ["TIMESTAMP", "PRI", "APP-NAME", "MSG"].map(String::from),
        time_format: TimeFormat::Iso8601,
        syslog: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::pattern::PatternFormat;
    use crate::logs::TimeValue;

    #[test]
    fn rfc5424_examples() {
        let (f, _) = PatternFormat::from_layout(layout()).unwrap();
        assert_eq!(
            f.extra_names(),
            ["facility", "hostname", "procid", "msgid", "structured_data"]
        );
        let line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed";
        let fields = f.parse(line).unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "2003-10-11T22:14:15.003Z"));
        assert_eq!(fields.level.as_deref(), Some("CRITICAL"));
        assert_eq!(fields.service.as_deref(), Some("su"));
        assert_eq!(fields.message.as_deref(), Some("'su root' failed"));
        let extras: Vec<_> = fields
            .extras
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect();
        assert_eq!(
            extras,
            [
                ("facility", Some("auth")),
                ("hostname", Some("mymachine.example.com")),
                ("procid", None),
                ("msgid", Some("ID47")),
                ("structured_data", None)
            ]
        );

        let line = r#"<165>1 2003-10-11T22:14:15.003Z host evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\"l] ication"][x@1 a="b"]"#;
        let fields = f.parse(line).unwrap();
        assert_eq!(fields.level.as_deref(), Some("NOTICE"));
        assert_eq!(fields.message, None);
        assert_eq!(fields.extras[0].1.as_deref(), Some("local4"));
        assert_eq!(
            fields.extras[4].1.as_deref(),
            Some(r#"[exampleSDID@32473 iut="3" eventSource="App\"l] ication"][x@1 a="b"]"#)
        );
    }

    #[test]
    fn bad_syslog_lines() {
        let (f, _) = PatternFormat::from_layout(layout()).unwrap();
        assert!(f
            .parse("<200>1 2003-10-11T22:14:15Z h a - - - m")
            .unwrap_err()
            .contains("PRI <200> is out of range"));
        assert!(f
            .parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed")
            .unwrap_err()
            .contains("does not match"));
        let fields = f.parse("<34>1 - h a - - - m").unwrap();
        assert!(matches!(fields.ts, TimeValue::Missing(ref m) if m.contains("NILVALUE")));
    }
}
