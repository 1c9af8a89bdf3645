//! A connection's activity, for closing idle ones: hyper closes an HTTP/1.1
//! connection that is slow to send a request head, but an HTTP/2 connection
//! with no streams stays open as long as its client answers PINGs, and with
//! it one of the `max_connections` slots.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Requests in flight on one connection and when the last one ended.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request (or 0).
    last_ms: AtomicU64,
}

/// Marks a request in flight until dropped.
pub(super) struct InFlight(Arc<Activity>);

impl Activity {
    /// A connection opened now, with nothing in flight.
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        })
    }

    /// A request starts; it ends when the guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Acquire))
    }

    /// Returns once no request has been in flight for `timeout`.
    pub(super) async fn idle_for(&self, timeout: Duration) {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // Busy (a receipt may wait for many seconds): look again
                // later; the idle time counts from the request's end.
                tokio::time::sleep(timeout).await;
                continue;
            }
            let deadline = self.last() + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ms.fetch_max(ms, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_end_of_the_last_request() {
        let timeout = Duration::from_secs(30);
        let a = Activity::new();
        // Idle from the start: returns after the timeout.
        let start = Instant::now();
        a.idle_for(timeout).await;
        assert_eq!(start.elapsed(), timeout);

        // A request of 100 s: not idle while it runs, idle 30 s after it.
        let request = a.begin();
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move {
                a.idle_for(timeout).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!waiter.is_finished());
        let ended = Instant::now();
        drop(request);
        let idle_at = waiter.await.unwrap();
        assert!(idle_at >= ended + timeout, "{:?}", idle_at - ended);
        assert!(idle_at <= ended + 2 * timeout, "{:?}", idle_at - ended);
    }
}
