//! The opening handshake as the connection drives it (RFC 6455 §4): the request or response
//! head fed to its parser, the server's answer (`accept`, `reject`, `respond`), and what
//! the handshake settles installed for the frames that follow.

use alloc::boxed::Box;

use crate::error::UsageError;
use crate::extension::Extension;
use crate::handshake::{
    Accept, HandshakeError, Negotiated, RequestProgress, Response, ResponseProgress, ServerPolicy,
    prepare_accept,
};
use crate::state::{Handshake, Phase};

use super::{Connection, Ending, Role};

impl Connection {
    /// Feed received bytes to the handshake, if it is reading a head; returns how many of them
    /// it took. The rest (frames after the head, or everything after a failure) stays with the
    /// caller.
    pub(super) fn feed_handshake(&mut self, data: &[u8]) -> usize {
        let Phase::Connecting(hs) = &mut self.phase else {
            return 0;
        };
        match hs {
            Handshake::ServerReading(side) => {
                let (plain, consumed) = match side.parser.receive_into(data, &mut side.request) {
                    RequestProgress::Partial => return data.len(),
                    RequestProgress::Complete { consumed, .. } => (false, consumed),
                    RequestProgress::Plain { consumed, .. } => (true, consumed),
                    RequestProgress::Failed(e) => {
                        self.handshake_failed(e);
                        return 0;
                    }
                };
                let origin = match (&self.policy, &side.request) {
                    (Some(p), Some(request)) if !plain => p.check_origin(request),
                    _ => Ok(()),
                };
                let body = side.request.as_ref().map_or(0, |r| r.body_len);
                match origin {
                    Ok(()) if body > 0 => {
                        self.phase.body_follows();
                        // The body's first bytes may have come with the head.
                        return consumed + self.feed_handshake(&data[consumed..]);
                    }
                    Ok(()) => self.phase.request_read(plain),
                    Err(e) => self.handshake_failed(e),
                }
                consumed
            }
            Handshake::ServerReadingBody(side) => {
                let take = side.body_left().min(data.len());
                // The body grows as it arrives (a Vec's doubling): an announced length only
                // reserves memory once the bytes come.
                side.request
                    .as_mut()
                    .expect("a body is read into the request its head made")
                    .body
                    .extend_from_slice(&data[..take]);
                if side.body_left() == 0 {
                    self.phase.request_read(true);
                }
                take
            }
            Handshake::ClientReading(hs) => match hs.receive(data) {
                ResponseProgress::Partial => data.len(),
                ResponseProgress::Accepted {
                    negotiated,
                    consumed,
                } => {
                    #[cfg(feature = "deflate")]
                    let mut negotiated = negotiated;
                    #[cfg(feature = "deflate")]
                    let stage = match self.client_deflate(&mut negotiated) {
                        Ok(stage) => stage,
                        Err(e) => {
                            self.handshake_failed(e);
                            return 0;
                        }
                    };
                    #[cfg(not(feature = "deflate"))]
                    let stage = None;
                    self.phase.open();
                    self.opened(negotiated, stage);
                    consumed
                }
                ResponseProgress::Rejected { response, consumed } => {
                    self.phase.fail(false);
                    self.end(Ending::Rejected(Box::new(response)));
                    consumed
                }
                ResponseProgress::Failed(e) => {
                    self.handshake_failed(e);
                    0
                }
            },
            // Waiting for the application's decision: keep early frames buffered.
            Handshake::ServerDeciding { .. } => 0,
        }
    }

    pub(super) fn handshake_failed(&mut self, e: HandshakeError) {
        if self.role == Role::Server {
            e.write_response(self.tx.buffer());
        }
        self.phase.fail(false);
        self.end(Ending::HandshakeFailed(e));
    }

    /// The handshake completed with these settings: messages may flow.
    pub(super) fn opened(&mut self, negotiated: Negotiated, stage: Option<Box<dyn Extension>>) {
        self.install(negotiated, stage);
        self.announce_open = true;
        self.refresh_lane();
    }

    /// Take what the handshake settled, and the extension stage for the negotiated extension
    /// the machine implements. The RSV bits frames may carry are those `negotiated` lists
    /// (each extension's `rsv_bits`, the stage's among them): the one place they are set.
    pub(super) fn install(&mut self, negotiated: Negotiated, stage: Option<Box<dyn Extension>>) {
        debug_assert!(
            stage
                .as_ref()
                .is_none_or(|s| s.rsv_bits() & !negotiated.rsv_bits() == 0),
            "the extension stage's RSV bits are listed in the negotiated extensions"
        );
        self.rsv_allowed = negotiated.rsv_bits();
        self.negotiated = Some(negotiated);
        self.extension = stage;
        self.refresh_lane();
    }

    /// Server: accept the upgrade request reported by [`Event::HandshakeRequest`]. The 101
    /// response is queued, [`Event::Open`] follows, and frames that arrived early are
    /// processed. [`UsageError::WrongHandshakeStep`] before the request was reported, after it
    /// was answered, and once the transport has ended.
    ///
    /// [`Event::HandshakeRequest`]: crate::Event::HandshakeRequest
    /// [`Event::Open`]: crate::Event::Open
    pub fn accept(&mut self, accept: Accept) -> Result<(), UsageError> {
        let Phase::Connecting(Handshake::ServerDeciding {
            side,
            plain: false,
            announced: true,
        }) = &self.phase
        else {
            return Err(UsageError::WrongHandshakeStep);
        };
        if self.eof {
            return Err(UsageError::WrongHandshakeStep);
        }
        let Some(request) = &side.request else {
            return Err(UsageError::WrongHandshakeStep);
        };
        let default_policy;
        let policy = match &self.policy {
            Some(p) => &**p,
            None => {
                default_policy = ServerPolicy::default();
                &default_policy
            }
        };
        #[allow(unused_mut)] // permessage-deflate adds to it
        let mut prepared = prepare_accept(request, &accept, policy)?;
        #[cfg(feature = "deflate")]
        let deflate = self.config.deflate.and_then(|config| {
            let (accepted, params) = crate::deflate::accept_offers(&config, request.extensions())?;
            prepared
                .add_extension(accepted)
                .then(|| crate::deflate::PerMessageDeflate::new(Role::Server, &params, &config))
        });
        if let Some(side) = self.phase.open()
            && self.tx.capacity() == 0
            && let Some(request) = side.request
        {
            // Nothing was written yet: the buffer of the request's head, no longer needed,
            // takes the 101 instead of a new allocation (and grows if the 101 is longer).
            let mut buf = request.into_buffer();
            buf.clear();
            *self.tx.buffer() = buf;
        }
        let negotiated = prepared.write(&accept, self.tx.buffer());
        // The accepted permessage-deflate entry, added above, carries its RSV bit.
        #[cfg(feature = "deflate")]
        let stage = deflate.map(|stage| Box::new(stage) as Box<dyn Extension>);
        #[cfg(not(feature = "deflate"))]
        let stage = None;
        self.opened(negotiated, stage);
        Ok(())
    }

    /// Client: the extension stage for the server's permessage-deflate answer, if it gave one.
    /// The answer's entry in `negotiated` is given the stage's RSV bit, which the 101 does not
    /// state.
    #[cfg(feature = "deflate")]
    pub(super) fn client_deflate(
        &self,
        negotiated: &mut Negotiated,
    ) -> Result<Option<Box<dyn Extension>>, HandshakeError> {
        use crate::handshake::ResponseError;
        let Some(config) = self.config.deflate else {
            return Ok(None);
        };
        let mut answers = negotiated
            .extensions_mut()
            .iter_mut()
            .filter(|e| e.name.eq_ignore_ascii_case(crate::deflate::NAME));
        let Some(answer) = answers.next() else {
            return Ok(None);
        };
        let params = crate::deflate::accept_response(&config, answer).map_err(|e| {
            HandshakeError::Response(ResponseError::ExtensionParams(
                alloc::string::ToString::to_string(&e),
            ))
        })?;
        let stage = crate::deflate::PerMessageDeflate::new(Role::Client, &params, &config);
        answer.rsv_bits = Extension::rsv_bits(&stage);
        if answers.next().is_some() {
            return Err(HandshakeError::Response(ResponseError::ExtensionParams(
                "permessage-deflate accepted twice".into(),
            )));
        }
        Ok(Some(Box::new(stage)))
    }

    /// Server: refuse the upgrade request with any response (401, 302 with `Location`, …).
    /// The response is queued and the transport should be closed once it is written.
    pub fn reject(&mut self, response: Response) -> Result<(), UsageError> {
        self.respond(response)
    }

    /// Server: answer the request with an ordinary HTTP response — the answer to
    /// [`Event::HttpRequest`], and the same as [`reject`](Self::reject) for an upgrade
    /// request. The transport should be closed once it is written.
    ///
    /// [`Event::HttpRequest`]: crate::Event::HttpRequest
    pub fn respond(&mut self, response: Response) -> Result<(), UsageError> {
        if !matches!(
            self.phase,
            Phase::Connecting(Handshake::ServerDeciding {
                announced: true,
                ..
            })
        ) || self.eof
        {
            return Err(UsageError::WrongHandshakeStep);
        }
        response.check()?;
        response.write(self.tx.buffer());
        self.phase.fail(false);
        Ok(())
    }
}
