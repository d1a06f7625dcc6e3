//! What a run measured: every request's route, answer and latency, kept compactly so that a ten
//! minute soak can still be cut into intervals afterwards; percentiles by sorting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One request: when it ended (ms after the phase began), how long it took (µs), its answer.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub route: Route,
    pub ended_ms: u32,
    pub latency_us: u32,
    /// The HTTP status; 0 when no answer came.
    pub status: u16,
}

impl Sample {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The routes the generator sends, by their OpenAPI paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    StartPlan,
    PlanCommand,
    Messages,
    Todos,
    Ongoing,
    Plan,
    MinPlan,
    PersonSearch,
}

impl Route {
    pub const READS: [Route; 6] = [
        Route::Messages,
        Route::Todos,
        Route::Ongoing,
        Route::Plan,
        Route::MinPlan,
        Route::PersonSearch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Route::StartPlan => "POST /sips",
            Route::PlanCommand => "POST /sips/{id}/{command}",
            Route::Messages => "GET /inbox/messages",
            Route::Todos => "GET /inbox/todos",
            Route::Ongoing => "GET /inbox/sips",
            Route::Plan => "GET /sips/{id}",
            Route::MinPlan => "GET /me/plans",
            Route::PersonSearch => "GET /persons?q=",
        }
    }

    pub fn is_command(self) -> bool {
        matches!(self, Route::StartPlan | Route::PlanCommand)
    }
}

/// A worker's own record of its requests, merged after the phase.
#[derive(Debug, Default)]
pub struct Recorder {
    pub samples: Vec<Sample>,
}

impl Recorder {
    pub fn record(&mut self, phase_start: Instant, route: Route, sent: Instant, status: u16) {
        let now = Instant::now();
        self.samples.push(Sample {
            route,
            ended_ms: clamp_u32(now.duration_since(phase_start).as_millis()),
            latency_us: clamp_u32(now.duration_since(sent).as_micros()),
            status,
        });
    }
}

fn clamp_u32(v: u128) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Latency percentiles of one set of successful requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of_micros(mut micros: Vec<u32>) -> Latency {
        micros.sort_unstable();
        let at = |p: f64| percentile_sorted(&micros, p).map_or(f64::NAN, |v| v as f64 / 1000.0);
        Latency {
            count: micros.len(),
            p50_ms: at(50.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            max_ms: at(100.0),
        }
    }

    pub fn of_millis(values: &[f64]) -> Latency {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |p: f64| percentile_sorted(&sorted, p).unwrap_or(f64::NAN);
        Latency {
            count: sorted.len(),
            p50_ms: at(50.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            max_ms: at(100.0),
        }
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile_sorted<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A phase's figures per route.
#[derive(Debug, Default)]
pub struct Summary {
    pub elapsed: Duration,
    pub per_route: BTreeMap<Route, Latency>,
    /// Answers that were not 2xx, by route and status ("no answer" for 0).
    pub errors: BTreeMap<(Route, u16), u64>,
}

impl Summary {
    pub fn of(samples: &[Sample], elapsed: Duration) -> Summary {
        let mut latencies: BTreeMap<Route, Vec<u32>> = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for s in samples {
            if s.succeeded() {
                latencies.entry(s.route).or_default().push(s.latency_us);
            } else {
                *errors.entry((s.route, s.status)).or_insert(0) += 1;
            }
        }
        Summary {
            elapsed,
            per_route: latencies
                .into_iter()
                .map(|(r, l)| (r, Latency::of_micros(l)))
                .collect(),
            errors,
        }
    }

    fn rate(&self, count: usize) -> f64 {
        count as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Successful requests per second of one route.
    pub fn per_second(&self, route: Route) -> f64 {
        self.rate(self.per_route.get(&route).map_or(0, |l| l.count))
    }

    pub fn commands_per_second(&self) -> f64 {
        self.rate(
            self.per_route
                .iter()
                .filter(|(r, _)| r.is_command())
                .map(|(_, l)| l.count)
                .sum(),
        )
    }

    pub fn reads_per_second(&self) -> f64 {
        self.rate(
            self.per_route
                .iter()
                .filter(|(r, _)| !r.is_command())
                .map(|(_, l)| l.count)
                .sum(),
        )
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile_sorted(&values, 50.0), Some(50));
        assert_eq!(percentile_sorted(&values, 99.0), Some(99));
        assert_eq!(percentile_sorted(&values, 100.0), Some(100));
        assert_eq!(percentile_sorted(&[7u32], 99.0), Some(7));
        assert_eq!(percentile_sorted::<u32>(&[], 50.0), None);
    }

    #[test]
    fn a_summary_counts_successes_per_route_and_errors_by_status() {
        let sample = |route, status, latency_us| Sample {
            route,
            ended_ms: 0,
            latency_us,
            status,
        };
        let samples = [
            sample(Route::StartPlan, 201, 1000),
            sample(Route::StartPlan, 201, 3000),
            sample(Route::StartPlan, 503, 10),
            sample(Route::Todos, 200, 2000),
            sample(Route::Todos, 0, 30_000_000),
        ];
        let s = Summary::of(&samples, Duration::from_secs(2));
        assert_eq!(s.commands_per_second(), 1.0);
        assert_eq!(s.reads_per_second(), 0.5);
        assert_eq!(s.per_route[&Route::StartPlan].p99_ms, 3.0);
        assert_eq!(s.errors[&(Route::StartPlan, 503)], 1);
        assert_eq!(s.errors[&(Route::Todos, 0)], 1);
        assert_eq!(s.error_count(), 2);
    }
}
