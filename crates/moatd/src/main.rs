//! `moatd`: the Moat daemon. Parses the command line, sets up logging and signals, and runs
//! [`moatd::daemon::Daemon`].

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use moatd::daemon::{Daemon, Paths};
use tokio::signal::unix::{signal, SignalKind};

/// The Moat virtualization daemon (libvirt remote protocol on UNIX sockets and TLS).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Directory for the sockets moat-sock and moat-sock-ro.
    #[arg(long, default_value = "/run/moat")]
    run_dir: PathBuf,
    /// Directory for definitions and the audit log.
    #[arg(long, default_value = "/var/lib/moat")]
    state_dir: PathBuf,
    /// Configuration file (TOML, libvirtd.conf option names); defaults are built in.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MOAT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("moatd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    // One thread serves every connection: calls are short and in memory, and keeping the reader,
    // the handler and the writer of a call on one CPU avoids cross-CPU wake-ups, which cost more
    // than the calls themselves. Disk writes run on tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let daemon = Daemon::start(Paths::new(args.run_dir, args.state_dir, args.config)).await?;
        let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        let reloader = daemon.reloader();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                reloader.reload();
            }
        });
        daemon
            .run(async move {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
                }
            })
            .await;
        Ok(())
    })
}
