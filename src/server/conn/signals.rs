//! What the watchdog learns from: a guard around a request's handling, the
//! response body (polled, dropped) and the socket (bytes read, writes refused).

use hyper::body::{Body, Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{BODY, ConnState, RUNNING};

/// A handler that is running; dropped without [`InFlight::respond`], the
/// request was cancelled.
pub(crate) struct InFlight(pub(super) Option<Arc<ConnState>>);

impl InFlight {
    /// The handler answered: the response's body now holds the connection busy.
    pub(crate) fn respond<B>(mut self, resp: http::Response<B>) -> http::Response<Tracked<B>> {
        let state = self.0.take();
        if let Some(s) = &state {
            s.handler_done();
        }
        resp.map(|inner| Tracked { inner, state })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.finished(RUNNING);
        }
    }
}

/// A response body that tells the watchdog when hyper takes from it and
/// when it is finished (dropped).
pub(crate) struct Tracked<B> {
    inner: B,
    state: Option<Arc<ConnState>>,
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            s.finished(BODY);
        }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Some(s) = &self.state {
            s.body_progress.store(s.now_ms(), Ordering::Relaxed);
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling the watchdog when bytes arrive and when the client
/// stops taking them.
pub(crate) struct Metered<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> Metered<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnState>) -> Metered<T> {
        Metered { inner, state }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> Metered<T> {
    fn note(&self, written: &Poll<io::Result<usize>>) {
        match written {
            Poll::Ready(Ok(n)) if *n > 0 => self.state.on_write(true),
            Poll::Pending => self.state.on_write(false),
            Poll::Ready(_) => {}
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&written);
        written
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
