//! Client-side rate limits: a token bucket per subscription and request class, shared by every
//! clone of the client, so a burst of thousands of objects waits its turn instead of earning
//! 429s. ARM's `x-ms-ratelimit-remaining-*` headers tighten a bucket when ARM sees less room
//! than we think.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One bucket: burst and refill per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimit {
    /// Burst size.
    pub capacity: f64,
    /// Tokens per second.
    pub refill_per_second: f64,
}

/// The three buckets per subscription.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// GETs.
    pub reads: BucketLimit,
    /// PUTs, PATCHes, POSTs.
    pub writes: BucketLimit,
    /// DELETEs.
    pub deletes: BucketLimit,
}

impl Default for RateLimits {
    /// 98% of ARM's published per-principal limits (reads 250 burst and 25 per s; writes and
    /// deletes 200 and 10 per s). ARM's `x-ms-ratelimit-remaining-*` headers tighten a bucket
    /// whenever ARM counts less room (another client of the same principal), so the client can
    /// run this close to ARM's own figures and still earn no 429: the 2% covers the two clocks
    /// drifting apart.
    fn default() -> Self {
        RateLimits {
            reads: BucketLimit {
                capacity: 245.0,
                refill_per_second: 24.5,
            },
            writes: BucketLimit {
                capacity: 196.0,
                refill_per_second: 9.8,
            },
            deletes: BucketLimit {
                capacity: 196.0,
                refill_per_second: 9.8,
            },
        }
    }
}

impl RateLimits {
    /// Every bucket's burst and refill multiplied by `factor`.
    pub fn scaled(self, factor: f64) -> Self {
        let scale = |b: BucketLimit| BucketLimit {
            capacity: b.capacity * factor,
            refill_per_second: b.refill_per_second * factor,
        };
        RateLimits {
            reads: scale(self.reads),
            writes: scale(self.writes),
            deletes: scale(self.deletes),
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The shared buckets.
pub(crate) struct Limiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(String, RequestClass), Bucket>>,
    /// Until when ARM asked (429, Retry-After) not to send more of a class.
    paused: Mutex<HashMap<(String, RequestClass), Instant>>,
}

/// The bucket ARM counts a request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// GET and HEAD.
    Reads,
    /// PUT, PATCH and POST.
    Writes,
    /// DELETE.
    Deletes,
}

impl RequestClass {
    /// The class of an HTTP method.
    pub fn of_method(method: &str) -> Self {
        match method {
            "GET" | "HEAD" => RequestClass::Reads,
            "DELETE" => RequestClass::Deletes,
            _ => RequestClass::Writes,
        }
    }

    /// The header in which ARM says how many requests of this class remain.
    pub fn remaining_header(self) -> &'static str {
        match self {
            RequestClass::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            RequestClass::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            RequestClass::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
            paused: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, class: RequestClass) -> BucketLimit {
        match class {
            RequestClass::Reads => self.limits.reads,
            RequestClass::Deletes => self.limits.deletes,
            RequestClass::Writes => self.limits.writes,
        }
    }

    /// Runs `f` on the bucket of `subscription` and `class`, refilled up to now (made full
    /// on first use), with its limit.
    fn with_bucket<T>(
        &self,
        subscription: &str,
        class: RequestClass,
        f: impl FnOnce(&mut Bucket, BucketLimit) -> T,
    ) -> T {
        let limit = self.limit(class);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let b = buckets
            .entry((subscription.to_ascii_lowercase(), class))
            .or_insert(Bucket {
                tokens: limit.capacity,
                at: now,
            });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * limit.refill_per_second)
            .min(limit.capacity);
        b.at = now;
        f(b, limit)
    }

    /// Takes a token, or says how long until one is there.
    fn try_take(&self, subscription: &str, class: RequestClass) -> Result<(), Duration> {
        self.with_bucket(subscription, class, |b, limit| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64(
                    (1.0 - b.tokens) / limit.refill_per_second.max(0.001),
                ))
            }
        })
    }

    /// Takes `n` tokens now, into debt if need be, and says how long until the bucket has
    /// refilled them: from then on the requests are the holder's to send. Later takers queue
    /// behind the debt, so a reservation is never spent twice.
    fn reserve(&self, subscription: &str, class: RequestClass, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        self.with_bucket(subscription, class, |b, limit| {
            b.tokens -= f64::from(n);
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.tokens / limit.refill_per_second.max(0.001))
            }
        })
    }

    /// Gives back `n` reserved tokens that were not spent.
    fn refund(&self, subscription: &str, class: RequestClass, n: u32) {
        if n == 0 {
            return;
        }
        let limit = self.limit(class);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = buckets.get_mut(&(subscription.to_ascii_lowercase(), class)) {
            b.tokens = (b.tokens + f64::from(n)).min(limit.capacity);
        }
    }

    /// Waits for a token. Returns whether it had to wait.
    pub(crate) async fn acquire(&self, subscription: &str, class: RequestClass) -> bool {
        let mut waited = false;
        while let Err(wait) = self.try_take(subscription, class) {
            waited = true;
            tokio::time::sleep(wait).await;
        }
        waited
    }

    /// ARM says only `remaining` requests are left: never believe we have more.
    pub(crate) fn observe_remaining(
        &self,
        subscription: &str,
        class: RequestClass,
        remaining: f64,
    ) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = buckets.get_mut(&(subscription.to_ascii_lowercase(), class))
            && remaining < b.tokens
        {
            b.tokens = remaining;
        }
    }

    /// ARM answered 429: empty the bucket until `retry_after` has passed.
    pub(crate) fn pause(&self, subscription: &str, class: RequestClass, retry_after: Duration) {
        let limit = self.limit(class);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = buckets
            .entry((subscription.to_ascii_lowercase(), class))
            .or_insert(Bucket {
                tokens: 0.0,
                at: Instant::now(),
            });
        b.tokens = -(retry_after.as_secs_f64() * limit.refill_per_second);
        b.at = Instant::now();
        self.paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (subscription.to_ascii_lowercase(), class),
                Instant::now() + retry_after,
            );
    }

    /// How much longer ARM's last 429 for this subscription and class asked to wait, if it
    /// is not over: a request reserved before it (prepaid) is handed back as throttled rather
    /// than sent to earn another 429.
    pub(crate) fn paused_for(&self, subscription: &str, class: RequestClass) -> Option<Duration> {
        let mut paused = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (subscription.to_ascii_lowercase(), class);
        let left = paused
            .get(&key)
            .map(|until| until.saturating_duration_since(Instant::now()));
        match left {
            Some(d) if !d.is_zero() => Some(d),
            Some(_) => {
                paused.remove(&key);
                None
            }
            None => None,
        }
    }
}

/// Requests reserved in one subscription's buckets before a pass makes them
/// ([`crate::ArmClient::reserve`]): the pass waits for ARM's budget where it likes (requeued,
/// not holding a reconcile slot) and then sends its requests without waiting again. Dropped
/// unspent, the tokens go back.
pub struct Reservation {
    limiter: Arc<Limiter>,
    subscription: String,
    reads: u32,
    writes: u32,
    ready_at: Instant,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("subscription", &self.subscription)
            .field("reads", &self.reads)
            .field("writes", &self.writes)
            .field("ready_in", &self.ready_in())
            .finish()
    }
}

impl Reservation {
    pub(crate) fn new(limiter: Arc<Limiter>, subscription: &str, reads: u32, writes: u32) -> Self {
        let wait = limiter
            .reserve(subscription, RequestClass::Reads, reads)
            .max(limiter.reserve(subscription, RequestClass::Writes, writes));
        Reservation {
            limiter,
            subscription: subscription.to_ascii_lowercase(),
            reads,
            writes,
            ready_at: Instant::now() + wait,
        }
    }

    /// How long until the reserved requests may go out.
    pub fn ready_in(&self) -> Duration {
        self.ready_at.saturating_duration_since(Instant::now())
    }

    /// The subscription whose buckets hold it.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// Whether a request of `class` in `subscription` through `limiter` is paid by this
    /// reservation; if so it is taken from it.
    fn take(&mut self, limiter: &Arc<Limiter>, subscription: &str, class: RequestClass) -> bool {
        if !Arc::ptr_eq(&self.limiter, limiter)
            || !self.subscription.eq_ignore_ascii_case(subscription)
        {
            return false;
        }
        let left = match class {
            RequestClass::Reads => &mut self.reads,
            RequestClass::Writes => &mut self.writes,
            RequestClass::Deletes => return false,
        };
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.limiter
            .refund(&self.subscription, RequestClass::Reads, self.reads);
        self.limiter
            .refund(&self.subscription, RequestClass::Writes, self.writes);
    }
}

/// One reconcile pass as the ARM client sees it: the reservations it spends, and the time its
/// requests took (so the engine can tell its own overhead from ARM's).
#[derive(Default)]
struct PassState {
    reservations: Mutex<Vec<Reservation>>,
    arm_nanos: AtomicU64,
    waited_nanos: AtomicU64,
}

tokio::task_local! {
    static PASS: Arc<PassState>;
}

/// Runs a future as one pass: requests it sends through any [`crate::ArmClient`] spend the
/// pass's reservations first, and their time is added up.
#[derive(Default, Clone)]
pub struct Pass(Arc<PassState>);

impl Pass {
    /// A pass with nothing reserved.
    pub fn new() -> Self {
        Pass::default()
    }

    /// Adds a reservation for the pass to spend; what is left at the end goes back.
    pub fn spend(&self, reservation: Reservation) {
        self.0
            .reservations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(reservation);
    }

    /// Runs `f` inside the pass.
    pub async fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        PASS.scope(self.0.clone(), f).await
    }

    /// The time ARM requests sent inside the pass took, end to end (not counting waits for
    /// budget).
    pub fn arm_time(&self) -> Duration {
        Duration::from_nanos(self.0.arm_nanos.load(Ordering::Relaxed))
    }

    /// Counts a wait for budget made outside the ARM client (a short sleep before the
    /// reserved requests are due).
    pub fn waited_for(&self, wait: Duration) {
        self.0
            .waited_nanos
            .fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Waits for budget counted by [`Pass::waited_for`].
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.0.waited_nanos.load(Ordering::Relaxed))
    }

    /// Returns what the pass did not spend to the buckets.
    pub fn finish(self) {
        self.0
            .reservations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// Whether the running pass has a reserved token for this request (and takes it).
pub(crate) fn prepaid(limiter: &Arc<Limiter>, subscription: &str, class: RequestClass) -> bool {
    PASS.try_with(|p| {
        p.reservations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter_mut()
            .any(|r| r.take(limiter, subscription, class))
    })
    .unwrap_or(false)
}

/// Adds a request's time to the running pass.
pub(crate) fn add_arm_time(took: Duration) {
    let _ = PASS.try_with(|p| {
        p.arm_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_beyond_the_bucket_waits_for_refill() {
        let l = Limiter::new(RateLimits {
            reads: BucketLimit {
                capacity: 2.0,
                refill_per_second: 20.0,
            },
            ..RateLimits::default()
        });
        assert!(!l.acquire("s", RequestClass::Reads).await);
        assert!(!l.acquire("s", RequestClass::Reads).await);
        let start = Instant::now();
        assert!(l.acquire("s", RequestClass::Reads).await, "the third waits");
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert!(
            !l.acquire("other", RequestClass::Reads).await,
            "subscriptions have their own buckets"
        );
    }

    fn writes(capacity: f64, refill_per_second: f64) -> Arc<Limiter> {
        Arc::new(Limiter::new(RateLimits {
            writes: BucketLimit {
                capacity,
                refill_per_second,
            },
            ..RateLimits::default()
        }))
    }

    #[tokio::test]
    async fn reservations_queue_in_the_order_taken_and_later_requests_wait_behind_them() {
        // Slow enough a refill that a busy machine's pause between two lines changes nothing.
        let l = writes(2.0, 1.0);
        let first = Reservation::new(l.clone(), "s", 0, 2);
        assert_eq!(first.ready_in(), Duration::ZERO, "the burst pays at once");
        let second = Reservation::new(l.clone(), "s", 0, 2);
        let wait = second.ready_in();
        assert!(
            wait > Duration::from_millis(1500) && wait <= Duration::from_secs(2),
            "two more tokens at 1/s: {wait:?}"
        );
        let third = Reservation::new(l.clone(), "S", 0, 1);
        assert!(
            third.ready_in() > wait,
            "case-insensitive subscription, behind the second"
        );
        assert!(
            matches!(l.try_take("s", RequestClass::Writes), Err(w) if w > wait),
            "an unreserved request waits behind every reservation"
        );
        drop((first, second, third));
    }

    #[tokio::test]
    async fn a_pass_spends_its_reservation_once_and_gives_back_the_rest() {
        let l = writes(4.0, 0.001);
        let pass = Pass::new();
        pass.spend(Reservation::new(l.clone(), "s", 0, 3));
        let spent = pass
            .run(async {
                [
                    prepaid(&l, "s", RequestClass::Writes),
                    prepaid(&l, "other", RequestClass::Writes),
                    prepaid(&l, "s", RequestClass::Reads),
                    prepaid(&l, "s", RequestClass::Writes),
                ]
            })
            .await;
        assert_eq!(spent, [true, false, false, true]);
        assert!(
            !prepaid(&l, "s", RequestClass::Writes),
            "outside the pass: nothing"
        );
        pass.finish();
        // 4 - 3 reserved + 1 unspent refunded = 2 left.
        assert!(l.try_take("s", RequestClass::Writes).is_ok());
        assert!(l.try_take("s", RequestClass::Writes).is_ok());
        assert!(l.try_take("s", RequestClass::Writes).is_err());
    }
}
