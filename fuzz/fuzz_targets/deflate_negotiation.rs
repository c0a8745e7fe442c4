//! permessage-deflate negotiation on arbitrary `Sec-WebSocket-Extensions` values and
//! configurations, in both roles.
//!
//! The first two bytes pick a configuration; the rest is a header value. As a server's list of
//! offers, and each item as a client's response, nothing may panic; whatever is agreed must
//! stay within the RFC 7692 ranges and honour the configuration; a server's answer must be
//! made of tokens, claim RSV1, and be accepted by a client whose offer it answers, both seeing
//! the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::deflate::{self, DeflateConfig, DeflateParams};
use wsmachine::extension::{AcceptedExtension, parse_extensions};

fn make_config(a: u8, b: u8) -> DeflateConfig {
    DeflateConfig::default()
        .window_bits(8 + a % 8)
        .peer_window_bits(8 + (a >> 3) % 8)
        .no_context_takeover(a & 0x40 != 0)
        .peer_no_context_takeover(a & 0x80 != 0)
        .enabled(b & 1 == 0)
        .level(b >> 4)
}

fn in_range(p: &DeflateParams) {
    assert!((8..=15).contains(&p.server_max_window_bits), "{p:?}");
    assert!((8..=15).contains(&p.client_max_window_bits), "{p:?}");
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let config = make_config(*a, *b);
    let Ok(header) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(list) = parse_extensions(header) else {
        return;
    };

    // Server: the list as the client's offers.
    if let Some((ext, params)) = deflate::accept_offers(&config, &list) {
        assert!(config.enabled);
        in_range(&params);
        assert_eq!(ext.name, deflate::NAME);
        assert_eq!(ext.rsv_bits, 0b100);
        let as_offer = wsmachine::extension::ExtensionOffer {
            name: ext.name.clone(),
            params: ext.params.clone(),
        };
        assert!(as_offer.is_valid(), "{as_offer}");
        assert!(params.server_max_window_bits <= config.window_bits);
        assert!(params.server_no_context_takeover >= config.no_context_takeover);
        assert!(params.client_no_context_takeover >= config.peer_no_context_takeover);
        // The answer reads back as a valid response.
        let again = parse_extensions(&ext.to_string()).unwrap();
        assert_eq!(again.len(), 1);
    }

    // Client: each item as the server's response to this configuration's offer.
    for item in &list {
        let response = AcceptedExtension {
            name: item.name.clone(),
            params: item.params.clone(),
            rsv_bits: 0,
        };
        if let Ok(params) = deflate::accept_response(&config, &response) {
            in_range(&params);
            assert!(params.client_max_window_bits <= config.window_bits);
            assert!(params.server_max_window_bits <= config.peer_window_bits);
            assert!(params.server_no_context_takeover >= config.peer_no_context_takeover);
            assert!(params.client_no_context_takeover >= config.no_context_takeover);
        }
    }

    // Both: this configuration's offer to a server with the configuration of the next bytes.
    if let Some(offer) = deflate::offer(&config) {
        let server = make_config(rest.first().copied().unwrap_or(0), 0);
        let (ext, at_server) = deflate::accept_offers(&server, &[offer]).unwrap();
        let at_client = deflate::accept_response(&config, &ext).unwrap();
        assert_eq!(at_client, at_server);
    }
});
