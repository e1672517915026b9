//! The one place where Moat's errors become libvirt's `remote_error` (code, domain, message).
//!
//! Messages carry libvirt's prefixes ("Domain not found: ", "XML error: ", "operation failed: ",
//! "Requested operation is not valid: ", "operation forbidden: ") because virsh and
//! python-libvirt users recognise them, followed by Moat's own text and its causes.

use std::error::Error;

use rpc::types::{error_code, error_domain, RemoteError};

use crate::auth::AuthError;
use crate::driver::console::ConsoleError;
use crate::driver::storage::StorageError;
use crate::driver::DriverError;
use crate::registry::RegistryError;
use crate::stream::StreamError;

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
        DriverError::Storage(err) => storage_error(err),
        DriverError::Console(err) => console_error(err),
    };
    RemoteError::new(code, domain, format!("{prefix}: {}", chain(err)))
}

/// libvirt's code, domain and prefix for a console that did not open (qemuDomainOpenConsole's).
fn console_error(err: &ConsoleError) -> (i32, i32, &'static str) {
    match err {
        ConsoleError::NoDevice { .. } | ConsoleError::NotPty { .. } => (
            error_code::INTERNAL_ERROR,
            error_domain::QEMU,
            "internal error",
        ),
        _ => (
            error_code::OPERATION_FAILED,
            error_domain::QEMU,
            "operation failed",
        ),
    }
}

/// `VIR_ERR_NO_STORAGE_POOL`.
pub const NO_STORAGE_POOL: i32 = 49;
/// `VIR_ERR_NO_STORAGE_VOL`.
pub const NO_STORAGE_VOL: i32 = 50;
/// `VIR_ERR_STORAGE_VOL_EXIST`.
pub const STORAGE_VOL_EXIST: i32 = 90;

/// Code, domain and message prefix of a storage failure (libvirt's `VIR_FROM_STORAGE` texts).
fn storage_error(err: &StorageError) -> (i32, i32, &'static str) {
    let storage = error_domain::STORAGE;
    match err {
        StorageError::NoPool { .. } => (NO_STORAGE_POOL, storage, "Storage pool not found"),
        StorageError::NoVolume { .. } => (NO_STORAGE_VOL, storage, "Storage volume not found"),
        StorageError::Xml(_) => (error_code::XML_ERROR, storage, "XML error"),
        StorageError::VolumeExists { .. } => {
            (STORAGE_VOL_EXIST, storage, "storage volume already exists")
        }
        StorageError::InvalidName(_) | StorageError::InvalidArg(_) | StorageError::Flags { .. } => {
            (error_code::INVALID_ARG, storage, "invalid argument")
        }
        StorageError::InvalidState(_) => (
            error_code::OPERATION_INVALID,
            storage,
            "Requested operation is not valid",
        ),
        StorageError::Unsupported(_) => (
            error_code::CONFIG_UNSUPPORTED,
            storage,
            "unsupported configuration",
        ),
        _ => (error_code::OPERATION_FAILED, storage, "operation failed"),
    }
}

/// `VIR_ERR_SYSTEM_ERROR`.
const SYSTEM_ERROR: i32 = 38;
/// `VIR_FROM_STREAMS`.
const STREAMS: i32 = 38;

/// The libvirt error a failed stream sends (STREAM ERROR): a driver failure keeps its code;
/// I/O is `VIR_ERR_SYSTEM_ERROR` and a protocol breach `VIR_ERR_RPC`, from `VIR_FROM_STREAMS`.
pub fn stream_error(err: &StreamError) -> RemoteError {
    let (code, prefix) = match err {
        StreamError::Driver(driver) => return driver_error(driver),
        // libvirt's fd streams: "cannot write to stream: No space left on device".
        StreamError::Io { .. } => return RemoteError::new(SYSTEM_ERROR, STREAMS, chain(err)),
        StreamError::TooMany { .. } | StreamError::SerialInUse { .. } => {
            (error_code::OPERATION_FAILED, "operation failed")
        }
        _ => (error_code::RPC, "stream protocol error"),
    };
    RemoteError::new(code, STREAMS, format!("{prefix}: {}", chain(err)))
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

/// The error AUTH_POLKIT returns, as libvirt's `virPolkitCheckAuth` reports it: polkit's own
/// answers come from `VIR_FROM_POLKIT`, with the codes virsh looks at (it retries the open after
/// `AUTH_FAILED` and starts a text agent after `AUTH_UNAVAILABLE`); failures to ask are
/// `VIR_ERR_AUTH_FAILED` from the RPC layer.
pub fn auth_error(err: &AuthError) -> RemoteError {
    let (code, domain, prefix) = match err {
        AuthError::Denied { .. } => (
            error_code::AUTH_FAILED,
            error_domain::POLKIT,
            "authentication failed",
        ),
        AuthError::NoAgent { .. } => (
            error_code::AUTH_UNAVAILABLE,
            error_domain::POLKIT,
            "authentication unavailable",
        ),
        AuthError::Dismissed { .. } => (
            error_code::AUTH_CANCELLED,
            error_domain::POLKIT,
            "authentication cancelled",
        ),
        _ => (
            error_code::AUTH_FAILED,
            error_domain::RPC,
            "authentication failed",
        ),
    };
    RemoteError::new(code, domain, format!("{prefix}: {}", chain(err)))
}

/// AUTH_POLKIT refused for a reason of the daemon's own (no polkit question was answered).
pub fn auth_refused(reason: &str) -> RemoteError {
    RemoteError::new(
        error_code::AUTH_FAILED,
        error_domain::RPC,
        format!("authentication failed: {reason}"),
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

    #[test]
    fn polkit_refusals_read_as_libvirts() {
        let err = auth_error(&AuthError::Denied {
            action: acl::UnixAction::Manage,
        });
        assert_eq!(
            (err.code, err.domain),
            (error_code::AUTH_FAILED, error_domain::POLKIT)
        );
        assert_eq!(
            err.message.as_deref(),
            Some("authentication failed: access denied by policy")
        );
        let err = auth_error(&AuthError::NoAgent {
            action: acl::UnixAction::Monitor,
        });
        assert_eq!(err.code, error_code::AUTH_UNAVAILABLE);
        assert_eq!(
            err.message.as_deref(),
            Some("authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.monitor'")
        );
        let err = auth_error(&AuthError::Polkit(acl::polkit::PolkitError::Other(
            "bus down".into(),
        )));
        assert_eq!(
            (err.code, err.domain),
            (error_code::AUTH_FAILED, error_domain::RPC)
        );
        assert_eq!(
            err.message.as_deref(),
            Some("authentication failed: cannot ask polkit: bus down")
        );
    }
}
