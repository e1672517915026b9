//! The Moat daemon: libvirt's remote protocol on two UNIX sockets and, with `listen_tls`, on a
//! TLS port, in front of the guest registry and its durable store.
//!
//! One request's path through the modules:
//!
//! | step | module |
//! |---|---|
//! | sockets, modes, group | [`listen`] |
//! | TLS port: certificates, client checks, DN | [`tls`] |
//! | accept, peer identity, `max_clients` | [`server`], [`identity`] |
//! | connection state (auth, open, read-only), keepalive, events | [`conn`], [`auth`], [`readonly`] |
//! | procedure → handler, args → ret | [`dispatch`] |
//! | streams after a call (upload, download, console): relay, flow control | [`stream`] |
//! | what the call does | [`driver`] (domains, node), [`registry`], [`store`] |
//! | guest networks: bridges, taps, dnsmasq, firewall | [`network`], [`driver::network`] |
//! | storage pools and volumes: directories, image files, `qemu-img` | [`driver::storage`] |
//! | errors to libvirt codes | [`errors`] |
//! | the record of it | [`audit`] |
//!
//! [`config`] reads the TOML configuration (libvirtd.conf names) and [`hostinfo`] the host facts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use moatd::daemon::{Daemon, Paths};
//!
//! let paths = Paths::new("/run/moat".into(), "/var/lib/moat".into(), None);
//! let daemon = Daemon::start(paths).await?;
//! daemon.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod config;
pub mod conn;
pub mod daemon;
pub mod dispatch;
pub mod driver;
pub mod errors;
pub mod hostinfo;
pub mod identity;
pub mod listen;
pub mod network;
pub mod readonly;
pub mod registry;
pub mod server;
pub mod store;
pub mod stream;
pub mod tls;
