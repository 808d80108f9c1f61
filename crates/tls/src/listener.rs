//! The TLS listener: TCP accept, then each handshake in its own task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ServerTls;

/// The longest a client may take to complete its handshake; a connection
/// that stays silent is closed after it instead of holding a slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once; beyond it the listener stops
/// accepting until one ends, as a plain server stops at its file limit.
const MAX_HANDSHAKES: usize = 1024;

/// Completed handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// An axum [`Listener`](axum::serve::Listener) over TLS: a background task
/// accepts TCP connections and runs each handshake in a task of its own
/// (bounded in time and number), so a slow or silent client delays no
/// other. Connections whose handshake fails (a plain-HTTP request, an
/// untrusted or mismatched client) are closed and logged at debug level,
/// without the client's address. Dropping the listener stops accepting and
/// closes the socket.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: AbortOnDrop,
}

/// Aborts the accept task when the listener goes, which closes the socket.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TlsListener {
    /// Wraps a bound TCP listener. Call it inside a Tokio runtime: the
    /// accept task starts at once.
    pub fn new(listener: TcpListener, tls: &ServerTls) -> Self {
        // A bound listener knows its address; the unspecified fallback only
        // matters if the socket was closed under us, when nothing is served.
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let task = tokio::spawn(accept_loop(listener, tls.acceptor(), tx));
        TlsListener {
            local,
            ready,
            accepting: AbortOnDrop(task),
        }
    }
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("local", &self.local)
            .field("accepting", &!self.accepting.0.is_finished())
            .finish()
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task never ends by itself; if it was gone, there
            // would be nothing more to accept.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return; // never closed
        };
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_error(error).await;
                continue;
            }
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
            drop(slot);
            match handshake {
                Ok(Ok(stream)) => {
                    // The server is gone when this fails: the stream closes.
                    let _ = ready.send((stream, addr)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, "A TLS handshake failed."),
                Err(_) => tracing::debug!("A TLS handshake timed out."),
            }
        });
    }
}

/// As axum's own TCP listener does: a connection that went away before it
/// was accepted is no trouble; anything else (out of file descriptors) is
/// logged and waited out for a second.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "Accepting a connection failed; retrying in a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
