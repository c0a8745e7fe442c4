//! Opening handshake. Placeholder with the interface only.
#![allow(missing_docs, dead_code, unused_variables)]
use crate::config::Config;
use crate::error::UsageError;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    pub key: String,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    Malformed,
}
impl HandshakeError {
    pub fn status(&self) -> Option<u16> {
        Some(400)
    }
    pub fn write_response(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    }
}
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
}
impl Response {
    pub fn write(&self, out: &mut Vec<u8>) {}
}
#[derive(Debug, Clone, Default)]
pub struct Negotiated {}
impl Negotiated {
    pub fn rsv_bits(&self) -> u8 {
        0
    }
}
#[derive(Clone, Default)]
pub struct ServerPolicy {}
impl ServerPolicy {
    pub fn check_origin(&self, req: &HandshakeRequest) -> Result<(), HandshakeError> {
        Ok(())
    }
}
#[derive(Debug, Clone, Default)]
pub struct Accept {}
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {}
pub struct RequestParser {}
pub enum RequestProgress {
    Partial,
    Complete {
        request: HandshakeRequest,
        consumed: usize,
    },
    Failed(HandshakeError),
}
impl RequestParser {
    pub fn new(config: &Config) -> Self {
        RequestParser {}
    }
    pub fn receive(&mut self, data: &[u8]) -> RequestProgress {
        RequestProgress::Partial
    }
}
pub struct ClientHandshake {}
pub enum ResponseProgress {
    Partial,
    Accepted {
        negotiated: Negotiated,
        consumed: usize,
    },
    Rejected {
        response: Response,
        consumed: usize,
    },
    Failed(HandshakeError),
}
impl ClientHandshake {
    pub fn new(request: &ClientRequest, config: &Config, out: &mut Vec<u8>) -> Self {
        ClientHandshake {}
    }
    pub fn receive(&mut self, data: &[u8]) -> ResponseProgress {
        ResponseProgress::Partial
    }
}
pub fn write_accept(
    request: &HandshakeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
    out: &mut Vec<u8>,
) -> Result<Negotiated, UsageError> {
    Ok(Negotiated {})
}
pub fn unused(_: Arc<()>) {}
