//! Which end of a connection an endpoint is (RFC 6455 §5.1: a client masks its frames, a
//! server never does). Below every other layer, so that the frame codec, the extensions and the
//! connection can all name it.

/// Which end of the connection this machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the upgrade request; its frames are masked.
    Client,
    /// The end that answered it; its frames are never masked.
    Server,
}
