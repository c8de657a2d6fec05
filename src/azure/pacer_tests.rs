//! The pacer against a simulated ARM bucket on a virtual clock: writers in parallel, each
//! request answered after a fixed latency, 429s retried after their Retry-After.

use super::*;

/// ARM's side: a token bucket.
struct Bucket {
    level: f64,
    at: f64,
    size: f64,
    rate: f64,
}

impl Bucket {
    fn new(size: f64, rate: f64) -> Bucket {
        Bucket { level: size, at: 0.0, size, rate }
    }

    /// `Ok(left)` or `Err(seconds until the next token)`.
    fn take(&mut self, now: f64) -> Result<u64, f64> {
        self.level = (self.level + (now - self.at) * self.rate).min(self.size);
        self.at = now;
        if self.level >= 1.0 {
            self.level -= 1.0;
            Ok(self.level.floor() as u64)
        } else {
            Err((1.0 - self.level) / self.rate)
        }
    }
}

#[derive(Clone, Copy)]
enum Worker {
    /// Asks the pacer at this time.
    Ready(f64),
    /// Answer arrives at this time.
    InFlight {
        at: f64,
        seq: u64,
        answer: Result<u64, f64>,
    },
    Done,
}

struct Client {
    pacer: BucketEstimate,
    reserve: u32,
    /// Writes left to start.
    todo: usize,
    workers: Vec<Worker>,
    throttled: usize,
    finished_at: f64,
}

impl Client {
    fn new(writes: usize, parallel: usize, reserve: u32) -> Client {
        Client {
            pacer: BucketEstimate::default(),
            reserve,
            todo: writes,
            workers: vec![Worker::Ready(0.0); parallel],
            throttled: 0,
            finished_at: 0.0,
        }
    }
}

/// Run every client's writes against one bucket. `headers`: whether answers report the level.
fn simulate(bucket: &mut Bucket, clients: &mut [Client], latency: f64, headers: bool) {
    loop {
        let next = clients
            .iter()
            .enumerate()
            .flat_map(|(c, cl)| cl.workers.iter().enumerate().map(move |(w, s)| (c, w, *s)))
            .filter_map(|(c, w, s)| match s {
                Worker::Ready(t) | Worker::InFlight { at: t, .. } => Some((t, c, w)),
                Worker::Done => None,
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((now, c, w)) = next else { return };
        assert!(now < 3600.0, "the simulation stalled (virtual time {now} s)");
        let cl = &mut clients[c];
        cl.workers[w] = match cl.workers[w] {
            Worker::Ready(_) if cl.todo == 0 => Worker::Done,
            Worker::Ready(_) => match cl.pacer.try_acquire(cl.reserve, now) {
                Ok(seq) => {
                    cl.todo -= 1;
                    Worker::InFlight { at: now + latency, seq, answer: bucket.take(now) }
                }
                Err(wait) => {
                    assert!(wait > 0.0 && wait.is_finite(), "{wait}");
                    Worker::Ready(now + wait)
                }
            },
            Worker::InFlight { seq, answer: Ok(left), .. } => {
                if headers {
                    cl.pacer.observe(seq, left, now);
                }
                cl.finished_at = cl.finished_at.max(now);
                Worker::Ready(now)
            }
            Worker::InFlight { seq, answer: Err(wait), .. } => {
                cl.throttled += 1;
                cl.pacer.throttled(seq, headers.then_some(0), Some(wait), now);
                cl.todo += 1; // retried
                Worker::Ready(now + wait)
            }
            Worker::Done => Worker::Done,
        };
    }
}

/// ARM's bucket: 1,000 writes after a full bucket of 200 at 10/s cannot finish before 80 s.
/// The pacer spends down to the reserve, then writes at the refill rate: no 429 at all, and
/// within 5% of the minimum (the reserve of 20 costs 2 s of it).
#[test]
fn a_long_apply_runs_at_the_refill_rate_without_429s() {
    let mut bucket = Bucket::new(200.0, 10.0);
    let mut clients = [Client::new(1000, 10, DEFAULT_RESERVE)];
    simulate(&mut bucket, &mut clients, 0.05, true);
    let minimum = (1000.0 - 200.0) / 10.0;
    assert_eq!(clients[0].throttled, 0);
    let t = clients[0].finished_at;
    assert!(t >= minimum && t <= minimum * 1.05, "{t} s for a minimum of {minimum} s");
    assert!((clients[0].pacer.rate() - 10.0).abs() < 0.5, "learned {}", clients[0].pacer.rate());
}

/// A bucket scaled down (20 tokens at 100/s) is learned as quickly: the assumed 10/s is
/// replaced from the reports, so the apply is not ten times too slow.
#[test]
fn the_refill_rate_is_learned_from_the_reports() {
    let mut bucket = Bucket::new(20.0, 100.0);
    let mut clients = [Client::new(1000, 4, 2)];
    simulate(&mut bucket, &mut clients, 0.002, true);
    let minimum = (1000.0 - 20.0) / 100.0;
    assert_eq!(clients[0].throttled, 0);
    let t = clients[0].finished_at;
    assert!(t >= minimum && t <= minimum * 1.05, "{t} s for a minimum of {minimum} s");
    assert!((clients[0].pacer.rate() - 100.0).abs() < 5.0, "learned {}", clients[0].pacer.rate());
}

/// Without pacing information (no headers) the first 429 is the signal: afterwards writes
/// wait for the Retry-After and go on at the assumed rate, instead of every writer hitting
/// the empty bucket again and again.
#[test]
fn without_headers_a_429_holds_the_writers() {
    let mut bucket = Bucket::new(20.0, 10.0);
    let mut clients = [Client::new(100, 10, DEFAULT_RESERVE)];
    simulate(&mut bucket, &mut clients, 0.01, false);
    // Bursting, all 10 writers find the empty bucket once; the pacer then holds them.
    assert!(clients[0].throttled <= 10, "{} 429s", clients[0].throttled);
}

/// With headers and a burst of parallel writers before the first report arrives, only the
/// burst can meet an empty bucket.
#[test]
fn two_processes_sharing_a_bucket_share_the_refill() {
    let mut bucket = Bucket::new(200.0, 10.0);
    let mut clients = [Client::new(500, 10, DEFAULT_RESERVE), Client::new(500, 10, DEFAULT_RESERVE)];
    simulate(&mut bucket, &mut clients, 0.05, true);
    let minimum = (1000.0 - 200.0) / 10.0;
    let t = clients[0].finished_at.max(clients[1].finished_at);
    let throttled = clients[0].throttled + clients[1].throttled;
    assert!(throttled <= 10, "{throttled} 429s");
    assert!(t >= minimum && t <= minimum * 1.15, "{t} s for a minimum of {minimum} s");
}

#[test]
fn the_reserve_is_kept_and_shrinks_for_small_buckets() {
    let mut e = BucketEstimate::default();
    assert_eq!(e.try_acquire(20, 0.0), Ok(1), "no report yet: go");
    e.observe(1, 45, 0.0);
    // 45 left: 25 more go out at once (down to the reserve of 20), the next waits for a token
    // (at the assumed 10/s).
    for seq in 2..=26 {
        assert_eq!(e.try_acquire(20, 0.0), Ok(seq));
    }
    let wait = e.try_acquire(20, 0.0).unwrap_err();
    assert!((wait - 0.1).abs() < 1e-9, "{wait}");
    assert_eq!(e.try_acquire(20, 0.1), Ok(27));

    let mut small = BucketEstimate::default();
    assert_eq!(small.try_acquire(20, 0.0), Ok(1));
    small.observe(1, 9, 0.0);
    // A bucket of about 10 keeps half of itself (4): 9 left, 5 may go.
    let sent = (0..10).take_while(|_| small.try_acquire(20, 0.0).is_ok()).count();
    assert_eq!(sent, 5);
}

#[test]
fn a_429_blocks_until_retry_after() {
    let mut e = BucketEstimate::default();
    assert_eq!(e.try_acquire(0, 0.0), Ok(1));
    e.throttled(1, None, Some(2.0), 0.0);
    let wait = e.try_acquire(0, 1.0).unwrap_err();
    assert!((wait - 1.0).abs() < 1e-9, "{wait}");
    assert!(e.try_acquire(0, 2.0).is_ok());
}

#[test]
fn classes_and_subscriptions() {
    assert_eq!(Class::of("put"), Some(Class::Writes));
    assert_eq!(Class::of("POST"), Some(Class::Writes));
    assert_eq!(Class::of("DELETE"), Some(Class::Deletes));
    assert_eq!(Class::of("GET"), None);
    assert_eq!(subscription_of_path("/subscriptions/ABC/resourceGroups/x?api-version=1"), "abc");
    assert_eq!(subscription_of_path("subscriptions/abc"), "abc");
    assert_eq!(subscription_of_path("/providers/Microsoft.Management/managementGroups/mg"), "");
    assert_eq!(subscription_of_path("/subscriptions?api-version=1"), "");
}
