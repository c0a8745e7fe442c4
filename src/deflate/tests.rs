use super::negotiate::{Params, answer, check_response, offered_params, parse_params};
use super::*;
use crate::ProtocolError;
use crate::extension::{AcceptedExtension, Extension, ExtensionOffer, parse_extensions};
use crate::role::Role;

// ---- negotiation ------------------------------------------------------------------------------

fn one(header: &str) -> ExtensionOffer {
    let mut list = parse_extensions(header).unwrap();
    assert_eq!(list.len(), 1, "{header}");
    list.pop().unwrap()
}

fn response(header: &str) -> AcceptedExtension {
    let e = one(header);
    AcceptedExtension {
        name: e.name,
        params: e.params,
        rsv_bits: 0,
    }
}

fn params(snct: bool, cnct: bool, smwb: u8, cmwb: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    }
}

#[test]
fn window_bits_values() {
    let p = |v: &str| {
        parse_params(
            &one(&format!("x; server_max_window_bits={v}")).params,
            false,
        )
    };
    for bits in 8..=15u8 {
        assert_eq!(
            p(&bits.to_string()).unwrap().server_max_window_bits,
            Some(bits)
        );
    }
    // Quoted values reach the parameters unquoted (RFC 6455 §9.1): a quoted 10 is 10.
    assert_eq!(p("\"10\"").unwrap().server_max_window_bits, Some(10));
    for bad in [
        "7", "16", "0", "08", "010", "+9", "9a", "1O", "99", "150", "-8",
    ] {
        assert_eq!(
            p(bad),
            Err(DeflateError::InvalidValue {
                parameter: "server_max_window_bits",
                value: Some(bad.to_owned())
            }),
            "{bad}"
        );
    }
}

#[test]
fn parameter_checks() {
    let offer = |h: &str| parse_params(&one(h).params, false);
    let resp = |h: &str| parse_params(&one(h).params, true);
    let invalid = |parameter: &'static str, value: Option<&str>| DeflateError::InvalidValue {
        parameter,
        value: value.map(str::to_owned),
    };
    assert_eq!(offer("permessage-deflate"), Ok(Params::default()));
    assert_eq!(
        offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits"
        ),
        Ok(Params {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(None),
        })
    );
    assert_eq!(
        offer("permessage-deflate; client_max_window_bits=9"),
        Ok(Params {
            client_max_window_bits: Some(Some(9)),
            ..Params::default()
        })
    );
    let cases: &[(&str, DeflateError)] = &[
        (
            "permessage-deflate; x",
            DeflateError::UnknownParameter("x".into()),
        ),
        (
            "permessage-deflate; Server_No_Context_Takeover",
            DeflateError::UnknownParameter("Server_No_Context_Takeover".into()),
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            DeflateError::DuplicateParameter("server_no_context_takeover"),
        ),
        (
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            DeflateError::DuplicateParameter("client_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            DeflateError::DuplicateParameter("server_max_window_bits"),
        ),
        (
            "permessage-deflate; client_max_window_bits=10; client_max_window_bits",
            DeflateError::DuplicateParameter("client_max_window_bits"),
        ),
        (
            "permessage-deflate; server_no_context_takeover=1",
            invalid("server_no_context_takeover", Some("1")),
        ),
        (
            "permessage-deflate; client_no_context_takeover=true",
            invalid("client_no_context_takeover", Some("true")),
        ),
        (
            "permessage-deflate; server_max_window_bits",
            invalid("server_max_window_bits", None),
        ),
        (
            "permessage-deflate; client_max_window_bits=16",
            invalid("client_max_window_bits", Some("16")),
        ),
    ];
    for (header, error) in cases {
        assert_eq!(offer(header).as_ref(), Err(error), "{header}");
        assert_eq!(resp(header).as_ref(), Err(error), "{header}");
    }
    // Without a value: allowed in an offer only.
    assert_eq!(
        resp("permessage-deflate; client_max_window_bits"),
        Err(invalid("client_max_window_bits", None))
    );
}

#[test]
fn offers() {
    let cases: &[(DeflateConfig, &str)] = &[
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits=12",
        ),
        (
            DeflateConfig::default().window_bits(15),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            DeflateConfig::default().window_bits(8).peer_window_bits(8),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        ),
        (
            DeflateConfig::default()
                .no_context_takeover(true)
                .peer_no_context_takeover(true)
                .peer_window_bits(10)
                .window_bits(20),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits",
        ),
    ];
    for (config, expected) in cases {
        let o = offer(config).unwrap();
        assert_eq!(o.to_string(), *expected);
        assert!(o.is_valid());
    }
    assert_eq!(offer(&DeflateConfig::default().enabled(false)), None);
}

/// The server's answer to each kind of offer, with its default configuration and others.
#[test]
fn server_answers() {
    let d = DeflateConfig::default();
    let w15 = DeflateConfig::default().window_bits(15);
    let cases: &[(&DeflateConfig, &str, &str, DeflateParams)] = &[
        (
            &d,
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=12",
            params(false, false, 12, 15),
        ),
        (
            &w15,
            "permessage-deflate",
            "permessage-deflate",
            params(false, false, 15, 15),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=12",
            params(false, false, 12, 15),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
            params(false, false, 12, 10),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=12",
            params(false, false, 12, 15),
        ),
        (
            &DeflateConfig::default().peer_window_bits(9),
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
            params(false, false, 12, 9),
        ),
        (
            &DeflateConfig::default().peer_window_bits(9),
            "permessage-deflate; client_max_window_bits=11",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
            params(false, false, 12, 9),
        ),
        // Not offered: not answered, whatever the server would like (RFC 7692 §7.1.2.2).
        (
            &DeflateConfig::default().peer_window_bits(9),
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=12",
            params(false, false, 12, 15),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
            params(false, false, 10, 15),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=14",
            "permessage-deflate; server_max_window_bits=12",
            params(false, false, 12, 15),
        ),
        (
            &w15,
            "permessage-deflate; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=15",
            params(false, false, 15, 15),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            params(false, false, 8, 8),
        ),
        (
            &d,
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
            params(true, false, 12, 15),
        ),
        (
            &d,
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12",
            params(false, true, 12, 15),
        ),
        (
            &DeflateConfig::default()
                .no_context_takeover(true)
                .peer_no_context_takeover(true)
                .window_bits(8),
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8",
            params(true, true, 8, 15),
        ),
    ];
    for (config, offered, answered, expected) in cases {
        let (ext, p) = accept_offers(config, &[one(offered)]).expect(offered);
        assert_eq!(ext.to_string(), *answered, "{offered}");
        assert_eq!(ext.rsv_bits, 0b100);
        assert_eq!(p, *expected, "{offered}");
        // The client that made this offer agrees.
        let client_offer = parse_params(&one(offered).params, false).unwrap();
        let client_config = DeflateConfig::default()
            .window_bits(match client_offer.client_max_window_bits {
                Some(Some(bits)) => bits,
                _ => 15,
            })
            .no_context_takeover(false);
        let answered = parse_params(&ext.params, true).unwrap();
        if client_offer.client_max_window_bits.is_some() {
            assert_eq!(
                check_response(&client_config, &client_offer, &answered),
                Ok(*expected),
                "{offered}"
            );
        }
    }
}

#[test]
fn server_takes_the_first_acceptable_offer() {
    let d = DeflateConfig::default();
    let offers = parse_extensions(
        "x-other; a=1, permessage-deflate; foo, permessage-deflate; server_max_window_bits=7, \
         permessage-deflate; client_no_context_takeover; client_no_context_takeover, \
         permessage-deflate; server_max_window_bits=9, permessage-deflate",
    )
    .unwrap();
    let (ext, p) = accept_offers(&d, &offers).unwrap();
    assert_eq!(
        ext.to_string(),
        "permessage-deflate; server_max_window_bits=9"
    );
    assert_eq!(p, params(false, false, 9, 15));
    // None acceptable, none at all, or disabled.
    assert_eq!(accept_offers(&d, &offers[..4]), None);
    assert_eq!(accept_offers(&d, &[]), None);
    assert_eq!(accept_offers(&d.enabled(false), &offers), None);
}

#[test]
fn client_checks_responses() {
    let d = DeflateConfig::default(); // offers client_max_window_bits=12
    let w15 = DeflateConfig::default().window_bits(15); // offers client_max_window_bits
    let strict = DeflateConfig::default()
        .peer_no_context_takeover(true)
        .peer_window_bits(10); // also server_no_context_takeover; server_max_window_bits=10
    let ok: &[(&DeflateConfig, &str, DeflateParams)] = &[
        (&d, "permessage-deflate", params(false, false, 15, 12)),
        (
            &d,
            "permessage-deflate; server_max_window_bits=8",
            params(false, false, 8, 12),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits=9",
            params(false, false, 15, 9),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits=12; server_no_context_takeover",
            params(true, false, 15, 12),
        ),
        (
            &d,
            "permessage-deflate; client_no_context_takeover",
            params(false, true, 15, 12),
        ),
        (
            &w15,
            "permessage-deflate; client_max_window_bits=15",
            params(false, false, 15, 15),
        ),
        (
            &w15,
            "permessage-deflate; client_max_window_bits=8",
            params(false, false, 15, 8),
        ),
        (
            &strict,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            params(true, false, 10, 12),
        ),
        (
            &strict,
            "permessage-deflate; server_max_window_bits=8; server_no_context_takeover",
            params(true, false, 8, 12),
        ),
        (
            &DeflateConfig::default().no_context_takeover(true),
            "permessage-deflate",
            params(false, true, 15, 12),
        ),
    ];
    for (config, header, expected) in ok {
        assert_eq!(
            accept_response(config, &response(header)),
            Ok(*expected),
            "{header}"
        );
    }
    let invalid = |parameter: &'static str, value: Option<&str>| DeflateError::InvalidValue {
        parameter,
        value: value.map(str::to_owned),
    };
    let refused: &[(&DeflateConfig, &str, DeflateError)] = &[
        (
            &d,
            "x-deflate",
            DeflateError::OtherExtension("x-deflate".into()),
        ),
        (
            &d,
            "permessage-deflate; mystery",
            DeflateError::UnknownParameter("mystery".into()),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            DeflateError::DuplicateParameter("server_max_window_bits"),
        ),
        (
            &d,
            "permessage-deflate; client_max_window_bits",
            invalid("client_max_window_bits", None),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=08",
            invalid("server_max_window_bits", Some("08")),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=\"16\"",
            invalid("server_max_window_bits", Some("16")),
        ),
        (
            &strict,
            "permessage-deflate; server_max_window_bits=10",
            DeflateError::ServerNoContextTakeoverRefused,
        ),
        (
            &strict,
            "permessage-deflate; server_no_context_takeover",
            DeflateError::ServerWindowRefused,
        ),
        (
            &strict,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            DeflateError::ServerWindowRefused,
        ),
    ];
    for (config, header, error) in refused {
        assert_eq!(
            accept_response(config, &response(header)).as_ref(),
            Err(error),
            "{header}"
        );
        assert!(!error.to_string().is_empty());
    }
    // An offer without client_max_window_bits (not one `offer` makes): the response may not
    // carry it (RFC 7692 §7.1.2.2).
    let without = Params::default();
    let answered = parse_params(
        &response("permessage-deflate; client_max_window_bits=10").params,
        true,
    )
    .unwrap();
    assert_eq!(
        check_response(&w15, &without, &answered),
        Err(DeflateError::ClientWindowNotOffered)
    );
    assert_eq!(
        check_response(&w15, &without, &Params::default()),
        Ok(params(false, false, 15, 15))
    );
}

/// Every client configuration against every server configuration: the server's answer to the
/// client's offer is one the client accepts, and both see the same parameters.
#[test]
fn both_sides_agree() {
    let mut configs = Vec::new();
    for window in [8, 9, 12, 15] {
        for peer in [8, 11, 15] {
            for nct in [false, true] {
                for peer_nct in [false, true] {
                    configs.push(
                        DeflateConfig::default()
                            .window_bits(window)
                            .peer_window_bits(peer)
                            .no_context_takeover(nct)
                            .peer_no_context_takeover(peer_nct),
                    );
                }
            }
        }
    }
    for client in &configs {
        let o = offer(client).unwrap();
        for server in &configs {
            let (ext, at_server) = accept_offers(server, std::slice::from_ref(&o)).unwrap();
            let at_client = accept_response(client, &ext).unwrap();
            assert_eq!(at_client, at_server, "{o} / {ext}");
            assert!(at_server.client_max_window_bits <= client.window_bits);
            assert!(at_server.server_max_window_bits <= server.window_bits);
            assert!(at_server.server_max_window_bits <= client.peer_window_bits);
            assert!(at_server.client_no_context_takeover >= client.no_context_takeover);
            assert!(at_server.server_no_context_takeover >= client.peer_no_context_takeover);
            assert!(at_server.server_no_context_takeover >= server.no_context_takeover);
            assert!(at_server.client_no_context_takeover >= server.peer_no_context_takeover);
        }
    }
    // The answer's table entry for an offer that `offer` never makes.
    let (_, p) = answer(
        &DeflateConfig::default(),
        &offered_params(&DeflateConfig::default()),
    );
    assert_eq!(p, params(false, false, 12, 12));
}

// ---- the transform -----------------------------------------------------------------------------

/// A server and a client speaking with `params`, each with `config`.
fn pair(p: &DeflateParams, config: &DeflateConfig) -> (PerMessageDeflate, PerMessageDeflate) {
    (
        PerMessageDeflate::new(Role::Server, p, config),
        PerMessageDeflate::new(Role::Client, p, config),
    )
}

/// Send `msg` in frames of at most `frame` bytes: each frame's payload and RSV bits.
fn send(ext: &mut PerMessageDeflate, msg: &[u8], frame: usize) -> Vec<(Vec<u8>, u8)> {
    let pieces: Vec<&[u8]> = if msg.is_empty() {
        vec![msg]
    } else {
        msg.chunks(frame.max(1)).collect()
    };
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut out = Vec::new();
            let rsv = ext.encode(piece, i == 0, i + 1 == n, &mut out);
            (out, rsv)
        })
        .collect()
}

/// Receive frames, each payload in pieces of at most `piece` bytes, with a message limit.
fn receive(
    ext: &mut PerMessageDeflate,
    frames: &[(Vec<u8>, u8)],
    piece: usize,
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    for (i, (payload, rsv)) in frames.iter().enumerate() {
        let compressed = ext.inbound_frame(*rsv, i == 0)?;
        assert_eq!(compressed, i == 0, "only the first frame's answer is read");
        let last_frame = i + 1 == frames.len();
        let pieces: Vec<&[u8]> = if payload.is_empty() {
            vec![&payload[..]]
        } else {
            payload.chunks(piece.max(1)).collect()
        };
        for (j, bytes) in pieces.iter().enumerate() {
            let end = last_frame && j + 1 == pieces.len();
            let d = ext.decode(bytes, end, &mut out, limit)?;
            assert!(out.len() <= limit);
            if d.consumed < bytes.len() || (end && !d.finished) {
                assert_eq!(out.len(), limit, "stopped short of the limit");
                return Err(ProtocolError::MessageTooLarge { limit });
            }
            assert_eq!(d.finished, end, "finished before the end");
        }
    }
    Ok(out)
}

fn text(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let words = [
        "{\"id\":",
        "\"name\":",
        "\"value\":",
        "true",
        "false",
        "null",
        "[1,2,3]",
        "}",
        ",",
        "websocket",
        "deflate",
        "message",
        " ",
    ];
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
        if x.is_multiple_of(5) {
            out.extend_from_slice((x % 10_000).to_string().as_bytes());
        }
    }
    out.truncate(n);
    out
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again using the shared window.
#[test]
fn rfc_examples_hello_and_shared_window() {
    let (mut server, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
    let first = send(&mut server, b"Hello", 100);
    assert_eq!(
        first,
        vec![(vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 0b100)]
    );
    assert_eq!(receive(&mut client, &first, 100, 100).unwrap(), b"Hello");
    let second = send(&mut server, b"Hello", 100);
    assert_eq!(second, vec![(vec![0xf2, 0x00, 0x11, 0x00, 0x00], 0b100)]);
    assert_eq!(receive(&mut client, &second, 100, 100).unwrap(), b"Hello");

    // Without context takeover the second message is the first one again.
    let p = params(true, true, 15, 15);
    let (mut server, mut client) = pair(&p, &DeflateConfig::default());
    for _ in 0..2 {
        let frames = send(&mut server, b"Hello", 100);
        assert_eq!(frames[0].0, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(receive(&mut client, &frames, 100, 100).unwrap(), b"Hello");
    }
}

/// RFC 7692 §7.2.3.3 to §7.2.3.6: a stored block, a final block, two blocks, and "Hello" in
/// two fragments, the second being the single byte 00.
#[test]
fn rfc_examples_other_payloads() {
    let (mut server, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
    let decoded = |client: &mut PerMessageDeflate, frames: &[&[u8]]| {
        let frames: Vec<(Vec<u8>, u8)> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| (f.to_vec(), if i == 0 { 0b100 } else { 0 }))
            .collect();
        receive(client, &frames, 3, 1000)
    };
    let stored: &[u8] = &[
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(decoded(&mut client, &[stored]).unwrap(), b"Hello");
    let two_blocks: &[u8] = &[
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(decoded(&mut client, &[two_blocks]).unwrap(), b"Hello");
    let fragments: [&[u8]; 2] = [
        &[
            0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff,
        ],
        &[0x00],
    ];
    assert_eq!(decoded(&mut client, &fragments).unwrap(), b"Hello");
    // The final block ends the peer's stream: what follows it is ignored, and the next message
    // starts with an empty window.
    let bfinal: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(decoded(&mut client, &[bfinal]).unwrap(), b"Hello");
    assert_eq!(
        decoded(&mut client, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]).unwrap(),
        b"Hello"
    );

    // This side sends "Hello" in two fragments exactly as §7.2.3.6 shows.
    let mut frames = Vec::new();
    for (piece, first, fin) in [(&b"Hello"[..], true, false), (&b""[..], false, true)] {
        let mut out = Vec::new();
        let rsv = server.encode(piece, first, fin, &mut out);
        frames.push((out, rsv));
    }
    assert_eq!(frames[0], (fragments[0].to_vec(), 0b100));
    assert_eq!(frames[1], (fragments[1].to_vec(), 0));
    let (_, mut fresh) = pair(&DeflateParams::default(), &DeflateConfig::default());
    assert_eq!(receive(&mut fresh, &frames, 100, 100).unwrap(), b"Hello");
}

/// The empty message is the byte 00, fresh or after other messages; an empty payload with
/// RSV1 is an empty message too.
#[test]
fn empty_messages() {
    for p in [DeflateParams::default(), params(true, true, 9, 9)] {
        let (mut server, mut client) = pair(&p, &DeflateConfig::default());
        for msg in [&b""[..], b"abc", b"", b"", b"abcabc", b""] {
            let frames = send(&mut server, msg, 100);
            if msg.is_empty() {
                assert_eq!(frames, vec![(vec![0x00], 0b100)]);
            }
            assert_eq!(receive(&mut client, &frames, 1, 100).unwrap(), msg);
        }
        // Empty frames in a fragmented message, and a message of empty frames.
        let mut frames = Vec::new();
        for (i, piece) in [&b""[..], b"xyz", b"", b""].iter().enumerate() {
            let mut out = Vec::new();
            let rsv = server.encode(piece, i == 0, i == 3, &mut out);
            frames.push((out, rsv));
        }
        assert_eq!(receive(&mut client, &frames, 2, 100).unwrap(), b"xyz");
        let frames = [(vec![], 0b100), (vec![], 0)];
        assert_eq!(receive(&mut client, &frames, 1, 100).unwrap(), b"");
        let frames = send(&mut server, b"after", 100);
        assert_eq!(receive(&mut client, &frames, 1, 100).unwrap(), b"after");
    }
}

/// Every parameter combination, both directions: messages of many sizes, text and noise,
/// whole and fragmented, one after another so that context takeover matters.
#[test]
fn round_trips() {
    let messages: Vec<Vec<u8>> = vec![
        b"Hello".to_vec(),
        text(1000, 1),
        text(1000, 1),
        noise(3000, 2),
        text(40_000, 3),
        vec![b'a'; 5000],
        Vec::new(),
        text(300, 4),
    ];
    for window in [8, 9, 10, 12, 15] {
        for (snct, cnct) in [(false, false), (true, false), (false, true), (true, true)] {
            for level in [0, 1, 6] {
                let p = params(snct, cnct, window, 23 - window);
                let config = DeflateConfig::default().level(level).threshold(0);
                let (mut server, mut client) = pair(&p, &config);
                for (i, msg) in messages.iter().enumerate() {
                    let frame = [usize::MAX, 700, 4096][i % 3];
                    let frames = send(&mut server, msg, frame);
                    assert_eq!(frames[0].1, 0b100);
                    assert!(frames[1..].iter().all(|f| f.1 == 0));
                    let back = receive(&mut client, &frames, 1000, 1 << 20).unwrap();
                    assert!(
                        back == *msg,
                        "server→client {p:?} level {level} message {i}"
                    );
                    let frames = send(&mut client, msg, frame);
                    let back = receive(&mut server, &frames, 333, 1 << 20).unwrap();
                    assert!(
                        back == *msg,
                        "client→server {p:?} level {level} message {i}"
                    );
                }
                // Each side drops the compressor it resets and the inflater of a peer that
                // resets, and keeps both otherwise.
                let (server_heap, client_heap) = (server.heap_size(), client.heap_size());
                server.release_buffers();
                client.release_buffers();
                assert_eq!(server.heap_size() == server_heap, !snct && !cnct, "{p:?}");
                assert_eq!(client.heap_size() == client_heap, !snct && !cnct, "{p:?}");
            }
        }
    }
}

/// An independent reading of a raw DEFLATE stream (RFC 1951), for checking what this side
/// sends: the bytes it inflates to and the longest distance any match reaches back. Stops at
/// the end of the data or of a final block; `None` for anything malformed.
fn read_deflate(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    struct Reader<'a> {
        data: &'a [u8],
        bit: usize,
    }
    impl Reader<'_> {
        fn bits(&mut self, n: u32) -> Option<u32> {
            let mut v = 0;
            for i in 0..n {
                let byte = *self.data.get(self.bit / 8)?;
                v |= u32::from((byte >> (self.bit % 8)) & 1) << i;
                self.bit += 1;
            }
            Some(v)
        }
        /// One symbol of the canonical code with these lengths.
        fn symbol(&mut self, lengths: &[u8]) -> Option<usize> {
            let (mut code, mut first) = (0i32, 0i32);
            for len in 1..=15u8 {
                code |= self.bits(1)? as i32;
                let symbols: Vec<usize> =
                    (0..lengths.len()).filter(|&s| lengths[s] == len).collect();
                let count = symbols.len() as i32;
                if code - first < count {
                    return Some(symbols[(code - first) as usize]);
                }
                first = (first + count) << 1;
                code <<= 1;
            }
            None
        }
    }
    const LENGTH_BASE: [usize; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LENGTH_EXTRA: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_BASE: [usize; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let mut r = Reader { data, bit: 0 };
    let mut out = Vec::new();
    let mut longest = 0;
    while r.bit + 3 <= data.len() * 8 {
        let last = r.bits(1)?;
        let (lit, dist): (Vec<u8>, Vec<u8>) = match r.bits(2)? {
            0 => {
                r.bit = r.bit.div_ceil(8) * 8;
                let len = r.bits(16)?;
                if r.bits(16)? != !len & 0xffff {
                    return None;
                }
                for _ in 0..len {
                    out.push(r.bits(8)? as u8);
                }
                if last == 1 {
                    break;
                }
                continue;
            }
            1 => {
                let mut lit = vec![8u8; 144];
                lit.extend([9; 112]);
                lit.extend([7; 24]);
                lit.extend([8; 8]);
                (lit, vec![5; 30])
            }
            2 => {
                let hlit = r.bits(5)? as usize + 257;
                let hdist = r.bits(5)? as usize + 1;
                let hclen = r.bits(4)? as usize + 4;
                let mut cl = [0u8; 19];
                for &i in &ORDER[..hclen] {
                    cl[i] = r.bits(3)? as u8;
                }
                let mut lengths = Vec::new();
                while lengths.len() < hlit + hdist {
                    match r.symbol(&cl)? {
                        s @ 0..=15 => lengths.push(s as u8),
                        16 => {
                            let prev = *lengths.last()?;
                            for _ in 0..3 + r.bits(2)? {
                                lengths.push(prev);
                            }
                        }
                        17 => lengths.extend(std::iter::repeat_n(0, 3 + r.bits(3)? as usize)),
                        _ => lengths.extend(std::iter::repeat_n(0, 11 + r.bits(7)? as usize)),
                    }
                }
                let dist = lengths.split_off(hlit);
                (lengths, dist)
            }
            _ => return None,
        };
        loop {
            match r.symbol(&lit)? {
                s @ 0..=255 => out.push(s as u8),
                256 => break,
                s => {
                    let i = s.checked_sub(257).filter(|&i| i < 29)?;
                    let len = LENGTH_BASE[i] + r.bits(LENGTH_EXTRA[i])? as usize;
                    let d = r.symbol(&dist)?;
                    let extra = if d < 4 { 0 } else { (d as u32 - 2) / 2 };
                    let distance = DIST_BASE.get(d)? + r.bits(extra)? as usize;
                    longest = longest.max(distance);
                    let from = out.len().checked_sub(distance)?;
                    for k in 0..len {
                        out.push(out[from + k]);
                    }
                }
            }
        }
        if last == 1 {
            break;
        }
    }
    Some((out, longest))
}

/// A window of 8: this side's matches never reach back further than 256 bytes, in either
/// role, across messages too (a control with window 15 does reach further).
#[test]
fn window_8_stays_within_256_bytes() {
    let msg = text(20_000, 7);
    let mut all = Vec::new();
    for _ in 0..3 {
        all.extend_from_slice(&msg);
    }
    for window in [8, 9, 15] {
        for role in [Role::Server, Role::Client] {
            // Three messages sent as one stream (frames without FIN keep their flush marker),
            // so that matches into earlier messages count too.
            let p = params(false, false, window, window);
            let mut ext = PerMessageDeflate::new(role, &p, &DeflateConfig::default());
            let mut stream = Vec::new();
            for i in 0..3 {
                let mut out = Vec::new();
                ext.encode(&msg, i == 0, false, &mut out);
                assert!(out.len() < msg.len() * 3 / 4, "compresses at all");
                stream.extend_from_slice(&out);
            }
            let (inflated, longest) = read_deflate(&stream).unwrap();
            assert!(inflated == all, "window {window} {role:?}");
            assert!(
                longest <= 1 << window,
                "window {window}: a match {longest} bytes back"
            );
            if window == 15 {
                assert!(longest > 256, "the control: longest match {longest}");
            }
        }
    }
}

/// A message split at every byte boundary, and byte by byte, inflates the same.
#[test]
fn every_split() {
    let (mut server, _) = pair(&DeflateParams::default(), &DeflateConfig::default());
    let msg = text(600, 9);
    let frames = send(&mut server, &msg, usize::MAX);
    let payload = &frames[0].0;
    for cut in 0..=payload.len() {
        let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
        assert!(client.inbound_frame(0b100, true).unwrap());
        let mut out = Vec::new();
        let a = client
            .decode(&payload[..cut], false, &mut out, 1 << 20)
            .unwrap();
        assert_eq!((a.consumed, a.finished), (cut, false));
        let b = client
            .decode(&payload[cut..], true, &mut out, 1 << 20)
            .unwrap();
        assert_eq!((b.consumed, b.finished), (payload.len() - cut, true));
        assert!(out == msg, "cut at {cut}");
    }
    let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
    assert_eq!(receive(&mut client, &frames, 1, 1 << 20).unwrap(), msg);
    // Split into frames at every boundary too: the frames after the first carry no RSV1.
    for cut in 0..=payload.len() {
        let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
        let frames = [
            (payload[..cut].to_vec(), 0b100),
            (payload[cut..].to_vec(), 0),
        ];
        assert_eq!(receive(&mut client, &frames, 7, 1 << 20).unwrap(), msg);
    }
}

/// `decode` never lengthens `out` past the limit; a message of exactly the limit finishes,
/// one byte more does not; the byte that did not fit comes first on the next call.
#[test]
fn bounded_output() {
    let msg = text(50_000, 11);
    let (mut server, _) = pair(&DeflateParams::default(), &DeflateConfig::default());
    let frames = send(&mut server, &msg, usize::MAX);
    let payload = &frames[0].0;
    for limit in [msg.len(), msg.len() - 1, 1, 0, 16 * 1024, 16 * 1024 + 1] {
        let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
        let result = receive(&mut client, &frames, 5000, limit);
        if limit >= msg.len() {
            assert_eq!(result.unwrap(), msg);
        } else {
            assert_eq!(result, Err(ProtocolError::MessageTooLarge { limit }));
        }
    }
    // Streaming: the caller takes what is there whenever the limit is reached.
    for limit in [1, 100, 4096, 20_000] {
        let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
        client.inbound_frame(0b100, true).unwrap();
        let mut delivered = Vec::new();
        let mut out = Vec::new();
        for (i, piece) in payload.chunks(777).enumerate() {
            let end = (i + 1) * 777 >= payload.len();
            let mut rest = piece;
            loop {
                let d = client.decode(rest, end, &mut out, limit).unwrap();
                assert!(out.len() <= limit);
                assert!(
                    out.capacity() <= limit.max(16 * 1024),
                    "capacity {}",
                    out.capacity()
                );
                rest = &rest[d.consumed..];
                delivered.append(&mut out);
                if d.finished || (rest.is_empty() && !end) {
                    break;
                }
            }
        }
        assert!(delivered == msg, "limit {limit}");
    }
}

#[test]
fn rsv_bits_and_thresholds() {
    let (mut server, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
    assert_eq!(server.rsv_bits(), 0b100);
    // Uncompressed messages pass beside compressed ones.
    assert_eq!(client.inbound_frame(0, true), Ok(false));
    assert_eq!(client.inbound_frame(0, false), Ok(false));
    assert_eq!(client.inbound_frame(0b100, true), Ok(true));
    assert_eq!(client.inbound_frame(0, false), Ok(false));
    assert_eq!(
        client.inbound_frame(0b100, false),
        Err(ProtocolError::ReservedBitsSet)
    );
    assert_eq!(client.inbound_frame(0, true), Ok(false));
    assert_eq!(
        client.inbound_frame(0b100, false),
        Err(ProtocolError::ReservedBitsSet)
    );
    assert!(!server.outbound_wants(63));
    assert!(server.outbound_wants(64));
    let (none, _) = pair(
        &DeflateParams::default(),
        &DeflateConfig::default().threshold(0),
    );
    assert!(none.outbound_wants(0));
    // Nothing is allocated before the first compressed message.
    assert_eq!(server.heap_size() + client.heap_size(), 0);
    let frames = send(&mut server, b"x", 1);
    assert_eq!(server.heap_size(), super::codec::deflate_heap_bytes(15, 5));
    receive(&mut client, &frames, 1, 10).unwrap();
    assert_eq!(client.heap_size(), super::codec::INFLATE_HEAP_BYTES);
}

/// Without the peer's context takeover the inflater is dropped between messages, whether the
/// last message received was compressed or not; never inside a compressed one.
#[test]
fn release_drops_the_inflater_after_any_message() {
    let p = params(true, true, 12, 12);
    let (mut server, mut client) = pair(&p, &DeflateConfig::default());
    let frames = send(&mut server, &text(500, 1), 200);
    receive(&mut client, &frames, 50, 1000).unwrap();
    assert_eq!(client.heap_size(), super::codec::INFLATE_HEAP_BYTES);
    // An uncompressed message (below the sender's threshold), in two frames, then idle.
    assert_eq!(client.inbound_frame(0, true), Ok(false));
    client.release_buffers();
    assert_eq!(client.heap_size(), 0, "inside an uncompressed message");
    assert_eq!(client.inbound_frame(0, false), Ok(false));
    client.release_buffers();
    assert_eq!(client.heap_size(), 0, "after an uncompressed message");
    // A compressed message in progress keeps it until its end.
    let frames = send(&mut server, &text(500, 2), 200);
    assert_eq!(client.inbound_frame(frames[0].1, true), Ok(true));
    let mut out = Vec::new();
    client.decode(&frames[0].0, false, &mut out, 1000).unwrap();
    client.release_buffers();
    assert_eq!(client.heap_size(), super::codec::INFLATE_HEAP_BYTES);
    for (payload, rsv) in &frames[1..] {
        assert_eq!(client.inbound_frame(*rsv, false), Ok(false));
        client.decode(payload, false, &mut out, 1000).unwrap();
    }
    assert!(client.decode(&[], true, &mut out, 1000).unwrap().finished);
    assert_eq!(out, text(500, 2));
    client.release_buffers();
    assert_eq!(client.heap_size(), 0);
}

// ---- hostile input -----------------------------------------------------------------------------

fn inflate_one(payload: &[u8], piece: usize, limit: usize) -> Result<Vec<u8>, ProtocolError> {
    let (_, mut client) = pair(&DeflateParams::default(), &DeflateConfig::default());
    receive(&mut client, &[(payload.to_vec(), 0b100)], piece, limit)
}

/// DEFLATE bits, least significant first; Huffman codes most significant bit first.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, n: u32) -> &mut Self {
        for i in 0..n {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= bit << (self.used % 8);
            self.used += 1;
        }
        self
    }
    fn code(&mut self, code: u32, n: u32) -> &mut Self {
        for i in (0..n).rev() {
            self.put((code >> i) & 1, 1);
        }
        self
    }
    /// A fixed-code literal from 0 to 143.
    fn literal(&mut self, byte: u8) -> &mut Self {
        self.code(0x30 + u32::from(byte), 8)
    }
    fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

#[test]
fn invalid_streams_are_errors() {
    let fixed = || {
        let mut b = Bits::default();
        b.put(0, 1).put(1, 2);
        b
    };
    let mut dynamic_without_codes = Bits::default();
    // HLIT, HDIST 0, four code-length code lengths, all 0; then enough zero bits for every
    // code length.
    dynamic_without_codes
        .put(0, 1)
        .put(2, 2)
        .put(0, 5)
        .put(0, 5)
        .put(0, 4)
        .put(0, 12);
    let mut dynamic_without_codes = dynamic_without_codes.done();
    dynamic_without_codes.extend_from_slice(&[0; 40]);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("reserved block type 11", vec![0x06]),
        (
            "stored block LEN/NLEN mismatch",
            vec![0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5],
        ),
        (
            // 'a', then length 3 at distance 2: one byte back is all there is.
            "distance beyond the output",
            fixed()
                .literal(b'a')
                .code(1, 7)
                .code(1, 5)
                .code(0, 7)
                .done(),
        ),
        (
            "distance code 30",
            fixed()
                .literal(b'a')
                .code(1, 7)
                .code(30, 5)
                .code(0, 7)
                .done(),
        ),
        (
            "literal/length code 286",
            fixed().literal(b'a').code(0b1100_0110, 8).code(0, 7).done(),
        ),
        ("no code at all in a dynamic block", dynamic_without_codes),
    ];
    for (what, payload) in &bad {
        for piece in [1, 2, 100] {
            assert_eq!(
                inflate_one(payload, piece, 1 << 20),
                Err(ProtocolError::InvalidCompressedData),
                "{what}, pieces of {piece}"
            );
        }
    }
    // The same fixed-code stream with a distance that fits inflates.
    let good = fixed()
        .literal(b'a')
        .code(1, 7)
        .code(0, 5)
        .code(0, 7)
        .done();
    assert_eq!(inflate_one(&good, 1, 100).unwrap(), b"aaaa");
    assert_eq!(ProtocolError::InvalidCompressedData.close_code(), 1002);
}

/// Truncated streams and noise: an error or some output (the tail appended to a cut stream is
/// read as whatever the cut leaves it to be), never a panic, never past the limit.
#[test]
fn truncated_and_noise_never_panic() {
    let msg = text(5000, 13);
    let (mut server, _) = pair(&DeflateParams::default(), &DeflateConfig::default());
    let payload = send(&mut server, &msg, usize::MAX).remove(0).0;
    for cut in 0..payload.len() {
        let _ = inflate_one(&payload[..cut], 64, 1 << 16);
    }
    for seed in 0..300 {
        let junk = noise(1 + seed as usize * 7 % 500, seed);
        let _ = inflate_one(&junk, 1 + seed as usize % 50, 1000);
    }
}

/// The offer's `client_max_window_bits=12` is a hint the server may ignore (RFC 7692
/// §7.1.2.2): a larger answer is taken, and this side still compresses with 12 at most; a
/// smaller one lowers it.
#[test]
fn a_client_window_answered_above_the_offer_is_taken_as_a_limit_of_the_offer() {
    let d = DeflateConfig::default();
    let larger = accept_response(
        &d,
        &response("permessage-deflate; client_max_window_bits=15"),
    );
    assert_eq!(larger, Ok(params(false, false, 15, 12)));
    let smaller = accept_response(
        &d,
        &response("permessage-deflate; client_max_window_bits=9"),
    );
    assert_eq!(smaller, Ok(params(false, false, 15, 9)));
}
