//! Limits that keep the HTTP server usable when it faces the open internet
//! (usually behind a reverse proxy): at most `server.max_connections`
//! connections at once; a new connection must send its first byte within
//! `FIRST_BYTE_TIMEOUT`; a request head must arrive whole within
//! `server.read_timeout` of its first byte; a connection with no traffic
//! for `server.idle_timeout` is closed. The time a response takes to render
//! is the server's, and counts against none of these.
//!
//! When every slot is taken and another client arrives, the connection
//! that has waited longest on its client (one that never sent anything, sits
//! idle between requests, or dribbles a request head) is closed to make
//! room, so idle and slowloris connections cannot keep a fresh client (a
//! health check) out. Only connections whose request is being answered
//! are never closed this way; when all are, new clients wait.
//!
//! axum's `serve` runs hyper without a timer, so hyper's own header read
//! timeout never fires, and it has no connection limit. Both are done here,
//! under axum, as a `Listener` whose streams watch their own clocks.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

use crate::config::ServerConfig;

/// How long a new connection may stay silent. Short, because a client that
/// connects means to ask something at once; capped by `read_timeout` and
/// `idle_timeout`.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a connection is in its request cycle, as seen from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Accepted, nothing received yet.
    Fresh = 0,
    /// Part of a request head received.
    Head = 1,
    /// A whole request head received; the server is answering it.
    Answering = 2,
    /// Answer (at least partly) written; waiting for the next request.
    Idle = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Fresh,
            1 => Phase::Head,
            2 => Phase::Answering,
            _ => Phase::Idle,
        }
    }
}

/// What the listener knows of one open connection.
struct Slot {
    phase: AtomicU8,
    /// Milliseconds from `Slots::epoch` to when the connection last heard
    /// from its client or answered it: the oldest goes first.
    since: AtomicU64,
    /// Set when the connection is closed to make room; its stream fails on
    /// its next poll.
    evicted: AtomicBool,
    waker: AtomicWaker,
}

/// The connection slots, shared by the listener and its streams.
struct Slots {
    max: usize,
    epoch: Instant,
    /// Open connections by accept order. Guarded by a plain mutex: every
    /// critical section is a map insert, remove or scan of at most `max`.
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    freed: Notify,
}

impl Slots {
    fn millis(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// A slot for a new connection: a free one, else the one of the
    /// connection that has waited longest on its client, which is evicted.
    /// `None` when every connection is being answered.
    fn take(&self, now: Instant) -> Option<(u64, Arc<Slot>)> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= self.max {
            let victim = open
                .iter()
                .filter(|(_, s)| {
                    Phase::from_u8(s.phase.load(Ordering::Acquire)) != Phase::Answering
                })
                .min_by_key(|(id, s)| (s.since.load(Ordering::Acquire), **id))
                .map(|(id, _)| *id)?;
            if let Some(v) = open.remove(&victim) {
                let phase = Phase::from_u8(v.phase.load(Ordering::Acquire));
                debug!(
                    ?phase,
                    "all connection slots taken: closing the longest waiting one"
                );
                v.evicted.store(true, Ordering::Release);
                v.waker.wake();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            phase: AtomicU8::new(Phase::Fresh as u8),
            since: AtomicU64::new(self.millis(now)),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        open.insert(id, slot.clone());
        Some((id, slot))
    }

    fn release(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.remove(&id).is_some() {
            drop(open);
            self.freed.notify_one();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A listener that hands out at most `max_connections` streams at once,
/// making room for newcomers as the module doc says.
pub struct GuardedListener {
    inner: TcpListener,
    slots: Arc<Slots>,
    first_byte_timeout: Duration,
    read_timeout: Duration,
    idle_timeout: Duration,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, server: &ServerConfig) -> GuardedListener {
        GuardedListener {
            inner,
            slots: Arc::new(Slots {
                max: server.max_connections.max(1),
                epoch: Instant::now(),
                open: Mutex::new(BTreeMap::new()),
                next_id: AtomicU64::new(0),
                freed: Notify::new(),
            }),
            first_byte_timeout: FIRST_BYTE_TIMEOUT
                .min(server.read_timeout)
                .min(server.idle_timeout),
            read_timeout: server.read_timeout,
            idle_timeout: server.idle_timeout,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        let (stream, addr) = loop {
            match self.inner.accept().await {
                Ok(a) => break a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, slot) = loop {
            let freed = self.slots.freed.notified();
            if let Some(s) = self.slots.take(Instant::now()) {
                break s;
            }
            // Every connection is being answered: one will be done soon.
            // Further clients wait in the kernel's listen backlog. The
            // sleep catches an answer finishing, which sends no notice.
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        };
        let now = Instant::now();
        let stream = GuardedStream {
            inner: stream,
            slots: self.slots.clone(),
            id,
            slot,
            first_byte_timeout: self.first_byte_timeout,
            read_timeout: self.read_timeout,
            idle_timeout: self.idle_timeout,
            phase: Phase::Fresh,
            since: now,
            request_since: now,
            newlines: 0,
            text: false,
            timer: Box::pin(tokio::time::sleep_until(now + self.first_byte_timeout)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails with `TimedOut` when its client is too slow, and
/// with `ConnectionAborted` when it was closed to make room.
pub struct GuardedStream {
    inner: TcpStream,
    slots: Arc<Slots>,
    id: u64,
    slot: Arc<Slot>,
    first_byte_timeout: Duration,
    read_timeout: Duration,
    idle_timeout: Duration,
    /// This stream's own view of its phase; `slot.phase` mirrors it.
    phase: Phase,
    /// When the client last sent or was sent something.
    since: Instant,
    /// When the first byte of the request head being read arrived.
    request_since: Instant,
    /// Line ends in a row in the head being read (CR ignored): two end it.
    newlines: u8,
    /// Whether the head being read has had anything but line ends yet
    /// (empty lines before a request line do not end it).
    text: bool,
    timer: Pin<Box<Sleep>>,
}

impl Drop for GuardedStream {
    fn drop(&mut self) {
        self.slots.release(self.id);
    }
}

impl GuardedStream {
    fn set_phase(&mut self, phase: Phase, now: Instant) {
        self.phase = phase;
        self.since = now;
        self.slot.phase.store(phase as u8, Ordering::Release);
        self.slot
            .since
            .store(self.slots.millis(now), Ordering::Release);
    }

    /// Follows the request cycle through bytes just read.
    fn received(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        for &b in bytes {
            match self.phase {
                Phase::Fresh | Phase::Idle => {
                    self.set_phase(Phase::Head, now);
                    self.request_since = now;
                    self.newlines = 0;
                    self.text = false;
                }
                // A body, or a pipelined request: answered after this one.
                Phase::Answering => return,
                Phase::Head => {}
            }
            match b {
                b'\n' if self.text => {
                    self.newlines += 1;
                    if self.newlines == 2 {
                        self.set_phase(Phase::Answering, now);
                    }
                }
                b'\n' | b'\r' => {}
                _ => {
                    self.text = true;
                    self.newlines = 0;
                }
            }
        }
        if self.phase == Phase::Head {
            self.since = now;
            self.slot
                .since
                .store(self.slots.millis(now), Ordering::Release);
        }
    }

    /// When the connection is closed unless something happens first; none
    /// while a request is being answered.
    fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Fresh => Some(self.since + self.first_byte_timeout),
            Phase::Head => {
                Some((self.request_since + self.read_timeout).min(self.since + self.idle_timeout))
            }
            Phase::Answering => None,
            Phase::Idle => Some(self.since + self.idle_timeout),
        }
    }

    fn evicted(&self) -> bool {
        self.slot.evicted.load(Ordering::Acquire)
    }

    /// Called when the inner stream is not ready: arms the timer for the
    /// current deadline and the eviction notice, and says whether the
    /// connection must close now.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.slot.waker.register(cx.waker());
        if self.evicted() {
            return true;
        }
        let Some(deadline) = self.deadline() else {
            return false;
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }

    fn closing_error(&self) -> io::Error {
        if self.evicted() {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room for another client",
            )
        } else {
            timed_out()
        }
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
        if this.evicted() {
            return Poll::Ready(Err(this.closing_error()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                if filled.len() > before {
                    this.received(&filled[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(this.closing_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl GuardedStream {
    /// What every write does after the inner one: bytes going out mean an
    /// answer, after which the client has `idle_timeout` to take it and to
    /// ask again; a write that cannot proceed counts against that time.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.set_phase(Phase::Idle, Instant::now());
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.closing_error())),
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
        if this.evicted() {
            return Poll::Ready(Err(this.closing_error()));
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.evicted() {
            return Poll::Ready(Err(this.closing_error()));
        }
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(this.closing_error())),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const READ_TIMEOUT: Duration = Duration::from_secs(10);

    /// A guarded server with `max` slots, `/healthz` and a `/slow` answer
    /// that takes three read timeouts to render.
    async fn server(max: usize) -> (SocketAddr, Arc<Slots>) {
        let text = format!("[server]\nmax_connections = {max}\nread_timeout = \"10s\"\n");
        let config = crate::config::parse(std::path::Path::new("t.toml"), &text).unwrap();
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let listener = GuardedListener::new(inner, &config.server);
        let slots = listener.slots.clone();
        let app = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(READ_TIMEOUT * 3).await;
                    "done\n"
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, slots)
    }

    async fn wait_for(slots: &Slots, n: usize) {
        while slots.len() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Sends one request and reads the answer to the end.
    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_slowloris_connections_make_room_for_a_fresh_client() {
        let (addr, slots) = server(4).await;
        let mut hold = Vec::new();
        for _ in 0..3 {
            hold.push(TcpStream::connect(addr).await.unwrap());
        }
        for _ in 0..3 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            hold.push(s);
        }
        wait_for(&slots, 4).await;
        // Well inside every timeout: only making room can let it in.
        for _ in 0..3 {
            let got = tokio::time::timeout(Duration::from_secs(1), get_path(addr, "/healthz"))
                .await
                .expect("a fresh client is served while idle clients hold every slot");
            assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        }
        assert!(slots.len() <= 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_closed_at_the_first_byte_timeout() {
        let (addr, _slots) = server(4).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let r = tokio::time::timeout(FIRST_BYTE_TIMEOUT * 2, s.read(&mut buf))
            .await
            .expect("closed long before idle_timeout");
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_is_not_cut_by_read_timeout() {
        let (addr, _slots) = server(4).await;
        let got = get_path(addr, "/slow").await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(got.ends_with("done\n"), "{got}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_being_answered_is_never_closed_to_make_room() {
        let (addr, slots) = server(1).await;
        let slow = tokio::spawn(get_path(addr, "/slow"));
        wait_for(&slots, 1).await;
        // Until its head has arrived the slow request may still be evicted.
        loop {
            let answering = {
                let open = slots.open.lock().unwrap();
                open.values()
                    .any(|s| s.phase.load(Ordering::Acquire) == Phase::Answering as u8)
            };
            if answering {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let fresh = get_path(addr, "/healthz").await;
        assert!(fresh.starts_with("HTTP/1.1 200"), "{fresh}");
        let slow = slow.await.unwrap();
        assert!(slow.ends_with("done\n"), "{slow}");
    }
}
