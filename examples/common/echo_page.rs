//! The echo examples' browser page (`echo_server`, `axum_echo`): it opens a WebSocket at `/`
//! on the page's own host and shows what was negotiated, each message with its size and round
//! trip, and the close.

/// The page, served at `/`.
pub const PAGE: &str = include_str!("echo_page.html");
