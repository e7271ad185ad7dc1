//! Time and identifiers are parameters, never read from ambient state inside logic, so
//! expiry, backoff and ordering can be tested without sleeping.
//!
//! **Architecture Invariant:** time and ids come from `Clock`/`Ids`; `clippy.toml` forbids
//! `SystemTime::now` and `Uuid::now_v7` elsewhere. Message ids are UUIDv7 taken at
//! acceptance, to a quarter microsecond, so ordering a thread by id orders it by
//! acceptance, whatever order the router stored it in and whichever node took each message
//! (nodes that share a clock; across machines, within their clocks' skew).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// The source of "now", in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
    /// Nanoseconds since the Unix epoch, which order ids within a millisecond; a clock
    /// that knows only milliseconds gives the millisecond's start.
    fn now_ns(&self) -> i128 {
        i128::from(self.now_ms()) * 1_000_000
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    #[allow(clippy::disallowed_methods)] // the wall clock, as above
    fn now_ns(&self) -> i128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests of time-dependent logic.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self(AtomicI64::new(start_ms))
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Makes UUIDv7 identifiers from a [`Clock`]: the millisecond, then the 12 bits after it
/// (a 4096th of a millisecond, RFC 9562's method 3), then a counter, then random bits. Ids
/// from one generator are strictly increasing, and ids of generators that share a clock
/// (nodes on one machine) order by when they were taken down to a quarter microsecond, so
/// an id taken when a message is accepted orders it among every node's messages.
#[derive(Debug, Clone)]
pub struct Ids {
    clock: Arc<dyn Clock>,
    /// The last id's time in 4096ths of a millisecond, and its counter.
    last: Arc<Mutex<(u64, u32)>>,
}

/// The counter takes 22 bits after the variant; it restarts at each new tick.
const COUNTER_MAX: u32 = (1 << 22) - 1;

impl Ids {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            last: Arc::new(Mutex::new((0, 0))),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn new_id(&self) -> String {
        let ns = u128::try_from(self.clock.now_ns()).unwrap_or(0);
        let ms = u64::try_from(ns / 1_000_000).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        let fraction = u64::try_from(ns % 1_000_000 * 4096 / 1_000_000).unwrap_or(0);
        let now = (ms << 12) | fraction;
        let (tick, counter) = {
            // A poisoned lock only means another thread panicked mid-call; the last id is
            // still what it was.
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            *last = match *last {
                (tick, _) if now > tick => (now, 0),
                (tick, counter) if counter < COUNTER_MAX => (tick, counter + 1),
                (tick, _) => (tick + 1, 0),
            };
            *last
        };
        let mut bytes = random_bytes::<10>();
        bytes[0] = ((tick >> 8) & 0x0F) as u8;
        bytes[1] = (tick & 0xFF) as u8;
        bytes[2] = ((counter >> 16) & 0x3F) as u8;
        bytes[3] = ((counter >> 8) & 0xFF) as u8;
        bytes[4] = (counter & 0xFF) as u8;
        uuid::Builder::from_unix_timestamp_millis(tick >> 12, &bytes)
            .into_uuid()
            .to_string()
    }
}

/// The smallest id [`Ids::new_id`] gives at `ms` (ids are UUIDv7 strings, whose text
/// orders them by time): `id < id_floor(t)` is "made before `t`".
pub fn id_floor(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xFFFF
    )
}

/// Random, unguessable tokens (API tokens).
pub fn random_token() -> String {
    Uuid::new_v4().simple().to_string()
}

/// `N` bytes from `rand`'s thread-local CSPRNG (seeded and reseeded from the operating
/// system), for keys and for anything else an attacker must not guess.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::fill(&mut out[..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_even_when_the_clock_stands_still() {
        let ids = Ids::new(Arc::new(ManualClock::new(1_700_000_000_000)));
        let mut last = ids.new_id();
        for _ in 0..10_000 {
            let next = ids.new_id();
            assert!(next > last, "{next} <= {last}");
            last = next;
        }
    }

    /// A clock that moves in nanoseconds, as the wall clock does.
    #[derive(Debug)]
    struct NanoClock(std::sync::atomic::AtomicU64);

    impl Clock for NanoClock {
        fn now_ms(&self) -> i64 {
            i64::try_from(self.0.load(Ordering::SeqCst) / 1_000_000).unwrap()
        }
        fn now_ns(&self) -> i128 {
            i128::from(self.0.load(Ordering::SeqCst))
        }
    }

    /// Two nodes on one machine: whatever either took before in the same millisecond, an
    /// id taken a microsecond later sorts after, so a message accepted by one node after
    /// another node acknowledged the one before it comes after it in the thread.
    #[test]
    fn ids_of_two_generators_order_by_when_they_were_taken_within_a_millisecond() {
        let clock = Arc::new(NanoClock(std::sync::atomic::AtomicU64::new(
            1_700_000_000_000_000_000,
        )));
        let (a, b) = (Ids::new(clock.clone()), Ids::new(clock.clone()));
        let mut before = a.new_id();
        for step in 0..2_000 {
            clock.0.fetch_add(1_000, Ordering::SeqCst);
            // The other node has been busy in this millisecond.
            let (this, other) = if step % 2 == 0 { (&b, &a) } else { (&a, &b) };
            for _ in 0..step % 7 {
                other.new_id();
            }
            let next = this.new_id();
            assert!(next > before, "step {step}: {next} <= {before}");
            before = next;
        }
    }

    #[test]
    fn an_id_floor_sorts_between_the_ids_of_the_millisecond_before_and_its_own() {
        for t in [0, 1, 65_535, 65_536, 1_700_000_000_000, 1_800_000_123_456] {
            let ids = Ids::new(Arc::new(ManualClock::new(t)));
            let at = ids.new_id();
            let floor = id_floor(t);
            assert!(floor <= at, "{floor} > {at}");
            if t > 0 {
                let before = Ids::new(Arc::new(ManualClock::new(t - 1))).new_id();
                assert!(before < floor, "{before} >= {floor}");
            }
        }
    }
}
