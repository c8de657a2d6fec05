//! Running the gRPC server the way go-plugin expects: bind a unix socket (TCP on loopback as a
//! fallback), print the handshake line, wrap connections in mTLS when Terraform asked for it,
//! and exit promptly when Terraform says so.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, TryLockError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::transport::Server;

use super::handshake::Address;
use super::services::{Controller, Stdio};
use crate::proto::go_plugin as gp;
use crate::protocol::ProviderService;

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After Shutdown, in-flight responses get this long before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// The unix socket this process listens on. A static, because the panic hook cannot be handed
/// a value and `std::process::exit` runs no destructors: every exit path removes it from here.
static SOCKET_FILE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Remove this process's unix socket file, if there is one. Safe to call from any exit path,
/// more than once, and from the panic hook (it never blocks and never panics).
pub fn remove_socket_file() {
    let mut slot = match SOCKET_FILE.try_lock() {
        Ok(slot) => slot,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        // Only another remover or the registration holds the lock, briefly; it removes the file.
        Err(TryLockError::WouldBlock) => return,
    };
    if let Some(path) = slot.take() {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes the socket file when dropped: when the listener is dropped on an early error return,
/// and when `serve` returns or unwinds.
struct SocketFileGuard;

impl Drop for SocketFileGuard {
    fn drop(&mut self) {
        remove_socket_file();
    }
}

/// SIGTERM and SIGINT, caught from before the address is announced, so a signal that arrives
/// right after the handshake still goes through the cleanup instead of killing the process.
struct Signals {
    term: Signal,
    int: Signal,
}

enum Socket {
    Unix(UnixListener, SocketFileGuard),
    Tcp(TcpListener),
}

pub struct Listener {
    socket: Socket,
    signals: Signals,
}

impl Listener {
    /// A unix socket in `PLUGIN_UNIX_SOCKET_DIR` (or the temp dir); loopback TCP if that fails.
    pub async fn bind() -> io::Result<(Listener, Address)> {
        let signals = Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? };
        let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("plugin-aksid-{}-{}.sock", std::process::id(), uuid::Uuid::new_v4().simple()));
        match UnixListener::bind(&path) {
            Ok(l) => {
                *SOCKET_FILE.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.clone());
                let guard = SocketFileGuard;
                set_socket_group(&path);
                let addr = Address::Unix(path.to_string_lossy().into_owned());
                Ok((Listener { socket: Socket::Unix(l, guard), signals }, addr))
            }
            Err(e) => {
                tracing::warn!(error = %e, "unix socket unavailable, falling back to TCP on 127.0.0.1");
                let l = TcpListener::bind("127.0.0.1:0").await?;
                let addr = Address::Tcp(l.local_addr()?.to_string());
                Ok((Listener { socket: Socket::Tcp(l), signals }, addr))
            }
        }
    }
}

/// go-plugin lets the client name a group that must own the socket.
fn set_socket_group(path: &Path) {
    if let Ok(group) = std::env::var("PLUGIN_UNIX_SOCKET_GROUP") {
        if let Ok(gid) = group.parse::<u32>() {
            let _ = std::os::unix::fs::chown(path, None, Some(gid));
        }
    }
}

/// A connection as tonic sees it: plaintext or TLS over unix or TCP.
pub enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    TlsUnix(Box<tokio_rustls::server::TlsStream<tokio::net::UnixStream>>),
    TlsTcp(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Conn::Unix($s) => $e,
            Conn::Tcp($s) => $e,
            Conn::TlsUnix($s) => $e,
            Conn::TlsTcp($s) => $e,
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Accept connections forever, doing each TLS handshake in its own task so a slow or hostile
/// client cannot hold up others; only completed connections reach the gRPC server.
fn accept_loop(socket: Socket, tls: Option<TlsAcceptor>) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = match &socket {
                Socket::Unix(l, _) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
                Socket::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
            };
            let conn = match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let tx = tx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let ready = match (tls, conn) {
                    (None, c) => c,
                    (Some(acc), Conn::Unix(s)) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acc.accept(s)).await {
                            Ok(Ok(t)) => Conn::TlsUnix(Box::new(t)),
                            Ok(Err(e)) => return tracing::warn!(error = %e, "refused TLS connection"),
                            Err(_) => return tracing::warn!("TLS handshake timed out"),
                        }
                    }
                    (Some(acc), Conn::Tcp(s)) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acc.accept(s)).await
                    {
                        Ok(Ok(t)) => Conn::TlsTcp(Box::new(t)),
                        Ok(Err(e)) => return tracing::warn!(error = %e, "refused TLS connection"),
                        Err(_) => return tracing::warn!("TLS handshake timed out"),
                    },
                    (Some(_), other) => other,
                };
                let _ = tx.send(Ok(ready)).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Serve the provider and the go-plugin services on `listener` until Terraform asks us to
/// shut down or SIGTERM arrives (and, with `stop_on_signal`, on SIGINT too: debug mode).
pub async fn serve(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: ProviderService,
    stop_on_signal: bool,
) -> io::Result<()> {
    let _socket_file = SocketFileGuard;
    let Listener { socket, signals: Signals { mut term, mut int } } = listener;
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;

    let incoming = accept_loop(socket, tls.map(TlsAcceptor::from));
    // Graceful shutdown would wait for Terraform to close its connection, which it does not do
    // before killing us: once asked to stop, give in-flight responses a moment, then exit.
    let shutdown = async move {
        tokio::select! {
            _ = shutdown_rx.wait_for(|v| *v) => {}
            _ = term.recv() => tracing::debug!("SIGTERM received, shutting down"),
            _ = int.recv(), if stop_on_signal => {}
        }
        remove_socket_file();
        exit_after_grace();
    };

    Server::builder()
        .add_service(health_service)
        .add_service(gp::grpc_controller_server::GrpcControllerServer::new(Controller { shutdown: shutdown_tx }))
        .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(service.into_server())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(io::Error::other)
}

/// Exit the process shortly after shutdown began, even if connections are still open.
pub fn exit_after_grace() {
    std::thread::spawn(|| {
        std::thread::sleep(SHUTDOWN_GRACE);
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_listener_removes_the_socket_file_and_removal_is_idempotent() {
        let (listener, addr) = Listener::bind().await.unwrap();
        let Address::Unix(path) = addr else { panic!("expected a unix socket, got {addr:?}") };
        assert!(Path::new(&path).exists());
        // Dropping the listener (an early error return in main) removes the file.
        drop(listener);
        assert!(!Path::new(&path).exists(), "dropping the listener removes the socket");
        // A second removal (the panic hook after the shutdown path) is harmless.
        remove_socket_file();
        assert!(SOCKET_FILE.lock().unwrap().is_none());
    }
}
