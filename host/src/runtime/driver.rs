//! What every plugin call runs under: a wall-clock deadline that reaches into the host.
//!
//! Two stoppers share one limit. Wasm code that keeps the CPU busy is stopped by epoch interruption
//! (`epoch.rs`): it traps at its next loop header or call. A plugin waiting in the host instead (a
//! TCP read from a peer that never answers, a write to one that never reads, a `poll` or a sleep) is
//! not running Wasm at all: there the call is an async future (WASI is linked async) and
//! [`Driver::run`] drops it at the deadline, which unwinds the plugin's fiber out of the host call.
//! The instance is then discarded, as after a trap.
//!
//! The public API stays synchronous: [`Driver::run`] blocks the calling thread on a small tokio
//! runtime owned here, whose worker drives the sockets and timers while the caller waits.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use super::epoch::EpochTicker;

/// Worker threads of the runtime that drives plugins' host-side I/O. The call itself is polled on
/// the caller's thread; the worker only wakes it when a socket or a timer is ready, so one serves
/// many concurrent calls.
pub const IO_WORKER_THREADS: usize = 1;

/// The call was still waiting when its deadline came; it has been cancelled.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("deadline reached while the plugin waited in the host")]
pub struct DeadlineReached;

/// Keeps plugin calls bounded: the tokio runtime they run on and the epoch ticker. Shared by the
/// runtime and every plugin it loaded, so it lives as long as any of them.
#[derive(Debug)]
pub struct Driver {
    /// Always `Some` until dropped (taken by `Drop` to shut it down without waiting).
    io: Option<tokio::runtime::Runtime>,
    _ticker: EpochTicker,
}

impl Driver {
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_WORKER_THREADS)
            .thread_name("upshift-plugin-io")
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Driver { io: Some(io), _ticker: EpochTicker::start(engine)? })
    }

    /// Runs `call` to completion on this thread, or until `limit` has passed: then the future is
    /// dropped (a Wasm call unwinds out of whatever host function it waited in) and the answer is
    /// [`DeadlineReached`].
    ///
    /// Must not be called from inside an async task (tokio refuses to block there); the host's
    /// callers are synchronous.
    ///
    /// Most calls never wait in the host (a verifier judging its inputs): their future completes
    /// at its first poll, which is made here directly, without a timer. While it runs, Wasm code is
    /// bounded by the epoch deadline, as always. Only a call that waits in the host goes on to
    /// `block_on` under a timer, for what is left of `limit` since the call started.
    pub fn run<F: Future>(&self, limit: Duration, call: F) -> Result<F::Output, DeadlineReached> {
        let Some(io) = &self.io else {
            unreachable!("the runtime is only taken when the driver is dropped");
        };
        let started = Instant::now();
        let mut call = pin!(call);
        {
            // Host futures polled here (sockets, timers, blocking file work) need the runtime's
            // context. The no-op waker is never relied on: a future still pending is polled again
            // below with `block_on`'s waker, and a future wakes only the waker of its last poll.
            let _context = io.enter();
            if let Poll::Ready(answer) = call.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                return Ok(answer);
            }
        }
        let left = limit.saturating_sub(started.elapsed());
        // The timer is made inside `block_on`: it needs the runtime's context.
        io.block_on(async move { tokio::time::timeout(left, call).await }).map_err(|_| DeadlineReached)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A blocking file operation a plugin started may still be stuck (a read from a FIFO in a
        // granted folder): do not wait for it.
        if let Some(io) = self.io.take() {
            io.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver() -> Driver {
        Driver::start(&Engine::default()).unwrap()
    }

    #[test]
    fn a_call_that_finishes_in_time_returns_its_value() {
        assert_eq!(driver().run(Duration::from_secs(5), async { 42 }).unwrap(), 42);
    }

    #[test]
    fn a_call_still_waiting_at_its_deadline_is_dropped() {
        let start = std::time::Instant::now();
        let result = driver().run(Duration::from_millis(50), std::future::pending::<()>());
        assert!(result.is_err());
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    #[test]
    fn a_call_pending_at_its_first_poll_is_woken_later() {
        let answer = driver().run(Duration::from_secs(5), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        });
        assert_eq!(answer.unwrap(), 7);
    }

    #[test]
    fn time_spent_before_the_first_wait_counts_against_the_deadline() {
        let start = std::time::Instant::now();
        let result = driver().run(Duration::from_millis(400), async {
            // Busy in the first poll (as Wasm code would be), then waiting in the host for ever.
            std::thread::sleep(Duration::from_millis(300));
            std::future::pending::<()>().await
        });
        assert!(result.is_err());
        // 400 ms in all; a deadline restarted after the first poll would make it 700.
        let took = start.elapsed();
        assert!(took < Duration::from_millis(600), "the deadline restarted after the first poll: {took:?}");
    }

    #[test]
    fn sockets_are_driven_while_the_caller_waits() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"hi").unwrap();
        });
        let read = driver()
            .run(Duration::from_secs(5), async move {
                use tokio::io::AsyncReadExt;
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut buf = [0; 2];
                s.read_exact(&mut buf).await.unwrap();
                buf
            })
            .unwrap();
        assert_eq!(&read, b"hi");
        peer.join().unwrap();
    }
}
