//! Binary attachments: the arguments of an event or ack with their placeholders, and the
//! reassembly of a binary packet from the Engine.IO messages that carry it.
//!
//! A binary packet's JSON keeps `{"_placeholder":true,"num":N}` where its `N`th attachment
//! belongs; the attachments follow as that many binary Engine.IO messages. The arguments a
//! [`Payload`] holds keep the placeholders, the bytes sit beside them in
//! [`Payload::attachments`], indexed by `num`.

use alloc::borrow::ToOwned;
use alloc::vec;
use alloc::vec::Vec;

use serde::Serialize;
use serde_json::{Map, Value};

use super::packet::{Packet, PacketError};

/// The arguments of an event or of an ack, with their binary attachments.
///
/// ```
/// use serde_json::json;
/// use wsmachine::socketio::Payload;
///
/// let mut p = Payload::json(&("hello", 42)).unwrap();
/// let picture = p.attach(vec![1, 2, 3]);
/// p.args.push(json!({ "picture": picture }));
/// assert_eq!(p.args[2], json!({ "picture": { "_placeholder": true, "num": 0 } }));
/// assert_eq!(p.attachment(&p.args[2]["picture"]), Some(&[1u8, 2, 3][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The arguments, placeholders in place of binary data.
    pub args: Vec<Value>,
    /// The binary attachments, `attachments[n]` for the placeholder with `num` `n`.
    pub attachments: Vec<Vec<u8>>,
}

impl Payload {
    /// A payload of these arguments.
    pub fn new(args: Vec<Value>) -> Payload {
        Payload {
            args,
            attachments: Vec::new(),
        }
    }

    /// A payload from anything serializable: a sequence (a tuple, a `Vec`, an array) gives
    /// one argument per element, `()` none, anything else is the single argument.
    pub fn json<T: Serialize + ?Sized>(args: &T) -> Result<Payload, serde_json::Error> {
        Ok(Payload::new(match serde_json::to_value(args)? {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        }))
    }

    /// Add an attachment; its placeholder, to be put among the arguments.
    pub fn attach(&mut self, data: Vec<u8>) -> Value {
        self.attachments.push(data);
        placeholder(self.attachments.len() - 1)
    }

    /// The attachment a placeholder names, if it is one and names an attachment here.
    pub fn attachment(&self, value: &Value) -> Option<&[u8]> {
        let n = placeholder_num(value)?;
        self.attachments.get(n).map(Vec::as_slice)
    }
}

impl From<Vec<Value>> for Payload {
    fn from(args: Vec<Value>) -> Payload {
        Payload::new(args)
    }
}

/// The placeholder of attachment `num`: `{"_placeholder":true,"num":num}`.
pub fn placeholder(num: usize) -> Value {
    let mut m = Map::new();
    m.insert("_placeholder".to_owned(), Value::Bool(true));
    m.insert("num".to_owned(), Value::from(num));
    Value::Object(m)
}

/// The `num` of a placeholder, `None` if the value is not one.
pub fn placeholder_num(value: &Value) -> Option<usize> {
    let m = value.as_object()?;
    if m.get("_placeholder")? != &Value::Bool(true) {
        return None;
    }
    usize::try_from(m.get("num")?.as_u64()?).ok()
}

/// Whether every placeholder in `value` names one of `count` attachments.
pub(crate) fn placeholders_within(value: &Value, count: usize) -> bool {
    match value {
        Value::Array(a) => a.iter().all(|v| placeholders_within(v, count)),
        Value::Object(m) => match placeholder_num(value) {
            Some(n) => n < count,
            None => m.values().all(|v| placeholders_within(v, count)),
        },
        _ => true,
    }
}

/// A packet with its attachments.
pub(crate) type Complete = (Packet, Vec<Vec<u8>>);

/// A binary packet waiting for its attachments.
#[derive(Debug)]
pub(crate) struct Partial {
    packet: Packet,
    attachments: Vec<Vec<u8>>,
    bytes: usize,
}

/// What a client's next Engine.IO message completes.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    partial: Option<Partial>,
}

impl Reassembly {
    /// A text message: a packet, complete unless it announces attachments (then `None`).
    pub fn text(
        &mut self,
        text: &str,
        max_attachments: usize,
    ) -> Result<Option<Complete>, PacketError> {
        if self.partial.is_some() {
            return Err(PacketError::BadBinary);
        }
        let packet = Packet::decode(text, max_attachments)?;
        packet.check_from_client()?;
        if packet.attachments == 0 {
            return complete(packet, Vec::new()).map(Some);
        }
        self.partial = Some(Partial {
            attachments: Vec::with_capacity(packet.attachments),
            packet,
            bytes: 0,
        });
        Ok(None)
    }

    /// A binary message: the next attachment of the awaited packet; the packet once it has
    /// them all. `max_bytes` caps the attachments' total size.
    pub fn binary(
        &mut self,
        data: &[u8],
        max_bytes: usize,
    ) -> Result<Option<Complete>, PacketError> {
        let p = self.partial.as_mut().ok_or(PacketError::BadBinary)?;
        p.bytes = p.bytes.saturating_add(data.len());
        if p.bytes > max_bytes {
            return Err(PacketError::BadBinary);
        }
        p.attachments.push(data.to_vec());
        if p.attachments.len() < p.packet.attachments {
            return Ok(None);
        }
        let Some(p) = self.partial.take() else {
            return Err(PacketError::BadBinary);
        };
        complete(p.packet, p.attachments).map(Some)
    }
}

/// A packet with all its attachments: every placeholder must name one of them.
fn complete(
    packet: Packet,
    attachments: Vec<Vec<u8>>,
) -> Result<(Packet, Vec<Vec<u8>>), PacketError> {
    let ok = packet
        .data
        .as_ref()
        .is_none_or(|d| placeholders_within(d, attachments.len()));
    if ok {
        Ok((packet, attachments))
    } else {
        Err(PacketError::BadBinary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reassembles_in_order_within_caps() {
        let mut r = Reassembly::default();
        let head = r#"52-["m",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#;
        assert_eq!(r.text(head, 4).unwrap(), None);
        assert_eq!(r.binary(&[1], 10).unwrap(), None);
        let (p, att) = r.binary(&[2, 3], 10).unwrap().unwrap();
        assert_eq!(att, vec![vec![1], vec![2, 3]]);
        assert_eq!(p.event_name(), Some("m"));
        // Nothing awaited: a binary message is out of place.
        assert_eq!(r.binary(&[1], 10), Err(PacketError::BadBinary));
        // Over the byte cap.
        let mut r = Reassembly::default();
        r.text(head, 4).unwrap();
        assert_eq!(r.binary(&[0; 11], 10), Err(PacketError::BadBinary));
        // Text while attachments are awaited.
        let mut r = Reassembly::default();
        r.text(head, 4).unwrap();
        assert_eq!(r.text("2[\"a\"]", 4), Err(PacketError::BadBinary));
        // A placeholder beyond the attachments.
        let mut r = Reassembly::default();
        r.text(r#"51-["m",{"_placeholder":true,"num":1}]"#, 4)
            .unwrap();
        assert_eq!(r.binary(&[1], 10), Err(PacketError::BadBinary));
        assert!(placeholders_within(&json!([{"a": [placeholder(2)]}]), 3));
        assert!(!placeholders_within(&json!([{"a": [placeholder(3)]}]), 3));
    }

    #[test]
    fn payload_from_serializable() {
        assert_eq!(Payload::json(&()).unwrap().args, Vec::<Value>::new());
        assert_eq!(
            Payload::json(&[1, 2]).unwrap().args,
            vec![json!(1), json!(2)]
        );
        assert_eq!(Payload::json("x").unwrap().args, vec![json!("x")]);
    }
}
