//! An echo server on hyper 1.x: HTTP/1.1 upgrades and HTTP/2 extended CONNECTs (RFC 8441) on
//! one port, each answered by `wsmachine::upgrade` and echoed by the tokio adapter.
//!
//! ```sh
//! cargo run --example hyper_echo --features tokio,http -- --addr 127.0.0.1:9003
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9003/
//! ```
//!
//! HTTP/2 is spoken to clients that start with its preface (prior knowledge, as over
//! cleartext there is no ALPN); the server announces `SETTINGS_ENABLE_CONNECT_PROTOCOL`, so
//! that they may open WebSockets on its streams. Other requests get 404. `--no-deflate`
//! turns permessage-deflate off.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use wsmachine::Config;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ServerPolicy;

#[path = "common/args.rs"]
mod args;
#[path = "common/echo_loop.rs"]
mod echo_loop;
#[path = "common/hyper_upgrade.rs"]
mod hyper_upgrade;

fn main() -> std::io::Result<()> {
    let args = args::parse("127.0.0.1:9003").unwrap_or_else(|e| {
        eprintln!("hyper_echo: {e}");
        std::process::exit(2)
    });
    let config = Config::default()
        .keepalive(Duration::from_secs(20), Duration::from_secs(10))
        .deflate(args.deflate.then(DeflateConfig::default));
    let policy = Arc::new(ServerPolicy::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        println!(
            "echoing on ws://{}/ (HTTP/1.1 and HTTP/2)",
            listener.local_addr()?
        );
        loop {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            let policy = policy.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let policy = policy.clone();
                    async move { Ok::<_, Infallible>(handle(request, config, &policy)) }
                });
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                if let Err(e) = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .await
                {
                    println!("{peer}: {e}");
                }
            });
        }
    })
}

fn handle(
    request: hyper::Request<Incoming>,
    config: Config,
    policy: &ServerPolicy,
) -> hyper::Response<Full<Bytes>> {
    let response = if hyper_upgrade::wants_websocket(&request) {
        let version = request.version();
        hyper_upgrade::upgrade(request, config, policy, move |ws| async move {
            match echo_loop::echo(ws).await {
                Ok(()) => println!("{version:?} WebSocket closed"),
                Err(e) => println!("{version:?} WebSocket: {e}"),
            }
        })
    } else {
        let mut not_found = hyper::Response::new(b"not found\n".to_vec());
        *not_found.status_mut() = hyper::StatusCode::NOT_FOUND;
        not_found
    };
    response.map(|body| Full::new(Bytes::from(body)))
}
