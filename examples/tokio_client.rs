//! A line-oriented WebSocket client on tokio (the `client` example on the tokio adapter):
//! each stdin line is sent as a text message, and what comes back is printed.
//!
//! ```sh
//! cargo run --example tokio_echo --features tokio &
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/
//! ```
//!
//! End of input (Ctrl-D, or the end of a pipe) starts the closing handshake once the server
//! has been quiet for half a second, so that the replies still due to the last lines are
//! printed. `--no-deflate` offers no permessage-deflate. `ws://` only: for `wss://`, connect a
//! TLS stream and hand it to `connect_with_config`.

use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use wsmachine::Config;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ClientRequest;
use wsmachine::tokio::{CloseFrame, Error, Message, connect_with_config};

/// After the end of input, how long the server must have been quiet before the Close goes out.
const LINGER: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let deflate = !std::env::args().any(|a| a == "--no-deflate");
    let Some(url) = std::env::args().skip(1).find(|a| a != "--no-deflate") else {
        eprintln!("usage: tokio_client ws://HOST[:PORT]/PATH [--no-deflate]");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tokio_client: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&url, deflate)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio_client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, deflate: bool) -> Result<(), Error> {
    let request = ClientRequest::from_url(url).map_err(Error::Url)?;
    if request.is_secure() {
        return Err(Error::TlsRequired);
    }
    let tcp = tokio::net::TcpStream::connect((request.host(), request.effective_port())).await?;
    tcp.set_nodelay(true)?;
    let config = Config::default().deflate(deflate.then(DeflateConfig::default));
    let (mut ws, negotiated) = connect_with_config(tcp, &request, config).await?;
    let extensions: Vec<String> = negotiated
        .extensions()
        .iter()
        .map(ToString::to_string)
        .collect();
    eprintln!("[open] {}", extensions.join(", "));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let mut closing = false;
    loop {
        tokio::select! {
            line = lines.next_line(), if input_open => match line? {
                Some(line) => ws.send(Message::text(line)).await?,
                None => input_open = false,
            },
            msg = ws.recv() => match msg.transpose()? {
                None => return Ok(()),
                Some(Message::Text(text)) => println!("< {text}"),
                Some(Message::Binary(data)) => println!("< [{} bytes]", data.len()),
                Some(Message::Close(frame)) => {
                    eprintln!("[closed {}]", frame.map_or("without a code".into(), |f| f.to_string()));
                }
                Some(_) => {}
            },
            () = tokio::time::sleep(LINGER), if !input_open && !closing => {
                closing = true;
                ws.close(Some(CloseFrame::new(1000, ""))).await?;
            }
        }
    }
}
