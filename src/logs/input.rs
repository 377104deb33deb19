//! Lines from Arrow arrays: string, large_string, string_view, binary, large_binary, binary_view,
//! dictionaries of those, all-null arrays, and a struct with one such field (a one-column table).

use super::ParseSession;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::DataType;
use std::sync::Arc;

/// Whether arrays of `data_type` can be parsed as lines; the error names the type.
pub fn check_line_type(data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Null => Ok(()),
        DataType::Dictionary(_, value) => check_line_type(value),
        DataType::Struct(fields) if fields.len() == 1 => check_line_type(fields[0].data_type()),
        other => Err(Error::schema(format!(
            "log lines must be an Arrow string or binary array (string, large_string, string_view, binary, \
             large_binary, binary_view, a dictionary of those, or a one-column table of those); got {other}"
        ))),
    }
}

impl ParseSession<'_> {
    /// Push every value of `array` as a line; positions count up from `first_position`.
    pub fn push_array(&mut self, array: &dyn Array, first_position: i64) -> Result<()> {
        check_line_type(array.data_type())?;
        let mut position = first_position;
        let mut push = |session: &mut Self, line: Option<&[u8]>| {
            let result = session.push(position, line);
            position += 1;
            result
        };
        match array.data_type() {
            DataType::Utf8 => {
                for v in array.as_string::<i32>() {
                    push(self, v.map(str::as_bytes))?;
                }
            }
            DataType::LargeUtf8 => {
                for v in array.as_string::<i64>() {
                    push(self, v.map(str::as_bytes))?;
                }
            }
            DataType::Utf8View => {
                for v in array.as_string_view() {
                    push(self, v.map(str::as_bytes))?;
                }
            }
            DataType::Binary => {
                for v in array.as_binary::<i32>() {
                    push(self, v)?;
                }
            }
            DataType::LargeBinary => {
                for v in array.as_binary::<i64>() {
                    push(self, v)?;
                }
            }
            DataType::BinaryView => {
                for v in array.as_binary_view() {
                    push(self, v)?;
                }
            }
            DataType::Null => {
                for _ in 0..array.len() {
                    push(self, None)?;
                }
            }
            DataType::Dictionary(_, value) => {
                let values = arrow_cast::cast(&array.slice(0, array.len()), value)?;
                self.push_array(values.as_ref(), first_position)?;
            }
            DataType::Struct(_) => {
                let structs: &StructArray = array.as_struct();
                let mut column: ArrayRef = Arc::clone(structs.column(0));
                if let Some(nulls) = structs.logical_nulls() {
                    // A null struct row is a null line.
                    let merged = arrow_buffer::NullBuffer::union(
                        Some(&nulls),
                        column.logical_nulls().as_ref(),
                    );
                    let data = column.to_data().into_builder().nulls(merged).build()?;
                    column = arrow_array::make_array(data);
                }
                self.push_array(column.as_ref(), first_position)?;
            }
            _ => unreachable!("checked by check_line_type"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FormatConfig, LogParser, ParserConfig, RoleKeys};
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{
        BinaryArray, DictionaryArray, Int64Array, LargeStringArray, NullArray, StringArray,
        StringViewArray,
    };
    use arrow_schema::Field;

    fn positions_of_rejects(array: &dyn Array, first: i64) -> (usize, Vec<i64>) {
        let parser = LogParser::new(ParserConfig::new(FormatConfig::Logfmt(
            RoleKeys::logfmt_defaults(),
        )))
        .unwrap();
        let mut session = parser.session();
        session.push_array(array, first).unwrap();
        let out = session.finish().unwrap();
        let rejects = out.rejects_batch().unwrap();
        let positions = rejects
            .column(1)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        (out.num_records(), positions)
    }

    #[test]
    fn every_string_and_binary_layout() {
        let lines = [Some("ts=1705312800"), None, Some("bad")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(lines.to_vec())),
            Arc::new(LargeStringArray::from(lines.to_vec())),
            Arc::new(StringViewArray::from(lines.to_vec())),
            Arc::new(BinaryArray::from(
                lines
                    .iter()
                    .map(|l| l.map(str::as_bytes))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(
                lines
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<arrow_array::types::Int32Type>>(),
            ),
        ];
        for array in arrays {
            assert_eq!(
                positions_of_rejects(array.as_ref(), 10),
                (1, vec![11, 12]),
                "{}",
                array.data_type()
            );
        }
        assert_eq!(positions_of_rejects(&NullArray::new(2), 0), (0, vec![0, 1]));
    }

    #[test]
    fn one_column_struct_and_bad_types() {
        let column: ArrayRef = Arc::new(StringArray::from(vec![
            Some("ts=1705312800"),
            Some("ts=1705312800"),
        ]));
        let nulls = arrow_buffer::NullBuffer::from(vec![true, false]);
        let structs = StructArray::new(
            vec![Field::new("line", DataType::Utf8, true)].into(),
            vec![column],
            Some(nulls),
        );
        assert_eq!(positions_of_rejects(&structs, 0), (1, vec![1]));
        let err = check_line_type(&DataType::Int64).unwrap_err();
        assert!(
            matches!(err, Error::Schema(_)) && err.to_string().contains("got Int64"),
            "{err}"
        );
        let parser = LogParser::new(ParserConfig::new(FormatConfig::Syslog)).unwrap();
        assert!(parser
            .session()
            .push_array(&Int64Array::from(vec![1]), 0)
            .is_err());
    }
}
