//! `remotemedia serve`: run nodes on behalf of other remotemedia instances, over gRPC.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use remotemedia_remote::{ServeConfig, TlsIdentity, Token};
use remotemedia_runtime::engines::rustpython::InterpreterSharing;
use remotemedia_runtime::pipeline::{Config, DefaultEngines};

use crate::common::{IsolationArgs, MachineArgs, PythonPathArgs, read_file};
use crate::exit::InvalidInput;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints `listening on ADDR` on stdout once clients can connect (with port 0, ADDR has the port \
picked). Stops on SIGINT/SIGTERM, giving open node streams a few seconds.

Clients name this server as a node's `host` (host:port) in their manifest. Nodes run with this \
server's own engines, node catalogue and --python-path: a client names a node type, never sends \
code. Without --token-file the server only listens on loopback, unless --insecure.")]
pub struct Args {
    /// Address to listen on, host:port (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: String,
    /// Every call must carry the token in this file (clients give it with --token-file or
    /// REMOTEMEDIA_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// What clients check node requirements against.
    #[command(flatten)]
    machine: MachineArgs,
    /// The user-defined Python nodes this server may run.
    #[command(flatten)]
    python_path: PythonPathArgs,
    /// Listen on a non-loopback address without a token: anyone who reaches it can run nodes.
    #[arg(long)]
    insecure: bool,
    /// Serve over TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The largest message accepted or sent, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_message_mib: usize,
    /// Node streams served at once; more are refused.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_nodes: usize,
    /// Serve one run, then exit: once the node streams opened have all ended, when none opens
    /// within a minute, or when standard input closes (whoever started this worker is gone). How
    /// a worker placed on a cluster for one run is started (docs/cluster.md).
    #[arg(long)]
    one_run: bool,
    #[command(flatten)]
    isolation: IsolationArgs,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let invalid = |err: anyhow::Error| anyhow::Error::from(InvalidInput(err));
    let listen = resolve(&args.listen).map_err(invalid)?;
    let token = match &args.token_file {
        Some(path) => Some(Token::from_file(path).map_err(|err| invalid(err.into()))?),
        None => None,
    };
    if token.is_none() && !listen.ip().is_loopback() && !args.insecure {
        return Err(invalid(anyhow::anyhow!(
            "refusing to listen on {listen} without a token: anyone who can reach it could run \
             nodes here. Give --token-file FILE, listen on loopback (127.0.0.1), or pass \
             --insecure to accept this"
        )));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsIdentity {
            cert_pem: read_file(cert, "TLS certificate").map_err(invalid)?,
            key_pem: read_file(key, "TLS key").map_err(invalid)?,
        }),
        _ => None,
    };
    if token.is_some() && tls.is_none() && !listen.ip().is_loopback() {
        tracing::warn!(
            "the token travels unencrypted to {listen}; give --tls-cert and --tls-key on untrusted networks"
        );
    }
    let python_path = args.python_path.directories()?;
    if args.max_message_mib == 0 || args.max_nodes == 0 {
        return Err(invalid(anyhow::anyhow!(
            "--max-message-mib and --max-nodes must be at least 1"
        )));
    }
    let machine = args.machine.load()?.capabilities;
    let engines = DefaultEngines::new(Config {
        python_path,
        // One interpreter for every node stream, for the server's life (see ServeConfig::engines).
        interpreters: InterpreterSharing::Shared,
        limits: args.isolation.limits(),
        ..Config::default()
    });
    let config = ServeConfig {
        token,
        tls,
        max_message_bytes: args.max_message_mib.saturating_mul(1024 * 1024),
        max_nodes: args.max_nodes,
        one_run: args.one_run,
        isolation: args.isolation.isolation(),
        ..ServeConfig::new(listen, machine, Arc::new(engines))
    };
    let secured = match (config.token.is_some(), config.tls.is_some()) {
        (true, true) => "token and TLS",
        (true, false) => "token",
        (false, true) => "TLS, no token",
        (false, false) => "no token",
    };
    remotemedia_remote::serve(config, |bound| {
        use std::io::Write as _;
        // The line callers (and tests) wait for; flushed, as stdout may be a pipe.
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {bound}");
        let _ = stdout.flush();
        tracing::info!("serving nodes on {bound} ({secured})");
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `host:port` to one socket address (the first a name resolves to).
fn resolve(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("--listen `{listen}` is not a host:port address"))?
        .next()
        .with_context(|| format!("--listen `{listen}` resolves to no address"))
}
