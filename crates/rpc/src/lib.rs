//! stub
#![warn(missing_docs)]
pub mod frame;
pub mod header;
pub mod payloads;
pub mod procedures;
pub mod types;
pub mod xdr;
