//! permessage-deflate's inflate path on arbitrary data, split arbitrarily.
//!
//! The first byte picks the parameters (role, context takeover, the limit) and the second how
//! many cut points follow (each one byte, scaled to the data). With the mode bit clear, the rest
//! is a hostile compressed message: it goes through `decode` in the chosen frames and pieces,
//! and nothing may panic, `out` never grows past the limit, `decode` takes less than its input
//! only at the limit, and the output of a message is bounded by the limit (the caller stops).
//! With it set, the rest is a message: it is compressed by this side, then inflated in the
//! chosen pieces, and must come back unchanged, twice in a row (context takeover).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::Role;
use wsmachine::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use wsmachine::extension::Extension;

const LIMITS: [usize; 4] = [0, 1, 1000, 70_000];

/// Feed `payload` as one compressed message in `frames` frames cut at `cuts`, each frame in
/// pieces; returns the output, or `None` when the peer's data is refused or exceeds `limit`.
fn inflate(
    ext: &mut PerMessageDeflate,
    payload: &[u8],
    cuts: &[usize],
    limit: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut last = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(payload.len())).collect();
    bounds.push(payload.len());
    for (i, &b) in bounds.iter().enumerate() {
        let b = b.max(last);
        let piece = &payload[last..b];
        last = b;
        // Every other cut starts a new frame; the others split a frame's payload.
        if i == 0 || i % 2 == 0 {
            // Only the first frame's answer is read: it marks the message compressed.
            assert_eq!(
                ext.inbound_frame(if i == 0 { 0b100 } else { 0 }, i == 0)
                    .ok()?,
                i == 0
            );
        }
        let end = i + 1 == bounds.len();
        let d = ext.decode(piece, end, &mut out, limit).ok()?;
        assert!(out.len() <= limit);
        assert!(d.consumed <= piece.len());
        if d.consumed < piece.len() || (end && !d.finished) {
            assert_eq!(out.len(), limit, "stopped short of the limit");
            return None;
        }
        assert!(!d.finished || end, "finished before the end");
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let [mode, ncuts, rest @ ..] = data else {
        return;
    };
    let n = (*ncuts as usize % 8).min(rest.len());
    let (cut_bytes, body) = rest.split_at(n);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&c| c as usize * (body.len() + 1) / 256)
        .collect();
    cuts.sort_unstable();

    let mut params = DeflateParams::default();
    params.server_no_context_takeover = mode & 1 != 0;
    params.client_no_context_takeover = mode & 2 != 0;
    params.server_max_window_bits = 8 + (mode >> 2) % 8;
    params.client_max_window_bits = 8 + (mode >> 2) % 8;
    let limit = LIMITS[(mode >> 5) as usize % 4];
    let config = DeflateConfig::default().threshold(0);
    let mut server = PerMessageDeflate::new(Role::Server, &params, &config);
    let mut client = PerMessageDeflate::new(Role::Client, &params, &config);

    if mode & 0x80 == 0 {
        // Hostile data, twice: the second message tests the state the first one left.
        let first = inflate(&mut client, body, &cuts, limit);
        if first.is_some() {
            let _ = inflate(&mut client, body, &cuts, limit);
        }
        client.release_buffers();
        return;
    }
    for _ in 0..2 {
        // The message in frames cut at the same points, compressed by the server.
        let mut payload = Vec::new();
        let mut last = 0;
        let mut bounds = cuts.clone();
        bounds.push(body.len());
        for (i, &b) in bounds.iter().enumerate() {
            let b = b.max(last);
            server.encode(&body[last..b], i == 0, i + 1 == bounds.len(), &mut payload);
            last = b;
        }
        let back = inflate(&mut client, &payload, &cuts, 70_000).expect("own data inflates");
        assert!(back == body);
    }
    server.release_buffers();
    client.release_buffers();
});
