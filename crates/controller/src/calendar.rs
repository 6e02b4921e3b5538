//! The steady state's calendar: when each in-sync object reads Azure again to catch drift.
//!
//! An object in sync is read again one sync period after its last check. Objects created in a
//! burst (or all found at a restart) would otherwise come due in the same burst, a read storm
//! every period. Each subscription has a calendar of 100 ms windows, each holding at most a
//! tenth of `reads_per_second` reads; an object due at `t` books the first window at or after
//! `t` with room for its reads, and is requeued for it. A steady state therefore reads at most
//! `reads_per_second` (and one window's more) in any second, and an object is never read before
//! its period is over.
//!
//! Below that ceiling, checks are also spread evenly: a subscription's seconds hold at most
//! its booked reads per sync period (2% over), so a fleet created faster than one period's
//! share a second (or found all at once after a restart) does not read in the same bunches
//! period after period: the objects of a crowded second are checked a little later, and their
//! next periods count from there. Objects whose
//! spec or inputs changed are not on the calendar: they are reconciled at once (within ARM's
//! budget).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where one object's booking is.
#[derive(Debug, Clone)]
struct Booking {
    subscription: String,
    window: u64,
    reads: f64,
}

#[derive(Debug, Default)]
struct State {
    /// Reads booked, by subscription and window (seconds since `origin`).
    used: HashMap<(String, u64), f64>,
    /// Reads booked, by subscription and second.
    used_per_second: HashMap<(String, u64), f64>,
    /// Reads booked, by subscription: what the even spread divides over a period.
    booked: HashMap<String, f64>,
    bookings: HashMap<String, Booking>,
    /// Bookings since the last sweep of past windows.
    since_sweep: usize,
}

/// Per-subscription calendars of steady-state reads.
#[derive(Debug)]
pub struct Calendar {
    /// Reads per window.
    per_window: f64,
    /// The sync period each booked object reads once in.
    period: Duration,
    origin: Instant,
    state: Mutex<State>,
}

/// A window's length.
const WINDOW: Duration = Duration::from_millis(100);

/// Windows in a second.
const WINDOWS_PER_SECOND: u64 = 1000 / WINDOW.as_millis() as u64;

/// How far above one read per booked object per period the even spread lets a second go.
const SPREAD_SLACK: f64 = 1.02;

/// The furthest a booking looks ahead of its due time for a window with room (a week).
const MAX_SEARCH: u64 = 7 * 24 * 36_000;

impl Calendar {
    /// A calendar that books at most `reads_per_second` reads in any one-second window of a
    /// subscription, and spreads the reads of objects checked once per `period` evenly.
    pub fn new(reads_per_second: f64, period: Duration) -> Self {
        Calendar {
            per_window: reads_per_second.max(1.0) * WINDOW.as_secs_f64(),
            period: period.max(Duration::from_secs(1)),
            origin: Instant::now(),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn window_of(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_millis() / WINDOW.as_millis()) as u64
    }

    /// How long until `key`'s turn to read `reads` in `subscription`, due `due` from now: its
    /// booking if it has one, else the first window from `due` on with room (booked for it).
    pub fn book(&self, subscription: &str, key: &str, due: Duration, reads: u32) -> Duration {
        let now = Instant::now();
        let mut s = self.lock();
        let window = match s.bookings.get(key) {
            Some(b) if b.subscription == subscription => b.window,
            _ => {
                if let Some(old) = s.bookings.remove(key) {
                    release(&mut s, &old);
                }
                let reads = f64::from(reads.max(1));
                let booked = s.booked.get(subscription).copied().unwrap_or(0.0) + reads;
                // The even spread: seconds' shares of the period's reads, in whole reads (the
                // fractions carried, so any run of seconds holds at most one read over its
                // share), and never below one a second.
                let rate = (SPREAD_SLACK * booked / self.period.as_secs_f64()).max(1.0);
                let share = |second: u64| {
                    ((second + 1) as f64 * rate).floor() - (second as f64 * rate).floor()
                };
                // A window (and its second) has room when the reads fit, or when it is empty
                // (an object reading more than a window holds still gets one to itself).
                let fits = |used: Option<&f64>, room: f64| {
                    used.is_none_or(|u| *u <= 0.0 || u + reads <= room)
                };
                let sub = subscription.to_string();
                let first = self.window_of(now + due);
                let mut window = first;
                while window - first < MAX_SEARCH {
                    let second = window / WINDOWS_PER_SECOND;
                    if !fits(s.used_per_second.get(&(sub.clone(), second)), share(second)) {
                        window = (second + 1) * WINDOWS_PER_SECOND;
                        continue;
                    }
                    if !fits(s.used.get(&(sub.clone(), window)), self.per_window) {
                        window += 1;
                        continue;
                    }
                    break;
                }
                *s.used.entry((sub.clone(), window)).or_default() += reads;
                *s.used_per_second
                    .entry((sub.clone(), window / WINDOWS_PER_SECOND))
                    .or_default() += reads;
                *s.booked.entry(sub).or_default() += reads;
                s.bookings.insert(
                    key.to_string(),
                    Booking {
                        subscription: subscription.to_string(),
                        window,
                        reads,
                    },
                );
                s.since_sweep += 1;
                if s.since_sweep > 1024 {
                    s.since_sweep = 0;
                    let past = self.window_of(now);
                    s.used.retain(|(_, w), _| *w + 1 >= past);
                    s.used_per_second
                        .retain(|(_, second), _| (*second + 1) * WINDOWS_PER_SECOND >= past);
                }
                window
            }
        };
        // Due at `due` inside its window: never before.
        let start = (self.origin + Duration::from_millis(window * WINDOW.as_millis() as u64))
            .max(now + due);
        start.saturating_duration_since(now)
    }

    /// `key`'s turn has come: its booking is spent.
    pub fn used(&self, key: &str) {
        let mut s = self.lock();
        if let Some(old) = s.bookings.remove(key) {
            unbook(&mut s, &old);
        }
    }

    /// `key` is off the calendar (it changed, or is being deleted): its room goes back.
    pub fn cancel(&self, key: &str) {
        let mut s = self.lock();
        if let Some(old) = s.bookings.remove(key) {
            release(&mut s, &old);
        }
    }
}

/// The share of the period's reads an object's next check leaves to the others (its window
/// stays used: that window's reads happened).
fn unbook(s: &mut State, b: &Booking) {
    if let Some(n) = s.booked.get_mut(&b.subscription) {
        *n = (*n - b.reads).max(0.0);
    }
}

/// A booking withdrawn before its turn: its window's room goes back too.
fn release(s: &mut State, b: &Booking) {
    unbook(s, b);
    if let Some(u) = s.used.get_mut(&(b.subscription.clone(), b.window)) {
        *u = (*u - b.reads).max(0.0);
    }
    if let Some(u) = s
        .used_per_second
        .get_mut(&(b.subscription.clone(), b.window / WINDOWS_PER_SECOND))
    {
        *u = (*u - b.reads).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_due_objects_is_spread_at_the_rate_and_never_read_early() {
        let c = Calendar::new(10.0, Duration::from_secs(10));
        let now = Instant::now();
        let mut waits: Vec<Duration> = (0..100)
            .map(|i| c.book("sub", &format!("o{i}"), Duration::from_secs(60), 1))
            .collect();
        waits.sort();
        assert!(waits[0] >= Duration::from_secs(59), "{:?}", waits[0]);
        // 100 reads at 10 per second: one per 100 ms window, over ten seconds.
        let mut per_second: HashMap<u64, usize> = HashMap::new();
        for w in &waits {
            // (`now` is a little before each booking's own.)
            let at = now + *w + Duration::from_millis(5);
            *per_second.entry(c.window_of(at) / 10).or_default() += 1;
        }
        assert!(per_second.values().all(|n| *n <= 11), "{per_second:?}");
        assert!(waits[99] < Duration::from_secs(71), "{:?}", waits[99]);
        // Asking again gives the same turn; using it frees the key; cancelling gives the room
        // back.
        let again = c.book("sub", "o5", Duration::ZERO, 1);
        assert!(again >= Duration::from_secs(59));
        c.used("o5");
        let now = c.book("sub", "o5", Duration::ZERO, 1);
        assert!(now < Duration::from_secs(1), "{now:?}");
        c.cancel("o5");
    }

    #[test]
    fn objects_due_in_a_bunch_are_spread_evenly_over_their_period() {
        // 600 objects with a 300 s period, all due within the same 30 s (created faster than a
        // period's share, or all found at a restart): two reads a second, not twenty.
        let c = Calendar::new(20.0, Duration::from_secs(300));
        let now = Instant::now();
        let mut per_second: HashMap<u64, usize> = HashMap::new();
        let mut latest = Duration::ZERO;
        for i in 0..600u64 {
            let due = Duration::from_millis(100_000 + i * 50);
            let wait = c.book("sub", &format!("o{i}"), due, 1);
            assert!(wait + Duration::from_millis(5) >= due, "never early");
            latest = latest.max(wait);
            *per_second
                .entry(c.window_of(now + wait + Duration::from_millis(5)) / 10)
                .or_default() += 1;
        }
        // 600 × 1.02 / 300 s = 2.04 a second: whole reads, the fractions carried.
        assert!(per_second.values().all(|n| *n <= 3), "{per_second:?}");
        let first_minute: usize = per_second
            .iter()
            .filter(|(s, _)| **s >= 100 && **s < 160)
            .map(|(_, n)| n)
            .sum();
        assert!(first_minute <= 124, "{first_minute} in the first minute");
        // Everyone is still read within a period of being due (the last due at 130 s).
        assert!(latest < Duration::from_secs(430), "{latest:?}");
    }

    #[test]
    fn subscriptions_have_calendars_of_their_own_and_a_far_booking_does_not_delay_a_near_one() {
        let c = Calendar::new(20.0, Duration::from_secs(1));
        for i in 0..2 {
            c.book("a", &format!("a{i}"), Duration::ZERO, 1);
        }
        assert!(c.book("b", "b0", Duration::ZERO, 1) < Duration::from_secs(1));
        assert!(c.book("a", "a2", Duration::ZERO, 1) >= Duration::from_millis(1));
        c.book("a", "far", Duration::from_secs(3600), 1);
        assert!(c.book("a", "near", Duration::from_secs(5), 1) < Duration::from_secs(7));
        // An object reading two resources takes two reads of its window.
        let c = Calendar::new(30.0, Duration::from_secs(1));
        c.book("s", "x", Duration::ZERO, 2);
        let y = c.book("s", "y", Duration::ZERO, 2);
        assert!(y >= Duration::from_millis(1), "{y:?}");
    }
}
