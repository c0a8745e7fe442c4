use super::negotiate::{Params, answer, check_response, offered_params, parse_params};
use super::*;
use crate::extension::{AcceptedExtension, ExtensionOffer, parse_extensions};

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
            &d,
            "permessage-deflate; client_max_window_bits=13",
            DeflateError::ClientWindowTooLarge,
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
