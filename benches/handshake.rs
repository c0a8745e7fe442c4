//! The server handshake beside its floor, alternated batch by batch in one process.
//!
//! `benches/compare.rs` measures each implementation with criterion, seconds of one and then
//! seconds of the next; on a shared machine the speed drifts between such windows (the floor
//! alone has measured 357 to 530 ns a handshake in runs minutes apart), and a ratio of two
//! windows carries that drift. Here wsmachine's server handshake (`Connection::server` to
//! `Event::Open` and the 101, the connection made and dropped each time) and the floor
//! (`httparse` + RustCrypto's `sha1` + `base64` writing the 101 into a reused buffer) take
//! turns, and so does a third: the same request through wsmachine's handshake module
//! (`RequestParser`, `write_accept` into a reused buffer, then `Connection::from_upgraded`,
//! dropped), the work of the handshake without the connection holding the request for the
//! application's decision and reporting it as events. A round is a batch of `BATCH`
//! handshakes of each, the three in a rotating order, so that a slow stretch falls on every
//! side of a round's ratios. The figures are the medians over the rounds, with the ratios'
//! quartiles.
//!
//! `cargo bench --bench handshake` prints them and writes `target/handshake.json`
//! (`HANDSHAKE_JSON` names another file: `scripts/bench.sh` runs it under both profiles and
//! `scripts/bench_table.py` puts both in the handshake table). `HANDSHAKE_ROUNDS` sets the
//! number of rounds (default 2 000).

use std::hint::black_box;
use std::time::Instant;

#[path = "common/handshake.rs"]
mod handshake;

use handshake::{REQUEST, lower_bound_handshake, wsm_handshake};
use wsmachine::handshake::{Accept, RequestParser, RequestProgress, ServerPolicy, write_accept};
use wsmachine::{Config, Connection, Role};

/// Handshakes per batch.
const BATCH: usize = 1_000;
/// Rounds run first and not counted.
const WARM_UP_ROUNDS: usize = 100;

/// The server handshake through the handshake module: the request parsed and checked, the
/// 101 written into `out` (cleared first), and an open connection made and dropped. The
/// 101's length, or `None` if the request was refused.
fn module_handshake(
    req: &[u8],
    config: &Config,
    policy: &ServerPolicy,
    out: &mut Vec<u8>,
) -> Option<usize> {
    let mut parser = RequestParser::new(config);
    let RequestProgress::Complete { request, .. } = parser.receive(req) else {
        return None;
    };
    out.clear();
    write_accept(&request, &Accept::new(), policy, out).ok()?;
    black_box(Connection::from_upgraded(Role::Server, *config));
    Some(black_box(&out[..]).len())
}

fn main() {
    let rounds: usize = std::env::var("HANDSHAKE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let path = std::env::var("HANDSHAKE_JSON").unwrap_or_else(|_| "target/handshake.json".into());
    let (config, policy) = (Config::default(), ServerPolicy::default());
    let (mut out, mut module_out) = (Vec::new(), Vec::new());
    let sent = wsm_handshake(REQUEST).expect("the server handshake opens");
    assert_eq!(sent, lower_bound_handshake(REQUEST, &mut out));
    let module_sent = module_handshake(REQUEST, &config, &policy, &mut module_out);
    assert_eq!(
        module_sent,
        Some(sent),
        "the handshake module writes the same 101"
    );
    assert_eq!(module_out, out);

    // Nanoseconds per handshake of one batch of each: wsmachine, the module, the floor.
    let mut batch = |which: usize| {
        let t = Instant::now();
        for _ in 0..BATCH {
            match which {
                0 => black_box(wsm_handshake(black_box(REQUEST))),
                1 => black_box(module_handshake(
                    black_box(REQUEST),
                    &config,
                    &policy,
                    &mut module_out,
                )),
                _ => black_box(Some(lower_bound_handshake(black_box(REQUEST), &mut out))),
            };
        }
        t.elapsed().as_nanos() as f64 / BATCH as f64
    };
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let (mut ratio, mut module_ratio) = (Vec::new(), Vec::new());
    for i in 0..WARM_UP_ROUNDS + rounds {
        let mut t = [0.0; 3];
        for k in 0..3 {
            let which = (i + k) % 3;
            t[which] = batch(which);
        }
        if i >= WARM_UP_ROUNDS {
            for (v, t) in times.iter_mut().zip(t) {
                v.push(t);
            }
            // Rates over the floor's.
            ratio.push(t[2] / t[0]);
            module_ratio.push(t[2] / t[1]);
        }
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let [w, m, f] = &mut times;
    let (wsm_ns, module_ns, floor_ns) = (q(w, 0.5), q(m, 0.5), q(f, 0.5));
    let (p25, p50, p75) = (q(&mut ratio, 0.25), q(&mut ratio, 0.5), q(&mut ratio, 0.75));
    let (m25, m50, m75) = (
        q(&mut module_ratio, 0.25),
        q(&mut module_ratio, 0.5),
        q(&mut module_ratio, 0.75),
    );
    println!(
        "handshake, {rounds} rounds of {BATCH}: wsmachine {wsm_ns:.0} ns, handshake module \
         {module_ns:.0} ns, floor {floor_ns:.0} ns; rate over the floor's: wsmachine {p50:.3} \
         (p25 {p25:.3}, p75 {p75:.3}), module {m50:.3} (p25 {m25:.3}, p75 {m75:.3})"
    );
    let json = format!(
        "{{\"batch\": {BATCH}, \"rounds\": {rounds}, \"wsmachine_ns\": {wsm_ns:.1}, \
         \"module_ns\": {module_ns:.1}, \"floor_ns\": {floor_ns:.1}, \
         \"ratio_p25\": {p25:.4}, \"ratio_p50\": {p50:.4}, \"ratio_p75\": {p75:.4}, \
         \"module_ratio_p25\": {m25:.4}, \"module_ratio_p50\": {m50:.4}, \
         \"module_ratio_p75\": {m75:.4}}}\n"
    );
    if let Err(e) = std::fs::write(&path, json) {
        eprintln!("handshake: cannot write {path}: {e}");
    }
}
