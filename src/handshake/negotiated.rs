//! What an opening handshake settled, on either side.

use alloc::string::String;
use alloc::vec::Vec;

use crate::extension::AcceptedExtension;

/// What the handshake settled: the subprotocol and the extensions in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    protocol: Option<String>,
    extensions: Vec<AcceptedExtension>,
}

impl Negotiated {
    pub(super) fn new(protocol: Option<String>, extensions: Vec<AcceptedExtension>) -> Self {
        Negotiated {
            protocol,
            extensions,
        }
    }

    /// Add an extension the machine negotiated itself.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) fn push_extension(&mut self, ext: AcceptedExtension) {
        self.extensions.push(ext);
    }

    /// The extensions in use, to complete what the 101 alone does not say (the RSV bits of
    /// an extension the machine implements).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) fn extensions_mut(&mut self) -> &mut [AcceptedExtension] {
        &mut self.extensions
    }

    /// The selected subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions in use, in the order of the 101's `Sec-WebSocket-Extensions`.
    pub fn extensions(&self) -> &[AcceptedExtension] {
        &self.extensions
    }

    /// The RSV bits given a meaning by the extensions (union of their `rsv_bits`); frames with
    /// any other RSV bit set are a protocol error (§5.2).
    pub fn rsv_bits(&self) -> u8 {
        self.extensions.iter().fold(0, |acc, e| acc | e.rsv_bits)
    }
}
