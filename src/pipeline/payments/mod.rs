//! The payments operator: raw JSON payment events -> validated, exact-money rows enriched with
//! merchant reference data and FX rates into the base currency (as of the payment's time), or dead
//! letters with the reason. Every input message becomes exactly one of the two, so
//! `messages == rows + dead letters`.
//!
//! Payload, by default: `{"payment_id": "...", "merchant_id": "...", "amount": "12.34", "currency": "EUR",
//! "ts": "2026-01-01T12:00:00Z" | <epoch ms>}`. [`payload::FieldPaths`] maps each field to a dotted path
//! (`data.object.amount`); `amount` is a decimal string or JSON number in major units (at most the
//! currency's decimals) or, with [`AmountUnit::Minor`], an integer in minor units; it is read from its
//! text, never through a float. Numeric times are epoch seconds, milliseconds, micro- or nanoseconds.

pub mod payload;
#[cfg(test)]
mod tests;

use super::money::{convert, format_minor, minor_units, parse_scaled, RATE_DECIMALS};
use crate::enrich::{KeyBytes, ReferenceTable};
use crate::error::{Error, Result};
use arrow_array::builder::{BinaryBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
pub use payload::{AmountUnit, EpochUnit, FieldPaths};
use payload::{amount_text, currency_code, shorten, string_field, timestamp_ms, AMOUNT, CURRENCY, MERCHANT_ID, PAYMENT_ID, TS};
use std::borrow::Cow;
use std::sync::Arc;

const MS_PER_DAY: i64 = 86_400_000;

#[derive(Clone, Debug)]
pub struct PaymentsSpec {
    /// Where the fields are in the payload.
    pub fields: FieldPaths,
    pub amount_unit: AmountUnit,
    pub ts_unit: EpochUnit,
    /// ISO 4217 code every amount is converted into (`amount_<base>_minor`); payments already in it
    /// need no FX rate.
    pub base_currency: String,
    /// Column of the FX table holding units of the base currency per unit of the currency (decimal
    /// text or decimal128); None: `rate_to_<base, lower case>`.
    pub rate_column: Option<String>,
    /// Payments worth more than this many minor units of the base currency are dead letters
    /// ("absurd amount"); None: 1,000,000 units of the base currency.
    pub max_amount_minor: Option<i64>,
}

impl Default for PaymentsSpec {
    fn default() -> Self {
        PaymentsSpec {
            fields: FieldPaths::default(),
            amount_unit: AmountUnit::Major,
            ts_unit: EpochUnit::Millis,
            base_currency: "USD".into(),
            rate_column: None,
            max_amount_minor: None,
        }
    }
}

/// Output of one step: rows and dead letters (topic, partition, offset, reason, payload).
pub struct PaymentsStep {
    pub rows: RecordBatch,
    pub dead_letters: RecordBatch,
}

struct Valid<'a> {
    payment_id: Cow<'a, str>,
    merchant_id: Cow<'a, str>,
    currency: Cow<'a, str>,
    amount_minor: i64,
    amount_base_minor: i64,
    ts: i64,
    merchant_row: u32,
}

pub struct PaymentsOperator {
    spec: PaymentsSpec,
    base_exponent: u32,
    rate_column: String,
    max_amount_minor: i64,
    amount_column: String,
    schema_cache: Option<(usize, SchemaRef)>,
}

impl PaymentsOperator {
    pub fn new(spec: PaymentsSpec) -> Result<Self> {
        let base_exponent = minor_units(&spec.base_currency).ok_or_else(|| {
            Error::config(format!("base_currency {:?} is not a currency code this pipeline knows (ISO 4217, upper case)", spec.base_currency))
        })?;
        let max_amount_minor = match spec.max_amount_minor {
            Some(v) if v <= 0 => return Err(Error::config(format!("max_amount must be positive, got {v} minor units"))),
            Some(v) => v,
            None => 1_000_000 * 10i64.pow(base_exponent),
        };
        let base = spec.base_currency.to_ascii_lowercase();
        Ok(PaymentsOperator {
            rate_column: spec.rate_column.clone().unwrap_or_else(|| format!("rate_to_{base}")),
            amount_column: format!("amount_{base}_minor"),
            base_exponent,
            max_amount_minor,
            spec,
            schema_cache: None,
        })
    }

    /// Name of the output column of amounts in the base currency: `amount_usd_minor` for USD.
    pub fn amount_column(&self) -> &str {
        &self.amount_column
    }

    pub fn rate_column(&self) -> &str {
        &self.rate_column
    }

    pub fn spec(&self) -> &PaymentsSpec {
        &self.spec
    }

    /// The FX table's rate column, checked once per batch (a missing or inexact column is the
    /// reference data's fault, not a message's).
    fn rates<'t>(&self, fx: &'t ReferenceTable) -> Result<&'t ArrayRef> {
        let column = fx.data().column_by_name(&self.rate_column).ok_or_else(|| {
            let names: Vec<_> = fx.data().schema().fields().iter().map(|f| f.name().clone()).collect();
            Error::schema(format!("FX reference table has no rate column {:?} (columns: {names:?}); give its rate column", self.rate_column))
        })?;
        match column.data_type() {
            DataType::Utf8 => Ok(column),
            DataType::Decimal128(_, scale) if (0..=RATE_DECIMALS as i8).contains(scale) => Ok(column),
            other => Err(Error::schema(format!(
                "FX rate column {:?} has type {other}; rates must be exact: decimal text or decimal128 with at most {RATE_DECIMALS} decimals",
                self.rate_column
            ))),
        }
    }

    fn rate_nanos(&self, rates: &ArrayRef, row: u32) -> Result<i128> {
        let row = row as usize;
        if rates.is_null(row) {
            return Err(Error::schema(format!("FX reference table row {row}: rate is null")));
        }
        let rate = match rates.data_type() {
            DataType::Decimal128(_, scale) => rates.as_primitive::<Decimal128Type>().value(row) * 10i128.pow(RATE_DECIMALS - *scale as u32),
            _ => parse_scaled(rates.as_string::<i32>().value(row), RATE_DECIMALS)
                .map_err(|e| Error::schema(format!("FX reference table row {row}: rate {e}")))?,
        };
        if rate <= 0 {
            return Err(Error::schema(format!("FX reference table row {row}: rate {} is not positive", format_minor(rate, RATE_DECIMALS))));
        }
        Ok(rate)
    }

    fn validate<'a>(
        &self,
        payload: &'a [u8],
        merchants: &ReferenceTable,
        fx: Option<(&ReferenceTable, &ArrayRef)>,
    ) -> Result<std::result::Result<Valid<'a>, String>> {
        let paths = &self.spec.fields;
        let raw = match paths.extract(payload) {
            Ok(raw) => raw,
            Err(reason) => return Ok(Err(reason)),
        };
        let fields = (|| {
            let payment_id = string_field(raw[PAYMENT_ID], paths.label(PAYMENT_ID))?;
            let merchant_id = string_field(raw[MERCHANT_ID], paths.label(MERCHANT_ID))?;
            let currency = string_field(raw[CURRENCY], paths.label(CURRENCY))?;
            let ts = timestamp_ms(raw[TS], paths.label(TS), self.spec.ts_unit)?;
            let amount = amount_text(raw[AMOUNT], paths.label(AMOUNT))?;
            Ok::<_, String>((payment_id, merchant_id, currency, ts, amount))
        })();
        let (payment_id, merchant_id, currency, ts, amount) = match fields {
            Ok(f) => f,
            Err(reason) => return Ok(Err(reason)),
        };
        // `eur` (as some processors send it) is EUR; the borrowed text is kept when already upper case.
        let known = currency_code(&currency).and_then(|code| {
            let exponent = minor_units(&code)?;
            Some((exponent, if let Cow::Owned(upper) = code { Some(upper) } else { None }))
        });
        let Some((exponent, upper)) = known else {
            return Ok(Err(format!("unknown currency {:?}", shorten(&currency))));
        };
        let currency: Cow<'a, str> = upper.map_or(currency, Cow::Owned);
        let amount_minor = match self.spec.amount_unit {
            AmountUnit::Major => match parse_scaled(&amount, exponent) {
                Ok(v) => v,
                Err(e) => return Ok(Err(format!("amount {e} ({currency} has {exponent} decimals)"))),
            },
            AmountUnit::Minor => match parse_scaled(&amount, 0) {
                Ok(v) => v,
                Err(e) if e.contains("more than 0 decimals") => {
                    return Ok(Err(format!("amount {amount} is in minor units of {currency} and has a fractional part")))
                }
                Err(e) => return Ok(Err(format!("amount {e}"))),
            },
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
        let base = self.spec.base_currency.as_str();
        let limit = || format!("{} {base}", format_minor(i128::from(self.max_amount_minor), self.base_exponent));
        // Past this, even the exact product below could overflow: absurd whatever the rate.
        if amount_minor > i128::from(i64::MAX / 1000) {
            return Ok(Err(format!("absurd amount {amount} {currency} (the limit is {})", limit())));
        }
        let amount_base = if currency == base {
            Some(amount_minor)
        } else {
            let Some((fx, rates)) = fx else {
                return Ok(Err(format!("no FX table given: cannot convert {currency} to {base} (without one only {base} payments are accepted)")));
            };
            let Some(fx_row) = fx.lookup_key(&KeyBytes::Borrowed(currency.as_bytes()), Some(ts)) else {
                let day = chrono::DateTime::from_timestamp_millis(ts).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
                return Ok(Err(format!("no FX rate for {currency} on {day}")));
            };
            convert(amount_minor as i64, exponent, self.rate_nanos(rates, fx_row)?, self.base_exponent)
        };
        let amount_base_minor = match amount_base {
            Some(v) if v <= i128::from(self.max_amount_minor) => v as i64,
            about => {
                let about = about.map(|v| format!("about {} {base}; ", format_minor(v, self.base_exponent))).unwrap_or_default();
                return Ok(Err(format!("absurd amount {amount} {currency} ({about}the limit is {})", limit())));
            }
        };
        Ok(Ok(Valid {
            payment_id,
            merchant_id,
            currency,
            amount_minor: amount_minor as i64,
            amount_base_minor,
            ts,
            merchant_row,
        }))
    }

    /// Validate and enrich `payloads` (binary or string JSON) read at `partitions`/`offsets` of `topic`;
    /// without `fx`, only payments in the base currency become rows.
    pub fn process(
        &mut self,
        topic: &str,
        payloads: &dyn Array,
        partitions: &dyn Array,
        offsets: &dyn Array,
        merchants: &ReferenceTable,
        fx: Option<&ReferenceTable>,
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
        let fx = match fx {
            Some(fx) => Some((fx, self.rates(fx)?)),
            None => None,
        };

        let mut payment_id = StringBuilder::new();
        let mut merchant_id = StringBuilder::new();
        let mut currency = StringBuilder::new();
        let mut amount = Int64Builder::with_capacity(n);
        let mut amount_base = Int64Builder::with_capacity(n);
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
                    amount_base.append_value(v.amount_base_minor);
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
            Field::new(self.amount_column.as_str(), DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
            Field::new("day", DataType::Date32, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(payment_id.finish()),
            Arc::new(merchant_id.finish()),
            Arc::new(amount.finish()),
            Arc::new(currency.finish()),
            Arc::new(amount_base.finish()),
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

