//! Client-side rate limits: a token bucket per subscription and request class, shared by every
//! clone of the client, so a burst of thousands of objects waits its turn instead of earning
//! 429s. ARM's `x-ms-ratelimit-remaining-*` headers tighten a bucket when ARM sees less room
//! than we think.

use std::collections::HashMap;
use std::sync::Mutex;
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
    /// 80% of ARM's published limits (reads 250/25 per s; writes and deletes 200/10 per s).
    fn default() -> Self {
        RateLimits {
            reads: BucketLimit {
                capacity: 200.0,
                refill_per_second: 20.0,
            },
            writes: BucketLimit {
                capacity: 160.0,
                refill_per_second: 8.0,
            },
            deletes: BucketLimit {
                capacity: 160.0,
                refill_per_second: 8.0,
            },
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
        }
    }

    fn limit(&self, class: RequestClass) -> BucketLimit {
        match class {
            RequestClass::Reads => self.limits.reads,
            RequestClass::Deletes => self.limits.deletes,
            RequestClass::Writes => self.limits.writes,
        }
    }

    /// Takes a token, or says how long until one is there.
    fn try_take(&self, subscription: &str, class: RequestClass) -> Result<(), Duration> {
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
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / limit.refill_per_second.max(0.001),
            ))
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
    }
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
}
