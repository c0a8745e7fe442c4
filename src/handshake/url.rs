//! The URI grammar of the handshake: host names and `Host` values (RFC 3986 §3.2.2, RFC 9110
//! §7.2), request-targets (RFC 9112 §3.2), and the `ws://` and `wss://` URLs a client starts
//! from (RFC 6455 §3).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;

use core::fmt;

/// Whether `b` may appear in a URI reg-name: unreserved, sub-delims or `%` (RFC 3986 §3.2.2).
const fn is_reg_name_byte(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&'
        | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'%')
}

/// Set in [`HOST_CLASS`] for a `:`.
const COLON: u8 = 1;
/// Set in [`HOST_CLASS`] for a byte that is neither a `:` nor a reg-name byte other than `%`.
const SECOND_LOOK: u8 = 2;

/// For every byte value, 0 for a reg-name byte that needs no further look (any but `%`),
/// [`COLON`] for `:`, [`SECOND_LOOK`] for any other byte: the one table of reg-name bytes,
/// read by the host name check and by the `Host` value's one pass.
static HOST_CLASS: [u8; 256] = {
    let mut t = [SECOND_LOOK; 256];
    let mut b = 0;
    while b < 256 {
        if b == b':' as usize {
            t[b] = COLON;
        } else if b != b'%' as usize && is_reg_name_byte(b as u8) {
            t[b] = 0;
        }
        b += 1;
    }
    t
};

/// Whether `s` is a host name or address without port: a non-empty reg-name with valid
/// percent-escapes, or an IPv6 address (hex digits, `:` and `.`; brackets not included).
pub(super) fn valid_host_name(s: &str) -> bool {
    valid_host_name_bytes(s.as_bytes())
}

/// [`valid_host_name`] on bytes, in one pass for a reg-name: the first byte that is not a
/// reg-name byte decides, as only a `:` can make the host an IPv6 address (every other byte
/// an address may hold is a reg-name byte too).
fn valid_host_name_bytes(b: &[u8]) -> bool {
    if b.is_empty() {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
        } else if HOST_CLASS[c as usize] != 0 {
            // Not a reg-name byte (`%` was taken above).
            return c == b':'
                && b.iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        }
    }
    true
}

/// Whether `v` is a valid `Host` header value: `uri-host [ ":" port ]` (RFC 9110 §7.2).
///
/// Nearly every value is a name, perhaps with a port: one pass of table lookups over all its
/// bytes, without a branch a byte, settles those; an escape, an IPv6 literal or a fault takes
/// the byte-by-byte check.
pub(super) fn valid_host_header(v: &[u8]) -> bool {
    let class = v.iter().fold(0, |class, &c| class | HOST_CLASS[c as usize]);
    match class {
        0 => !v.is_empty(),
        COLON => match v.iter().position(|&c| c == b':') {
            // A name, then a port (a second colon fails the port's digits).
            Some(i) if i > 0 => valid_port(&v[i..]),
            _ => false,
        },
        _ => valid_host_header_by_bytes(v),
    }
}

/// `rest` is empty, a lone `:` or `:` and a port: digits only, at most 65535 (leading zeros
/// allowed).
fn valid_port(rest: &[u8]) -> bool {
    match rest {
        [] | [b':'] => true,
        [b':', p @ ..] => p
            .iter()
            .try_fold(0u16, |n, &c| {
                c.is_ascii_digit()
                    .then(|| n.checked_mul(10)?.checked_add(u16::from(c - b'0')))
                    .flatten()
            })
            .is_some(),
        _ => false,
    }
}

/// [`valid_host_header`] for any value, the host's bytes looked at one by one.
fn valid_host_header_by_bytes(v: &[u8]) -> bool {
    let (host, rest) = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(end) = inner.iter().position(|&c| c == b']') else {
            return false;
        };
        if !inner[..end].contains(&b':') {
            return false;
        }
        (&inner[..end], &inner[end + 1..])
    } else {
        match v.iter().position(|&c| c == b':') {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, &[][..]),
        }
    };
    valid_port(rest) && valid_host_name_bytes(host)
}

/// Whether `t` is a request-target a WebSocket handshake may carry: origin-form (`/path?q`) or
/// absolute-form (`scheme://…`).
pub(super) fn valid_target(t: &[u8]) -> bool {
    if t.starts_with(b"/") {
        return true;
    }
    match t.windows(3).position(|w| w == b"://") {
        Some(i) => {
            i > 0
                && t[0].is_ascii_alphabetic()
                && t[..i]
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// A `ws://` or `wss://` URL that [`ClientRequest::from_url`](super::ClientRequest::from_url)
/// cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlError {
    reason: &'static str,
}

impl UrlError {
    pub(super) fn new(reason: &'static str) -> Self {
        UrlError { reason }
    }

    /// What is wrong, in a few words.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid WebSocket URL: {}", self.reason)
    }
}

impl core::error::Error for UrlError {}

/// A `ws://` or `wss://` URL taken apart: what a client request is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WsUrl<'a> {
    /// `wss`: the caller provides TLS.
    pub(super) secure: bool,
    /// A valid host name or address, IPv6 without brackets.
    pub(super) host: &'a str,
    /// The port, if the URL gives one.
    pub(super) port: Option<u16>,
    /// Path and query as the URL gives them, with a `/` before a query that follows the
    /// authority directly; empty when the URL has neither.
    pub(super) path: String,
}

impl<'a> WsUrl<'a> {
    /// Parse `ws://host[:port]/path?query` or `wss://…`; a fragment or user info is refused
    /// (§3). The path is not checked here.
    pub(super) fn parse(url: &'a str) -> Result<Self, UrlError> {
        let err = |reason| Err(UrlError::new(reason));
        let (secure, rest) = if url.len() >= 5 && url[..5].eq_ignore_ascii_case("ws://") {
            (false, &url[5..])
        } else if url.len() >= 6 && url[..6].eq_ignore_ascii_case("wss://") {
            (true, &url[6..])
        } else {
            return err("scheme must be ws or wss");
        };
        if rest.contains('#') {
            return err("fragments are not allowed");
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return err("user info is not supported");
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return err("unclosed IPv6 address");
            };
            (&inner[..close], &inner[close + 1..])
        } else {
            match authority.find(':') {
                Some(i) => (&authority[..i], &authority[i..]),
                None => (authority, ""),
            }
        };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return err("invalid authority"),
            Some("") => None,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return err("invalid port"),
                Ok(n) => Some(n),
            },
            Some(_) => return err("invalid port"),
        };
        if !valid_host_name(host) {
            return err("invalid host");
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(WsUrl {
            secure,
            host,
            port,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Host` grammar checked the plain way, item by item, to compare the one-pass check
    /// with.
    fn host_header_by_parts(v: &str) -> bool {
        let name_ok = |s: &str| {
            let b = s.as_bytes();
            if b.is_empty() {
                return false;
            }
            if b.contains(&b':') {
                return b
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
            }
            (0..b.len()).all(|i| {
                is_reg_name_byte(b[i])
                    && (b[i] != b'%'
                        || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)))
            })
        };
        let (host, rest) = if let Some(inner) = v.strip_prefix('[') {
            match inner.find(']') {
                Some(end) if inner[..end].contains(':') => (&inner[..end], &inner[end + 1..]),
                _ => return false,
            }
        } else {
            match v.find(':') {
                Some(i) => (&v[..i], &v[i..]),
                None => (v, ""),
            }
        };
        let port_ok = match rest.strip_prefix(':') {
            None => rest.is_empty(),
            Some("") => true,
            Some(p) => p.bytes().all(|c| c.is_ascii_digit()) && p.parse::<u16>().is_ok(),
        };
        port_ok && name_ok(host)
    }

    #[test]
    fn host_check_agrees_with_the_grammar_on_every_short_value() {
        const ALPHABET: &[u8] = b"a9F%:[]./ ";
        let mut accepted = 0;
        let mut value = Vec::new();
        for len in 0..=6u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                value.clear();
                for _ in 0..len {
                    value.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                let text = core::str::from_utf8(&value).unwrap_or_default();
                let expected = host_header_by_parts(text);
                assert_eq!(valid_host_header(&value), expected, "{text:?}");
                accepted += usize::from(expected);
            }
        }
        assert!(accepted > 1000);
        for port in [
            "h:65535",
            "h:065535",
            "h:65536",
            "h:99999",
            "h:0000000080",
            "[::1]:80x",
        ] {
            assert_eq!(
                valid_host_header(port.as_bytes()),
                host_header_by_parts(port),
                "{port}"
            );
        }
    }
}
