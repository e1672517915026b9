//! QEMU for Moat (draft doc; replaced below).
#![warn(missing_docs)]

pub mod argv;
pub mod jail;
pub mod paths;
pub mod qmp;
pub mod supervise;
