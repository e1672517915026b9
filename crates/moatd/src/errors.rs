//! The one place where Moat's errors become libvirt's `remote_error` (code, domain, message).
//!
//! Messages carry libvirt's prefixes ("Domain not found: ", "XML error: ", "operation failed: ",
//! "Requested operation is not valid: ", "operation forbidden: ") because virsh and
//! python-libvirt users recognise them, followed by Moat's own text and its causes.

use std::error::Error;

use rpc::types::{error_code, error_domain, RemoteError};

use crate::driver::DriverError;
use crate::registry::RegistryError;

/// `VIR_ERR_NO_CONNECT`: no driver for the URI given to CONNECT_OPEN.
const NO_CONNECT: i32 = 5;
/// `VIR_ERR_ACCESS_DENIED`.
pub const ACCESS_DENIED: i32 = 88;
/// `VIR_FROM_ACCESS`.
const ACCESS: i32 = 55;

/// An error and all its causes, joined with ": ".
pub fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The libvirt error for a driver failure.
pub fn driver_error(err: &DriverError) -> RemoteError {
    let (code, domain, prefix) = match err {
        DriverError::NoDomain { .. } => (
            error_code::NO_DOMAIN,
            error_domain::QEMU,
            "Domain not found",
        ),
        DriverError::Xml(_) | DriverError::Invalid(_) => {
            (error_code::XML_ERROR, error_domain::DOMAIN, "XML error")
        }
        DriverError::Conflict(
            RegistryError::NameTaken { .. } | RegistryError::UuidTaken { .. },
        ) => (
            error_code::OPERATION_FAILED,
            error_domain::QEMU,
            "operation failed",
        ),
        DriverError::Conflict(_) | DriverError::Store(_) => (
            error_code::OPERATION_FAILED,
            error_domain::QEMU,
            "operation failed",
        ),
        DriverError::UnsupportedFlags { .. } | DriverError::InvalidArg(_) => (
            error_code::INVALID_ARG,
            error_domain::QEMU,
            "invalid argument",
        ),
        DriverError::NoNetwork { .. } => (
            error_code::NO_NETWORK,
            error_domain::NETWORK,
            "Network not found",
        ),
        DriverError::NetworkXml(_) => (error_code::XML_ERROR, error_domain::NETWORK, "XML error"),
        DriverError::Network(_) => (
            error_code::OPERATION_FAILED,
            error_domain::NETWORK,
            "operation failed",
        ),
        DriverError::Denied(_) => (ACCESS_DENIED, ACCESS, "access denied"),
        DriverError::Unsupported(_) | DriverError::Policy(_) => (
            error_code::CONFIG_UNSUPPORTED,
            error_domain::QEMU,
            "unsupported configuration",
        ),
        DriverError::Launch(_) | DriverError::Security(_) => (
            error_code::OPERATION_FAILED,
            error_domain::QEMU,
            "operation failed",
        ),
        DriverError::OperationInvalid(_) => (
            error_code::OPERATION_INVALID,
            error_domain::QEMU,
            "Requested operation is not valid",
        ),
    };
    RemoteError::new(code, domain, format!("{prefix}: {}", chain(err)))
}

/// A read-only connection asked for a call that changes state or reveals secrets.
pub fn read_only_denied(api: &str) -> RemoteError {
    RemoteError::new(
        error_code::OPERATION_DENIED,
        error_domain::DOMAIN,
        format!("operation forbidden: read only access prevents {api}"),
    )
}

/// CONNECT_OPEN named a hypervisor this daemon does not drive.
pub fn no_connect(name: &str) -> RemoteError {
    RemoteError::new(
        NO_CONNECT,
        error_domain::NONE,
        format!("no connection driver available for {name}"),
    )
}

/// An argument outside what the call accepts.
pub fn invalid_arg(message: &str) -> RemoteError {
    RemoteError::new(
        error_code::INVALID_ARG,
        error_domain::RPC,
        format!("invalid argument: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_carry_libvirt_codes_and_prefixes() {
        let err = driver_error(&DriverError::NoDomain {
            what: "name 'web'".into(),
        });
        assert_eq!(err.code, error_code::NO_DOMAIN);
        assert_eq!(
            err.message.as_deref(),
            Some("Domain not found: no domain with matching name 'web'")
        );
        let err = driver_error(&DriverError::UnsupportedFlags {
            flags: 0x10,
            function: "virDomainDefineXMLFlags",
        });
        assert_eq!(err.code, error_code::INVALID_ARG);
        assert_eq!(
            err.message.as_deref(),
            Some("invalid argument: unsupported flags (0x10) in function virDomainDefineXMLFlags")
        );
        let err = driver_error(&DriverError::NoNetwork {
            what: "name 'lab'".into(),
        });
        assert_eq!(
            (err.code, err.domain),
            (error_code::NO_NETWORK, error_domain::NETWORK)
        );
        assert_eq!(
            err.message.as_deref(),
            Some("Network not found: no network with matching name 'lab'")
        );
        let denied = read_only_denied("virDomainDefineXML");
        assert_eq!(denied.code, error_code::OPERATION_DENIED);
    }
}
