//! The 24-byte message header (`virNetMessageHeader`) and the program numbers.
//!
//! ```text
//! word  field    XDR type      values
//!  0    prog     unsigned int  REMOTE 0x20008086, KEEPALIVE 0x6b656570, ...
//!  1    vers     unsigned int  1 for every program
//!  2    proc     int           procedure number within the program
//!  3    type     enum          CALL 0, REPLY 1, MESSAGE 2, STREAM 3,
//!                              CALL_WITH_FDS 4, REPLY_WITH_FDS 5, STREAM_HOLE 6
//!  4    serial   unsigned int  a REPLY echoes its CALL's serial
//!  5    status   enum          OK 0, ERROR 1 (payload is remote_error), CONTINUE 2
//! ```
//!
//! A REPLY echoes the CALL's prog, vers, proc and serial. Events are MESSAGE
//! with status OK; libvirtd sends domain events with serial 1 and keepalive
//! with serial 0.

use crate::{xdr_enum, xdr_struct};

/// `REMOTE_PROGRAM`: the hypervisor API.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
/// `REMOTE_PROTOCOL_VERSION`.
pub const REMOTE_PROTOCOL_VERSION: u32 = 1;
/// `KEEPALIVE_PROGRAM` ("keep").
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
/// `KEEPALIVE_PROTOCOL_VERSION`.
pub const KEEPALIVE_PROTOCOL_VERSION: u32 = 1;
/// `QEMU_PROGRAM` (qemu-monitor-command and friends); not served by Moat.
pub const QEMU_PROGRAM: u32 = 0x2000_8087;
/// `LXC_PROGRAM`; not served by Moat.
pub const LXC_PROGRAM: u32 = 0x0006_8000;
/// `ADMIN_PROGRAM`, served on the admin socket only; not used by virsh.
pub const ADMIN_PROGRAM: u32 = 0x0690_0690;
/// `VIR_NET_MESSAGE_HEADER_MAX`: the encoded header's size.
pub const HEADER_LEN: usize = 24;

xdr_enum! {
    /// `virNetMessageType`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum MessageType("virNetMessageType") {
        /// A client's request; answered by exactly one REPLY.
        Call = 0,
        /// The answer to a CALL.
        Reply = 1,
        /// An asynchronous event or keepalive; never answered.
        Message = 2,
        /// Stream data.
        Stream = 3,
        /// A CALL followed by a file-descriptor count and SCM_RIGHTS fds.
        CallWithFds = 4,
        /// A REPLY followed by a file-descriptor count and SCM_RIGHTS fds.
        ReplyWithFds = 5,
        /// A hole in a sparse stream.
        StreamHole = 6,
    }
}

impl MessageType {
    /// Whether a 4-byte fd count sits between the header and the payload.
    pub fn has_fds(self) -> bool {
        matches!(self, Self::CallWithFds | Self::ReplyWithFds)
    }
}

xdr_enum! {
    /// `virNetMessageStatus`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Status("virNetMessageStatus") {
        /// Success; the payload is the `*_ret` (or event) struct.
        Ok = 0,
        /// Failure; the payload is `remote_error`.
        Error = 1,
        /// Streams only: more data follows.
        Continue = 2,
    }
}

xdr_enum! {
    /// `keepalive_procedure`. Both are MESSAGE, status OK, serial 0, with an
    /// empty payload.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum KeepaliveProcedure("keepalive_procedure") {
        /// `KEEPALIVE_PROC_PING`: the peer must answer PONG.
        Ping = 1,
        /// `KEEPALIVE_PROC_PONG`.
        Pong = 2,
    }
}

xdr_struct! {
    /// `virNetMessageHeader`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Header("virNetMessageHeader") {
        /// `prog`.
        pub program: u32,
        /// `vers`.
        pub version: u32,
        /// `proc`.
        pub procedure: i32,
        /// `type`.
        pub message_type: MessageType,
        /// `serial`.
        pub serial: u32,
        /// `status`.
        pub status: Status,
    }
}

impl Header {
    /// A CALL header for `procedure` of the REMOTE program.
    pub fn remote_call(procedure: i32, serial: u32) -> Self {
        Self {
            program: REMOTE_PROGRAM,
            version: REMOTE_PROTOCOL_VERSION,
            procedure,
            message_type: MessageType::Call,
            serial,
            status: Status::Ok,
        }
    }

    /// The header of the reply to this call: same prog, vers, proc and
    /// serial, type REPLY, and `status`.
    pub fn reply(&self, status: Status) -> Self {
        Self {
            message_type: MessageType::Reply,
            status,
            ..*self
        }
    }

    /// A keepalive MESSAGE header (serial 0, status OK).
    pub fn keepalive(procedure: KeepaliveProcedure) -> Self {
        Self {
            program: KEEPALIVE_PROGRAM,
            version: KEEPALIVE_PROTOCOL_VERSION,
            procedure: procedure.as_i32(),
            message_type: MessageType::Message,
            serial: 0,
            status: Status::Ok,
        }
    }

    /// Whether this is the REMOTE program at the version Moat speaks.
    pub fn is_remote(&self) -> bool {
        self.program == REMOTE_PROGRAM && self.version == REMOTE_PROTOCOL_VERSION
    }

    /// The keepalive procedure, if this is a keepalive MESSAGE.
    pub fn keepalive_procedure(&self) -> Option<KeepaliveProcedure> {
        (self.program == KEEPALIVE_PROGRAM
            && self.version == KEEPALIVE_PROTOCOL_VERSION
            && self.message_type == MessageType::Message)
            .then(|| KeepaliveProcedure::from_i32(self.procedure))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{from_bytes, to_bytes, XdrError};

    #[test]
    fn auth_list_call_header_bytes() {
        let bytes = to_bytes(&Header::remote_call(66, 0)).unwrap();
        assert_eq!(
            bytes,
            [
                0x20, 0x00, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0
            ]
        );
        assert_eq!(bytes.len(), HEADER_LEN);
    }

    #[test]
    fn reply_echoes_the_call() {
        let call = Header::remote_call(23, 7);
        let reply = call.reply(Status::Error);
        assert_eq!(
            (reply.program, reply.version, reply.procedure, reply.serial),
            (REMOTE_PROGRAM, 1, 23, 7)
        );
        assert_eq!(reply.message_type, MessageType::Reply);
    }

    #[test]
    fn unknown_message_type_names_the_header_field() {
        let mut bytes = to_bytes(&Header::remote_call(1, 0)).unwrap();
        bytes[15] = 9;
        let err = from_bytes::<Header>(&bytes).unwrap_err();
        assert_eq!(err.path(), "virNetMessageHeader.message_type");
        assert!(matches!(
            err.root_cause(),
            XdrError::InvalidEnum { value: 9, .. }
        ));
    }

    #[test]
    fn keepalive_is_recognised() {
        let ping = Header::keepalive(KeepaliveProcedure::Ping);
        assert_eq!(ping.keepalive_procedure(), Some(KeepaliveProcedure::Ping));
        assert_eq!(Header::remote_call(1, 0).keepalive_procedure(), None);
    }
}
