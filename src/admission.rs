//! Admission control: refuse floods from one address before they cost anything, sans-IO.
//!
//! The driver asks [`Admission::on_connect`] when a transport connection arrives and
//! [`Admission::on_handshake`] when its upgrade request is complete, passing the peer's IP and
//! the caller's `now`. Three limits apply:
//!
//! * a cap on concurrent connections per address (→ 503 with `Retry-After`),
//! * a token bucket of new connections and of handshakes per address (→ 429 with `Retry-After`),
//! * a global cap on concurrent connections (→ 503 with `Retry-After`).
//!
//! IPv6 peers are grouped by a prefix (default /64), since one host usually owns a whole /64;
//! IPv4-mapped IPv6 addresses count as their IPv4 address.
//!
//! Memory stays bounded: at most `max_tracked` addresses are remembered. When the table is
//! full, addresses with no open connection are forgotten — first those whose buckets have
//! refilled (they carry no information), then any others — until half the table is free, so
//! the sweep costs O(1) amortised per new address. Addresses with open connections are never
//! forgotten, and `max_tracked` is kept at least twice the global cap so the sweep always
//! frees room. Forgetting an address resets its rate bucket: an attacker who cycles through
//! more than `max_tracked` addresses gets fresh buckets, but still meets the global cap.

use alloc::string::ToString;

use core::net::IpAddr;
use core::time::Duration;

use crate::handshake::Response;
use crate::time::Timestamp;

/// A token bucket's shape: `burst` tokens at most, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Largest number of events allowed back to back.
    pub burst: u32,
    /// Sustained events per second.
    pub per_second: f64,
}

/// Limits of an [`Admission`] table.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionConfig {
    /// Concurrent connections per address (or IPv6 prefix). Default 32.
    pub max_per_ip: u32,
    /// Concurrent connections in all. Default 10 000.
    pub max_total: u32,
    /// New connections per address. Default burst 20, 10 per second.
    pub connect_rate: Rate,
    /// Completed upgrade requests per address. Default burst 20, 10 per second.
    pub handshake_rate: Rate,
    /// IPv6 addresses are grouped by this prefix length. Default 64.
    pub ipv6_prefix: u8,
    /// Addresses remembered at most; raised to twice `max_total` if lower. Default 65 536.
    pub max_tracked: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_per_ip: 32,
            max_total: 10_000,
            connect_rate: Rate {
                burst: 20,
                per_second: 10.0,
            },
            handshake_rate: Rate {
                burst: 20,
                per_second: 10.0,
            },
            ipv6_prefix: 64,
            max_tracked: 65_536,
        }
    }
}

impl AdmissionConfig {
    /// Set the per-address concurrency cap.
    pub fn max_per_ip(mut self, n: u32) -> Self {
        self.max_per_ip = n;
        self
    }
    /// Set the global concurrency cap.
    pub fn max_total(mut self, n: u32) -> Self {
        self.max_total = n;
        self
    }
    /// Set the per-address rate of new connections.
    pub fn connect_rate(mut self, burst: u32, per_second: f64) -> Self {
        self.connect_rate = Rate { burst, per_second };
        self
    }
    /// Set the per-address rate of handshakes.
    pub fn handshake_rate(mut self, burst: u32, per_second: f64) -> Self {
        self.handshake_rate = Rate { burst, per_second };
        self
    }
    /// Set the IPv6 grouping prefix (0–128).
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }
    /// Set how many addresses are remembered at most.
    pub fn max_tracked(mut self, n: usize) -> Self {
        self.max_tracked = n;
        self
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address opened connections or handshakes faster than its rate (429).
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The address already has its maximum of open connections (503).
    TooManyForAddress {
        /// A suggested delay before retrying.
        retry_after: Duration,
    },
    /// The server has its maximum of open connections (503).
    ServerFull {
        /// A suggested delay before retrying.
        retry_after: Duration,
    },
}

impl Refusal {
    /// The HTTP status: 429 for a rate limit, 503 for a concurrency cap.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::RateLimited { .. } => 429,
            _ => 503,
        }
    }

    /// The suggested delay before retrying.
    pub fn retry_after(&self) -> Duration {
        match *self {
            Refusal::RateLimited { retry_after }
            | Refusal::TooManyForAddress { retry_after }
            | Refusal::ServerFull { retry_after } => retry_after,
        }
    }

    /// The complete HTTP response for this refusal, with `Retry-After` in whole seconds
    /// (rounded up, at least 1).
    pub fn response(&self) -> Response {
        let wait = self.retry_after();
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let body: &[u8] = match self {
            Refusal::RateLimited { .. } => b"too many requests\n",
            Refusal::TooManyForAddress { .. } => b"too many connections from this address\n",
            Refusal::ServerFull { .. } => b"server at capacity\n",
        };
        Response::new(self.status())
            .header("Retry-After", secs.to_string())
            .header("Content-Type", "text/plain")
            .body(body)
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self {
            Refusal::RateLimited { .. } => "rate limit reached",
            Refusal::TooManyForAddress { .. } => "too many connections from this address",
            Refusal::ServerFull { .. } => "server at capacity",
        };
        write!(
            f,
            "{what} ({}), retry after {:?}",
            self.status(),
            self.retry_after()
        )
    }
}

impl core::error::Error for Refusal {}

/// Proof that a connection holds a slot. Give it back with [`Admission::release`] when the
/// connection ends, for any reason; it cannot be copied, so a slot is freed exactly once.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a ticket must be released when its connection ends"]
pub struct Ticket {
    key: IpKey,
}

impl Ticket {
    /// The address (or IPv6 prefix) this slot is counted against.
    pub fn group(&self) -> IpAddr {
        match self.key {
            IpKey::V4(a) => IpAddr::V4(a.into()),
            IpKey::V6(a) => IpAddr::V6(a.into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum IpKey {
    V4(u32),
    V6(u128),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl Bucket {
    fn full(rate: Rate, now: Timestamp) -> Self {
        Bucket {
            tokens: rate.burst as f64,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Timestamp) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate.per_second).min(rate.burst as f64);
        self.at = now.max(self.at);
    }

    /// Take a token, or say how long until one is there.
    fn take(&mut self, rate: Rate, now: Timestamp) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate.per_second,
            ))
        } else {
            Err(Duration::from_secs(3600))
        }
    }

    fn is_full(&self, rate: Rate, now: Timestamp) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= rate.burst as f64
    }
}

#[derive(Debug)]
struct Entry {
    active: u32,
    connects: Bucket,
    handshakes: Bucket,
}

/// The addresses remembered. With `std`, a hash map under std's randomly keyed SipHash, which
/// a flood of chosen addresses cannot degrade; without it (no source of keys) a B-tree, which
/// no choice of keys degrades either: O(log n) per address, where n is at most `max_tracked`.
#[cfg(feature = "std")]
type Table = std::collections::HashMap<IpKey, Entry>;
#[cfg(not(feature = "std"))]
type Table = alloc::collections::BTreeMap<IpKey, Entry>;

/// The admission table: per-address counters and buckets, bounded in size.
#[derive(Debug)]
pub struct Admission {
    config: AdmissionConfig,
    entries: Table,
    total: u32,
}

/// Suggested wait when a concurrency cap is reached: connections end at unknown times.
const BUSY_RETRY: Duration = Duration::from_secs(5);

impl Admission {
    /// An empty table with these limits.
    pub fn new(config: AdmissionConfig) -> Self {
        let mut config = config;
        config.max_tracked = config
            .max_tracked
            .max(2 * config.max_total as usize)
            .max(16);
        Admission {
            config,
            entries: Table::new(),
            total: 0,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    /// Open connections counted in all.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Open connections counted against `ip`'s group.
    pub fn active(&self, ip: IpAddr) -> u32 {
        let key = self.key(ip);
        self.entries.get(&key).map_or(0, |e| e.active)
    }

    /// Addresses currently remembered (bounded by `max_tracked`).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn key(&self, ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(a) => IpKey::V4(a.into()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => IpKey::V4(v4.into()),
                None => {
                    let bits = self.config.ipv6_prefix.min(128) as u32;
                    let mask = if bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    IpKey::V6(u128::from(a) & mask)
                }
            },
        }
    }

    /// A transport connection arrived from `ip`: admit it (take a slot) or refuse it.
    pub fn on_connect(&mut self, ip: IpAddr, now: impl Into<Timestamp>) -> Result<Ticket, Refusal> {
        let now = now.into();
        let key = self.key(ip);
        if self.total >= self.config.max_total {
            return Err(Refusal::ServerFull {
                retry_after: BUSY_RETRY,
            });
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.config.max_tracked {
            self.sweep(now);
        }
        let config = self.config;
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            active: 0,
            connects: Bucket::full(config.connect_rate, now),
            handshakes: Bucket::full(config.handshake_rate, now),
        });
        if entry.active >= config.max_per_ip {
            return Err(Refusal::TooManyForAddress {
                retry_after: BUSY_RETRY,
            });
        }
        if let Err(wait) = entry.connects.take(config.connect_rate, now) {
            return Err(Refusal::RateLimited { retry_after: wait });
        }
        entry.active += 1;
        self.total += 1;
        Ok(Ticket { key })
    }

    /// The upgrade request of the connection holding `ticket` is complete: allow it to
    /// proceed, or refuse it (answer with [`Refusal::response`], then release the ticket).
    pub fn on_handshake(
        &mut self,
        ticket: &Ticket,
        now: impl Into<Timestamp>,
    ) -> Result<(), Refusal> {
        let now = now.into();
        let rate = self.config.handshake_rate;
        match self.entries.get_mut(&ticket.key) {
            Some(entry) => entry
                .handshakes
                .take(rate, now)
                .map_err(|wait| Refusal::RateLimited { retry_after: wait }),
            None => Ok(()),
        }
    }

    /// The connection holding `ticket` ended: free its slot.
    pub fn release(&mut self, ticket: Ticket) {
        if let Some(entry) = self.entries.get_mut(&ticket.key)
            && entry.active > 0
        {
            entry.active -= 1;
            self.total = self.total.saturating_sub(1);
        }
    }

    /// Forget addresses without open connections until at most half the table is used.
    fn sweep(&mut self, now: Timestamp) {
        let config = self.config;
        let target = config.max_tracked / 2;
        self.entries.retain(|_, e| {
            e.active > 0
                || !(e.connects.is_full(config.connect_rate, now)
                    && e.handshakes.is_full(config.handshake_rate, now))
        });
        if self.entries.len() > target {
            let mut excess = self.entries.len() - target;
            self.entries.retain(|_, e| {
                if excess > 0 && e.active == 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_cap_refuses_with_503_and_release_frees_exactly_one_slot() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().max_per_ip(3));
        let tickets: Vec<Ticket> = (0..3)
            .map(|_| a.on_connect(ip("10.0.0.1"), t0).unwrap())
            .collect();
        let refused = a.on_connect(ip("10.0.0.1"), t0).unwrap_err();
        assert_eq!(refused.status(), 503);
        assert!(matches!(refused, Refusal::TooManyForAddress { .. }));
        // Another address is unaffected.
        let other = a.on_connect(ip("10.0.0.2"), t0).unwrap();
        let mut tickets = tickets.into_iter();
        a.release(tickets.next().unwrap());
        assert_eq!(a.active(ip("10.0.0.1")), 2);
        let again = a.on_connect(ip("10.0.0.1"), t0).unwrap();
        assert!(a.on_connect(ip("10.0.0.1"), t0).is_err());
        for t in tickets.chain([again, other]) {
            a.release(t);
        }
        assert_eq!(a.total(), 0);
    }

    #[test]
    fn token_bucket_on_a_virtual_clock() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().connect_rate(2, 1.0));
        let x = ip("192.0.2.7");
        let t1 = a.on_connect(x, t0).unwrap();
        let t2 = a.on_connect(x, t0).unwrap();
        let r = a.on_connect(x, t0).unwrap_err();
        assert_eq!(r.status(), 429);
        assert_eq!(r.retry_after(), Duration::from_secs(1));
        // Half a second later: half a token, still refused, retry in 0.5 s.
        let r = a
            .on_connect(x, t0 + Duration::from_millis(500))
            .unwrap_err();
        assert_eq!(r.retry_after(), Duration::from_millis(500));
        let t3 = a.on_connect(x, t0 + Duration::from_secs(1)).unwrap();
        // The bucket never holds more than `burst`.
        let later = t0 + Duration::from_secs(100);
        let t4 = a.on_connect(x, later).unwrap();
        let t5 = a.on_connect(x, later).unwrap();
        assert!(a.on_connect(x, later).is_err());
        for t in [t1, t2, t3, t4, t5] {
            a.release(t);
        }
    }

    #[test]
    fn handshake_rate_is_separate() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().handshake_rate(1, 0.5));
        let t = a.on_connect(ip("10.1.1.1"), t0).unwrap();
        assert!(a.on_handshake(&t, t0).is_ok());
        let r = a.on_handshake(&t, t0).unwrap_err();
        assert_eq!(r.retry_after(), Duration::from_secs(2));
        assert!(a.on_handshake(&t, t0 + Duration::from_secs(2)).is_ok());
        a.release(t);
    }

    #[test]
    fn global_cap() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().max_total(2));
        let t1 = a.on_connect(ip("10.0.0.1"), t0).unwrap();
        let t2 = a.on_connect(ip("10.0.0.2"), t0).unwrap();
        let r = a.on_connect(ip("10.0.0.3"), t0).unwrap_err();
        assert!(matches!(r, Refusal::ServerFull { .. }));
        assert_eq!(r.status(), 503);
        a.release(t1);
        let t3 = a.on_connect(ip("10.0.0.3"), t0).unwrap();
        a.release(t2);
        a.release(t3);
    }

    #[test]
    fn ipv6_grouped_by_prefix_and_mapped_v4_counts_as_v4() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().max_per_ip(2));
        let t1 = a.on_connect(ip("2001:db8:1:2::1"), t0).unwrap();
        let t2 = a.on_connect(ip("2001:db8:1:2:ffff::9"), t0).unwrap();
        assert!(a.on_connect(ip("2001:db8:1:2::77"), t0).is_err());
        let t3 = a.on_connect(ip("2001:db8:1:3::1"), t0).unwrap();
        assert_eq!(t1.group(), ip("2001:db8:1:2::"));
        let t4 = a.on_connect(ip("::ffff:10.9.9.9"), t0).unwrap();
        assert_eq!(a.active(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))), 1);
        for t in [t1, t2, t3, t4] {
            a.release(t);
        }
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let t0 = Timestamp::from_secs(1_000);
        let mut a = Admission::new(AdmissionConfig::default().max_total(8).max_tracked(64));
        let keep = a.on_connect(ip("10.0.0.1"), t0).unwrap();
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            let t = a.on_connect(addr, t0).unwrap();
            a.release(t);
            assert!(a.tracked() <= 64);
        }
        // The address with an open connection was never forgotten.
        assert_eq!(a.active(ip("10.0.0.1")), 1);
        a.release(keep);
        assert_eq!(a.total(), 0);
    }

    #[test]
    fn refusal_response_carries_retry_after() {
        let r = Refusal::RateLimited {
            retry_after: Duration::from_millis(1500),
        };
        let mut out = Vec::new();
        r.response().write(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 429 "), "{text}");
        assert!(text.contains("Retry-After: 2\r\n"), "{text}");
    }
}
