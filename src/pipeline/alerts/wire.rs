//! Messages on the internal repartition topic: one JSON object each (readable with any Kafka tool).

use crate::error::{Error, Result};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A window count from one input partition (keyed by service).
    Partial {
        /// Input partition it was counted in.
        source: i32,
        /// Per source: 0, 1, 2, ... in emission order.
        seq: u64,
        service: Option<String>,
        window_start: Millis,
        window_end: Millis,
        errors: i64,
    },
    /// How far an input partition has got, sent to every repartition partition after the partials
    /// it covers: no partial of `source` for a window ending at or before `watermark` follows.
    Watermark {
        source: i32,
        /// Partitions of the input topic (so stage 2 knows whom to wait for).
        partitions: i32,
        watermark: Option<Millis>,
        /// Caught up with nothing new for the idle timeout: left out of the minimum until it has data.
        idle: bool,
        /// End of input: every window of `source` has been sent.
        end: bool,
    },
}

impl Message {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Message> {
        let message: Message = serde_json::from_slice(bytes).map_err(|e| {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
            Error::parse(format!("not an alerts repartition message ({e}): {shown:?}"))
        })?;
        let source = match &message {
            Message::Partial { source, window_start, window_end, errors, .. } => {
                if window_end <= window_start || *errors < 0 {
                    return Err(Error::parse(format!("partial count with an empty window or a negative count: {message:?}")));
                }
                *source
            }
            Message::Watermark { source, partitions, .. } => {
                if *partitions < 1 || source >= partitions {
                    return Err(Error::parse(format!("watermark of partition {source} of {partitions}: {message:?}")));
                }
                *source
            }
        };
        if source < 0 {
            return Err(Error::parse(format!("negative source partition: {message:?}")));
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_nonsense_is_a_parse_error() {
        let partial = Message::Partial { source: 2, seq: 7, service: Some("api".into()), window_start: 0, window_end: 60_000, errors: 3 };
        let marker = Message::Watermark { source: 1, partitions: 3, watermark: None, idle: true, end: false };
        for m in [&partial, &marker] {
            assert_eq!(&Message::decode(&m.encode()).unwrap(), m);
        }
        let text = String::from_utf8(partial.encode()).unwrap();
        assert!(text.contains("\"kind\":\"partial\"") && text.contains("\"service\":\"api\""), "{text}");
        for bad in [&b"{}"[..], b"garbage", br#"{"kind":"watermark","source":3,"partitions":3,"watermark":null,"idle":false,"end":false}"#] {
            assert!(matches!(Message::decode(bad), Err(Error::Parse(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
}
