//! Snapshot framing shared by the stateful operators: a magic tag naming the operator, a format
//! version, then the postcard-encoded state. Pending Arrow rows travel as Arrow IPC streams.

use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use serde::de::DeserializeOwned;
use serde::Serialize;

const VERSION: u16 = 1;

pub fn encode<T: Serialize>(tag: &[u8; 4], state: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(tag);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let body = postcard::to_allocvec(state).map_err(|e| Error::snapshot(format!("cannot encode snapshot: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(tag: &[u8; 4], operator: &str, bytes: &[u8]) -> Result<T> {
    if bytes.len() < 6 || &bytes[..4] != tag {
        return Err(Error::snapshot(format!(
            "these {} bytes are not a {operator} snapshot (wrong header)",
            bytes.len()
        )));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(Error::snapshot(format!(
            "{operator} snapshot has format version {version}; this build reads version {VERSION}"
        )));
    }
    postcard::from_bytes(&bytes[6..])
        .map_err(|e| Error::snapshot(format!("{operator} snapshot is corrupt or truncated: {e}")))
}

/// Record batches (possibly of different schemas) as a list of IPC streams.
pub fn batches_to_ipc(batches: &[RecordBatch]) -> Result<Vec<Vec<u8>>> {
    batches
        .iter()
        .map(|batch| {
            let mut buffer = Vec::new();
            {
                let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut buffer, &batch.schema())?;
                writer.write(batch)?;
                writer.finish()?;
            }
            Ok(buffer)
        })
        .collect()
}

pub fn batches_from_ipc(streams: &[Vec<u8>]) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for stream in streams {
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(stream), None)
            .map_err(|e| Error::snapshot(format!("snapshot holds unreadable pending rows: {e}")))?;
        for batch in reader {
            batches.push(batch.map_err(|e| Error::snapshot(format!("snapshot holds unreadable pending rows: {e}")))?);
        }
    }
    Ok(batches)
}
