//! The payments operator: raw JSON payment events -> validated, exact-money rows enriched with
//! merchant reference data and FX rates (as of the payment's time), or dead letters with the reason.
//! Every input message becomes exactly one of the two, so `messages == rows + dead letters`.
//!
//! Payload: `{"payment_id": "...", "merchant_id": "...", "amount": "12.34", "currency": "EUR",
//! "ts": "2026-01-01T12:00:00Z" | <epoch ms>}`; `amount` is a decimal string or a JSON number written
//! in major units, read from its text (never through a float), with at most the currency's decimals.

use super::money::{convert, format_minor, minor_units, parse_scaled, RATE_DECIMALS};
use crate::enrich::{KeyBytes, ReferenceTable};
use crate::error::{Error, Result};
use arrow_array::builder::{BinaryBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

const MS_PER_DAY: i64 = 86_400_000;

#[derive(Clone, Debug)]
pub struct PaymentsSpec {
    /// Column of the FX table holding units of USD per unit of the currency (decimal text or decimal128).
    pub rate_column: String,
    /// Payments worth more than this (in US cents) are dead letters ("absurd amount").
    pub max_amount_usd_minor: i64,
}

impl Default for PaymentsSpec {
    fn default() -> Self {
        PaymentsSpec { rate_column: "rate_to_usd".into(), max_amount_usd_minor: 100_000_000 }
    }
}

/// Output of one step: rows and dead letters (topic, partition, offset, reason, payload).
pub struct PaymentsStep {
    pub rows: RecordBatch,
    pub dead_letters: RecordBatch,
}

#[derive(Deserialize)]
struct RawPayment<'a> {
    #[serde(borrow, default)]
    payment_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    merchant_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    currency: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
}

fn required<'a>(field: Option<&'a RawValue>, name: &str) -> std::result::Result<&'a str, String> {
    match field.map(|v| v.get()) {
        None | Some("null") => Err(format!("missing field {name}")),
        Some(text) => Ok(text),
    }
}

fn string_field<'a>(field: Option<&'a RawValue>, name: &str) -> std::result::Result<Cow<'a, str>, String> {
    let raw = required(field, name)?;
    if !raw.starts_with('"') {
        return Err(format!("{name} must be a string, got {}", shorten(raw)));
    }
    let value: Cow<'a, str> = serde_json::from_str(raw).map_err(|e| format!("{name}: {e}"))?;
    if value.trim().is_empty() {
        return Err(format!("{name} is empty"));
    }
    if value.len() > 128 {
        return Err(format!("{name} is longer than 128 bytes"));
    }
    Ok(value)
}

fn shorten(text: &str) -> String {
    if text.len() <= 40 {
        text.to_owned()
    } else {
        let cut = (0..=40).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &text[..cut])
    }
}

fn timestamp_ms(field: Option<&RawValue>) -> std::result::Result<i64, String> {
    let raw = required(field, "ts")?;
    if raw.starts_with('"') {
        let text: Cow<'_, str> = serde_json::from_str(raw).map_err(|e| format!("ts: {e}"))?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| format!("ts {:?} is not an RFC 3339 timestamp: {e}", shorten(&text)))
    } else {
        raw.parse::<i64>().map_err(|_| format!("ts must be an RFC 3339 string or integer epoch milliseconds, got {}", shorten(raw)))
    }
}

/// The decimal text of `amount` (a JSON string or number), not yet scaled.
fn amount_text(field: Option<&RawValue>) -> std::result::Result<Cow<'_, str>, String> {
    let raw = required(field, "amount")?;
    if raw.starts_with('"') {
        serde_json::from_str(raw).map_err(|e| format!("amount: {e}"))
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Ok(Cow::Borrowed(raw))
    } else {
        Err(format!("amount must be a decimal string or number, got {}", shorten(raw)))
    }
}

struct Valid<'a> {
    payment_id: Cow<'a, str>,
    merchant_id: Cow<'a, str>,
    currency: Cow<'a, str>,
    amount_minor: i64,
    amount_usd_minor: i64,
    ts: i64,
    merchant_row: u32,
}

pub struct PaymentsOperator {
    spec: PaymentsSpec,
    schema_cache: Option<(usize, SchemaRef)>,
}

impl PaymentsOperator {
    pub fn new(spec: PaymentsSpec) -> Self {
        PaymentsOperator { spec, schema_cache: None }
    }

    fn rate_nanos(&self, fx: &ReferenceTable, row: u32) -> Result<i128> {
        let column = fx.data().column_by_name(&self.spec.rate_column).ok_or_else(|| {
            Error::schema(format!("FX reference table has no rate column {:?}", self.spec.rate_column))
        })?;
        let row = row as usize;
        if column.is_null(row) {
            return Err(Error::schema(format!("FX reference table row {row}: rate is null")));
        }
        match column.data_type() {
            DataType::Utf8 => parse_scaled(column.as_string::<i32>().value(row), RATE_DECIMALS)
                .map_err(|e| Error::schema(format!("FX reference table row {row}: rate {e}"))),
            DataType::Decimal128(_, scale) if (0..=RATE_DECIMALS as i8).contains(scale) => {
                Ok(column.as_primitive::<Decimal128Type>().value(row) * 10i128.pow(RATE_DECIMALS - *scale as u32))
            }
            other => Err(Error::schema(format!(
                "FX rate column {:?} has type {other}; rates must be exact: decimal text or decimal128 with at most {RATE_DECIMALS} decimals",
                self.spec.rate_column
            ))),
        }
    }

    fn validate<'a>(&self, payload: &'a [u8], merchants: &ReferenceTable, fx: &ReferenceTable) -> Result<std::result::Result<Valid<'a>, String>> {
        let raw: RawPayment<'a> = match serde_json::from_slice(payload) {
            Ok(raw) => raw,
            Err(e) => return Ok(Err(format!("malformed JSON: {e}"))),
        };
        let fields = (|| {
            let payment_id = string_field(raw.payment_id, "payment_id")?;
            let merchant_id = string_field(raw.merchant_id, "merchant_id")?;
            let currency = string_field(raw.currency, "currency")?;
            let ts = timestamp_ms(raw.ts)?;
            let amount = amount_text(raw.amount)?;
            Ok::<_, String>((payment_id, merchant_id, currency, ts, amount))
        })();
        let (payment_id, merchant_id, currency, ts, amount) = match fields {
            Ok(f) => f,
            Err(reason) => return Ok(Err(reason)),
        };
        let Some(exponent) = minor_units(&currency) else {
            return Ok(Err(format!("unknown currency {:?}", shorten(&currency))));
        };
        let amount_minor = match parse_scaled(&amount, exponent) {
            Ok(v) => v,
            Err(e) => return Ok(Err(format!("amount {e} ({currency} has {exponent} decimals)"))),
        };
        if amount_minor < 0 {
            return Ok(Err(format!("negative amount {amount} {currency}")));
        }
        if amount_minor == 0 {
            return Ok(Err(format!("zero amount {amount} {currency}")));
        }
        let Some(merchant_row) = merchants.lookup_key(&KeyBytes::Borrowed(merchant_id.as_bytes()), Some(ts)) else {
            return Ok(Err(format!("unknown merchant {:?}", shorten(&merchant_id))));
        };
        let Some(fx_row) = fx.lookup_key(&KeyBytes::Borrowed(currency.as_bytes()), Some(ts)) else {
            let day = chrono::DateTime::from_timestamp_millis(ts).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
            return Ok(Err(format!("no FX rate for {currency} on {day}")));
        };
        let rate = self.rate_nanos(fx, fx_row)?;
        let usd = convert(i64::try_from(amount_minor).unwrap_or(i64::MAX), exponent, rate, 2);
        if amount_minor > i128::from(i64::MAX / 1000) || usd > i128::from(self.spec.max_amount_usd_minor) {
            return Ok(Err(format!(
                "absurd amount {amount} {currency} (about {} USD; the limit is {} USD)",
                format_minor(usd, 2),
                format_minor(i128::from(self.spec.max_amount_usd_minor), 2)
            )));
        }
        Ok(Ok(Valid {
            payment_id,
            merchant_id,
            currency,
            amount_minor: amount_minor as i64,
            amount_usd_minor: usd as i64,
            ts,
            merchant_row,
        }))
    }

    /// Validate and enrich `payloads` (binary or string JSON) read at `partitions`/`offsets` of `topic`.
    pub fn process(
        &mut self,
        topic: &str,
        payloads: &dyn Array,
        partitions: &dyn Array,
        offsets: &dyn Array,
        merchants: &ReferenceTable,
        fx: &ReferenceTable,
    ) -> Result<PaymentsStep> {
        let n = payloads.len();
        if partitions.len() != n || offsets.len() != n {
            return Err(Error::schema("payloads, partitions and offsets must have the same length"));
        }
        let partitions = arrow_cast::cast(partitions, &DataType::Int32)?;
        let partitions = partitions.as_primitive::<arrow_array::types::Int32Type>();
        let offsets = arrow_cast::cast(offsets, &DataType::Int64)?;
        let offsets = offsets.as_primitive::<arrow_array::types::Int64Type>();
        let payloads = arrow_cast::cast(payloads, &DataType::Binary)?;
        let payloads = payloads.as_binary::<i32>();

        let mut payment_id = StringBuilder::new();
        let mut merchant_id = StringBuilder::new();
        let mut currency = StringBuilder::new();
        let mut amount = Int64Builder::with_capacity(n);
        let mut usd = Int64Builder::with_capacity(n);
        let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut day = Date32Builder::with_capacity(n);
        let mut src_partition = Int32Builder::with_capacity(n);
        let mut src_offset = Int64Builder::with_capacity(n);
        let mut merchant_rows = Vec::with_capacity(n);
        let mut dl_partition = Int32Builder::new();
        let mut dl_offset = Int64Builder::new();
        let mut dl_reason = StringBuilder::new();
        let mut dl_payload = BinaryBuilder::new();
        for i in 0..n {
            let payload = if payloads.is_null(i) { None } else { Some(payloads.value(i)) };
            let verdict = match payload {
                None => Err("empty message (null payload)".to_string()),
                Some(p) => self.validate(p, merchants, fx)?,
            };
            match verdict {
                Ok(v) => {
                    payment_id.append_value(&v.payment_id);
                    merchant_id.append_value(&v.merchant_id);
                    currency.append_value(&v.currency);
                    amount.append_value(v.amount_minor);
                    usd.append_value(v.amount_usd_minor);
                    ts.append_value(v.ts);
                    day.append_value(v.ts.div_euclid(MS_PER_DAY) as i32);
                    src_partition.append_value(partitions.value(i));
                    src_offset.append_value(offsets.value(i));
                    merchant_rows.push(v.merchant_row);
                }
                Err(reason) => {
                    dl_partition.append_value(partitions.value(i));
                    dl_offset.append_value(offsets.value(i));
                    dl_reason.append_value(reason);
                    dl_payload.append_option(payload);
                }
            }
        }
        let mut fields = vec![
            Field::new("payment_id", DataType::Utf8, false),
            Field::new("merchant_id", DataType::Utf8, false),
            Field::new("amount_minor", DataType::Int64, false),
            Field::new("currency", DataType::Utf8, false),
            Field::new("amount_usd_minor", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
            Field::new("day", DataType::Date32, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(payment_id.finish()),
            Arc::new(merchant_id.finish()),
            Arc::new(amount.finish()),
            Arc::new(currency.finish()),
            Arc::new(usd.finish()),
            Arc::new(ts.finish()),
            Arc::new(day.finish()),
        ];
        for (name, column) in merchants.gather(&UInt32Array::from(merchant_rows))? {
            if fields.iter().any(|f| f.name() == &name) {
                return Err(Error::schema(format!("merchant reference column {name:?} clashes with a payment column; rename it")));
            }
            fields.push(Field::new(name, column.data_type().clone(), true));
            columns.push(column);
        }
        fields.push(Field::new("source_partition", DataType::Int32, false));
        fields.push(Field::new("source_offset", DataType::Int64, false));
        columns.push(Arc::new(src_partition.finish()));
        columns.push(Arc::new(src_offset.finish()));
        let schema = self.schema(fields);
        let rows = RecordBatch::try_new(schema, columns)?;
        let reasons = dl_reason.finish();
        let topics: arrow_array::StringArray = std::iter::repeat_n(Some(topic), reasons.len()).collect();
        let dead_letters = RecordBatch::try_new(
            crate::kafka::decode::reject_schema(),
            vec![Arc::new(topics), Arc::new(dl_partition.finish()), Arc::new(dl_offset.finish()), Arc::new(reasons), Arc::new(dl_payload.finish())],
        )?;
        Ok(PaymentsStep { rows, dead_letters })
    }

    /// One schema object per layout, so the sink recognises a batch it already checked.
    fn schema(&mut self, fields: Vec<Field>) -> SchemaRef {
        let fingerprint = fields.iter().map(|f| format!("{}:{}", f.name(), f.data_type())).collect::<Vec<_>>().join(",");
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fingerprint.hash(&mut h);
            h.finish() as usize
        };
        match &self.schema_cache {
            Some((h, schema)) if *h == hash => schema.clone(),
            _ => {
                let schema = Arc::new(Schema::new(fields));
                self.schema_cache = Some((hash, schema.clone()));
                schema
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let mut op = PaymentsOperator::new(PaymentsSpec::default());
        let step = op.process("pay", &payloads, &partitions, &offsets, &merchants, &fx).unwrap();
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
}
