//! log4j / log4j2 / logback pattern layouts (`%d{yyyy-MM-dd HH:mm:ss,SSS} [%t] %-5p %c - %m%n`)
//! translated to a regex.
//!
//! `%d` is the time (its Java date pattern is translated to strftime; `%d`, `%d{DEFAULT}` and
//! `%d{ISO8601}` accept any ISO 8601 time), `%p`/`%level` the level, `%c`/`%logger` the service,
//! `%m`/`%msg` the message. Other conversions become extra columns: `thread` (`%t`), `class` (`%C`),
//! `method` (`%M`), `line` (`%L`), `file` (`%F`), `location` (`%l`), `relative` (`%r`), `thread_id`
//! (`%T`), `pid`, `sequence` (`%sn`), `ndc` (`%x`), `marker`, `uuid` (`%u`), an MDC key (`%X{key}`,
//! column named after the key) or the whole MDC (`%X`, column `mdc`). Exceptions (`%ex`, `%throwable`
//! ...) print on the following lines, so they match nothing here; colour wrappers (`%highlight{..}`,
//! logback's `%cyan(..)`) are transparent. Any other conversion is a configuration error.

use super::pattern::{Layout, LayoutBuilder, Target};
use super::timestamp::{strftime_regex, StrftimeFormat, TimeFormat};
use super::Role;
use crate::error::{Error, Result};

/// log4j's conventional layout: `2024-01-15 10:00:00,123 [main] ERROR com.example.Foo - message`.
pub const DEFAULT_PATTERN: &str = "%d{yyyy-MM-dd HH:mm:ss,SSS} [%t] %-5p %c - %m%n";

/// Any ISO 8601 time as log4j and logback write it (space or `T`, `,` or `.` before the millis).
const ISO_REGEX: &str =
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?";

#[derive(Debug)]
enum Node {
    Literal(String),
    Conversion {
        word: String,
        padded: bool,
        options: Vec<String>,
        children: Option<Vec<Node>>,
        text: String,
    },
}

struct Parser<'p> {
    pattern: &'p str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl<'p> Parser<'p> {
    fn error(&self, why: &str) -> Error {
        let byte = self
            .chars
            .get(self.at)
            .map_or(self.pattern.len(), |(b, _)| *b);
        Error::config(format!(
            "invalid log4j pattern {:?} at byte {byte}: {why}",
            self.pattern
        ))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(_, c)| *c)
    }

    /// Text up to the bracket closing the one at the current position (nesting respected).
    fn balanced(&mut self, open: char, close: char) -> Result<String> {
        let start = self.at;
        let mut depth = 0;
        while let Some(c) = self.peek() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    self.at += 1;
                    let text: String = self.chars[start + 1..self.at - 1]
                        .iter()
                        .map(|(_, c)| c)
                        .collect();
                    return Ok(text);
                }
            }
            self.at += 1;
        }
        self.at = start;
        Err(self.error(&format!("unclosed '{open}'")))
    }

    fn nodes(&mut self, until: Option<char>) -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        let mut literal = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == until {
                break;
            }
            if c != '%' {
                literal.push(c);
                self.at += 1;
                continue;
            }
            let start = self.at;
            self.at += 1;
            if self.peek() == Some('%') {
                literal.push('%');
                self.at += 1;
                continue;
            }
            // Format modifier: [-]min[.[-]max]
            let mut padded = false;
            if self.peek() == Some('-') {
                self.at += 1;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                padded = true;
                self.at += 1;
            }
            if self.peek() == Some('.') {
                self.at += 1;
                if self.peek() == Some('-') {
                    self.at += 1;
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
            }
            let mut word = String::new();
            while let Some(c) = self.peek().filter(char::is_ascii_alphabetic) {
                word.push(c);
                self.at += 1;
            }
            let mut options = Vec::new();
            while self.peek() == Some('{') {
                options.push(self.balanced('{', '}')?);
            }
            let mut children = None;
            if self.peek() == Some('(') {
                self.at += 1;
                children = Some(self.nodes(Some(')'))?);
                if self.peek() != Some(')') {
                    return Err(self.error("unclosed '('"));
                }
                self.at += 1;
            } else if word.is_empty() {
                return Err(self.error("expected a conversion word after '%'"));
            }
            let text: String = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
            if !literal.is_empty() {
                nodes.push(Node::Literal(std::mem::take(&mut literal)));
            }
            nodes.push(Node::Conversion {
                word,
                padded,
                options,
                children,
                text,
            });
        }
        if !literal.is_empty() {
            nodes.push(Node::Literal(literal));
        }
        Ok(nodes)
    }
}

fn parse_nodes(pattern: &str) -> Result<Vec<Node>> {
    let mut parser = Parser {
        pattern,
        chars: pattern.char_indices().collect(),
        at: 0,
    };
    parser.nodes(None)
}

/// A Java `SimpleDateFormat`/`DateTimeFormatter` pattern as chrono strftime.
pub fn java_date_to_strftime(java: &str) -> Result<String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let bad = |why: String| Error::config(format!("log4j date pattern {java:?}: {why}"));
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            // Quoted literal text; inside it, '' is one quote.
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (None, _) => return Err(bad("unclosed quote".into())),
                    (Some('\''), Some('\'')) => {
                        out.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some('%'), _) => {
                        out.push_str("%%");
                        i += 1;
                    }
                    (Some(&q), _) => {
                        out.push(q);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let spec = match (c, run) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M' | 'L', 1 | 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', _) => "%B",
            ('d', _) => "%d",
            ('H' | 'k', _) => "%H",
            ('h' | 'K', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('S', n) => {
                return Err(bad(format!(
                    "{n} fraction digits (S) are not supported; use SSS, SSSSSS or SSSSSSSSS"
                )))
            }
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('a', _) => "%p",
            ('D', _) => "%j",
            ('Z' | 'X' | 'x', _) => "%#z",
            ('z', _) => {
                return Err(bad(
                    "zone names (z) cannot be read back; use Z or XXX".into()
                ))
            }
            (other, _) => return Err(bad(format!("unsupported letter {other:?}"))),
        };
        out.push_str(spec);
        i += run;
    }
    Ok(out)
}

/// The regex and time format for `%d{options}`.
fn date_conversion(options: &[String]) -> Result<(String, TimeFormat)> {
    if let Some(zone) = options.get(1) {
        if !matches!(zone.as_str(), "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT") {
            return Err(Error::config(format!(
                "log4j date time zone {zone:?} is not supported: times without an offset are read as UTC"
            )));
        }
    }
    let java = match options.first().map(String::as_str) {
        None | Some("") | Some("DEFAULT") | Some("ISO8601") => {
            return Ok((ISO_REGEX.to_string(), TimeFormat::Iso8601))
        }
        Some("UNIX") => return Ok((r"\d+".to_string(), TimeFormat::Epoch(0))),
        Some("UNIX_MILLIS") => return Ok((r"\d+".to_string(), TimeFormat::Epoch(3))),
        Some("ISO8601_BASIC") => "yyyyMMdd'T'HHmmss,SSS",
        Some("ISO8601_OFFSET_DATE_TIME_HH") => "yyyy-MM-dd'T'HH:mm:ss,SSSX",
        Some("ISO8601_OFFSET_DATE_TIME_HHMM") => "yyyy-MM-dd'T'HH:mm:ss,SSSXX",
        Some("ISO8601_OFFSET_DATE_TIME_HHCMM") => "yyyy-MM-dd'T'HH:mm:ss,SSSXXX",
        Some("DATE") => "dd MMM yyyy HH:mm:ss,SSS",
        Some("COMPACT") => "yyyyMMddHHmmssSSS",
        Some(named @ ("ABSOLUTE" | "ABSOLUTE_MICROS" | "ABSOLUTE_NANOS" | "ABSOLUTE_PERIOD")) => {
            return Err(Error::config(format!(
                "log4j date format {named} has no date, so it cannot give an event time"
            )))
        }
        Some(java) => java,
    };
    let strftime = java_date_to_strftime(java)?;
    let format = StrftimeFormat::new(&strftime)?;
    Ok((strftime_regex(&strftime), TimeFormat::Strftime(format)))
}

const WRAPPERS: &[&str] = &[
    "",
    "highlight",
    "style",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "white",
    "gray",
    "boldRed",
    "boldGreen",
    "boldYellow",
    "boldBlue",
    "boldMagenta",
    "boldCyan",
    "boldWhite",
];

const EXCEPTIONS: &[&str] = &[
    "ex",
    "exception",
    "throwable",
    "xEx",
    "xException",
    "xThrowable",
    "rEx",
    "rException",
    "rThrowable",
    "wEx",
    "wex",
    "nopex",
    "nopexception",
];

fn translate(nodes: &[Node], b: &mut LayoutBuilder, time: &mut Option<TimeFormat>) -> Result<()> {
    for node in nodes {
        let (word, padded, options, children, text) = match node {
            Node::Literal(text) => {
                b.literal(text);
                continue;
            }
            Node::Conversion {
                word,
                padded,
                options,
                children,
                text,
            } => (word.as_str(), *padded, options, children, text),
        };
        if let Some(children) = children {
            translate(children, b, time)?;
            continue;
        }
        if WRAPPERS.contains(&word) {
            if let Some(inner) = options.first() {
                translate(&parse_nodes(inner)?, b, time)?;
            }
            continue;
        }
        if word == "n" || EXCEPTIONS.contains(&word) {
            continue;
        }
        let extra = |name: &str| Some(Target::Extra(name.to_string()));
        let (target, sub): (Option<Target>, String) = match word {
            "d" | "date" => {
                let (sub, format) = date_conversion(options)?;
                if time.is_none() {
                    *time = Some(format);
                }
                (Some(Target::Role(Role::Time)), sub)
            }
            "p" | "le" | "level" => (Some(Target::Role(Role::Level)), r"\S+?".into()),
            "c" | "lo" | "logger" => (Some(Target::Role(Role::Service)), r"\S+?".into()),
            "m" | "msg" | "message" => (Some(Target::Role(Role::Message)), ".*".into()),
            "t" | "thread" | "tn" | "threadName" => (extra("thread"), ".+?".into()),
            "X" | "mdc" | "MDC" => (extra(options.first().map_or("mdc", String::as_str)), ".*?".into()),
            "C" | "class" => (extra("class"), r"\S+?".into()),
            "M" | "method" => (extra("method"), r"\S+?".into()),
            "L" | "line" => (extra("line"), r"\d+".into()),
            "F" | "file" => (extra("file"), r"\S+?".into()),
            "l" | "location" => (extra("location"), r"\S+?".into()),
            "r" | "relative" => (extra("relative"), r"\d+".into()),
            "T" | "tid" | "threadId" => (extra("thread_id"), r"\d+".into()),
            "pid" | "processId" => (extra("pid"), r"\d+".into()),
            "sn" | "sequenceNumber" => (extra("sequence"), r"\d+".into()),
            "x" | "NDC" => (extra("ndc"), ".*?".into()),
            "marker" | "markerSimpleName" => (extra("marker"), ".*?".into()),
            "u" | "uuid" => (extra("uuid"), r"\S+?".into()),
            other => {
                return Err(Error::config(format!(
                    "log4j conversion {text:?} ({other}) is not supported; supported: %d %p %c %m %n %t %X %C %M %L \
                     %F %l %r %T %pid %sn %x %marker %u, exceptions and colour wrappers"
                )))
            }
        };
        b.field(target, &sub, padded, text);
    }
    Ok(())
}

pub(crate) fn layout(pattern: &str) -> Result<Layout> {
    let nodes = parse_nodes(pattern)?;
    let mut builder = LayoutBuilder::new();
    let mut time = None;
    translate(&nodes, &mut builder, &mut time)?;
    let Some(time_format) = time else {
        return Err(Error::config(format!(
            "log4j pattern {pattern:?} has no %d: a time is required"
        )));
    };
    Ok(builder.finish("log4j", time_format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::pattern::PatternFormat;
    use crate::logs::TimeValue;

    fn fields_of(pattern: &str, line: &str) -> (String, Vec<(String, Option<String>)>) {
        let (f, _) = PatternFormat::from_layout(layout(pattern).unwrap()).unwrap();
        let fields = f
            .parse(line)
            .unwrap_or_else(|e| panic!("{e}: {}", f.source()));
        let TimeValue::Text(ts) = fields.ts else {
            panic!("no ts")
        };
        let mut out = vec![
            ("level".to_string(), fields.level.map(|s| s.into_owned())),
            (
                "service".to_string(),
                fields.service.map(|s| s.into_owned()),
            ),
            (
                "message".to_string(),
                fields.message.map(|s| s.into_owned()),
            ),
        ];
        out.extend(
            fields
                .extras
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.map(|s| s.into_owned()))),
        );
        (ts.into_owned(), out)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn default_layout() {
        let (ts, f) = fields_of(
            DEFAULT_PATTERN,
            "2024-01-15 10:00:00,123 [main] ERROR com.example.Foo - message - with dash",
        );
        assert_eq!(ts, "2024-01-15 10:00:00,123");
        assert_eq!(f[0].1, some("ERROR"));
        assert_eq!(f[1].1, some("com.example.Foo"));
        assert_eq!(f[2].1, some("message - with dash"));
        assert_eq!(f[3], ("thread".into(), some("main")));
        let (_, f) = fields_of(
            DEFAULT_PATTERN,
            "2024-01-15 10:00:00,123 [pool-1 thread-2] INFO  a.B - ok",
        );
        assert_eq!(f[0].1, some("INFO"));
        assert_eq!(f[3].1, some("pool-1 thread-2"));
    }

    #[test]
    fn logback_style_with_mdc_and_colours() {
        let (ts, f) = fields_of(
            "%d{ISO8601} %highlight(%-5level) [%thread] %cyan(%logger{36}) %X{request-id} %L - %msg%n%ex",
            "2024-01-15T10:00:00.123Z WARN  [http-nio-8080-exec-1] c.e.Web abc-123 42 - hi",
        );
        assert_eq!(ts, "2024-01-15T10:00:00.123Z");
        assert_eq!(f[0].1, some("WARN"));
        assert_eq!(f[1].1, some("c.e.Web"));
        assert_eq!(f[2].1, some("hi"));
        assert_eq!(f[3], ("thread".into(), some("http-nio-8080-exec-1")));
        assert_eq!(f[4], ("request-id".into(), some("abc-123")));
        assert_eq!(f[5], ("line".into(), some("42")));
    }

    #[test]
    fn java_dates() {
        assert_eq!(
            java_date_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").unwrap(),
            "%Y-%m-%dT%H:%M:%S.%3f%#z"
        );
        assert_eq!(
            java_date_to_strftime("dd MMM yyyy HH:mm:ss,SSS").unwrap(),
            "%d %b %Y %H:%M:%S,%3f"
        );
        assert_eq!(
            java_date_to_strftime("yy/M/d h:mm a 'o''clock' 100%").unwrap(),
            "%y/%m/%d %I:%M %p o'clock 100%%"
        );
        assert!(java_date_to_strftime("yyyy G").is_err());
        assert!(java_date_to_strftime("HH:mm z").is_err());
        let (sub, tf) = date_conversion(&["dd/MMM/yyyy:HH:mm:ss Z".to_string()]).unwrap();
        assert!(regex::Regex::new(&format!("^{sub}$"))
            .unwrap()
            .is_match("15/Jan/2024:10:00:00 +0000"));
        assert_eq!(
            tf.parse_text("15/Jan/2024:10:00:00 +0000"),
            Some(1_705_312_800_000)
        );
    }

    #[test]
    fn config_errors() {
        for (pattern, needle) in [
            ("%p %m", "has no %d"),
            ("%d %bogus %m", "\"%bogus\""),
            ("%d{yyyy %m", "unclosed '{'"),
            ("%d %highlight(%p %m", "unclosed '('"),
            ("%d{ABSOLUTE} %m", "has no date"),
            ("%d{HH:mm}{Europe/Paris} %m", "time zone"),
        ] {
            let err = layout(pattern).unwrap_err();
            assert!(
                matches!(err, Error::Config(_)) && err.to_string().contains(needle),
                "{pattern}: {err}"
            );
        }
    }
}
