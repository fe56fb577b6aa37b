//! A plugin's stderr, kept in memory up to [`MAX_STDERR_BYTES`] per call, so that when a plugin
//! traps the error can say what it printed (a Rust panic message names the file, the line and the
//! reason) rather than only "wasm `unreachable` instruction executed". Writes past the budget are
//! accepted and dropped: a chatty plugin is never failed for printing.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::host_state::truncate;

/// Bytes of stderr kept per call.
pub const MAX_STDERR_BYTES: usize = 4 << 10;
/// Longest excerpt of stderr added to an error message.
pub const MAX_STDERR_EXCERPT: usize = 400;

/// The shared buffer behind a plugin's stderr.
#[derive(Debug, Clone, Default)]
pub struct StderrCapture(Arc<Mutex<Vec<u8>>>);

impl StderrCapture {
    /// Forgets what was printed (before each call).
    pub fn clear(&self) {
        if let Ok(mut b) = self.0.lock() {
            b.clear();
        }
    }

    /// What was printed since the last take, on one line: blank lines and Rust's "note: run with
    /// `RUST_BACKTRACE=1`" hint left out, cut to [`MAX_STDERR_EXCERPT`] bytes.
    pub fn take(&self) -> String {
        let bytes = self.0.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("note: run with")).collect();
        truncate(lines.join(" "), MAX_STDERR_EXCERPT)
    }
}

impl IsTerminal for StderrCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrCapture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for StderrCapture {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if let Ok(mut kept) = self.0.lock() {
            let room = MAX_STDERR_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(c: &StderrCapture, text: &[u8]) -> usize {
        let mut c = c.clone();
        let waker = std::task::Waker::noop();
        match Pin::new(&mut c).poll_write(&mut Context::from_waker(waker), text) {
            Poll::Ready(Ok(n)) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_panic_message_becomes_one_line() {
        let c = StderrCapture::default();
        write(&c, b"\nthread '<unnamed>' panicked at src/lib.rs:34:9:\nboom\nnote: run with `RUST_BACKTRACE=1`\n");
        assert_eq!(c.take(), "thread '<unnamed>' panicked at src/lib.rs:34:9: boom");
        assert_eq!(c.take(), "", "taken once");
    }

    #[test]
    fn writes_past_the_budget_succeed_and_are_dropped() {
        let c = StderrCapture::default();
        let big = vec![b'x'; MAX_STDERR_BYTES * 2];
        assert_eq!(write(&c, &big), big.len());
        assert_eq!(write(&c, b"more"), 4);
        let kept = c.take();
        assert!(kept.len() <= MAX_STDERR_EXCERPT + '…'.len_utf8() && kept.ends_with('…'), "{}", kept.len());
    }
}
