//! The one HTTP client the provider uses for Entra and ARM: rustls with the system roots plus,
//! when `ca_certificate` is set, the CA certificates from that PEM file.
//!
//! Also how a request that got no HTTP answer failed, because that decides whether retrying
//! can help: a certificate or TLS problem is the configuration's (permanent, reported at
//! once), an endpoint nobody answers on gets a short bounded retry (it may be starting), and a
//! connection that broke mid-request gets the ordinary retry schedule.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// How long establishing a connection (TCP and TLS) may take. Short enough that a black-holed
/// endpoint fails within the unreachable-endpoint budget of one or two attempts.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn build_client(ca_certificate: Option<&str>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("terraform-provider-aksid/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(Duration::from_secs(120));
    if let Some(path) = ca_certificate {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read ca_certificate {path:?}: {e}"))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_certificate {path:?} is not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err(format!("ca_certificate {path:?} holds no certificate"));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The CAs the client trusts, in words, for error messages.
pub fn trust_description(ca_certificate: Option<&str>) -> String {
    match ca_certificate {
        Some(path) => format!("the system roots + ca_certificate {path:?}"),
        None => "the system roots".to_string(),
    }
}

/// `scheme://host:port` of a URL (the port spelled out even when it is the default), or the
/// text itself when it is not a URL.
pub fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        // `host_str` keeps the brackets of an IPv6 address.
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// What is wrong with the TLS session, all of which retrying does not fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chain does not lead to a trusted CA.
    UnknownIssuer,
    /// The certificate is expired or not yet valid.
    Expired,
    /// The certificate is not issued for the host name used.
    WrongName,
    Revoked,
    /// Any other certificate defect (bad signature, wrong purpose, unparsable, …).
    BadCertificate,
    /// The handshake itself failed: no common protocol, an alert from the server, or a
    /// server that does not speak TLS at all (e.g. plain HTTP on an https endpoint).
    Handshake,
}

/// Why nothing answered. Retrying briefly may help (a server starting up), for long does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    Refused,
    Dns,
    ConnectTimeout,
}

/// A transport failure, classified by whether and how to retry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Permanent: the configuration (CA, endpoint) must change.
    Tls(TlsProblem),
    /// Short bounded retry, then an error naming the endpoint.
    Unreachable(Unreachable),
    /// The connection broke or a response timed out: the ordinary retry schedule.
    Interrupted,
}

impl Failure {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Tls(_))
    }

    /// The failure in words.
    pub fn describe(&self) -> &'static str {
        match self {
            Failure::Tls(TlsProblem::UnknownIssuer) => "the server's certificate is not issued by a trusted CA",
            Failure::Tls(TlsProblem::Expired) => "the server's certificate is expired or not yet valid",
            Failure::Tls(TlsProblem::WrongName) => "the server's certificate is not valid for this host name",
            Failure::Tls(TlsProblem::Revoked) => "the server's certificate is revoked",
            Failure::Tls(TlsProblem::BadCertificate) => "the server's certificate is not acceptable",
            Failure::Tls(TlsProblem::Handshake) => "the TLS handshake failed",
            Failure::Unreachable(Unreachable::Refused) => "connection refused",
            Failure::Unreachable(Unreachable::Dns) => "the host name does not resolve",
            Failure::Unreachable(Unreachable::ConnectTimeout) => "connecting timed out",
            Failure::Interrupted => "the connection failed",
        }
    }
}

/// The errors of a chain, seeing through `std::io::Error`, whose `source()` skips the error
/// it wraps (rustls reports through io errors).
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    // Bounded: a cyclic `source()` must not hang us.
    while let Some(e) = next.filter(|_| out.len() < 32) {
        out.push(e);
        next = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// The whole chain as one line, each message once.
pub fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for e in chain(err) {
        let m = e.to_string();
        if !text.contains(&m) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&m);
        }
    }
    text
}

fn tls_problem(e: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => TlsProblem::UnknownIssuer,
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                TlsProblem::Expired
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
            C::Revoked => TlsProblem::Revoked,
            _ => TlsProblem::BadCertificate,
        },
        _ => TlsProblem::Handshake,
    }
}

/// Classify from the error types in the chain (rustls, io, reqwest), if they tell.
pub fn classify_typed(err: &(dyn StdError + 'static)) -> Option<Failure> {
    let errors = chain(err);
    let reqwest_err = errors.iter().find_map(|e| e.downcast_ref::<reqwest::Error>());
    // TLS errors count only while connecting; a session that breaks later may recover.
    let connecting = reqwest_err.is_none_or(|r| r.is_connect());
    if connecting {
        if let Some(t) = errors.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
            return Some(Failure::Tls(tls_problem(t)));
        }
    }
    if let Some(io) = errors.iter().find_map(|e| e.downcast_ref::<std::io::Error>()) {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return Some(Failure::Unreachable(Unreachable::Refused)),
            std::io::ErrorKind::TimedOut if connecting => {
                return Some(Failure::Unreachable(Unreachable::ConnectTimeout))
            }
            _ => {}
        }
    }
    if let Some(r) = reqwest_err {
        if r.is_connect() && r.is_timeout() {
            return Some(Failure::Unreachable(Unreachable::ConnectTimeout));
        }
    }
    None
}

/// Classify from the text, for errors whose types are out of reach (another crate's copy of
/// rustls, an error flattened to a string on the way).
pub fn classify_message(text: &str) -> Option<Failure> {
    let t = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
    if has(&["invalid peer certificate", "certificate verify failed", "invalidcertificate"]) {
        let problem = if has(&["unknownissuer", "unknown issuer", "self signed", "self-signed"]) {
            TlsProblem::UnknownIssuer
        } else if has(&["expired", "notvalidyet", "not valid yet"]) {
            TlsProblem::Expired
        } else if has(&["notvalidforname", "not valid for name", "hostname mismatch"]) {
            TlsProblem::WrongName
        } else if has(&["revoked"]) {
            TlsProblem::Revoked
        } else {
            TlsProblem::BadCertificate
        };
        return Some(Failure::Tls(problem));
    }
    if has(&[
        "handshake failure",
        "tls handshake",
        "received fatal alert",
        "received corrupt message",
        "peer is incompatible",
        "peer misbehaved",
        "peer sent no certificates",
    ]) {
        return Some(Failure::Tls(TlsProblem::Handshake));
    }
    if has(&["connection refused"]) {
        return Some(Failure::Unreachable(Unreachable::Refused));
    }
    if has(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no such host",
        "nodename nor servname",
        "temporary failure in name resolution",
    ]) {
        return Some(Failure::Unreachable(Unreachable::Dns));
    }
    None
}

/// How a request that got no HTTP answer failed.
pub fn classify(err: &(dyn StdError + 'static)) -> Failure {
    classify_typed(err).or_else(|| classify_message(&chain_text(err))).unwrap_or(Failure::Interrupted)
}

/// An endpoint the provider cannot use: its TLS is not acceptable, or nothing answers. About
/// the provider's configuration (or the network), never about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    /// `scheme://host:port`
    pub endpoint: String,
    /// The provider attribute that names the endpoint, when one does.
    pub attribute: Option<&'static str>,
    /// `Failure::Tls` or `Failure::Unreachable`.
    pub failure: Failure,
    pub ca_certificate: Option<String>,
    /// The underlying error text.
    pub detail: String,
    /// How long we retried before giving up (unreachable endpoints).
    pub retried_for: Option<Duration>,
}

impl EndpointError {
    pub fn new(url: &str, attribute: Option<&'static str>, failure: Failure, ca: Option<&str>, detail: String) -> Self {
        EndpointError {
            endpoint: origin_of(url),
            attribute,
            failure,
            ca_certificate: ca.map(str::to_string),
            detail,
            retried_for: None,
        }
    }

    fn named(&self) -> String {
        match self.attribute {
            Some(a) => format!("{} ({a})", self.endpoint),
            None => self.endpoint.clone(),
        }
    }

    /// A short headline for a diagnostic summary.
    pub fn summary(&self) -> String {
        let what = self.attribute.unwrap_or("an Azure endpoint");
        match self.failure {
            Failure::Tls(TlsProblem::Handshake) => format!("TLS handshake with {what} failed"),
            Failure::Tls(_) => format!("TLS certificate of {what} not accepted"),
            _ => format!("cannot connect to {what}"),
        }
    }

    /// What to check, in words.
    pub fn advice(&self) -> String {
        let attr = self.attribute.unwrap_or("the endpoint settings");
        match self.failure {
            Failure::Tls(TlsProblem::UnknownIssuer) => match &self.ca_certificate {
                Some(_) => format!(
                    "Check that ca_certificate holds the CA that issued this endpoint's certificate, and that {attr} \
                     names the intended server."
                ),
                None => format!(
                    "If the endpoint uses a private CA (an emulator, a TLS-inspecting proxy), set ca_certificate to a PEM \
                     file with that CA; otherwise check that {attr} names the intended server."
                ),
            },
            Failure::Tls(TlsProblem::WrongName) => {
                format!("Check that {attr} uses a host name the server's certificate is issued for.")
            }
            Failure::Tls(TlsProblem::Expired) => {
                "Check the server's certificate and this machine's clock.".to_string()
            }
            Failure::Tls(_) => format!(
                "Check that {attr} is an https endpoint that speaks TLS (not plain HTTP), and that ca_certificate holds \
                 the right CA."
            ),
            _ => format!("Check that {attr} is correct and that the service is running and reachable from this machine."),
        }
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failure {
            Failure::Tls(_) => write!(
                f,
                "TLS connection to {} failed: {}. Trusted CAs: {}. {} (error: {})",
                self.named(),
                self.failure.describe(),
                trust_description(self.ca_certificate.as_deref()),
                self.advice(),
                self.detail
            ),
            _ => {
                write!(f, "cannot connect to {}: {}", self.named(), self.failure.describe())?;
                if let Some(d) = self.retried_for {
                    write!(f, " (retried for {:.1}s)", d.as_secs_f64())?;
                }
                write!(f, ". {} (error: {})", self.advice(), self.detail)
            }
        }
    }
}

impl StdError for EndpointError {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A server configuration for `127.0.0.1` whose certificate a fresh CA issued; that CA's
    /// PEM is written into `dir` and its path returned (for `ca_certificate`).
    pub(crate) fn trusted_server_config(dir: &std::path::Path) -> (String, Arc<rustls::ServerConfig>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "aksid test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], key)
                .unwrap();
        (ca_path.display().to_string(), Arc::new(config))
    }

    /// A TLS server on loopback whose self-signed certificate no trusted CA issued; counts
    /// the connections it accepts.
    pub(crate) async fn untrusted_tls_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = acceptor.accept(tcp).await;
            }
        });
        (addr, count)
    }

    /// An error with a message and an optional source, like those of hyper and reqwest.
    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn StdError + Send + Sync + 'static>>);
    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    fn wrapped(inner: impl StdError + Send + Sync + 'static) -> Wrap {
        Wrap("error sending request", Some(Box::new(Wrap("client error (Connect)", Some(Box::new(inner))))))
    }

    #[test]
    fn rustls_errors_behind_io_errors_are_permanent_tls_problems() {
        use rustls::CertificateError as C;
        for (cert, want) in [
            (C::UnknownIssuer, TlsProblem::UnknownIssuer),
            (C::Expired, TlsProblem::Expired),
            (C::NotValidForName, TlsProblem::WrongName),
            (C::Revoked, TlsProblem::Revoked),
            (C::BadSignature, TlsProblem::BadCertificate),
        ] {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(cert));
            let e = wrapped(io);
            assert_eq!(classify_typed(&e), Some(Failure::Tls(want)));
            assert!(classify(&e).is_permanent());
        }
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert_eq!(classify(&wrapped(alert)), Failure::Tls(TlsProblem::Handshake));
    }

    #[test]
    fn refused_and_timed_out_connections_are_unreachable() {
        let refused = wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&refused), Failure::Unreachable(Unreachable::Refused));
        assert!(!classify(&refused).is_permanent());
        let timeout = wrapped(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(classify(&timeout), Failure::Unreachable(Unreachable::ConnectTimeout));
        let reset = wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&reset), Failure::Interrupted);
    }

    #[test]
    fn messages_classify_when_types_are_out_of_reach() {
        let cases = [
            ("invalid peer certificate: UnknownIssuer", Some(Failure::Tls(TlsProblem::UnknownIssuer))),
            ("invalid peer certificate: Expired", Some(Failure::Tls(TlsProblem::Expired))),
            ("invalid peer certificate: NotValidForName", Some(Failure::Tls(TlsProblem::WrongName))),
            ("received fatal alert: HandshakeFailure", Some(Failure::Tls(TlsProblem::Handshake))),
            ("received corrupt message of type InvalidContentType", Some(Failure::Tls(TlsProblem::Handshake))),
            ("tcp connect error: Connection refused (os error 111)", Some(Failure::Unreachable(Unreachable::Refused))),
            (
                "dns error: failed to lookup address information: Name or service not known",
                Some(Failure::Unreachable(Unreachable::Dns)),
            ),
            ("connection reset by peer", None),
            // A host name that merely contains "tls" is not a TLS failure.
            ("error sending request for url (https://tls-proxy.example/): connection closed", None),
        ];
        for (text, want) in cases {
            assert_eq!(classify_message(text), want, "{text}");
        }
        let flat = Wrap("outer", Some(Box::new(Wrap("invalid peer certificate: UnknownIssuer", None))));
        assert_eq!(classify(&flat), Failure::Tls(TlsProblem::UnknownIssuer));
        assert_eq!(classify(&Wrap("something else", None)), Failure::Interrupted);
    }

    #[test]
    fn origins_spell_out_the_port() {
        assert_eq!(origin_of("https://management.azure.com/"), "https://management.azure.com:443");
        assert_eq!(origin_of("https://127.0.0.1:8443/x?y=1"), "https://127.0.0.1:8443");
        assert_eq!(origin_of("https://[::1]:9/"), "https://[::1]:9");
        assert_eq!(origin_of("not a url"), "not a url");
    }

    #[test]
    fn endpoint_errors_name_the_endpoint_the_ca_and_what_to_check() {
        let e = EndpointError::new(
            "https://127.0.0.1:8443/subscriptions",
            Some("arm_endpoint"),
            Failure::Tls(TlsProblem::UnknownIssuer),
            Some("/tmp/ca.pem"),
            "invalid peer certificate: UnknownIssuer".into(),
        );
        let text = e.to_string();
        for want in ["https://127.0.0.1:8443 (arm_endpoint)", "ca_certificate \"/tmp/ca.pem\"", "UnknownIssuer"] {
            assert!(text.contains(want), "{want} in {text}");
        }
        let e = EndpointError { ca_certificate: None, ..e };
        assert!(e.to_string().contains("Trusted CAs: the system roots."), "{e}");
        let mut r = EndpointError::new(
            "https://127.0.0.1:1/",
            Some("authority_host"),
            Failure::Unreachable(Unreachable::Refused),
            None,
            "Connection refused".into(),
        );
        r.retried_for = Some(Duration::from_millis(4200));
        let text = r.to_string();
        assert!(text.contains("cannot connect to https://127.0.0.1:1 (authority_host): connection refused"), "{text}");
        assert!(text.contains("retried for 4.2s") && text.contains("Check that authority_host"), "{text}");
        assert_eq!(r.summary(), "cannot connect to authority_host");
    }

    /// Real failures through reqwest: the typed path, not only the message fallback, sees them.
    #[tokio::test]
    async fn real_reqwest_failures_classify_by_type() {
        use tokio::io::AsyncWriteExt;
        let client = build_client(None).unwrap();

        // Nothing listens: refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = client.get(format!("https://127.0.0.1:{port}/")).send().await.unwrap_err();
        assert_eq!(classify_typed(&err), Some(Failure::Unreachable(Unreachable::Refused)), "{err:?}");

        // A TLS server whose certificate no trusted CA issued.
        let (addr, accepted) = untrusted_tls_server().await;
        let err = client.get(format!("https://{addr}/")).send().await.unwrap_err();
        assert_eq!(classify_typed(&err), Some(Failure::Tls(TlsProblem::UnknownIssuer)), "{err:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // Plain HTTP on an https endpoint: the handshake fails.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        });
        let err = client.get(format!("https://{addr}/")).send().await.unwrap_err();
        assert_eq!(classify(&err), Failure::Tls(TlsProblem::Handshake), "{err:?}");
        server.await.unwrap();
    }
}
