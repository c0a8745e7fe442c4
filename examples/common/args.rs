//! The command line of the tokio-based echo servers (`tokio_echo`, `hyper_echo`,
//! `axum_echo`): `--addr HOST:PORT` and `--no-deflate`.

use std::net::SocketAddr;

/// What the command line asked for.
pub struct Args {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Negotiate permessage-deflate (on unless `--no-deflate`).
    pub deflate: bool,
}

/// Parse the arguments after the program's name; `default_addr` when `--addr` is absent.
pub fn parse(default_addr: &str) -> Result<Args, String> {
    let mut addr = default_addr.to_owned();
    let mut deflate = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "--no-deflate" => deflate = false,
            _ => {
                return Err(format!(
                    "unknown argument {arg}; use --addr HOST:PORT, --no-deflate"
                ));
            }
        }
    }
    let addr = addr.parse().map_err(|e| format!("--addr {addr}: {e}"))?;
    Ok(Args { addr, deflate })
}
