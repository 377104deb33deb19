//! End-to-end tests of `LogParser`: lines in, both tables out.

use super::config::strings;
use super::*;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::Array;
use arrow_schema::DataType;
use std::io::Write;

const T0: Millis = 1_705_312_800_000; // 2024-01-15T10:00:00Z

fn parser(format: FormatConfig) -> LogParser {
    LogParser::new(ParserConfig::new(format)).unwrap()
}

/// Each line at its 0-based position.
fn parse_lines<S: AsRef<str>>(parser: &LogParser, lines: &[S]) -> ParsedLogs {
    parser.parse(lines.iter().enumerate().map(|(i, l)| (i as i64, l.as_ref().as_bytes()))).unwrap()
}

fn run(parser: &LogParser, lines: &[&str]) -> (RecordBatch, RecordBatch) {
    let out = parse_lines(parser, lines);
    assert_eq!(out.num_records() + out.num_rejects(), lines.len());
    (out.records_batch().unwrap(), out.rejects_batch().unwrap())
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let strings = array.as_string::<i32>();
    (!strings.is_null(row)).then(|| strings.value(row).to_string())
}

fn ts(batch: &RecordBatch, row: usize) -> Millis {
    batch
        .column(0)
        .as_primitive::<TimestampMillisecondType>()
        .value(row)
}

fn reasons(rejects: &RecordBatch) -> Vec<(i64, String)> {
    let positions = rejects
        .column(1)
        .as_primitive::<arrow_array::types::Int64Type>();
    (0..rejects.num_rows())
        .map(|i| (positions.value(i), text(rejects, "reason", i).unwrap()))
        .collect()
}

#[test]
fn json_end_to_end() {
    let p = parser(FormatConfig::Json(RoleKeys::json_defaults()));
    let (records, rejects) = run(
        &p,
        &[
            r#"{"ts":"2024-01-15T10:00:00Z","level":"warn","service":"api","message":"m1","user":"ann"}"#,
            "",
            r#"{"ts":1705312800123,"level":"Info","message":"m2","latency":1.5,"user":null}"#,
            "not json",
            r#"{"level":"info","message":"no time"}"#,
            r#"{"ts":"1969-12-31T23:59:59Z"}"#,
            r#"{"ts":"yesterday"}"#,
            "   \t",
            r#"{"ts":"2024-01-15T10:00:00Z","ts_":"x","level":"é"}"#,
            "{\"ts\":\"2024-01-15T10:00:00Z\"}\r\n",
        ],
    );
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message", "user", "latency", "ts_"]
    );
    assert_eq!(records.num_rows(), 4);
    assert_eq!(
        records.schema().field(0).data_type(),
        &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!((ts(&records, 0), ts(&records, 1)), (T0, T0 + 123));
    assert_eq!(text(&records, "level", 0).as_deref(), Some("WARN"));
    assert_eq!(text(&records, "level", 1).as_deref(), Some("INFO"));
    assert_eq!(text(&records, "level", 2).as_deref(), Some("É"));
    assert_eq!(text(&records, "service", 1), None);
    assert_eq!(text(&records, "user", 1), None);
    assert_eq!(text(&records, "latency", 1).as_deref(), Some("1.5"));
    assert_eq!(text(&records, "latency", 0), None);
    assert_eq!(text(&records, "ts_", 2).as_deref(), Some("x"));
    let reasons = reasons(&rejects);
    assert_eq!(
        reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 3, 4, 5, 6, 7]
    );
    assert_eq!(reasons[0].1, "empty line");
    assert_eq!(
        reasons[1].1,
        "invalid JSON: expected ident at line 1 column 2"
    );
    assert_eq!(reasons[2].1, "missing time: no key \"ts\"");
    assert!(
        reasons[3]
            .1
            .contains("time key \"ts\" value \"1969-12-31T23:59:59Z\" is out of range"),
        "{}",
        reasons[3].1
    );
    assert_eq!(
        reasons[4].1,
        "cannot parse time key \"ts\" value \"yesterday\": expected an RFC 3339/ISO 8601 time or an epoch number"
    );
    assert_eq!(text(&rejects, "line", 1).as_deref(), Some("not json"));
}

#[test]
fn json_configured_keys_required_and_fixed_extras() {
    let keys = RoleKeys {
        time: strings(&["@timestamp", "time"]),
        level: strings(&["severity"]),
        service: strings(&["app"]),
        message: strings(&["msg"]),
    };
    let mut config = ParserConfig::new(FormatConfig::Json(keys));
    config.required = strings(&["service"]);
    config.extra_fields = Some(strings(&["host", "pid"]));
    config.time_format = Some("epoch_s".into());
    let p = LogParser::new(config).unwrap();
    let (records, rejects) = run(
        &p,
        &[
            r#"{"time":1705312800,"@timestamp":1705312801.5,"severity":"err","app":"x","msg":"m","pid":7,"junk":1}"#,
            r#"{"time":1705312800,"msg":"no app"}"#,
            r#"{"time":"2024-01-15T10:00:00Z","app":"x"}"#,
            r#"{"time":true,"app":"x"}"#,
        ],
    );
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message", "host", "pid"]
    );
    assert_eq!(ts(&records, 0), T0 + 1500);
    assert_eq!(text(&records, "pid", 0).as_deref(), Some("7"));
    let reasons = reasons(&rejects);
    assert_eq!(
        reasons[0].1,
        "missing required field \"service\" (key \"app\")"
    );
    assert!(
        reasons[1].1.contains("expected epoch seconds"),
        "{}",
        reasons[1].1
    );
    assert_eq!(
        reasons[2].1,
        "time key \"time\" is a JSON boolean (\"true\"); expected a string or a number"
    );
}

#[test]
fn logfmt_end_to_end() {
    let p = parser(FormatConfig::Logfmt(RoleKeys::logfmt_defaults()));
    let (records, rejects) = run(
        &p,
        &[
            r#"ts=2024-01-15T10:00:00Z level=info msg="hello world" service=web status=200"#,
            r#"time=1705312800 level=debug msg=x retry"#,
            r#"ts=2024-01-15T10:00:00Z msg="unterminated"#,
        ],
    );
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message", "status", "retry"]
    );
    assert_eq!(text(&records, "message", 0).as_deref(), Some("hello world"));
    assert_eq!(text(&records, "retry", 1).as_deref(), Some("true"));
    assert_eq!(ts(&records, 1), T0);
    assert!(reasons(&rejects)[0]
        .1
        .contains("unterminated quoted value for key \"msg\""));
}

#[test]
fn presets_end_to_end() {
    let p = parser(FormatConfig::PythonLogging {
        fmt: "%(asctime)s - %(name)s - %(levelname)s - %(message)s".into(),
        datefmt: None,
        style: "%".into(),
    });
    let (records, rejects) = run(
        &p,
        &[
            "2024-01-15 10:00:00,123 - app - INFO - hi",
            "2024-01-15 10:00:00 - app - INFO - no millis",
            "Traceback:",
        ],
    );
    assert_eq!(ts(&records, 0), T0 + 123);
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message"]
    );
    assert_eq!(
        reasons(&rejects)[0],
        (1, "line does not match the python_logging pattern".into())
    );
    assert_eq!(
        reasons(&rejects)[1],
        (2, "line does not match the python_logging pattern".into())
    );

    let p = parser(FormatConfig::PythonLogging {
        fmt: "%(asctime)s.%(msecs)03d %(levelname)s %(message)s".into(),
        datefmt: Some("%Y-%m-%d %H:%M:%S".into()),
        style: "%".into(),
    });
    let (records, _) = run(&p, &["2024-01-15 10:00:00.042 INFO hi"]);
    assert_eq!(ts(&records, 0), T0 + 42);

    let p = parser(FormatConfig::Log4j(log4j::DEFAULT_PATTERN.into()));
    let (records, _) = run(
        &p,
        &["2024-01-15 10:00:00,123 [main] ERROR com.example.Foo - message"],
    );
    assert_eq!(ts(&records, 0), T0 + 123);
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message", "thread"]
    );
    assert_eq!(
        text(&records, "service", 0).as_deref(),
        Some("com.example.Foo")
    );

    let p = parser(FormatConfig::Syslog);
    let (records, rejects) = run(
        &p,
        &[
            "<34>1 2024-01-15T10:00:00.003Z host su - ID47 - 'su root' failed",
            "<34>1 - host su - ID47 - m",
        ],
    );
    assert_eq!(ts(&records, 0), T0 + 3);
    assert_eq!(text(&records, "level", 0).as_deref(), Some("CRITICAL"));
    assert_eq!(
        reasons(&rejects)[0].1,
        "missing time: TIMESTAMP is the NILVALUE \"-\""
    );
}

#[test]
fn regex_with_strftime() {
    let mut config = ParserConfig::new(FormatConfig::Regex(
        r#"^(?P<host>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<message>[^"]*)" (?P<status>\d{3})"#
            .into(),
    ));
    config.time_format = Some("%d/%b/%Y:%H:%M:%S %z".into());
    let p = LogParser::new(config).unwrap();
    let (records, rejects) = run(
        &p,
        &[
            r#"1.2.3.4 - - [15/Jan/2024:11:00:00 +0100] "GET / HTTP/1.1" 200 512"#,
            r#"1.2.3.4 - - [15/Jan/2024:11:00:00] "GET / HTTP/1.1" 200 512"#,
        ],
    );
    assert_eq!(ts(&records, 0), T0);
    assert_eq!(
        column_names(&records),
        ["ts", "level", "service", "message", "host", "status"]
    );
    let why = &reasons(&rejects)[0].1;
    assert!(why.starts_with("cannot parse time group \"ts\" value \"15/Jan/2024:11:00:00\": expected a time matching"), "{why}");
    assert!(why.contains("premature end of input"), "{why}");
}

#[test]
fn bytes_level_problems() {
    let p = parser(FormatConfig::Json(RoleKeys::json_defaults()));
    let mut session = p.session();
    session
        .push(0, Some(b"{\"ts\":\"2024-01-15T10:00:00Z\",\"m\":\"\xff\"}"))
        .unwrap();
    session.push(1, None).unwrap();
    session.push(2, Some(b"{\"ts\":0}\n")).unwrap();
    assert_eq!(session.lines(), 3);
    let out = session.finish().unwrap();
    let rejects = out.rejects_batch().unwrap();
    assert_eq!(
        reasons(&rejects),
        [
            (0, "invalid UTF-8 at byte 34".to_string()),
            (1, "line is null".to_string())
        ]
    );
    assert_eq!(
        text(&rejects, "line", 0).as_deref(),
        Some("{\"ts\":\"2024-01-15T10:00:00Z\",\"m\":\"\u{fffd}\"}")
    );
    assert_eq!(text(&rejects, "line", 1), None);
    assert_eq!(out.num_records(), 1);
}

#[test]
fn long_lines_and_column_limits() {
    let mut config = ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()));
    config.max_line_bytes = 64;
    config.max_extra_fields = 2;
    let p = LogParser::new(config).unwrap();
    let long = format!("{{\"ts\":0,\"m\":\"{}\"}}", "é".repeat(100));
    let (records, rejects) = run(
        &p,
        &[
            &long,
            r#"{"ts":0,"a":1,"b":2}"#,
            r#"{"ts":0,"c":1}"#,
            r#"{"ts":0,"b":1}"#,
        ],
    );
    assert_eq!(records.num_rows(), 2);
    let reasons = reasons(&rejects);
    assert!(
        reasons[0].1.starts_with(
            "line is 215 bytes, over max_line_bytes=64 (the line column holds its first 63 bytes)"
        ),
        "{}",
        reasons[0].1
    );
    assert_eq!(text(&rejects, "line", 0).unwrap().len(), 63);
    assert!(
        reasons[1]
            .1
            .contains("field \"c\" would be extra column number 3, over max_extra_fields=2"),
        "{}",
        reasons[1].1
    );
}

#[test]
fn batches_share_the_final_schema() {
    let mut config = ParserConfig::new(FormatConfig::Logfmt(RoleKeys::logfmt_defaults()));
    config.batch_rows = 2;
    let p = LogParser::new(config).unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| format!("ts={} k{i}=v", 1_705_312_800 + i))
        .collect();
    let out = parse_lines(&p, &lines);
    assert_eq!(out.records.len(), 3);
    for batch in &out.records {
        assert_eq!(batch.schema(), out.schema);
    }
    assert_eq!(out.schema.fields().len(), 9);
    let all = out.records_batch().unwrap();
    assert_eq!(text(&all, "k4", 4).as_deref(), Some("v"));
    assert_eq!(text(&all, "k4", 0), None);
}

#[test]
fn files_are_read_line_by_line() {
    let dir = std::env::temp_dir().join(format!("fleetstream-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.log");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"\xEF\xBB\xBFts=1705312800 msg=a\r\n\nts=bad\nts=1705312801 msg=b")
        .unwrap();
    drop(file);
    let p = parser(FormatConfig::Logfmt(RoleKeys::logfmt_defaults()));
    let out = p.parse_file(&path).unwrap();
    assert_eq!(out.num_records(), 2);
    let rejects = out.rejects_batch().unwrap();
    assert_eq!(
        reasons(&rejects).iter().map(|r| r.0).collect::<Vec<_>>(),
        [2, 3]
    );
    let records = out.records_batch().unwrap();
    assert_eq!(text(&records, "message", 0).as_deref(), Some("a"));
    let err = p.parse_file(dir.join("missing.log")).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("missing.log"),
        "{err}"
    );
    let err = p.parse_file(&dir).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_errors_are_typed() {
    let cases: Vec<(ParserConfig, &str)> = vec![
        (
            ParserConfig {
                time_format: Some("fancy".into()),
                ..ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()))
            },
            "unknown time_format \"fancy\"",
        ),
        (
            ParserConfig {
                time_format: Some("epoch_s".into()),
                ..ParserConfig::new(FormatConfig::Syslog)
            },
            "syslog reads its own time layout",
        ),
        (
            ParserConfig {
                required: strings(&["host"]),
                ..ParserConfig::new(FormatConfig::Syslog)
            },
            "required: unknown field \"host\"",
        ),
        (
            ParserConfig {
                extra_fields: Some(strings(&["level"])),
                ..ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()))
            },
            "is a standard column",
        ),
        (
            ParserConfig::new(FormatConfig::Regex("(?P<x>.)".into())),
            "no named group \"ts\"",
        ),
        (
            ParserConfig::new(FormatConfig::Regex("(".into())),
            "invalid regex pattern",
        ),
        (
            ParserConfig::new(FormatConfig::Json(RoleKeys {
                level: strings(&["ts"]),
                ..RoleKeys::json_defaults()
            })),
            "key \"ts\" is given for both time_field and level_field",
        ),
        (
            ParserConfig::new(FormatConfig::Json(RoleKeys {
                message: vec![],
                ..RoleKeys::json_defaults()
            })),
            "message_field needs at least one key",
        ),
        (
            ParserConfig {
                max_line_bytes: 0,
                ..ParserConfig::new(FormatConfig::Syslog)
            },
            "max_line_bytes=0",
        ),
    ];
    for (config, needle) in cases {
        let err = LogParser::new(config).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    }
}

#[test]
fn empty_input_has_the_schema() {
    let p = parser(FormatConfig::Syslog);
    let out = p.parse(std::iter::empty()).unwrap();
    assert_eq!(out.num_records() + out.num_rejects(), 0);
    assert_eq!(out.schema.fields().len(), 9);
    assert_eq!(out.records_batch().unwrap().num_rows(), 0);
    assert_eq!(p.format_name(), "syslog");
    assert!(p.pattern().unwrap().starts_with("^<"));
}

#[test]
fn standard_fields_never_found_are_reported() {
    let keys = RoleKeys {
        service: strings(&["ctx.service"]),
        ..RoleKeys::json_defaults()
    };
    let p = parser(FormatConfig::Json(keys));
    let lines = [
        r#"{"ts":1705312800,"level":"info","message":"a","ctx":{"svc":"x"}}"#,
        r#"{"ts":1705312800,"level":"info","message":null}"#,
        "not json",
    ];
    let out = parse_lines(&p, &lines);
    let fields: Vec<_> = out.missing_fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["service"]);
    assert_eq!(
        out.missing_fields[0].1,
        r#""service" (key "ctx.service") was absent or null in all 2 records"#
    );
    // Nothing is said without records, nor for a field some record had.
    let none = p.parse([(0, "x".as_bytes())]).unwrap();
    assert!(none.missing_fields.is_empty());
    // A pattern says it only for the fields it has a group for.
    let p = parser(FormatConfig::Regex(
        r"^(?P<ts>\S+)(?: (?P<level>[A-Z]+))? (?P<message>.*)$".into(),
    ));
    let out = p
        .parse([(0, "2024-01-15T10:00:00Z hello".as_bytes())])
        .unwrap();
    assert_eq!(
        out.missing_fields,
        [(
            "level".to_string(),
            r#""level" (group "level") was absent or null in the record"#.to_string()
        )]
    );
}

#[test]
fn typed_extra_fields() {
    let mut config = ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()));
    config.fields = [
        ("latency_ms", "int64"),
        ("ok", "bool"),
        ("ratio", "float64"),
        ("ctx", "string"),
        ("ctx.n", "int64"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect();
    config.batch_rows = 1; // typed columns discovered in a later batch are back-filled with typed nulls
    let p = LogParser::new(config).unwrap();
    let (records, rejects) = run(
        &p,
        &[
            r#"{"ts":1705312800,"other":1}"#,
            r#"{"ts":1705312800,"latency_ms":"841","ok":true,"ratio":0.25,"ctx":{"n":3}}"#,
            r#"{"ts":1705312800,"latency_ms":12,"ok":"false","ratio":"1e3","ctx":null}"#,
            r#"{"ts":1705312800,"latency_ms":"fast"}"#,
            r#"{"ts":1705312800,"latency_ms":1.5}"#,
            r#"{"ts":1705312800,"ok":1}"#,
            r#"{"ts":1705312800,"ratio":"NaN"}"#,
            r#"{"ts":1705312800,"ctx":{"n":"x"}}"#,
        ],
    );
    let schema = records.schema();
    let kind = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(kind("latency_ms"), DataType::Int64);
    assert_eq!(kind("ok"), DataType::Boolean);
    assert_eq!(kind("ratio"), DataType::Float64);
    assert_eq!(kind("ctx"), DataType::Utf8);
    assert_eq!(kind("ctx.n"), DataType::Int64);
    assert_eq!(kind("other"), DataType::Utf8);
    let ints = records
        .column_by_name("latency_ms")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    assert!(ints.is_null(0));
    assert_eq!((ints.value(1), ints.value(2)), (841, 12));
    let bools = records.column_by_name("ok").unwrap().as_boolean();
    assert!(bools.value(1) && !bools.value(2));
    let floats = records
        .column_by_name("ratio")
        .unwrap()
        .as_primitive::<arrow_array::types::Float64Type>();
    assert_eq!((floats.value(1), floats.value(2)), (0.25, 1000.0));
    assert_eq!(text(&records, "ctx", 1).as_deref(), Some(r#"{"n":3}"#));
    let n = records
        .column_by_name("ctx.n")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(n.value(1), 3);
    assert_eq!(
        reasons(&rejects),
        [
            (
                3,
                r#"field "latency_ms" value "fast" is not an int64"#.to_string()
            ),
            (
                4,
                r#"field "latency_ms" value "1.5" is not an int64"#.to_string()
            ),
            (5, r#"field "ok" value "1" is not a bool"#.to_string()),
            (
                6,
                r#"field "ratio" value "NaN" is not a float64"#.to_string()
            ),
            (7, r#"field "ctx.n" value "x" is not an int64"#.to_string()),
        ]
    );
}

#[test]
fn typed_fields_config_errors() {
    let build = |fields: &[(&str, &str)], extra: Option<&[&str]>, format: FormatConfig| {
        let mut config = ParserConfig::new(format);
        config.fields = fields
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        config.extra_fields = extra.map(strings);
        LogParser::new(config).unwrap_err().to_string()
    };
    let json = || FormatConfig::Json(RoleKeys::json_defaults());
    for (why, needle) in [
        (
            build(&[("a", "int")], None, json()),
            r#"fields: unknown type "int" for field "a""#,
        ),
        (
            build(&[("level", "int64")], None, json()),
            "standard column",
        ),
        (
            build(&[("a", "int64")], Some(&["b"]), json()),
            "not in extra_fields",
        ),
        (
            build(&[("a..b", "int64")], None, json()),
            "fields: bad key path",
        ),
        (
            build(
                &[("a", "int64")],
                None,
                FormatConfig::Regex("(?P<ts>.*)".into()),
            ),
            "json and logfmt formats only",
        ),
    ] {
        assert!(why.contains(needle), "{why}");
    }
}

#[test]
fn timezone_for_zone_less_times_across_dst() {
    const H: Millis = 3_600_000;
    let mut config = ParserConfig::new(FormatConfig::Logfmt(RoleKeys::logfmt_defaults()));
    config.timezone = Some("Europe/Berlin".into());
    let p = LogParser::new(config).unwrap();
    let (records, rejects) = run(
        &p,
        &[
            "ts=\"2024-01-15 11:00:00\"",     // CET, +01:00
            "ts=\"2024-03-31 01:30:00\"",     // before the spring jump: +01:00
            "ts=\"2024-03-31 03:30:00\"",     // after it: +02:00
            "ts=\"2024-03-31 02:30:00\"",     // skipped hour: the offset before the jump
            "ts=\"2024-10-27 02:30:00\"",     // repeated hour: the first (summer) one
            "ts=\"2024-10-27 03:30:00\"",     // after the fall change: +01:00
            "ts=2024-01-15T11:00:00+05:00",   // an explicit offset ignores timezone
            "ts=\"2024-01-15 11:00:00 UTC\"", // so does a UTC suffix
            "ts=1705312800",                  // and an epoch
            "ts=2024-01-15",                  // a date alone: midnight in the zone
        ],
    );
    assert_eq!(rejects.num_rows(), 0);
    let got: Vec<Millis> = (0..records.num_rows()).map(|i| ts(&records, i)).collect();
    assert_eq!(
        got,
        [
            T0,
            1_711_845_000_000, // 2024-03-31T00:30Z
            1_711_848_600_000, // 2024-03-31T01:30Z
            1_711_848_600_000, // 2024-03-31T01:30Z
            1_729_989_000_000, // 2024-10-27T00:30Z
            1_729_996_200_000, // 2024-10-27T02:30Z
            1_705_298_400_000, // 2024-01-15T06:00Z
            T0 + H,
            T0,
            T0 - 10 * H - H, // 2024-01-14T23:00Z
        ]
    );
}

#[test]
fn timezone_applies_to_presets_and_strftime_and_is_validated() {
    let mut config = ParserConfig::new(FormatConfig::PythonLogging {
        fmt: "%(asctime)s %(message)s".into(),
        datefmt: None,
        style: "%".into(),
    });
    config.timezone = Some("Europe/Berlin".into());
    let p = LogParser::new(config.clone()).unwrap();
    let (records, _) = run(&p, &["2024-07-01 12:00:00,250 summer"]);
    assert_eq!(ts(&records, 0), 1_719_828_000_000 + 250); // 2024-07-01T10:00:00.250Z
    let mut strftime = ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()));
    strftime.time_format = Some("%d/%m/%Y %H:%M".into());
    strftime.timezone = Some("America/New_York".into());
    let p = LogParser::new(strftime).unwrap();
    let (records, _) = run(&p, &[r#"{"ts":"15/01/2024 05:00"}"#]);
    assert_eq!(ts(&records, 0), T0);
    for bad in ["Mars/Olympus", "", "+01:00"] {
        config.timezone = Some(bad.into());
        let why = LogParser::new(config.clone()).unwrap_err().to_string();
        assert!(why.contains("timezone: unknown time zone"), "{why}");
    }
    config.timezone = Some("UTC".into());
    let (records, _) = run(
        &LogParser::new(config).unwrap(),
        &["2024-01-15 10:00:00,000 x"],
    );
    assert_eq!(ts(&records, 0), T0);
}

#[test]
fn named_extra_fields_never_found_are_reported() {
    let mut config = ParserConfig::new(FormatConfig::Json(RoleKeys::json_defaults()));
    config.extra_fields = Some(strings(&["host", "ctx.user", "level_"]));
    config.fields = vec![("ctx.user".into(), "int64".into())];
    let p = LogParser::new(config).unwrap();
    let lines = [
        r#"{"ts":1,"level":"i","service":"s","message":"m","host":null,"ctx":{"user":1}}"#,
        r#"{"ts":1,"level":"i","service":"s","message":"m"}"#,
    ];
    let out = parse_lines(&p, &lines);
    assert_eq!(
        out.missing_fields,
        [
            (
                "host".to_string(),
                r#"extra field "host" was absent or null in all 2 records"#.to_string()
            ),
            (
                "level_".to_string(),
                r#"extra field "level_" was absent or null in all 2 records"#.to_string()
            ),
        ]
    );
}
