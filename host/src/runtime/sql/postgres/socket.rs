//! The socket to a PostgreSQL server, counted: every byte the server sends counts against the
//! [`Intake`] limit of the statement in progress, and past it the socket fails the read. A result
//! of huge values (or a flood of notices) is thus refused before the driver buffers it, not after:
//! tokio-postgres holds a whole message (a row can be up to 1 GiB) before handing it over.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// How many bytes the server may still send for the statement in progress.
#[derive(Debug, Clone, Default)]
pub struct Intake(Arc<IntakeState>);

#[derive(Debug, Default)]
struct IntakeState {
    read: AtomicUsize,
    limit: AtomicUsize,
    over: AtomicBool,
}

impl Intake {
    /// Starts counting again, allowing `limit` bytes.
    pub fn reset(&self, limit: usize) {
        self.0.read.store(0, Ordering::Relaxed);
        self.0.limit.store(limit, Ordering::Relaxed);
        self.0.over.store(false, Ordering::Relaxed);
    }

    /// Whether the server sent more than the limit since the last reset.
    pub fn over(&self) -> bool {
        self.0.over.load(Ordering::Relaxed)
    }

    /// The bytes a read may still take, or an error once none are left.
    fn room(&self) -> io::Result<usize> {
        let left = self.0.limit.load(Ordering::Relaxed).saturating_sub(self.0.read.load(Ordering::Relaxed));
        if left == 0 {
            self.0.over.store(true, Ordering::Relaxed);
            return Err(io::Error::other("the server sent more than the plugin's SQL result limit"));
        }
        Ok(left)
    }

    fn count(&self, n: usize) {
        self.0.read.fetch_add(n, Ordering::Relaxed);
    }
}

/// A TCP or Unix-domain socket to the server.
#[derive(Debug)]
pub enum Link {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A [`Link`] whose reads are counted against an [`Intake`].
#[derive(Debug)]
pub struct Counted {
    pub link: Link,
    pub intake: Intake,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Never read past the limit, so a refused result is never in memory either.
        let take = this.intake.room()?.min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(take));
        let polled = match &mut this.link {
            Link::Tcp(s) => Pin::new(s).poll_read(cx, &mut limited),
            Link::Unix(s) => Pin::new(s).poll_read(cx, &mut limited),
        };
        let n = limited.filled().len();
        if let Poll::Ready(Ok(())) = polled {
            buf.advance(n);
            this.intake.count(n);
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().link {
            Link::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Link::Unix(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().link {
            Link::Tcp(s) => Pin::new(s).poll_flush(cx),
            Link::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().link {
            Link::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Link::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
