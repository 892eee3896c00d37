//! The gRPC channel to BuildKit over the process's stdin/stdout.
//!
//! BuildKit runs the frontend with two pipes: it writes HTTP/2 frames into the
//! frontend's stdin and reads the replies from its stdout, acting as the gRPC
//! **server** (`(&http2.Server{}).ServeConn` in `frontend/gateway/gateway.go`).
//! The frontend is the client: one HTTP/2 connection, authority `localhost`,
//! no TLS, no auth metadata.
//!
//! Rules that follow from this:
//! * **stdout is the wire.** Nothing may print to stdout in gateway mode; log
//!   to stderr. [`StdioStream::take`] points fd 1 at stderr after taking the
//!   pipe, so a stray `println!` ends up in the daemon log instead of
//!   corrupting the HTTP/2 stream.
//! * **Connect at once.** BuildKit's HTTP/2 server waits at most 10 s for the
//!   client preface; [`connect_stdio`] writes it before returning.
//! * **One connection only.** The pipes cannot be redialled: the connector
//!   hands the stream out once; if the connection breaks, tonic's reconnect
//!   attempt gets an I/O error and the calls fail instead of hanging.
//! * **Exit after `Return`.** BuildKit keeps stdin open until the process
//!   exits. The pipes are non-blocking and driven by tokio's reactor, so no
//!   thread is stuck in a `read(0)` and runtime shutdown is not blocked; still,
//!   call `std::process::exit(0)` once the `Return` response has arrived.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;
use tonic::transport::{Channel, Endpoint, Uri};

/// The URI the channel is created with. Only its authority matters: it is sent
/// as `:authority` (the Go client dials "localhost" too).
pub const ENDPOINT_URI: &str = "http://localhost";

/// Errors setting up the stdio transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `StdioStream::take` was already called in this process.
    #[error("the stdio transport to BuildKit was already taken")]
    AlreadyTaken,
    /// fd 0 or fd 1 is not usable as a pipe (for example when the binary is
    /// run from a terminal instead of by BuildKit's gateway).
    #[error("{fd} is not a pipe that BuildKit can talk over ({source}); is this running as a BuildKit gateway frontend?")]
    NotAPipe {
        /// "stdin" or "stdout".
        fd: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A system call on the stdio file descriptors failed.
    #[error("setting up the stdio transport: {0}")]
    Io(#[from] io::Error),
    /// The HTTP/2 connection could not be established.
    #[error("connecting to BuildKit over stdio: {0}")]
    Connect(#[source] tonic::transport::Error),
}

static TAKEN: AtomicBool = AtomicBool::new(false);

/// stdin (read half) and stdout (write half) as one non-blocking duplex
/// stream, registered with the tokio reactor.
#[derive(Debug)]
pub struct StdioStream {
    rx: pipe::Receiver,
    tx: pipe::Sender,
}

impl StdioStream {
    /// Takes fds 0 and 1 for the gRPC connection. Can be called once per
    /// process, from inside a tokio runtime with I/O enabled.
    ///
    /// Both fds are duplicated and the duplicates are switched to
    /// `O_NONBLOCK` (this affects the pipes' shared open file descriptions).
    /// Afterwards fd 1 is re-pointed at stderr (`dup2(2, 1)`), so later writes
    /// to stdout cannot reach the wire. fd 0 is left as is: do not read stdin.
    pub fn take() -> Result<Self, TransportError> {
        if TAKEN.swap(true, Ordering::SeqCst) {
            return Err(TransportError::AlreadyTaken);
        }
        let stdin: OwnedFd = io::stdin().as_fd().try_clone_to_owned()?;
        let stdout: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        let rx =
            pipe::Receiver::from_owned_fd(stdin).map_err(|source| TransportError::NotAPipe {
                fd: "stdin",
                source,
            })?;
        let tx =
            pipe::Sender::from_owned_fd(stdout).map_err(|source| TransportError::NotAPipe {
                fd: "stdout",
                source,
            })?;
        redirect_stdout_to_stderr()?;
        Ok(StdioStream { rx, tx })
    }

    /// Builds the stream from any pipe pair (tests, or fds passed some other
    /// way). `rx` must be the read end and `tx` the write end of pipes.
    pub fn from_pipes(rx: pipe::Receiver, tx: pipe::Sender) -> Self {
        StdioStream { rx, tx }
    }
}

fn redirect_stdout_to_stderr() -> io::Result<()> {
    // Anything still sitting in std's stdout buffer is flushed to the new
    // fd 1 (stderr), not onto the wire.
    // SAFETY: dup2 on two fds this process owns for its whole lifetime.
    let r = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl AsyncRead for StdioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.rx).poll_read(cx, buf)
    }
}

impl AsyncWrite for StdioStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tx).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tx).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tx.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tx).poll_shutdown(cx)
    }
}

/// Takes stdin/stdout ([`StdioStream::take`]) and opens the HTTP/2 connection
/// to BuildKit over them. Call this first thing at startup (10 s preface
/// timeout on BuildKit's side).
pub async fn connect_stdio() -> Result<Channel, TransportError> {
    let stream = StdioStream::take()?;
    connect(stream).await
}

/// Opens a gRPC channel over an already connected byte stream. The stream is
/// handed to tonic exactly once; if the connection breaks, tonic's reconnect
/// attempt gets an error and the pending and later calls fail.
pub async fn connect<IO>(io: IO) -> Result<Channel, TransportError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = Arc::new(Mutex::new(Some(io)));
    let connector = tower::service_fn(move |_: Uri| {
        let taken = slot.lock().map(|mut s| s.take()).unwrap_or(None);
        std::future::ready(match taken {
            Some(io) => Ok(TokioIo::new(io)),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the stdio connection to BuildKit was closed and cannot be re-established",
            )),
        })
    });
    Endpoint::from_static(ENDPOINT_URI)
        .connect_with_connector(connector)
        .await
        .map_err(TransportError::Connect)
}
