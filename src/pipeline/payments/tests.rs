//! The operator on hand-computed cases; tests/pipeline checks it against the Python oracle.

use super::*;
use arrow_array::{Date32Array, Int32Array, Int64Array, StringArray};

fn tables() -> (ReferenceTable, ReferenceTable) {
    let merchants = RecordBatch::try_from_iter([
        ("merchant_id", Arc::new(StringArray::from(vec!["m1", "m2"])) as ArrayRef),
        ("merchant_name", Arc::new(StringArray::from(vec!["One", "Two"])) as ArrayRef),
    ])
    .unwrap();
    let fx = RecordBatch::try_from_iter([
        ("currency", Arc::new(StringArray::from(vec!["USD", "EUR", "JPY"])) as ArrayRef),
        ("valid_from", Arc::new(Date32Array::from(vec![20_000, 20_454, 20_000])) as ArrayRef),
        ("rate_to_usd", Arc::new(StringArray::from(vec!["1", "1.1", "0.0067"])) as ArrayRef),
    ])
    .unwrap();
    (
        ReferenceTable::new(&[merchants], "merchant_id", None).unwrap(),
        ReferenceTable::new(&[fx], "currency", Some("valid_from")).unwrap(),
    )
}

#[test]
fn every_message_is_a_row_or_a_dead_letter_with_its_reason() {
    let (merchants, fx) = tables();
    let payloads = StringArray::from(vec![
        r#"{"payment_id":"p1","merchant_id":"m1","amount":"12.34","currency":"EUR","ts":"2026-01-01T10:00:00Z"}"#,
        r#"{"payment_id":"p2","merchant_id":"m2","amount":1000,"currency":"JPY","ts":1767261600000}"#,
        r#"{"payment_id":"p3","merchant_id":"m1","amount":"-1.00","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":"p4","merchant_id":"m9","amount":"1.00","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":"p5","merchant_id":"m1","amount":"1.00","currency":"XXX","ts":1767261600000}"#,
        r#"{"payment_id":"p6","merchant_id":"m1","amount":"1.00","currency":"EUR","ts":"2025-12-31T10:00:00Z"}"#,
        r#"{"payment_id":"p7","merchant_id":"m1","amount":"1.001","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":"p8","merchant_id":"m1","amount":"99999999.00","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":"p9","merchant_id":"m1","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":9,"merchant_id":"m1","amount":"1","currency":"USD","ts":1767261600000}"#,
        r#"{"payment_id":"p11","#,
        r#"{"payment_id":"p12","merchant_id":"m1","amount":1.5e3,"currency":"USD","ts":1767261600000}"#,
    ]);
    let n = payloads.len();
    let partitions = Int32Array::from(vec![0; n]);
    let offsets = Int64Array::from((0..n as i64).collect::<Vec<_>>());
    let mut op = PaymentsOperator::new(PaymentsSpec::default()).unwrap();
    let step = op.process("pay", &payloads, &partitions, &offsets, &merchants, Some(&fx)).unwrap();
    assert_eq!(step.rows.num_rows() + step.dead_letters.num_rows(), n);
    let usd = step.rows.column_by_name("amount_usd_minor").unwrap().as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(usd.values().to_vec(), vec![1357, 670]); // 12.34 EUR * 1.1 = 13.574 -> 13.57
    let names = step.rows.column_by_name("merchant_name").unwrap().as_string::<i32>();
    assert_eq!(names.iter().collect::<Vec<_>>(), vec![Some("One"), Some("Two")]);
    let reasons: Vec<String> = step.dead_letters.column(3).as_string::<i32>().iter().map(|r| r.unwrap().to_owned()).collect();
    let expect = ["negative amount", "unknown merchant", "unknown currency", "no FX rate for EUR on 2025-12-31",
        "more than 2 decimals", "absurd amount", "missing field amount", "payment_id must be a string", "malformed JSON",
        "not a plain decimal"];
    assert_eq!(reasons.len(), expect.len());
    for (reason, want) in reasons.iter().zip(expect) {
        assert!(reason.contains(want), "{reason:?} should contain {want:?}");
    }
}

fn run(spec: PaymentsSpec, payloads: Vec<&str>, fx: Option<&ReferenceTable>) -> (RecordBatch, Vec<String>) {
    let (merchants, _) = tables();
    let n = payloads.len();
    let mut op = PaymentsOperator::new(spec).unwrap();
    let step = op
        .process("pay", &StringArray::from(payloads), &Int32Array::from(vec![0; n]), &Int64Array::from((0..n as i64).collect::<Vec<_>>()), &merchants, fx)
        .unwrap();
    assert_eq!(step.rows.num_rows() + step.dead_letters.num_rows(), n);
    let reasons = step.dead_letters.column(3).as_string::<i32>().iter().map(|r| r.unwrap().to_owned()).collect();
    (step.rows, reasons)
}

fn int_column(rows: &RecordBatch, name: &str) -> Vec<i64> {
    rows.column_by_name(name).unwrap().as_primitive::<arrow_array::types::Int64Type>().values().to_vec()
}

#[test]
fn a_stripe_shaped_payload_in_minor_units_converts_into_a_euro_base() {
    let fields = FieldPaths::new(&[
        ("payment_id".into(), "data.object.id".into()),
        ("merchant_id".into(), "data.object.metadata.merchant".into()),
        ("amount".into(), "data.object.amount".into()),
        ("currency".into(), "data.object.currency".into()),
        ("ts".into(), "created".into()),
    ])
    .unwrap();
    let fx = RecordBatch::try_from_iter([
        ("currency", Arc::new(StringArray::from(vec!["USD", "JPY"])) as ArrayRef),
        ("valid_from", Arc::new(Date32Array::from(vec![20_000, 20_000])) as ArrayRef),
        ("rate_to_eur", Arc::new(StringArray::from(vec!["0.92", "0.0061"])) as ArrayRef),
    ])
    .unwrap();
    let fx = ReferenceTable::new(&[fx], "currency", Some("valid_from")).unwrap();
    let spec = PaymentsSpec { fields, amount_unit: AmountUnit::Minor, ts_unit: EpochUnit::Seconds, base_currency: "EUR".into(), ..Default::default() };
    let event = |id: &str, amount: &str, currency: &str| {
        format!(r#"{{"id":"evt","created":1767261600,"data":{{"object":{{"id":"{id}","amount":{amount},"currency":"{currency}","metadata":{{"merchant":"m1"}}}}}}}}"#)
    };
    let payloads = [event("a", "1234", "eur"), event("b", "1000", "usd"), event("c", "1000", "jpy"), event("d", "12.5", "eur"),
        event("e", "\"700\"", "EUR"), event("f", "5", "Eur")];
    let (rows, reasons) = run(spec.clone(), payloads.iter().map(String::as_str).collect(), Some(&fx));
    // 12.34 EUR stays; 10.00 USD * 0.92 = 9.20 EUR; 1000 JPY * 0.0061 = 6.10 EUR; "700" cents = 7.00 EUR.
    assert_eq!(int_column(&rows, "amount_eur_minor"), vec![1234, 920, 610, 700]);
    assert_eq!(int_column(&rows, "amount_minor"), vec![1234, 1000, 1000, 700]);
    let currencies: Vec<_> = rows.column_by_name("currency").unwrap().as_string::<i32>().iter().flatten().collect();
    assert_eq!(currencies, vec!["EUR", "USD", "JPY", "EUR"]);
    let ts = rows.column_by_name("ts").unwrap().as_primitive::<arrow_array::types::TimestampMillisecondType>();
    assert_eq!(ts.value(0), 1_767_261_600_000);
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("amount 12.5 is in minor units of EUR and has a fractional part"), "{reasons:?}");
    assert!(reasons[1].contains("unknown currency \"Eur\""), "{reasons:?}");
    // Without an FX table only euro payments are rows; the others say why.
    let (rows, reasons) = run(spec, payloads[..3].iter().map(String::as_str).collect(), None);
    assert_eq!(int_column(&rows, "amount_eur_minor"), vec![1234]);
    assert!(reasons.iter().all(|r| r.starts_with("no FX table given: cannot convert")) && reasons[0].contains("USD to EUR"), "{reasons:?}");
}

#[test]
fn the_limit_is_in_the_base_currency_and_a_huge_rate_is_absurd_not_wrapped() {
    let (_, fx) = tables();
    let spec = |base: &str, max| PaymentsSpec { base_currency: base.into(), max_amount_minor: max, rate_column: Some("rate_to_usd".into()), ..Default::default() };
    let payment = |amount: &str, currency: &str| format!(r#"{{"payment_id":"p","merchant_id":"m1","amount":"{amount}","currency":"{currency}","ts":1767261600000}}"#);
    // 1,000,000 JPY is 6,700 USD: over a 5,000.00 USD limit, under the default 1,000,000 USD.
    let (rows, reasons) = run(spec("USD", Some(500_000)), vec![payment("1000000", "JPY").as_str(), payment("4999.99", "USD").as_str()], Some(&fx));
    assert_eq!(rows.num_rows(), 1);
    assert!(reasons[0].contains("absurd amount 1000000 JPY (about 6700.00 USD; the limit is 5000.00 USD)"), "{reasons:?}");
    let (rows, _) = run(spec("USD", None), vec![payment("1000000", "JPY").as_str()], Some(&fx));
    assert_eq!(rows.num_rows(), 1);
    let huge = RecordBatch::try_from_iter([
        ("currency", Arc::new(StringArray::from(vec!["EUR"])) as ArrayRef),
        ("valid_from", Arc::new(Date32Array::from(vec![20_000])) as ArrayRef),
        ("rate_to_usd", Arc::new(StringArray::from(vec!["99999999999999999999"])) as ArrayRef),
    ])
    .unwrap();
    let huge = ReferenceTable::new(&[huge], "currency", Some("valid_from")).unwrap();
    let (_, reasons) = run(spec("USD", None), vec![payment("9000000000000.00", "EUR").as_str()], Some(&huge));
    assert!(reasons[0].starts_with("absurd amount 9000000000000.00 EUR (the limit is 1000000.00 USD)"), "{reasons:?}");
    assert!(PaymentsOperator::new(spec("XBT", None)).is_err());
    assert!(PaymentsOperator::new(spec("USD", Some(0))).is_err());
}

#[test]
fn an_fx_table_without_the_rate_column_is_a_schema_error_naming_it() {
    let (merchants, fx) = tables();
    let mut op = PaymentsOperator::new(PaymentsSpec { base_currency: "EUR".into(), ..Default::default() }).unwrap();
    let one = StringArray::from(vec![r#"{"payment_id":"p","merchant_id":"m1","amount":"1","currency":"EUR","ts":0}"#]);
    let error = op.process("pay", &one, &Int32Array::from(vec![0]), &Int64Array::from(vec![0]), &merchants, Some(&fx)).err().unwrap();
    assert!(error.to_string().contains("no rate column \"rate_to_eur\""), "{error}");
}
