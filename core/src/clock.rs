//! Time and identifiers are parameters, never read from ambient state inside logic, so
//! expiry, backoff and ordering can be tested without sleeping.
//!
//! **Architecture Invariant:** time and ids come from `Clock`/`Ids`; `clippy.toml` forbids
//! `SystemTime::now` and `Uuid::now_v7` elsewhere. Message ids are UUIDv7 taken at
//! acceptance, so ordering a thread by id orders it by acceptance, whatever order the
//! router stored it in.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use uuid::{ContextV7, Timestamp, Uuid};

/// The source of "now", in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
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

/// Makes UUIDv7 identifiers from a [`Clock`]. Ids from one generator are strictly
/// increasing, so an id taken when a message is accepted also orders it.
#[derive(Debug, Clone)]
pub struct Ids {
    clock: Arc<dyn Clock>,
    context: Arc<Mutex<ContextV7>>,
}

impl Ids {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            context: Arc::new(Mutex::new(ContextV7::new())),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn new_id(&self) -> String {
        let ms = u64::try_from(self.clock.now_ms()).unwrap_or(0);
        let (secs, nanos) = (
            ms / 1000,
            u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
        );
        // A poisoned lock only means another thread panicked mid-call; the context is
        // still a valid counter.
        let ctx = self.context.lock().unwrap_or_else(|p| p.into_inner());
        Uuid::new_v7(Timestamp::from_unix(&*ctx, secs, nanos)).to_string()
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
