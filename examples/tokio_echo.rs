//! An echo server on tokio: every text and binary message comes back.
//!
//! ```sh
//! cargo run --example tokio_echo --features tokio -- --addr 127.0.0.1:9002
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/
//! ```
//!
//! One task per connection, current-thread runtime. Keep-alive Pings every 20 s and the
//! closing deadline run by themselves; a slow reader makes the echo wait, never buffers
//! without limit. `--no-deflate` turns permessage-deflate off.

use std::sync::Arc;
use std::time::Duration;

use wsmachine::Config;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ServerPolicy;
use wsmachine::tokio::accept_with;

#[path = "common/args.rs"]
mod args;
#[path = "common/echo_loop.rs"]
mod echo_loop;

fn main() -> std::io::Result<()> {
    let args = args::parse("127.0.0.1:9002").unwrap_or_else(|e| {
        eprintln!("tokio_echo: {e}");
        std::process::exit(2)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        println!("echoing on ws://{}/", listener.local_addr()?);
        let config = Config::default()
            .keepalive(Duration::from_secs(20), Duration::from_secs(10))
            .deflate(args.deflate.then(DeflateConfig::default));
        let policy = Arc::new(ServerPolicy::default());
        loop {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            let policy = policy.clone();
            tokio::spawn(async move {
                let result = match accept_with(tcp, config, policy).await {
                    Ok(ws) => echo_loop::echo(ws).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => println!("{peer}: closed"),
                    Err(e) => println!("{peer}: {e}"),
                }
            });
        }
    })
}
