//! The TCP listener behind both ports. Each connection's socket is wrapped
//! so that a write which makes no progress for `write_stall_timeout` fails:
//! a client that stopped reading cannot be told `event: error` (its socket
//! is full), so this is where it is cut off, and its connection task ends.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A listener whose connections give up on stalled writes.
pub struct GuardedListener {
    inner: TcpListener,
    stall_timeout: Duration,
}

impl GuardedListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, stall_timeout: Duration) -> Self {
        GuardedListener {
            inner,
            stall_timeout,
        }
    }
}

impl GuardedListener {
    /// The next connection; waits and retries when accepting fails (out of
    /// file descriptors, most likely).
    pub async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Each SSE message is written as soon as it is ready.
                    let _ = stream.set_nodelay(true);
                    return (
                        GuardedStream {
                            inner: stream,
                            stall_timeout: self.stall_timeout,
                            stalled: None,
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to
                    // close rather than spin.
                    tracing::warn!("cannot accept a connection: {e}; retrying in 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// A TCP stream whose writes fail after stalling for too long.
pub struct GuardedStream {
    inner: TcpStream,
    stall_timeout: Duration,
    /// Set while a write is blocked; boxed so an idle connection carries
    /// only a pointer.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    fn on_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let timeout = self.stall_timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for server.write_stall_timeout; disconnected",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.on_pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.on_pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
