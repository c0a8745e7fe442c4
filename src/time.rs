//! Time as the machine sees it: a monotonic [`Timestamp`] that the caller reports.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in monotonic time, in nanoseconds since an origin the caller chooses.
///
/// The machine reads no clock. Its deadlines (the handshake, the closing handshake, keep-alive,
/// idle, admission's token buckets) are computed from the times passed to it, as
/// `Timestamp`s: nanoseconds on a monotonic scale of the caller's choosing, which only has to
/// be the same for every value given to one machine. A target without `std` makes them from
/// its own tick counter ([`Timestamp::from_nanos`] and its siblings for other units).
///
/// With the `std` feature, every method that takes a time takes `impl Into<Timestamp>`, and
/// `std::time::Instant` converts into one, so callers pass `Instant::now()` as they always
/// did; `Timestamp::to_instant` converts back, and the methods that report a deadline have an
/// `Instant` form beside the `Timestamp` one (`Connection::poll_timeout` beside
/// [`Connection::poll_deadline`](crate::Connection::poll_deadline)). The conversion is exact
/// in both directions for every instant within 292 years of the first one converted in the
/// process: instants are placed on the scale relative to that first one, which a process-wide
/// cell keeps. So an `Instant` and a `Timestamp` from [`from_nanos`](Timestamp::from_nanos)
/// are on different scales: give one machine one kind or the other.
///
/// Ordered, `Copy`, and moved by [`Duration`]s: `t + d` saturates at the end of the scale
/// rather than overflowing, and `later - earlier` saturates at zero, so no arithmetic on a
/// caller's times can panic.
///
/// ```
/// use core::time::Duration;
/// use wsmachine::Timestamp;
///
/// let t0 = Timestamp::from_millis(1_000);
/// let t1 = t0 + Duration::from_millis(250);
/// assert_eq!(t1.as_nanos(), 1_250_000_000);
/// assert_eq!(t1 - t0, Duration::from_millis(250));
/// assert_eq!(t0 - t1, Duration::ZERO);
/// assert!(t0 < t1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The origin of the scale.
    pub const ZERO: Timestamp = Timestamp(0);
    /// The last representable point: 2^64 - 1 nanoseconds (about 584 years) after the origin.
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// `secs` seconds after the origin, saturating at [`Timestamp::MAX`].
    pub const fn from_secs(secs: u64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// `micros` microseconds after the origin, saturating at [`Timestamp::MAX`].
    pub const fn from_micros(micros: u64) -> Timestamp {
        Timestamp(micros.saturating_mul(1_000))
    }

    /// `millis` milliseconds after the origin, saturating at [`Timestamp::MAX`].
    pub const fn from_millis(millis: u64) -> Timestamp {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time since the origin.
    pub const fn since_origin(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, or `None` past [`Timestamp::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Timestamp> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Timestamp)
    }

    /// `self + d`, at most [`Timestamp::MAX`].
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        self.checked_add(d).unwrap_or(Timestamp::MAX)
    }

    /// `self - d`, or `None` before [`Timestamp::ZERO`].
    pub fn checked_sub(self, d: Duration) -> Option<Timestamp> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_sub(nanos).map(Timestamp)
    }

    /// `self - d`, at least [`Timestamp::ZERO`].
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        self.checked_sub(d).unwrap_or(Timestamp::ZERO)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({:?})", self.since_origin())
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturating: see [`Timestamp::saturating_add`].
    fn add(self, d: Duration) -> Timestamp {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturating: see [`Timestamp::saturating_sub`].
    fn sub(self, d: Duration) -> Timestamp {
        self.saturating_sub(d)
    }
}

impl Sub for Timestamp {
    type Output = Duration;

    /// Saturating: see [`Timestamp::saturating_duration_since`].
    fn sub(self, earlier: Timestamp) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(feature = "std")]
mod instant {
    use super::Timestamp;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// Where the first instant converted sits on the scale: the middle, so that instants up
    /// to 2^63 ns (292 years) before or after it convert exactly.
    const MIDDLE: u64 = 1 << 63;

    /// The first instant converted, the reference of every later conversion.
    static REFERENCE: OnceLock<Instant> = OnceLock::new();

    fn nanos(d: std::time::Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    impl From<Instant> for Timestamp {
        /// The instant on the process-wide scale of converted instants (see [`Timestamp`]).
        fn from(t: Instant) -> Timestamp {
            let r = *REFERENCE.get_or_init(|| t);
            Timestamp(match t.checked_duration_since(r) {
                Some(after) => MIDDLE.saturating_add(nanos(after)),
                None => MIDDLE.saturating_sub(nanos(r.duration_since(t))),
            })
        }
    }

    impl Timestamp {
        /// The `Instant` this timestamp stands for, on the scale of converted instants: the
        /// inverse of `Timestamp::from(instant)`. `None` while no `Instant` was converted in
        /// the process (the timestamp then came from [`from_nanos`](Timestamp::from_nanos)
        /// or the like and stands for no instant). A timestamp outside the range the
        /// platform's `Instant` can hold gives the nearest instant it can.
        pub fn to_instant(self) -> Option<Instant> {
            let r = *REFERENCE.get()?;
            Some(if self.0 >= MIDDLE {
                let d = std::time::Duration::from_nanos(self.0 - MIDDLE);
                r.checked_add(d).unwrap_or(r)
            } else {
                let d = std::time::Duration::from_nanos(MIDDLE - self.0);
                r.checked_sub(d).unwrap_or(r)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp::MAX + Duration::from_nanos(1), Timestamp::MAX);
        assert_eq!(Timestamp::ZERO + Duration::MAX, Timestamp::MAX);
        assert_eq!(
            Timestamp::ZERO
                .checked_add(Duration::from_nanos(1))
                .map(Timestamp::as_nanos),
            Some(1)
        );
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Timestamp::ZERO - Timestamp::MAX, Duration::ZERO);
        assert_eq!(
            Timestamp::from_nanos(5) - Duration::from_nanos(6),
            Timestamp::ZERO
        );
        assert_eq!(
            Timestamp::from_nanos(5).checked_sub(Duration::from_nanos(6)),
            None
        );
        assert_eq!(
            Timestamp::from_secs(1) - Duration::from_millis(1),
            Timestamp::from_millis(999)
        );
        assert_eq!(Timestamp::from_micros(u64::MAX), Timestamp::MAX);
        let mut t = Timestamp::from_millis(2);
        t += Duration::from_micros(500);
        assert_eq!(t - Timestamp::from_millis(1), Duration::from_micros(1_500));
    }

    #[cfg(feature = "std")]
    #[test]
    fn instants_round_trip_exactly_both_sides_of_the_reference() {
        use std::time::Instant;
        let now = Instant::now();
        let _ = Timestamp::from(now);
        let year = Duration::from_secs(365 * 86_400);
        let mut samples = vec![now, now + Duration::from_nanos(1), now + year];
        // Earlier than the reference, where the platform's Instant can go there.
        samples.extend(now.checked_sub(Duration::from_millis(3)));
        for t in samples {
            assert_eq!(Timestamp::from(t).to_instant(), Some(t));
            let later = t + Duration::from_millis(1500);
            assert_eq!(
                Timestamp::from(later) - Timestamp::from(t),
                Duration::from_millis(1500)
            );
            let t7 = Timestamp::from(t) + Duration::from_secs(7);
            assert_eq!(t7.to_instant(), Some(t + Duration::from_secs(7)));
            assert!(Timestamp::from(t) < Timestamp::from(later));
        }
    }
}
