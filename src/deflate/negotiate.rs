//! Negotiation of permessage-deflate (RFC 7692 §5, §7.1): the client's offer, the server's
//! choice among offers and its response, the client's check of that response.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use core::fmt;

use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS, NAME, RSV1};
use crate::connection::Role;
use crate::extension::{AcceptedExtension, ExtensionOffer};

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// Why a server's permessage-deflate response is refused by the client (RFC 7692 §5: the client
/// then fails the WebSocket connection), or why a server declines one offer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeflateError {
    /// The extension is not `permessage-deflate`.
    OtherExtension(String),
    /// A parameter RFC 7692 does not define.
    UnknownParameter(String),
    /// A parameter given twice.
    DuplicateParameter(&'static str),
    /// A parameter whose value is missing, present where none is allowed, or not a window size
    /// (a decimal integer from 8 to 15 without leading zeros).
    InvalidValue {
        /// The parameter.
        parameter: &'static str,
        /// Its value as received, if any.
        value: Option<String>,
    },
    /// The response has `client_max_window_bits`, but the offer did not (§7.1.2.2).
    ClientWindowNotOffered,
    /// The offer asked for `server_no_context_takeover` and the response does not grant it
    /// (§7.1.1.1).
    ServerNoContextTakeoverRefused,
    /// The offer limited the server's window and the response does not say
    /// `server_max_window_bits` with the same or a smaller value (§7.1.2.1).
    ServerWindowRefused,
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("permessage-deflate: ")?;
        match self {
            DeflateError::OtherExtension(name) => write!(f, "{name:?} is another extension"),
            DeflateError::UnknownParameter(p) => write!(f, "unknown parameter {p:?}"),
            DeflateError::DuplicateParameter(p) => write!(f, "parameter {p} given twice"),
            DeflateError::InvalidValue {
                parameter,
                value: Some(v),
            } => write!(f, "invalid value {v:?} for {parameter}"),
            DeflateError::InvalidValue {
                parameter,
                value: None,
            } => write!(f, "{parameter} needs a value"),
            DeflateError::ClientWindowNotOffered => {
                f.write_str("client_max_window_bits in the response, not in the offer")
            }
            DeflateError::ServerNoContextTakeoverRefused => {
                f.write_str("server_no_context_takeover offered but not in the response")
            }
            DeflateError::ServerWindowRefused => {
                f.write_str("server_max_window_bits offered but not granted in the response")
            }
        }
    }
}

impl core::error::Error for DeflateError {}

/// The parameters of one offer or response, each checked on its own (§7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Params {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value, allowed in an offer only.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// A window size as §7.1.2 writes it: a decimal integer from 8 to 15, no leading zero. The
/// header grammar has already removed quotes and escapes.
fn window_bits(value: &str) -> Option<u8> {
    let v = match value.as_bytes() {
        [d @ b'8'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'5'] => 10 + (d - b'0'),
        _ => return None,
    };
    Some(v)
}

/// Check the parameters of one offer (`response` false) or response (`response` true): every
/// name known and given once, no value on the flags, a window size on `server_max_window_bits`,
/// and on `client_max_window_bits` in a response (it may go without one in an offer).
pub(super) fn parse_params(
    params: &[(String, Option<String>)],
    response: bool,
) -> Result<Params, DeflateError> {
    let mut p = Params::default();
    for (name, value) in params {
        let invalid = |parameter: &'static str| DeflateError::InvalidValue {
            parameter,
            value: value.clone(),
        };
        match name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER | CLIENT_NO_CONTEXT_TAKEOVER => {
                let (flag, parameter) = if name == SERVER_NO_CONTEXT_TAKEOVER {
                    (
                        &mut p.server_no_context_takeover,
                        SERVER_NO_CONTEXT_TAKEOVER,
                    )
                } else {
                    (
                        &mut p.client_no_context_takeover,
                        CLIENT_NO_CONTEXT_TAKEOVER,
                    )
                };
                if *flag {
                    return Err(DeflateError::DuplicateParameter(parameter));
                }
                if value.is_some() {
                    return Err(invalid(parameter));
                }
                *flag = true;
            }
            SERVER_MAX_WINDOW_BITS => {
                if p.server_max_window_bits.is_some() {
                    return Err(DeflateError::DuplicateParameter(SERVER_MAX_WINDOW_BITS));
                }
                let bits = value.as_deref().and_then(window_bits);
                p.server_max_window_bits =
                    Some(bits.ok_or_else(|| invalid(SERVER_MAX_WINDOW_BITS))?);
            }
            CLIENT_MAX_WINDOW_BITS => {
                if p.client_max_window_bits.is_some() {
                    return Err(DeflateError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS));
                }
                p.client_max_window_bits = Some(match value.as_deref() {
                    None if !response => None,
                    None => return Err(invalid(CLIENT_MAX_WINDOW_BITS)),
                    Some(v) => Some(window_bits(v).ok_or_else(|| invalid(CLIENT_MAX_WINDOW_BITS))?),
                });
            }
            _ => return Err(DeflateError::UnknownParameter(name.clone())),
        }
    }
    Ok(p)
}

/// What a client with `config` offers; [`offer`] writes it as an [`ExtensionOffer`].
pub(super) fn offered_params(config: &DeflateConfig) -> Params {
    let own = config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let peer = config
        .peer_window_bits
        .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    Params {
        server_no_context_takeover: config.peer_no_context_takeover,
        client_no_context_takeover: config.no_context_takeover,
        server_max_window_bits: (peer < MAX_WINDOW_BITS).then_some(peer),
        // Always present, so that the server may answer with a smaller window; a value only
        // when it limits anything.
        client_max_window_bits: Some((own < MAX_WINDOW_BITS).then_some(own)),
    }
}

/// Parameters in the order they are written: the two flags, then the two window sizes.
fn to_list(p: &Params) -> Vec<(String, Option<String>)> {
    let mut list = Vec::new();
    if p.server_no_context_takeover {
        list.push((SERVER_NO_CONTEXT_TAKEOVER.to_owned(), None));
    }
    if p.client_no_context_takeover {
        list.push((CLIENT_NO_CONTEXT_TAKEOVER.to_owned(), None));
    }
    if let Some(bits) = p.server_max_window_bits {
        list.push((SERVER_MAX_WINDOW_BITS.to_owned(), Some(bits.to_string())));
    }
    if let Some(bits) = p.client_max_window_bits {
        list.push((
            CLIENT_MAX_WINDOW_BITS.to_owned(),
            bits.map(|b| b.to_string()),
        ));
    }
    list
}

/// The client's permessage-deflate offer for `config` (RFC 7692 §7.1), to pass to
/// [`ClientRequest::extension`](crate::handshake::ClientRequest::extension); `None` when
/// `config` is disabled.
///
/// | config | offer parameter |
/// |---|---|
/// | `peer_no_context_takeover` | `server_no_context_takeover` |
/// | `no_context_takeover` | `client_no_context_takeover` (a hint; this side resets anyway) |
/// | `peer_window_bits` below 15 | `server_max_window_bits=N` |
/// | always | `client_max_window_bits`, with `=window_bits` when below 15 |
pub fn offer(config: &DeflateConfig) -> Option<ExtensionOffer> {
    config.enabled.then(|| ExtensionOffer {
        name: NAME.to_owned(),
        params: to_list(&offered_params(config)),
    })
}

/// The client's check of the server's permessage-deflate response to [`offer`]`(config)`, and
/// the parameters in force if it is valid. Any error fails the connection (RFC 7692 §5).
///
/// Refused: another extension's name; a parameter RFC 7692 does not define, or given twice; a
/// flag with a value; a window size that is missing or not 8 to 15 in digits without a leading
/// zero; `client_max_window_bits` when the offer had none (a value above the one offered is
/// taken: the offer's value is a hint the server may ignore, §7.1.2.2);
/// `server_no_context_takeover` or `server_max_window_bits` (the same or smaller) missing when the
/// offer asked for them. Granted without being asked: `server_no_context_takeover`,
/// `client_no_context_takeover` and `server_max_window_bits`.
pub fn accept_response(
    config: &DeflateConfig,
    response: &AcceptedExtension,
) -> Result<DeflateParams, DeflateError> {
    if !response.name.eq_ignore_ascii_case(NAME) {
        return Err(DeflateError::OtherExtension(response.name.clone()));
    }
    let answered = parse_params(&response.params, true)?;
    check_response(config, &offered_params(config), &answered)
}

/// [`accept_response`] against the offer `offered` (which [`offer`] derives from `config`).
pub(super) fn check_response(
    config: &DeflateConfig,
    offered: &Params,
    answered: &Params,
) -> Result<DeflateParams, DeflateError> {
    if offered.server_no_context_takeover && !answered.server_no_context_takeover {
        return Err(DeflateError::ServerNoContextTakeoverRefused);
    }
    if let Some(asked) = offered.server_max_window_bits
        && answered
            .server_max_window_bits
            .is_none_or(|bits| bits > asked)
    {
        return Err(DeflateError::ServerWindowRefused);
    }
    let client_window = match (
        offered.client_max_window_bits,
        answered.client_max_window_bits,
    ) {
        (None, Some(_)) => return Err(DeflateError::ClientWindowNotOffered),
        // A value above the one offered is the server ignoring the offer's hint, which
        // §7.1.2.2 allows: this side compresses with the smaller of the two anyway.
        (_, Some(Some(bits))) => bits,
        _ => MAX_WINDOW_BITS,
    };
    Ok(DeflateParams {
        server_no_context_takeover: answered.server_no_context_takeover,
        client_no_context_takeover: answered.client_no_context_takeover
            || config.no_context_takeover,
        server_max_window_bits: answered.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: client_window
            .min(config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)),
    })
}

/// The server's choice among the client's offers (RFC 7692 §5.1): the first permessage-deflate
/// offer it can accept, the extension to answer it with (claiming RSV1), and the parameters in
/// force. `None` when `config` is disabled or no offer is acceptable; other extensions in
/// `offers` are skipped.
///
/// An offer with a parameter RFC 7692 does not define, one given twice, or an invalid value is
/// declined and the next one tried. Every valid offer is acceptable: a window of 8 is compressed
/// with a stream that never reaches back further than 256 bytes.
///
/// The response (this side's window is `window_bits`, the window it asks of the client
/// `peer_window_bits`):
///
/// | offer | response |
/// |---|---|
/// | `server_no_context_takeover`, or `no_context_takeover` set | `server_no_context_takeover` |
/// | `client_no_context_takeover`, or `peer_no_context_takeover` set | `client_no_context_takeover` |
/// | `server_max_window_bits=N` | `server_max_window_bits=min(N, window_bits)` |
/// | no `server_max_window_bits`, `window_bits` below 15 | `server_max_window_bits=window_bits` |
/// | no `server_max_window_bits`, `window_bits` 15 | nothing |
/// | `client_max_window_bits=N` | `client_max_window_bits=min(N, peer_window_bits)` |
/// | `client_max_window_bits` without a value, `peer_window_bits` below 15 | `client_max_window_bits=peer_window_bits` |
/// | `client_max_window_bits` without a value, `peer_window_bits` 15 | nothing |
/// | no `client_max_window_bits` | nothing (the client may use up to 15; this side inflates any window) |
///
/// Echoing `client_no_context_takeover` when the client offers it lets this side drop its
/// inflater between messages.
pub fn accept_offers(
    config: &DeflateConfig,
    offers: &[ExtensionOffer],
) -> Option<(AcceptedExtension, DeflateParams)> {
    if !config.enabled {
        return None;
    }
    offers
        .iter()
        .filter(|o| o.name.eq_ignore_ascii_case(NAME))
        .find_map(|o| parse_params(&o.params, false).ok())
        .map(|offered| answer(config, &offered))
}

/// The response to a valid offer, and the parameters in force (see [`accept_offers`]).
pub(super) fn answer(
    config: &DeflateConfig,
    offered: &Params,
) -> (AcceptedExtension, DeflateParams) {
    let own = config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let peer = config
        .peer_window_bits
        .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let server_window = offered
        .server_max_window_bits
        .map_or(own, |asked| asked.min(own));
    let client_window = match offered.client_max_window_bits {
        Some(asked) => asked.unwrap_or(MAX_WINDOW_BITS).min(peer),
        None => MAX_WINDOW_BITS,
    };
    let answered = Params {
        server_no_context_takeover: offered.server_no_context_takeover
            || config.no_context_takeover,
        client_no_context_takeover: offered.client_no_context_takeover
            || config.peer_no_context_takeover,
        server_max_window_bits: (offered.server_max_window_bits.is_some()
            || server_window < MAX_WINDOW_BITS)
            .then_some(server_window),
        client_max_window_bits: (offered.client_max_window_bits.is_some()
            && client_window < MAX_WINDOW_BITS)
            .then_some(Some(client_window)),
    };
    let extension = AcceptedExtension {
        name: NAME.to_owned(),
        params: to_list(&answered),
        rsv_bits: RSV1,
    };
    let params = DeflateParams {
        server_no_context_takeover: answered.server_no_context_takeover,
        client_no_context_takeover: answered.client_no_context_takeover,
        server_max_window_bits: server_window,
        client_max_window_bits: client_window,
    };
    (extension, params)
}

/// The parameters in force on a connection whose handshake settled `answered` (the server's
/// permessage-deflate response, as [`accept_offers`] wrote it or a client received it) when
/// the handshake was done by other means than the connection (an HTTP server framework, an
/// HTTP/2 extended CONNECT). A window the response leaves out is 15; a client folds in its
/// own choices as [`accept_response`] does. `None` for a response that breaks §7.1.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn params_in_force(
    role: Role,
    config: &DeflateConfig,
    answered: &AcceptedExtension,
) -> Option<DeflateParams> {
    let p = parse_params(&answered.params, true).ok()?;
    let client_window = p
        .client_max_window_bits
        .flatten()
        .unwrap_or(MAX_WINDOW_BITS);
    Some(match role {
        Role::Server => DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover,
            server_max_window_bits: p.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            client_max_window_bits: client_window,
        },
        Role::Client => DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover || config.no_context_takeover,
            server_max_window_bits: p.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            client_max_window_bits: client_window
                .min(config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)),
        },
    })
}
