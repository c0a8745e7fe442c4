//! The echo of the tokio-based servers (`tokio_echo`, `hyper_echo`, `axum_echo`).

use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine::tokio::{Error, WebSocketStream};

/// Send back every text and binary message until the peer closes. Pings are answered and the
/// Close echoed by the machine: only data comes back from here.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
) -> Result<(), Error> {
    while let Some(msg) = ws.recv().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
