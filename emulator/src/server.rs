//! Router assembly and the TLS accept loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::faults::DropConnection;
use crate::seed::Seed;
use crate::store::Store;

/// Start-up options (the CLI flags).
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub seed: Seed,
    pub state_path: Option<PathBuf>,
    pub ca_dir: Option<PathBuf>,
}

/// The JSON line printed on stdout once the server accepts connections.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReadyInfo {
    pub arm_endpoint: String,
    pub authority_host: String,
    pub kubernetes_host: String,
    pub ca_certificate: String,
    pub tenant_id: String,
    pub admin: String,
    pub identity_endpoint: String,
    pub identity_header: String,
    /// GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL` for seeded `github` pipelines.
    pub github_oidc_request_url: String,
    /// Azure DevOps' `SYSTEM_OIDCREQUESTURI` for seeded `azure_devops` pipelines.
    pub ado_oidc_request_uri: String,
}

/// A running emulator.
pub struct Server {
    pub info: ReadyInfo,
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Stop accepting connections and wait for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(crate::entra::token_endpoint))
        .route("/msi/token", get(crate::entra::msi_endpoint))
        .route("/github/idtoken", get(crate::entra::pipelines::github_endpoint))
        .route("/ado/oidctoken", post(crate::entra::pipelines::ado_endpoint))
        .route("/k8s", any(crate::k8s::handle))
        .route("/k8s/{*rest}", any(crate::k8s::handle))
        .nest("/_admin", crate::admin::router())
        .fallback(crate::arm::handle)
        .layer(from_fn_with_state(app.clone(), crate::middleware::inject))
        .layer(from_fn_with_state(app.clone(), crate::arm::headers_middleware))
        .layer(from_fn_with_state(app.clone(), crate::middleware::record))
        .with_state(app)
}

fn default_ca_dir() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for _ in 0..16 {
        let dir = base.join(format!("aksid-emulator-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create a CA directory in {}: {e}", base.display())),
        }
    }
    Err("cannot create a unique CA directory".into())
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Collapse repeated slashes (`https://host/` + `/subscriptions/…` gives `//subscriptions/…`)
/// so routing sees the canonical path.
fn normalize_path(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if !path.contains("//") {
        return req;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && collapsed.ends_with('/') {
            continue;
        }
        collapsed.push(c);
    }
    let pq = match req.uri().query() {
        Some(q) => format!("{collapsed}?{q}"),
        None => collapsed,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(v) = pq.parse() {
        parts.path_and_query = Some(v);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Bind, set up TLS and the store, and start serving.
pub async fn start(opts: Options) -> Result<Server, String> {
    if !opts.addr.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {}: the emulator only binds loopback addresses (127.0.0.1, ::1) because its admin API has no authentication",
            opts.addr.ip()
        ));
    }
    let listener = TcpListener::bind(opts.addr).await.map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    let ca_dir = match &opts.ca_dir {
        Some(d) => d.clone(),
        None => default_ca_dir()?,
    };
    let tls = crate::tls::setup(&ca_dir)?;

    let now = time::OffsetDateTime::now_utc();
    let store = match &opts.state_path {
        Some(p) => match crate::store::load_state(p)? {
            Some(state) => {
                tracing::info!(path = %p.display(), "restoring state");
                Store::from_state(state, &opts.seed)?
            }
            None => Store::from_seed(&opts.seed, now)?,
        },
        None => Store::from_seed(&opts.seed, now)?,
    };
    let tenant = store.default_tenant().to_string();
    let host = if addr.is_ipv6() { format!("[{}]:{}", addr.ip(), addr.port()) } else { addr.to_string() };
    let base_url = format!("https://{host}");
    let identity_header = crate::util::random_secret();
    let app = Arc::new(App::new(
        store,
        opts.state_path.clone(),
        identity_header.clone(),
        tls.ca_pem.clone(),
        base_url.clone(),
    ));
    app.persist_now();

    let info = ReadyInfo {
        arm_endpoint: format!("{base_url}/"),
        authority_host: format!("{base_url}/"),
        kubernetes_host: format!("{base_url}/k8s"),
        ca_certificate: tls.ca_path.to_string_lossy().into_owned(),
        tenant_id: tenant,
        admin: format!("{base_url}/_admin"),
        identity_endpoint: format!("{base_url}/msi/token"),
        github_oidc_request_url: format!("{base_url}/github/idtoken?api-version=2.0"),
        ado_oidc_request_uri: format!("{base_url}/ado/oidctoken"),
        identity_header,
    };

    let (tx, rx) = watch::channel(false);
    let acceptor = TlsAcceptor::from(tls.server_config.clone());
    let router = router(app.clone());
    let task = tokio::spawn(accept_loop(listener, acceptor, router, rx));
    Ok(Server { info, addr, app, shutdown: tx, task })
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, router: Router, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                async move {
                    use tower::ServiceExt;
                    let req = normalize_path(req.map(axum::body::Body::new));
                    let resp = match router.oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(Dropped);
                    }
                    Ok(resp)
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = conn_stop.changed() => {}
            }
        });
    }
}
