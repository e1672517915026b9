//! libvirt's TLS transport (`qemu+tls://host/system`, port 16514): the server's certificate and
//! key, the client certificate checks, and the client's identity.
//!
//! Steps for one client (libvirt's order, `virNetServerClientCheckAccess`):
//! 1. TCP accept; the client takes a `max_clients` slot at once;
//! 2. TLS handshake (TLS 1.2 or 1.3, rustls with the *ring* provider). The client must present a
//!    certificate that chains to `ca_file`, is within its validity dates, is not on a revocation
//!    list in `crl_file`, has `clientAuth` in its extended key usage if it has one, and whose
//!    distinguished name matches a pattern of `tls_allowed_dn_list` (when that is set). Any
//!    failure aborts the handshake with an alert; the daemon logs the reason and writes it to the
//!    audit log ([`ClientRefused`] carries the name when the certificate could be read);
//! 3. the server sends one byte, `1`, inside the TLS stream: libvirt clients wait for it before
//!    their first call and report "server verification failed" without it;
//! 4. the libvirt protocol runs unchanged over the TLS stream. The connection is read-write, and
//!    its identity for the access drivers is the certificate's distinguished name
//!    ([`crate::identity::RemotePeer`]); the `rules` driver matches it with `x509_dns`, polkit
//!    denies it (it judges local processes only).
//!
//! The distinguished name is written as GnuTLS's `gnutls_x509_crt_get_dn` writes it, which is the
//! string libvirt's `tls_allowed_dn_list` patterns and `virt-pki-query-dn` use: the RDNs in
//! certificate order (`C=GB,O=Example,CN=client`), short attribute names, `+` between the
//! attributes of one RDN, and `\` before the special characters of RFC 4514.
//!
//! [`TlsState`] holds the server configuration behind a lock so that SIGHUP can replace it: the
//! files are read and checked completely first, and a failure keeps the configuration in force.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use acl::rules::Glob;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    ServerConfig, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

use crate::config::TlsConfig;

/// Largest certificate, key or CRL file read, in bytes.
pub const PKI_FILE_MAX_LEN: u64 = 1024 * 1024;

/// Why the TLS configuration could not be built from its files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {path}")]
    Read {
        /// Which file (`key_file`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`PKI_FILE_MAX_LEN`].
    #[error("{what} {path} is larger than {PKI_FILE_MAX_LEN} bytes")]
    TooLarge {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A file holds no usable PEM block of the expected kind.
    #[error("{what} {path} holds no PEM {kind}")]
    NoPem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for.
        kind: &'static str,
    },
    /// A PEM block could not be decoded.
    #[error("{what} {path} is not valid PEM")]
    Pem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A CA certificate was refused as a trust anchor.
    #[error("ca_file {path}: cannot use a certificate as a trust anchor")]
    Anchor {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The client certificate checks could not be built (a bad CRL, say).
    #[error("cannot set up client certificate checks from {ca} and {crl}")]
    Verifier {
        /// `ca_file`.
        ca: PathBuf,
        /// `crl_file`.
        crl: PathBuf,
        /// Why.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// The certificate and key do not make a usable server identity.
    #[error("cannot use cert_file {cert} with key_file {key}")]
    ServerIdentity {
        /// `cert_file`.
        cert: PathBuf,
        /// `key_file`.
        key: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

/// Why a client was refused during the handshake, with its certificate's name when the
/// certificate could be read.
#[derive(Debug, thiserror::Error)]
#[error("certificate '{dn}' refused")]
pub struct ClientRefused {
    /// The certificate's distinguished name.
    pub dn: String,
    /// The check that failed.
    #[source]
    pub reason: Refusal,
}

/// The check a client certificate failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not from the CA, expired, revoked, not for client use (webpki's checks).
    #[error(transparent)]
    Certificate(rustls::Error),
    /// The subject is not on `tls_allowed_dn_list`.
    #[error("distinguished name is not on tls_allowed_dn_list")]
    DnNotAllowed,
}

/// The TLS server configuration in force, replaceable on SIGHUP.
#[derive(Debug)]
pub struct TlsState {
    settings: Mutex<TlsConfig>,
    server: RwLock<Arc<ServerConfig>>,
}

impl TlsState {
    /// Reads the files named by `settings` and builds the server configuration.
    pub fn load(settings: &TlsConfig) -> Result<Self, TlsError> {
        Ok(Self {
            server: RwLock::new(server_config(settings)?),
            settings: Mutex::new(settings.clone()),
        })
    }

    /// The configuration for the next handshake.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self.server.read().unwrap_or_else(PoisonError::into_inner);
        tokio_rustls::TlsAcceptor::from(Arc::clone(&config))
    }

    /// Re-reads the certificate, key, CA and CRL files (with `settings` if given, else the
    /// settings in force). On error nothing changes; connections already made are not affected.
    pub fn reload(&self, settings: Option<&TlsConfig>) -> Result<(), TlsError> {
        let mut current = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        let settings = settings.unwrap_or(&current).clone();
        let config = server_config(&settings)?;
        *self.server.write().unwrap_or_else(PoisonError::into_inner) = config;
        *current = settings;
        Ok(())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration: the server's chain and key, and a verifier that requires a
/// client certificate from the CA, checks CRLs, and then the DN allow list.
pub fn server_config(settings: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates("cert_file", &settings.cert_file)?;
    let key = private_key(&settings.key_file)?;
    let mut roots = RootCertStore::empty();
    for ca in certificates("ca_file", &settings.ca_file)? {
        roots.add(ca).map_err(|source| TlsError::Anchor {
            path: settings.ca_file.clone(),
            source,
        })?;
    }
    let crls = if settings.crl_file_required || settings.crl_file.exists() {
        revocation_lists(&settings.crl_file)?
    } else {
        Vec::new()
    };
    // A CRL speaks for the CA that signed it: certificates of a CA without one are not refused
    // for it (libvirt and GnuTLS do the same).
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
        .allow_unknown_revocation_status()
        .build()
        .map_err(|source| TlsError::Verifier {
            ca: settings.ca_file.clone(),
            crl: settings.crl_file.clone(),
            source,
        })?;
    let verifier = Arc::new(ClientCheck {
        webpki,
        allowed: settings
            .allowed_dn_list
            .as_ref()
            .map(|list| list.iter().map(|p| Glob::new(p)).collect()),
    });
    let server_identity = |source| TlsError::ServerIdentity {
        cert: settings.cert_file.clone(),
        key: settings.key_file.clone(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(server_identity)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(server_identity)?;
    // No TLS 1.3 session tickets: a libvirt client polls once after the handshake and reads
    // exactly the confirmation byte; a ticket arriving first makes that read fail with EAGAIN
    // ("Unable to read TLS confirmation"). libvirt clients never resume sessions anyway.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// The CA, validity and revocation checks of webpki, then the DN allow list; every failure names
/// the certificate.
#[derive(Debug)]
struct ClientCheck {
    webpki: Arc<dyn ClientCertVerifier>,
    allowed: Option<Vec<Glob>>,
}

impl ClientCertVerifier for ClientCheck {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let result = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now);
        let Some(dn) = distinguished_name(end_entity) else {
            // webpki has refused what x509-parser cannot read; if not, refuse it here.
            result?;
            return Err(CertificateError::BadEncoding.into());
        };
        // The handshake error carries the name and the reason to the accept loop, which logs and
        // audits them. The client gets a bad_certificate alert whatever the reason.
        let refused = |reason: Refusal| {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                ClientRefused {
                    dn: dn.clone(),
                    reason,
                },
            ))))
        };
        let verified = result.map_err(|err| refused(Refusal::Certificate(err)))?;
        match &self.allowed {
            Some(patterns) if !patterns.iter().any(|p| p.matches(&dn)) => {
                Err(refused(Refusal::DnNotAllowed))
            }
            _ => Ok(verified),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn read_pki_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(PKI_FILE_MAX_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > PKI_FILE_MAX_LEN {
        return Err(TlsError::TooLarge {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_pki_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what,
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoPem {
            what,
            path: path.to_owned(),
            kind: "CERTIFICATE",
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_pki_file("key_file", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPem {
            what: "key_file",
            path: path.to_owned(),
            kind: "PRIVATE KEY",
        },
        source => TlsError::Pem {
            what: "key_file",
            path: path.to_owned(),
            source,
        },
    })
}

fn revocation_lists(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = read_pki_file("crl_file", path)?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what: "crl_file",
            path: path.to_owned(),
            source,
        })?;
    if crls.is_empty() {
        return Err(TlsError::NoPem {
            what: "crl_file",
            path: path.to_owned(),
            kind: "X509 CRL",
        });
    }
    Ok(crls)
}

/// Short names GnuTLS prints for the attribute types of a subject.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "street"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "title"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.42", "GN"),
    ("2.5.4.43", "initials"),
    ("2.5.4.44", "generationQualifier"),
    ("2.5.4.46", "dnQualifier"),
    ("2.5.4.65", "pseudonym"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "EMAIL"),
];

/// A certificate's subject in libvirt's string form (see the module documentation); `None` if
/// the certificate cannot be parsed.
pub fn distinguished_name(cert: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    let mut out = String::new();
    for (i, rdn) in cert.subject().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attribute) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attribute.attr_type().to_id_string();
            match ATTRIBUTE_NAMES.iter().find(|(id, _)| *id == oid) {
                Some((_, name)) => out.push_str(name),
                None => out.push_str(&oid),
            }
            out.push('=');
            match attribute.as_str() {
                Ok(text) => escape_value(text, &mut out),
                Err(_) => {
                    // Not a string type: the value's DER, in hex (RFC 4514 §2.4).
                    out.push('#');
                    let value = attribute.attr_value();
                    let der = x509_parser::der_parser::asn1_rs::ToDer::to_der_vec(value).ok()?;
                    for byte in der {
                        let _ = write!(out, "{byte:02x}");
                    }
                }
            }
        }
    }
    Some(out)
}

/// RFC 4514 §2.4 escaping, as GnuTLS does it.
fn escape_value(text: &str, out: &mut String) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(names: &[(rcgen::DnType, &str)]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in names {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn names_are_in_certificate_order_with_gnutls_short_names() {
        let der = cert_with(&[
            (rcgen::DnType::CountryName, "GB"),
            (rcgen::DnType::StateOrProvinceName, "London"),
            (rcgen::DnType::OrganizationName, "Example, Inc."),
            (rcgen::DnType::CommonName, "#client "),
        ]);
        assert_eq!(
            distinguished_name(&der).unwrap(),
            "C=GB,ST=London,O=Example\\, Inc.,CN=\\#client\\ "
        );
        assert!(Glob::new("C=GB,*,CN=*").matches(&distinguished_name(&der).unwrap()));
        assert_eq!(distinguished_name(b"not a certificate"), None);
    }

    #[test]
    fn bad_files_name_the_option_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello").unwrap();
        let settings = TlsConfig {
            cert_file: garbage.clone(),
            key_file: dir.path().join("missing.pem"),
            ..TlsConfig::default()
        };
        let err = server_config(&settings).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cert_file {} holds no PEM CERTIFICATE", garbage.display())
        );
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; 2 * 1024 * 1024]).unwrap();
        assert!(matches!(
            certificates("ca_file", &big),
            Err(TlsError::TooLarge { .. })
        ));
        let err = private_key(&dir.path().join("missing.pem")).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read key_file "),
            "{err}"
        );
    }
}
