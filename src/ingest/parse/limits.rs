//! What bounds one parse, and how a parse fails: the CPU-time deadline
//! (also the daemon's stop token) that hostile documents and shutdown
//! both answer to.

use std::cell::Cell;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("refused: parsing took more than {0:?} of CPU time; the document was abandoned")]
    OverTime(Duration),
    /// The daemon is stopping; nothing is wrong with the document.
    #[error("parse stopped by shutdown")]
    Cancelled,
}

/// The CPU time one document's parse may take by default. Real feeds, even
/// 16 MiB ones, parse in a fraction of it; past it the feed fails the poll
/// and backs off like any failed feed.
pub const MAX_PARSE_CPU: Duration = Duration::from_secs(5);

/// Steps of work between two looks at the clock and the stop token.
const CHECK_EVERY: u64 = 4096;

/// Bounds the work of one document: a CPU-time limit for the thread doing
/// it, and the daemon's stop token. Checked between the stages of a parse
/// and every `CHECK_EVERY` steps inside its loops, so that neither a
/// hostile document nor a shutdown has to wait for a parse to end.
///
/// Create it on the thread that does the work: the CPU time counted is that
/// thread's.
pub struct Deadline {
    limit: Duration,
    started: Clock,
    cancel: Option<CancellationToken>,
    /// Steps counted so far (see [`Deadline::step`]); also what tests read
    /// to bound the work a document costs.
    steps: Cell<u64>,
    next_check: Cell<u64>,
}

/// Where the time a parse has taken is read from.
#[derive(Clone, Copy)]
enum Clock {
    /// CPU time of the calling thread at the start.
    Thread(Duration),
    /// Wall time, where the thread's CPU time cannot be read.
    Wall(Instant),
}

/// The calling thread's CPU time so far.
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call, and CLOCK_THREAD_CPUTIME_ID needs nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

impl Deadline {
    /// `limit` of CPU time from now, on this thread; `cancel` stops the
    /// parse early when cancelled.
    pub fn new(limit: Duration, cancel: Option<CancellationToken>) -> Deadline {
        let started = match thread_cpu_time() {
            Some(t) => Clock::Thread(t),
            None => Clock::Wall(Instant::now()),
        };
        Deadline {
            limit,
            started,
            cancel,
            steps: Cell::new(0),
            next_check: Cell::new(CHECK_EVERY),
        }
    }

    /// The CPU time used since the deadline was set.
    pub fn elapsed(&self) -> Duration {
        match self.started {
            Clock::Thread(t0) => thread_cpu_time().unwrap_or(t0).saturating_sub(t0),
            Clock::Wall(t0) => t0.elapsed(),
        }
    }

    /// Fails once the parse is over its time or the daemon is stopping.
    pub fn check(&self) -> Result<(), ParseError> {
        if self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(ParseError::Cancelled);
        }
        if self.elapsed() > self.limit {
            return Err(ParseError::OverTime(self.limit));
        }
        Ok(())
    }

    /// Counts `n` steps of work, and checks every `CHECK_EVERY` of them.
    pub fn step(&self, n: u64) -> Result<(), ParseError> {
        let steps = self.steps.get().saturating_add(n);
        self.steps.set(steps);
        if steps >= self.next_check.get() {
            self.next_check.set(steps.saturating_add(CHECK_EVERY));
            self.check()?;
        }
        Ok(())
    }

    /// The steps of work counted so far.
    pub fn steps(&self) -> u64 {
        self.steps.get()
    }
}
