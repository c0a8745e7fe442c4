//! An echo server on tokio: every text and binary message comes back.
//!
//! ```sh
//! cargo run --example tokio_echo --features tokio -- 127.0.0.1:9002
//! cargo run --example client -- ws://127.0.0.1:9002/
//! ```
//!
//! One task per connection, current-thread runtime. Keep-alive Pings every 20 s and the
//! closing deadline run by themselves; a slow reader makes the echo wait, never buffers
//! without limit.

use std::sync::Arc;
use std::time::Duration;

use wsmachine::Config;
use wsmachine::handshake::ServerPolicy;
use wsmachine::tokio::{Error, accept_with};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("echoing on ws://{}/", listener.local_addr()?);
        let config = Config::default().keepalive(Duration::from_secs(20), Duration::from_secs(10));
        let policy = Arc::new(ServerPolicy::default());
        loop {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            let policy = policy.clone();
            tokio::spawn(async move {
                match echo(tcp, config, policy).await {
                    Ok(()) => println!("{peer}: closed"),
                    Err(e) => println!("{peer}: {e}"),
                }
            });
        }
    })
}

async fn echo(
    tcp: tokio::net::TcpStream,
    config: Config,
    policy: Arc<ServerPolicy>,
) -> Result<(), Error> {
    let mut ws = accept_with(tcp, config, policy).await?;
    while let Some(msg) = ws.recv().await {
        // Pings are answered and the Close echoed by the machine: only data comes back.
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
