//! The echo examples' browser page (`echo_server`, `axum_echo`): a text box whose lines go to
//! a WebSocket at `/` on the page's own host, and a log of what comes back.

/// The page, served at `/`.
pub const PAGE: &str = include_str!("echo_page.html");
