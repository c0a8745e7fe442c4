//! How `benches/compare.rs` measures a case (one message kind and size, several
//! implementations): with criterion, each implementation for seconds and then the next, or in
//! turns, the implementations taking turns in one loop.
//!
//! Criterion's windows come one after the other, and on a shared machine the speed drifts
//! between them: a ratio of two windows carries that drift. In turns (`COMPARE_TURNS=<file>`),
//! every implementation of a case runs for a few milliseconds, then the next, round after
//! round, the order rotated each round, so that a slow stretch falls on all of them; each
//! round gives a ratio of wsmachine's rate to the best peer's and to the floor's, and the
//! figures are the medians over the rounds, with the ratios' quartiles. The file receives one
//! JSON object per implementation and case; `scripts/bench_table.py` reads it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput};

/// The peers whose best rate a wsmachine row is compared with.
const PEERS: [&str; 2] = ["tungstenite", "fastwebsockets"];
/// The hand-written loop, where a case has one.
const FLOOR: &str = "floor";
/// A turn lasts at least this long (whole iterations).
const TURN: Duration = Duration::from_millis(3);

/// Where the cases go.
pub enum Runner {
    /// criterion, with its filter and options from the command line.
    Criterion(Box<Criterion>),
    /// In turns, writing the results to `path`.
    Turns(Turns),
}

/// The turns' settings and the results so far.
pub struct Turns {
    path: String,
    /// Substrings of `group/size`; a case runs if it matches one (or there are none).
    filters: Vec<String>,
    rounds: usize,
    lines: Vec<String>,
}

impl Runner {
    /// Turns if `COMPARE_TURNS` names an output file (`COMPARE_TURNS_ROUNDS` rounds a case,
    /// default 31; the command line's other arguments filter the cases), else criterion.
    pub fn from_env() -> Self {
        match std::env::var("COMPARE_TURNS") {
            Ok(path) => Runner::Turns(Turns {
                path,
                filters: std::env::args()
                    .skip(1)
                    .filter(|a| !a.starts_with('-'))
                    .collect(),
                rounds: std::env::var("COMPARE_TURNS_ROUNDS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(31),
                lines: Vec::new(),
            }),
            Err(_) => Runner::Criterion(Box::new(Criterion::default().configure_from_args())),
        }
    }

    /// Whether the case of `group` at `size` runs (criterion filters its own).
    pub fn wants(&self, group: &str, size: usize) -> bool {
        match self {
            Runner::Criterion(_) => true,
            Runner::Turns(t) => {
                let id = format!("{group}/{size}");
                t.filters.is_empty() || t.filters.iter().any(|f| id.contains(f.as_str()))
            }
        }
    }

    /// criterion, if the cases go there: the handshake runs only with it (in turns,
    /// `benches/handshake.rs` measures the handshake against its floor).
    pub fn criterion(&mut self) -> Option<&mut Criterion> {
        match self {
            Runner::Criterion(c) => Some(c),
            Runner::Turns(_) => None,
        }
    }

    /// A case of `group` at payload `size`, whose iteration handles `elements` messages of
    /// `bytes` payload bytes in all.
    pub fn case<'r, 'a>(
        &'r mut self,
        group: &str,
        size: usize,
        elements: usize,
        bytes: usize,
    ) -> Case<'r, 'a> {
        match self {
            Runner::Criterion(c) => {
                let mut g = c.benchmark_group(group);
                g.throughput(Throughput::ElementsAndBytes {
                    elements: elements as u64,
                    bytes: bytes as u64,
                });
                Case::Criterion { group: g, size }
            }
            Runner::Turns(t) => Case::Turns {
                turns: t,
                group: group.to_string(),
                size,
                elements,
                bytes,
                entries: Vec::new(),
            },
        }
    }

    /// Criterion's summary, or the turns' file.
    pub fn finish(self) {
        match self {
            Runner::Criterion(c) => c.final_summary(),
            Runner::Turns(t) => {
                let json = format!("[\n{}\n]\n", t.lines.join(",\n"));
                std::fs::write(&t.path, json).expect("write the turns' results");
                println!("wrote {}", t.path);
            }
        }
    }
}

/// One timed iteration of an implementation.
type Entry<'a> = (&'static str, Box<dyn FnMut() -> Duration + 'a>);

/// The implementations of one case.
pub enum Case<'r, 'a> {
    /// Each implementation measured by criterion as it is added.
    Criterion {
        group: BenchmarkGroup<'r, WallTime>,
        size: usize,
    },
    /// The implementations kept until [`finish`](Case::finish) runs them in turns.
    Turns {
        turns: &'r mut Turns,
        group: String,
        size: usize,
        elements: usize,
        bytes: usize,
        entries: Vec<Entry<'a>>,
    },
}

impl<'a> Case<'_, 'a> {
    /// An implementation whose iteration is `f`.
    pub fn add<R>(&mut self, name: &'static str, mut f: impl FnMut() -> R + 'a) {
        match self {
            Case::Criterion { group, size } => {
                group.bench_function(BenchmarkId::new(name, *size), |b| b.iter(&mut f));
            }
            Case::Turns { entries, .. } => entries.push((
                name,
                Box::new(move || {
                    let t = Instant::now();
                    black_box(f());
                    t.elapsed()
                }),
            )),
        }
    }

    /// An implementation whose iteration is `routine` on what `setup` makes, untimed, for
    /// each iteration; what the routine returns is dropped after the timing.
    pub fn add_batched<I, O>(
        &mut self,
        name: &'static str,
        mut setup: impl FnMut() -> I + 'a,
        mut routine: impl FnMut(I) -> O + 'a,
    ) {
        match self {
            Case::Criterion { group, size } => {
                group.bench_function(BenchmarkId::new(name, *size), |b| {
                    b.iter_batched(&mut setup, &mut routine, BatchSize::PerIteration)
                });
            }
            Case::Turns { entries, .. } => entries.push((
                name,
                Box::new(move || {
                    let input = setup();
                    let t = Instant::now();
                    let out = black_box(routine(input));
                    let d = t.elapsed();
                    drop(out);
                    d
                }),
            )),
        }
    }

    /// Run the case: criterion has already run each implementation; in turns they run now.
    pub fn finish(self) {
        match self {
            Case::Criterion { group, .. } => group.finish(),
            Case::Turns {
                turns,
                group,
                size,
                elements,
                bytes,
                mut entries,
            } => {
                let rounds = turns.rounds;
                let lines = take_turns(rounds, &mut entries)
                    .into_iter()
                    .map(|r| r.json(&group, size, elements, bytes, rounds));
                for line in lines {
                    println!("{line}");
                    turns.lines.push(line);
                }
            }
        }
    }
}

/// One implementation's figures over the rounds.
struct Row {
    name: &'static str,
    /// Median nanoseconds per iteration.
    ns: f64,
    /// Quartiles and median of its rate over the best peer's, and over the floor's, round by
    /// round (wsmachine's rows only).
    vs_peers: Option<[f64; 3]>,
    vs_floor: Option<[f64; 3]>,
}

impl Row {
    fn json(
        &self,
        group: &str,
        size: usize,
        elements: usize,
        bytes: usize,
        rounds: usize,
    ) -> String {
        let q = |v: Option<[f64; 3]>| match v {
            Some([a, b, c]) => format!("[{a:.4}, {b:.4}, {c:.4}]"),
            None => "null".into(),
        };
        format!(
            "{{\"group\": \"{group}\", \"size\": {size}, \"impl\": \"{}\", \"ns\": {:.1}, \
             \"elements\": {elements}, \"bytes\": {bytes}, \"rounds\": {rounds}, \
             \"vs_peers\": {}, \"vs_floor\": {}}}",
            self.name,
            self.ns,
            q(self.vs_peers),
            q(self.vs_floor)
        )
    }
}

/// `rounds` rounds of turns, after one untimed round; in round `r` the entries start at
/// `r % entries.len()`.
fn take_turns(rounds: usize, entries: &mut [Entry<'_>]) -> Vec<Row> {
    let k = entries.len();
    // Iterations per turn, from the first, untimed, iterations.
    let reps: Vec<u32> = entries
        .iter_mut()
        .map(|(_, f)| {
            f();
            let once = f().max(Duration::from_nanos(1));
            (TURN.as_nanos() / once.as_nanos()).clamp(1, 1_000_000) as u32
        })
        .collect();
    // ns[i][r]: nanoseconds per iteration of entry i in round r.
    let mut ns = vec![Vec::with_capacity(rounds); k];
    for r in 0..rounds {
        for j in 0..k {
            let i = (r + j) % k;
            let total: Duration = (0..reps[i]).map(|_| (entries[i].1)()).sum();
            ns[i].push(total.as_nanos() as f64 / f64::from(reps[i]));
        }
    }
    let index = |name: &str| entries.iter().position(|e| e.0 == name);
    let peers: Vec<usize> = PEERS.iter().filter_map(|p| index(p)).collect();
    let floor = index(FLOOR);
    // Per round, the ratio of another's time to entry i's: i's rate over the other's.
    let ratios = |i: usize, other: &dyn Fn(usize) -> f64| -> [f64; 3] {
        let mut v: Vec<f64> = (0..rounds).map(|r| other(r) / ns[i][r]).collect();
        quartiles(&mut v)
    };
    (0..k)
        .map(|i| {
            let wsm = entries[i].0.starts_with("wsmachine");
            Row {
                name: entries[i].0,
                ns: quartiles(&mut ns[i].clone())[1],
                vs_peers: (wsm && !peers.is_empty()).then(|| {
                    ratios(i, &|r| {
                        peers
                            .iter()
                            .map(|&p| ns[p][r])
                            .fold(f64::INFINITY, f64::min)
                    })
                }),
                vs_floor: floor.filter(|_| wsm).map(|f| ratios(i, &|r| ns[f][r])),
            }
        })
        .collect()
}

/// The 25th, 50th and 75th percentiles of `v`.
fn quartiles(v: &mut [f64]) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}
