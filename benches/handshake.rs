//! The server handshake beside its floor, alternated batch by batch in one process.
//!
//! `benches/compare.rs` measures each implementation with criterion, seconds of one and then
//! seconds of the next; on a shared machine the speed drifts between such windows (the floor
//! alone has measured 357 to 530 ns a handshake in runs minutes apart), and a ratio of two
//! windows carries that drift. Here wsmachine's server handshake (`Connection::server` to
//! `Event::Open` and the 101, the connection made and dropped each time) and the floor
//! (`httparse` + RustCrypto's `sha1` + `base64` writing the 101 into a reused buffer) take
//! turns: a batch of `BATCH` handshakes of one, then of the other, the order swapped every
//! pair, so that a slow stretch falls on both sides of a pair's ratio. The figures are the
//! medians over the pairs, with the ratio's quartiles.
//!
//! `cargo bench --bench handshake` prints them and writes `target/handshake.json`
//! (`HANDSHAKE_JSON` names another file: `scripts/bench.sh` runs it under both profiles and
//! `scripts/bench_table.py` puts both in the handshake table). `HANDSHAKE_PAIRS` sets the
//! number of pairs (default 2 000).

use std::hint::black_box;
use std::time::Instant;

#[path = "common/handshake.rs"]
mod handshake;

use handshake::{REQUEST, lower_bound_handshake, wsm_handshake};

/// Handshakes per batch.
const BATCH: usize = 1_000;
/// Pairs run first and not counted.
const WARM_UP_PAIRS: usize = 100;

fn main() {
    let pairs: usize = std::env::var("HANDSHAKE_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let path = std::env::var("HANDSHAKE_JSON").unwrap_or_else(|_| "target/handshake.json".into());
    let mut out = Vec::new();
    let sent = wsm_handshake(REQUEST).expect("the server handshake opens");
    assert_eq!(sent, lower_bound_handshake(REQUEST, &mut out));

    // Nanoseconds per handshake of one batch of each.
    let wsm = || {
        let t = Instant::now();
        for _ in 0..BATCH {
            black_box(wsm_handshake(black_box(REQUEST)));
        }
        t.elapsed().as_nanos() as f64 / BATCH as f64
    };
    let mut floor = || {
        let t = Instant::now();
        for _ in 0..BATCH {
            black_box(lower_bound_handshake(black_box(REQUEST), &mut out));
        }
        t.elapsed().as_nanos() as f64 / BATCH as f64
    };
    let (mut w, mut f, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARM_UP_PAIRS + pairs {
        let (a, b) = if i % 2 == 0 {
            let a = wsm();
            (a, floor())
        } else {
            let b = floor();
            (wsm(), b)
        };
        if i >= WARM_UP_PAIRS {
            w.push(a);
            f.push(b);
            // wsmachine's rate over the floor's.
            ratio.push(b / a);
        }
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let (wsm_ns, floor_ns) = (q(&mut w, 0.5), q(&mut f, 0.5));
    let (p25, p50, p75) = (q(&mut ratio, 0.25), q(&mut ratio, 0.5), q(&mut ratio, 0.75));
    println!(
        "handshake, {pairs} pairs of {BATCH}: wsmachine {wsm_ns:.0} ns, floor {floor_ns:.0} ns; \
         wsmachine / floor rate {p50:.3} (p25 {p25:.3}, p75 {p75:.3})"
    );
    let json = format!(
        "{{\"batch\": {BATCH}, \"pairs\": {pairs}, \"wsmachine_ns\": {wsm_ns:.1}, \
         \"floor_ns\": {floor_ns:.1}, \"ratio_p25\": {p25:.4}, \"ratio_p50\": {p50:.4}, \
         \"ratio_p75\": {p75:.4}}}\n"
    );
    if let Err(e) = std::fs::write(&path, json) {
        eprintln!("handshake: cannot write {path}: {e}");
    }
}
