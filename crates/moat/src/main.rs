//! `moat`: Moat's command-line tool.
//!
//! A thin clap program: each subcommand's arguments are parsed here and handed to the library
//! crate that does the work (`moat validate` → the `validate` crate, `moat acl check` → the
//! `acl` crate). Later subcommands talk to `moatd` over libvirt's protocol through the `rpc`
//! crate.
//!
//! Exit status: what the subcommand says (for `validate`: 0 nothing reached `--fail-on`, 1
//! something did, 2 a check could not be carried out); 2 on usage and internal errors, with the
//! error chain printed once on stderr.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod acl_check;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use validate::format::{self, Colour, Format};
use validate::{AllowedPort, FailOn, Options, Settings, SystemCommands};

/// Moat: a KVM virtualization daemon with the Virtualization Security Guide built in.
#[derive(Debug, Parser)]
#[command(name = "moat", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the host (or a mounted root) and its guests against the Virtualization Security
    /// Guide.
    Validate(ValidateArgs),
    /// Access control.
    #[command(subcommand)]
    Acl(AclCommand),
}

#[derive(Debug, Subcommand)]
enum AclCommand {
    /// Say whether the rules allow a permission, and which grant or denial decided it. Exit
    /// status 0 allowed, 1 denied, 2 error.
    Check(AclCheckArgs),
}

/// Arguments of `moat acl check`.
#[derive(Debug, Args)]
struct AclCheckArgs {
    /// The rules file (`access_rules_file` of moatd's configuration).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/moat/access-rules.toml"
    )]
    rules: PathBuf,
    /// The user asking; their uid and groups come from the user database unless given.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The uid asking.
    #[arg(long, value_name = "UID")]
    uid: Option<u32>,
    /// A group of the subject (repeatable); replaces the groups from the user database.
    #[arg(long, value_name = "NAME")]
    group: Vec<String>,
    /// A TLS client certificate DN as the subject.
    #[arg(long, value_name = "DN")]
    x509_dn: Option<String>,
    /// The permission, `object:permission` (`domain:start`).
    permission: String,
    /// The guest the permission is on.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["pool", "network"])]
    domain: Option<String>,
    /// The guest's UUID (for grants that select by UUID).
    #[arg(long, value_name = "UUID", requires = "domain")]
    uuid: Option<String>,
    /// The storage pool the permission is on (or the pool of a volume).
    #[arg(long, value_name = "NAME", conflicts_with = "network")]
    pool: Option<String>,
    /// The network the permission is on.
    #[arg(long, value_name = "NAME")]
    network: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOnArg {
    Warn,
    Fail,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Arguments of `moat validate`.
#[derive(Debug, Args)]
struct ValidateArgs {
    /// Check a mounted root offline instead of the running host; checks that need the live
    /// kernel report notapplicable.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
    /// Lowest status that makes the exit status 1.
    #[arg(long, value_enum, default_value = "fail")]
    fail_on: FailOnArg,
    /// Leave out these checks (ids; repeat or separate with commas).
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    skip: Vec<String>,
    /// Run only these checks (ids; repeat or separate with commas).
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    only: Vec<String>,
    /// Judge these guest definitions instead of those in the state dir and /etc/libvirt/qemu.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    domain_xml: Vec<PathBuf>,
    /// Moat's state directory, read under the root (guest definitions in DIR/domains).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/moat")]
    state_dir: String,
    /// Also accept guest images under this directory (host path).
    #[arg(long, value_name = "DIR")]
    image_dir: Vec<String>,
    /// Also accept listeners on this port or range beyond loopback (`PORT[-LAST][/tcp|udp]`).
    #[arg(long, value_name = "PORT", value_parser = parse_port)]
    allow_port: Vec<AllowedPort>,
    /// Also accept this account as a platform administrator.
    #[arg(long, value_name = "NAME")]
    allow_user: Vec<String>,
    /// Colour the text output: auto colours only on a terminal (and without NO_COLOR).
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorArg,
    /// List the checks with their guide sections and exit.
    #[arg(long)]
    list_checks: bool,
}

impl From<AclCheckArgs> for acl_check::Request {
    fn from(a: AclCheckArgs) -> Self {
        acl_check::Request {
            rules: a.rules,
            user: a.user,
            uid: a.uid,
            groups: a.group,
            x509_dn: a.x509_dn,
            permission: a.permission,
            domain: a.domain,
            uuid: a.uuid,
            pool: a.pool,
            network: a.network,
        }
    }
}

fn parse_port(text: &str) -> Result<AllowedPort, String> {
    text.parse()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let outcome = match cli.command {
        Command::Validate(args) => validate_command(args),
        Command::Acl(AclCommand::Check(args)) => acl_check::run(&args.into()),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("moat: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn validate_command(args: ValidateArgs) -> anyhow::Result<u8> {
    if args.list_checks {
        let mut text = String::new();
        for check in &validate::checks::ALL {
            text.push_str(&format!(
                "{:<24} {:<11} {}\n",
                check.info.id, check.info.guide, check.info.title
            ));
        }
        write_stdout(&text)?;
        return Ok(0);
    }
    let mut options = match args.root {
        // An absolute root, so that reports (and SARIF's base URI) name it unambiguously.
        Some(root) => Options::offline(
            std::fs::canonicalize(&root)
                .with_context(|| format!("cannot find root {}", root.display()))?,
        ),
        None => Options::live(),
    };
    options.only = args.only;
    options.skip = args.skip;
    options.domain_xml = args.domain_xml;
    options.settings = Settings {
        state_dir: args.state_dir,
        image_dirs: args.image_dir,
        allowed_ports: args.allow_port,
        allowed_users: args.allow_user,
    };
    let report = validate::run(&options, &SystemCommands).context("cannot run the checks")?;
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Sarif => Format::Sarif,
    };
    let colour = match args.color {
        ColorArg::Always => Colour::Always,
        ColorArg::Never => Colour::Never,
        ColorArg::Auto if io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() => {
            Colour::Always
        }
        ColorArg::Auto => Colour::Never,
    };
    write_stdout(&format::render(&report, format, colour))?;
    let fail_on = match args.fail_on {
        FailOnArg::Warn => FailOn::Warn,
        FailOnArg::Fail => FailOn::Fail,
    };
    Ok(report.exit_code(fail_on))
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`moat validate | head`) is not an error worth a message.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the report to stdout"),
    }
}
