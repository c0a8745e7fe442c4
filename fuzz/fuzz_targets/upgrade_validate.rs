//! The `http`-type entry points of the handshake on arbitrary requests: `upgrade::validate`
//! (an HTTP/1.1 upgrade an HTTP framework parsed) and `upgrade::validate_connect` (the
//! extended CONNECT of RFC 8441 / RFC 9220).
//!
//! The first byte picks the method, the version and the `:protocol`; the rest is the target
//! on its first line, then `name: value` lines (those the `http` crate refuses are left out,
//! as a framework could not have handed them over). Neither call may panic; each answers the
//! same twice; an acceptance holds what the request form requires and is answered with 101 or
//! 200; a refusal is answered with one of the handshake's statuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::Config;
use wsmachine::handshake::{Accept, HandshakeError, ServerPolicy};
use wsmachine::upgrade::{
    UpgradeRequest, accept_response, error_response, validate, validate_connect,
};

/// The statuses a refused handshake is answered with.
const REFUSALS: [u16; 5] = [400, 403, 405, 426, 431];

fn request(data: &[u8]) -> Option<(http::Request<()>, Option<String>)> {
    let (&flags, rest) = data.split_first()?;
    let method = match flags & 3 {
        0 => http::Method::GET,
        1 | 2 => http::Method::CONNECT,
        _ => http::Method::POST,
    };
    let version = match (flags >> 2) & 3 {
        0 => http::Version::HTTP_11,
        1 => http::Version::HTTP_10,
        2 => http::Version::HTTP_2,
        _ => http::Version::HTTP_3,
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let protocol = match (flags >> 4) & 3 {
        0 => None,
        1 => Some("websocket".to_owned()),
        2 => Some("WebSocket".to_owned()),
        _ => Some(String::from_utf8_lossy(target).into_owned()),
    };
    let uri = http::Uri::try_from(target).unwrap_or_else(|_| http::Uri::from_static("/"));
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .version(version);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value.trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    Some((builder.body(()).ok()?, protocol))
}

/// An acceptance is answered with `status`, a refusal with one of the handshake's statuses.
fn answered(result: &Result<UpgradeRequest, HandshakeError>, policy: &ServerPolicy, status: u16) {
    match result {
        Ok(up) => {
            let (response, _) =
                accept_response(up, &Accept::default(), policy).expect("an acceptance is answered");
            assert_eq!(response.status(), status);
        }
        Err(e) => assert!(
            REFUSALS.contains(&error_response(e).status().as_u16()),
            "{e:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((req, protocol)) = request(data) else {
        return;
    };
    let config = Config::default().max_header_bytes(2048).max_headers(16);
    let policy = ServerPolicy::default().protocols(["chat"]);

    let upgrade = validate(&req, &config, &policy);
    assert_eq!(
        format!("{upgrade:?}"),
        format!("{:?}", validate(&req, &config, &policy))
    );
    if upgrade.is_ok() {
        assert_eq!(req.method(), http::Method::GET);
    }
    answered(&upgrade, &policy, 101);

    let connect = validate_connect(&req, protocol.as_deref(), &config, &policy);
    assert_eq!(
        format!("{connect:?}"),
        format!(
            "{:?}",
            validate_connect(&req, protocol.as_deref(), &config, &policy)
        )
    );
    if connect.is_ok() {
        assert_eq!(req.method(), http::Method::CONNECT);
        assert!(req.version() >= http::Version::HTTP_2);
        assert!(protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")));
    }
    answered(&connect, &policy, 200);
});
