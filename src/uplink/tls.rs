//! TLS for the uplink: one crypto provider for the whole process, and the CA, client
//! certificate and key read and checked when the config is applied — a missing, garbled or
//! mismatched file is an error that names it, never a panic at connect time.

use std::path::Path;
use std::sync::Arc;

use rumqttc::TlsConfiguration;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Makes ring the process's rustls crypto provider. rustls reaches this binary with two
/// providers (aws-lc-rs through rumqttc, ring through ureq) and then refuses to pick one: every
/// TLS handshake that relies on the process default would panic. Idempotent.
pub fn install_crypto_provider() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls client config for a broker whose certificate chains to `ca` (PEM), with the
/// client certificate and key (PEM) for mutual TLS when given.
pub fn client_config(
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> Result<TlsConfiguration, String> {
    install_crypto_provider();
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", ca.display()))?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!(
                    "{}: no private key in PEM form: {}",
                    key.display(),
                    pem_error(&e)
                )
            })?;
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

/// Every certificate of a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), pem_error(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "{}: not a PEM certificate: {}",
                path.display(),
                pem_error(&e)
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (PEM expected)",
            path.display()
        ));
    }
    Ok(certs)
}

/// A PEM error in words (the library's own text lists the missing marker as bytes).
fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "the \"-----END {}-----\" line is missing",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => format!(
            "a malformed BEGIN line: {:?}",
            String::from_utf8_lossy(line)
        ),
        Error::Base64Decode(why) => format!("the base64 body does not decode ({why})"),
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "nothing of the expected kind in it".into(),
        other => other.to_string(),
    }
}
