//! Limits that keep the HTTP server usable when it faces the open internet
//! (usually behind a reverse proxy): at most `server.max_connections`
//! connections at once, a request must arrive whole within
//! `server.read_timeout` of its first byte, and a connection with no
//! traffic for `server.idle_timeout` is closed.
//!
//! axum's `serve` runs hyper without a timer, so hyper's own header read
//! timeout never fires, and it has no connection limit. Both are done here,
//! under axum, as a `Listener` whose streams watch their own clocks: slow
//! clients (one header byte every few seconds, or none at all) cannot hold
//! connections and starve the others.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tracing::warn;

use crate::config::ServerConfig;

/// A listener that hands out at most `max_connections` streams at once;
/// further clients wait in the kernel's listen backlog.
pub struct GuardedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    read_timeout: Duration,
    idle_timeout: Duration,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, server: &ServerConfig) -> GuardedListener {
        GuardedListener {
            inner,
            permits: Arc::new(Semaphore::new(server.max_connections.max(1))),
            read_timeout: server.read_timeout,
            idle_timeout: server.idle_timeout,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        // The semaphore is never closed, so this always yields a permit.
        let permit = self.permits.clone().acquire_owned().await.ok();
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let now = Instant::now();
                    let stream = GuardedStream {
                        inner: stream,
                        _permit: permit,
                        read_timeout: self.read_timeout,
                        idle_timeout: self.idle_timeout,
                        last_activity: now,
                        request_since: None,
                        timer: Box::pin(tokio::time::sleep_until(now + self.idle_timeout)),
                    };
                    return (stream, addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails with `TimedOut` when its client is too slow.
pub struct GuardedStream {
    inner: TcpStream,
    /// Frees a connection slot when the stream is dropped.
    _permit: Option<OwnedSemaphorePermit>,
    read_timeout: Duration,
    idle_timeout: Duration,
    last_activity: Instant,
    /// When the first byte of a request not yet answered arrived.
    request_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.idle_timeout;
        match self.request_since {
            Some(t) => idle.min(t + self.read_timeout),
            None => idle,
        }
    }

    /// Called when the inner stream is not ready: arms the timer for the
    /// current deadline and says whether it has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.deadline();
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "client too slow")
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let now = Instant::now();
                    this.last_activity = now;
                    this.request_since.get_or_insert(now);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl GuardedStream {
    /// What every write does after the inner one: bytes going out mean an
    /// answer, so the request arrived whole; a write that cannot proceed
    /// counts against the idle time.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.last_activity = Instant::now();
                    self.request_since = None;
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
