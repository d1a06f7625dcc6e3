//! Where "now" comes from. The domain never reads a clock; the gateway reads this one and passes
//! the time in, so tests can pin time and deadline tests are exact.

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A source of the current time, cheap to clone.
#[derive(Clone)]
pub enum Clock {
    /// The system clock.
    System,
    /// A settable clock for tests; its watchers are told when it is moved.
    Fixed(Arc<watch::Sender<DateTime<Utc>>>),
}

/// The longest a [`Clock::sleep_until`] on the system clock sleeps before it looks at the clock
/// again, so a wall clock set forward (NTP, a suspended machine) is noticed within this.
const SYSTEM_SLEEP_MAX: Duration = Duration::from_secs(60);

impl Clock {
    /// A clock that stands still at `at` until [`Clock::set`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock::Fixed(Arc::new(watch::Sender::new(at)))
    }

    /// The current time. The system clock's is cut to whole microseconds, as PostgreSQL keeps
    /// times: a time written into an event (a need's `known_since` by default) then reads the
    /// same in every view, whether it came from the event or from a table.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now().trunc_subsecs(6),
            Clock::Fixed(at) => *at.borrow(),
        }
    }

    /// Moves a fixed clock; a no-op on the system clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Fixed(at) = self {
            at.send_replace(to);
        }
    }

    /// Resolves once the clock has reached `at`: on the system clock by sleeping, on a fixed
    /// clock when a test moves it there.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match self {
            Clock::System => loop {
                let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(SYSTEM_SLEEP_MAX)).await;
            },
            Clock::Fixed(clock) => {
                let mut moved = clock.subscribe();
                // The sender lives as long as this clock, so this only ends when `at` is reached.
                let _ = moved.wait_for(|now| *now >= at).await;
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Fixed(_) => write!(f, "Clock::Fixed({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_clock_wakes_its_sleepers_when_it_is_moved_past_their_time() {
        let start: DateTime<Utc> = "2027-02-07T22:00:00Z".parse().expect("time");
        let clock = Clock::fixed(start);
        let due = start + chrono::Duration::hours(1);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due).await }
        });
        clock.set(start + chrono::Duration::minutes(59));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!sleeper.is_finished(), "not yet");
        clock.set(due);
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken")
            .expect("task");
        // A time already passed resolves at once, on either clock.
        tokio::time::timeout(Duration::from_secs(1), clock.sleep_until(start))
            .await
            .expect("at once");
        let past: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().expect("time");
        tokio::time::timeout(Duration::from_secs(1), Clock::System.sleep_until(past))
            .await
            .expect("at once");
    }

    #[test]
    fn the_system_clock_reads_whole_microseconds_as_postgresql_keeps_them() {
        for _ in 0..100 {
            assert_eq!(Clock::System.now().timestamp_subsec_nanos() % 1_000, 0);
        }
    }
}
