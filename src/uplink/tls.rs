//! TLS for the uplink: the CA, client certificate and key read and checked (`crate::tls`) when
//! the config is applied — a missing, garbled or mismatched file is an error that names it,
//! never a panic at connect time.

use std::path::Path;
use std::sync::Arc;

use rumqttc::TlsConfiguration;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::{certificates, private_key, provider};

/// The rustls client config for a broker whose certificate chains to `ca` (PEM), with the
/// client certificate and key (PEM) for mutual TLS when given.
pub fn client_config(
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> Result<TlsConfiguration, String> {
    crate::tls::install_crypto_provider();
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", ca.display()))?;
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key = private_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!(
                    "{} and its key do not make a client certificate: {e}",
                    cert.display()
                )
            })?
        }
    };
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}
