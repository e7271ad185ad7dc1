//! Rate limits every surface shares. Those that protect accounts (sign-in and
//! second-factor attempts, sign-in links) are kept in the database, shared by every node;
//! the ones that protect a node's own resources (mail per sender, widget sockets per
//! address, uploads per visitor) are its own (GCRA, `governor`), each map trimmed of idle
//! keys.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::WebConfig;

/// Sign-in and second-factor attempts allowed per account and per client address, so a
/// password or a code cannot be guessed fast from one place or against one account from
/// many. Kept in the database (`Store::take_allowance`): every node takes from the same
/// allowance, so three nodes behind a balancer are not three times the guesses.
pub struct LoginLimits {
    store: switchboard_core::store::Store,
    ids: switchboard_core::clock::Ids,
    per_account: u32,
    per_ip: u32,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

/// `n` per `period`, all of them usable at once (GCRA, refilled evenly over the period).
pub fn allowance(n: u32, period: std::time::Duration) -> governor::Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    governor::Quota::with_period(period / n.get())
        .map_or_else(|| governor::Quota::per_minute(n), |q| q.allow_burst(n))
}

impl LoginLimits {
    pub fn new(
        config: &WebConfig,
        store: switchboard_core::store::Store,
        ids: switchboard_core::clock::Ids,
    ) -> Self {
        Self {
            store,
            ids,
            per_account: config.login_attempts_per_account,
            per_ip: config.login_attempts_per_ip,
        }
    }

    /// Takes one attempt (n per 15 minutes, all usable at once); false when either
    /// allowance is spent.
    pub async fn allow(&self, account: &str, ip: IpAddr) -> bool {
        shared_take_both(
            &self.store,
            self.ids.now_ms(),
            ("login-ip", self.per_ip),
            ip,
            ("login", self.per_account),
            &address_key(account),
            15 * 60 * 1000,
        )
        .await
    }
}

/// Takes one from the client address's shared allowance and, only when that allowed it,
/// one from the key's: a client refused by address charges no account. A database that
/// cannot answer refuses (the attempt could not have been checked anyway). Now and then
/// the keys whole again are forgotten.
pub async fn shared_take_both(
    store: &switchboard_core::store::Store,
    now: i64,
    (ip_kind, per_ip): (&str, u32),
    ip: IpAddr,
    (key_kind, per_key): (&str, u32),
    key: &str,
    period_ms: i64,
) -> bool {
    static USES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if USES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 512 == 511
        && let Err(e) = store.forget_whole_allowances(now).await
    {
        tracing::warn!(error = %e, "spent allowances not cleared");
    }
    let ip_key = format!("{ip_kind}:{}", client_key(ip));
    let taken = match store.take_allowance(&ip_key, per_ip, period_ms, now).await {
        Ok(true) => {
            store
                .take_allowance(&format!("{key_kind}:{key}"), per_key, period_ms, now)
                .await
        }
        other => other,
    };
    taken.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "an allowance could not be read; refused");
        false
    })
}

/// Keys kept by a limiter before its idle ones are dropped.
const LIMITER_KEYS: usize = 10_000;

/// A limiter's key for a typed address: trimmed, lowercased and cut at 254 bytes (no
/// address is longer), so a long string costs no more memory than a real address.
pub fn address_key(typed: &str) -> String {
    let mut key = typed.trim().to_lowercase();
    if key.len() > 254 {
        let mut end = 254;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// Takes one from the client address's allowance and, only when that allowed it, one
/// from the account's: a client refused by address charges no account (and adds no key).
/// Both maps drop their idle keys once they grow past [`LIMITER_KEYS`].
pub fn take_both<K>(
    per_ip: &governor::DefaultKeyedRateLimiter<IpAddr>,
    ip: &IpAddr,
    per_key: &governor::DefaultKeyedRateLimiter<K>,
    key: K,
) -> bool
where
    K: std::hash::Hash + Eq + Clone,
{
    trim(per_ip);
    if per_ip.check_key(ip).is_err() {
        return false;
    }
    trim(per_key);
    per_key.check_key(&key).is_ok()
}

/// Drops the keys whose allowance is whole again, once a limiter holds many.
pub fn trim<K: std::hash::Hash + Eq + Clone>(limiter: &governor::DefaultKeyedRateLimiter<K>) {
    if limiter.len() > LIMITER_KEYS {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// How many mails one sender may bring into one inbox: a GCRA allowance per
/// (inbox, address), refilled over the hour.
pub struct SenderLimits {
    limiter: governor::DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for SenderLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderLimits")
    }
}

impl SenderLimits {
    pub fn new(per_hour: u32) -> Self {
        let quota = crate::kit::limits::allowance(per_hour, std::time::Duration::from_secs(3600));
        Self {
            limiter: governor::RateLimiter::keyed(quota),
        }
    }

    /// Takes one mail from `sender` into `inbox`; false when its allowance is spent.
    pub fn allow(&self, inbox: &str, sender: &str) -> bool {
        crate::kit::limits::trim(&self.limiter);
        self.limiter
            .check_key(&format!(
                "{inbox}\n{}",
                crate::kit::limits::address_key(sender)
            ))
            .is_ok()
    }
}

/// Open widget sockets per client address. A socket holds a [`SocketSlot`] for as long as
/// it lives; dropping the slot gives it back, so a socket that ends in any way (closed,
/// failed, dropped on shutdown, its upgrade never completed) frees its place.
#[derive(Debug, Clone, Default)]
pub struct SocketCounter(Arc<Mutex<HashMap<IpAddr, u32>>>);

#[derive(Debug)]
pub struct SocketSlot {
    counter: SocketCounter,
    key: IpAddr,
}

impl SocketCounter {
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        // A poisoned lock only means a thread panicked between two plain integer updates;
        // the counts are still whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a socket from `ip`, unless `cap` are already open.
    pub fn try_open(&self, ip: IpAddr, cap: u32) -> Option<SocketSlot> {
        let key = client_key(ip);
        let mut open = self.lock();
        let n = open.get(&key).copied().unwrap_or(0);
        if n >= cap {
            return None;
        }
        open.insert(key, n + 1);
        Some(SocketSlot {
            counter: self.clone(),
            key,
        })
    }

    /// Sockets open from `ip`'s address (its /64 for IPv6).
    pub fn open(&self, ip: IpAddr) -> u32 {
        self.lock().get(&client_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.counter.lock();
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            // Addresses with nothing open leave the map, so it holds only live clients.
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Uploads each visitor may make per minute (bursts up to the same number), and each
/// client address four times that: a new socket is a new visitor id, so the address is
/// what bounds a client that keeps opening sockets.
pub struct UploadLimits {
    per_visitor: governor::DefaultKeyedRateLimiter<String>,
    per_ip: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl std::fmt::Debug for UploadLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadLimits")
    }
}

impl UploadLimits {
    pub fn new(per_minute: u32) -> Self {
        let n = std::num::NonZeroU32::new(per_minute).unwrap_or(std::num::NonZeroU32::MIN);
        let per_ip = n.saturating_mul(std::num::NonZeroU32::new(4).unwrap_or(n));
        Self {
            per_visitor: governor::RateLimiter::keyed(governor::Quota::per_minute(n)),
            per_ip: governor::RateLimiter::keyed(governor::Quota::per_minute(per_ip)),
        }
    }

    /// Takes one upload from the client address's allowance, then the visitor's; false
    /// when either is spent.
    pub fn allow(&self, visitor: &str, ip: std::net::IpAddr) -> bool {
        crate::kit::limits::take_both(
            &self.per_ip,
            &client_key(ip),
            &self.per_visitor,
            visitor.to_owned(),
        )
    }
}

/// What the cap counts by: an IPv4 address, or an IPv6 address's /64, since one IPv6
/// client usually holds a whole /64 and could otherwise take a new address per socket.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_slots_are_capped_per_address_and_freed_on_drop() {
        let counter = SocketCounter::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        let first = counter.try_open(a, 2).unwrap();
        let second = counter.try_open(a, 2).unwrap();
        assert!(counter.try_open(a, 2).is_none());
        assert_eq!(counter.open(a), 2, "a refusal takes no slot");
        let other = counter.try_open(b, 2).unwrap();
        drop(first);
        let third = counter.try_open(a, 2).unwrap();
        assert!(counter.try_open(a, 2).is_none());
        drop((second, third, other));
        assert_eq!((counter.open(a), counter.open(b)), (0, 0));
        assert!(counter.lock().is_empty(), "idle addresses leave the map");
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let counter = SocketCounter::default();
        let x: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let z: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _x = counter.try_open(x, 1).unwrap();
        assert!(counter.try_open(y, 1).is_none());
        assert!(counter.try_open(z, 1).is_some());
        let v4: IpAddr = "198.51.100.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let _v4 = counter.try_open(v4, 1).unwrap();
        assert!(counter.try_open(mapped, 1).is_none());
    }

    #[test]
    fn an_allowance_is_per_visitor_and_per_address() {
        let limits = UploadLimits::new(2);
        let ip: std::net::IpAddr = [10, 0, 0, 1].into();
        assert!(limits.allow("a", ip) && limits.allow("a", ip));
        assert!(!limits.allow("a", ip));
        assert!(limits.allow("b", ip));
        // New visitor ids from one address: four times the allowance, then no more.
        let fresh: Vec<bool> = (0..6).map(|i| limits.allow(&format!("v{i}"), ip)).collect();
        assert_eq!(fresh.iter().filter(|ok| **ok).count(), 4, "{fresh:?}");
        assert!(limits.allow("z", [10, 0, 0, 2].into()));
    }
}
