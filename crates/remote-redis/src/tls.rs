//! TLS for `rediss://` URLs, with the `tls` feature: the client's rustls, with the system's
//! root certificates, and the process-wide crypto provider rustls needs (ring), installed at
//! the first `rediss://` connection unless the application installed one.

#[cfg(feature = "tls")]
pub(crate) fn prepare() {
    // An application (or an earlier connection) may have installed a provider already; that
    // one stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(not(feature = "tls"))]
pub(crate) fn prepare() {}

/// The error of a `rediss://` URL the client refused: without the `tls` feature, a typed input
/// error naming it.
pub(crate) fn refused(error: redis::RedisError) -> remote_core::Error {
    if !cfg!(feature = "tls") && error.kind() == redis::ErrorKind::InvalidClientConfig {
        return remote_core::Error::InvalidInput(format!(
            "rediss:// URLs need the `tls` feature of remote-redis ({error})"
        ));
    }
    remote_core::Error::store("parsing the Redis connection URL", error)
}
