//! hyper 1.x in front of `wsmachine::upgrade`, for `hyper_echo`, `axum_echo` and the HTTP/2
//! test: one function answers a WebSocket request in either form, an HTTP/1.1 upgrade (101)
//! or an HTTP/2 extended CONNECT (RFC 8441, 200), and starts the machine on what hyper hands
//! over. Works for any request body type, so axum's requests too.
//!
//! hyper keeps `:protocol` in the request's extensions (`hyper::ext::Protocol`), and the
//! bytes it read past an HTTP/1.1 head inside its `Upgraded`, which yields them first: the
//! machine starts with no leftover.

use std::future::Future;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use wsmachine::handshake::{Accept, ServerPolicy};
use wsmachine::tokio::WebSocketStream;
use wsmachine::{Config, Role, upgrade};

/// The WebSocket on a connection (HTTP/1.1) or a stream (HTTP/2) that hyper upgraded.
pub type HyperWebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Whether `request` asks for a WebSocket: an `Upgrade` header (HTTP/1.1) or a CONNECT
/// (HTTP/2). Anything else is an ordinary request for the application.
pub fn wants_websocket<B>(request: &http::Request<B>) -> bool {
    request.method() == http::Method::CONNECT
        || request.headers().contains_key(http::header::UPGRADE)
}

/// Answer a WebSocket request: the refusal of `wsmachine::upgrade` (400, 403, 426...) or its
/// acceptance, after which `serve` runs in a task of its own on the WebSocket once hyper has
/// sent the answer and handed the I/O over.
pub fn upgrade<B, F, Fut>(
    mut request: http::Request<B>,
    config: Config,
    policy: &ServerPolicy,
    serve: F,
) -> http::Response<Vec<u8>>
where
    F: FnOnce(HyperWebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let valid = if request.method() == http::Method::CONNECT {
        let protocol = request.extensions().get::<hyper::ext::Protocol>();
        upgrade::validate_connect(&request, protocol.map(|p| p.as_str()), &config, policy)
    } else {
        upgrade::validate(&request, &config, policy)
    };
    let valid = match valid {
        Ok(valid) => valid,
        Err(e) => return upgrade::error_response(&e),
    };
    let (response, negotiated) = match upgrade::accept_response(&valid, &Accept::new(), policy) {
        Ok(accepted) => accepted,
        Err(e) => {
            let mut refusal = http::Response::new(e.to_string().into_bytes());
            *refusal.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            return refusal;
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(io) => {
                let conn = upgrade::upgraded(Role::Server, config, negotiated, &[]);
                serve(WebSocketStream::from_connection(TokioIo::new(io), conn)).await;
            }
            Err(e) => eprintln!("upgrade: {e}"),
        }
    });
    response.map(|()| Vec::new())
}
