//! A socket whose writes must make progress: a write or flush that stays pending for longer than the
//! deadline fails, so the connection ends and gives back its slot and its buffers. A client that stops
//! reading a response (a large page, an event stream) holds neither for longer than that.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

/// `inner` with a deadline on each stalled write.
#[derive(Debug)]
pub struct WriteDeadline<T> {
    inner: T,
    deadline: Duration,
    /// Running while a write is pending: since when the client has taken nothing.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    /// `inner`, whose writes fail after `deadline` without progress.
    pub fn new(inner: T, deadline: Duration) -> Self {
        WriteDeadline {
            inner,
            deadline,
            stalled: None,
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// What a write that returned `poll` means under the deadline.
    fn check<R>(&mut self, poll: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let deadline = self.deadline;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(sleep(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took nothing of the response within the write deadline",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.check(poll, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.check(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.check(poll, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.check(poll, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_after_the_deadline() {
        // A pipe whose reader never reads: once its buffer is full, writes pend.
        let (client, server) = tokio::io::duplex(64);
        let mut writer = WriteDeadline::new(server, Duration::from_secs(5));
        let error = writer
            .write_all(&[0u8; 1024])
            .await
            .expect_err("nobody reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_up_is_not_cut_off() {
        let (mut client, server) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 16];
            let mut total = 0;
            while total < 1024 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                total += client.read(&mut buf).await.expect("read");
            }
            total
        });
        let mut writer = WriteDeadline::new(server, Duration::from_secs(5));
        writer
            .write_all(&[0u8; 1024])
            .await
            .expect("the reader keeps up");
        assert_eq!(reader.await.expect("join"), 1024);
    }
}
