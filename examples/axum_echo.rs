//! An echo server as an axum 0.8 route: `/` serves `echo_server`'s browser page to a plain
//! GET and upgrades WebSocket requests, HTTP/1.1 upgrades and HTTP/2 extended CONNECTs
//! (which `axum::serve` enables) alike, through `wsmachine::upgrade`; the tokio adapter
//! echoes.
//!
//! ```sh
//! cargo run --example axum_echo --features tokio,http -- --addr 127.0.0.1:9004
//! # open http://127.0.0.1:9004/ in a browser, or:
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9004/
//! ```
//!
//! axum's own `WebSocketUpgrade` is not used: the route takes the whole request, so that the
//! machine's checks, `ServerPolicy` and permessage-deflate (`--no-deflate` turns it off)
//! decide the answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;
use wsmachine::Config;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ServerPolicy;

#[path = "common/args.rs"]
mod args;
#[path = "common/echo_loop.rs"]
mod echo_loop;
#[path = "common/echo_page.rs"]
mod echo_page;
#[path = "common/hyper_upgrade.rs"]
mod hyper_upgrade;

/// What every request of the route shares.
#[derive(Clone)]
struct Echo {
    config: Config,
    policy: Arc<ServerPolicy>,
}

fn main() -> std::io::Result<()> {
    let args = args::parse("127.0.0.1:9004").unwrap_or_else(|e| {
        eprintln!("axum_echo: {e}");
        std::process::exit(2)
    });
    let state = Echo {
        config: Config::default()
            .keepalive(Duration::from_secs(20), Duration::from_secs(10))
            .deflate(args.deflate.then(DeflateConfig::default)),
        policy: Arc::new(ServerPolicy::default()),
    };
    // `any`: an HTTP/2 WebSocket arrives as a CONNECT, an HTTP/1.1 one as a GET.
    let app = Router::new().route("/", any(root)).with_state(state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        println!(
            "serving http://{}/ (HTTP/1.1 and HTTP/2)",
            listener.local_addr()?
        );
        axum::serve(listener, app).await
    })
}

async fn root(State(echo): State<Echo>, request: Request) -> Response {
    if !hyper_upgrade::wants_websocket(&request) {
        return Html(echo_page::PAGE).into_response();
    }
    let version = request.version();
    hyper_upgrade::upgrade(request, echo.config, &echo.policy, move |ws| async move {
        match echo_loop::echo(ws).await {
            Ok(()) => println!("{version:?} WebSocket closed"),
            Err(e) => println!("{version:?} WebSocket: {e}"),
        }
    })
    .map(Body::from)
}
