//! Options shared by the commands that reach remote hosts (`run`, `plan`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use remotemedia_remote::{ClientOptions, RemoteHosts, Token};
use remotemedia_runtime::env_vars;
use remotemedia_runtime::hosts::HostConnector;

use super::InvalidInput;

/// How to reach the hosts that nodes are placed on.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// Read the token presented to remote hosts from this file (default: the REMOTEMEDIA_TOKEN
    /// environment variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Connect to remote hosts over TLS, trusting certificates signed by this PEM CA certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl RemoteArgs {
    /// The connector for the runtime; bad options are [`InvalidInput`].
    pub fn connector(&self) -> anyhow::Result<Arc<dyn HostConnector>> {
        let token = match &self.token_file {
            Some(path) => Some(Token::from_file(path).map_err(|err| InvalidInput(err.into()))?),
            None => match std::env::var(env_vars::TOKEN) {
                Ok(text) => Some(
                    Token::new(&text, &format!("in {}", env_vars::TOKEN))
                        .map_err(|err| InvalidInput(err.into()))?,
                ),
                Err(_) => None,
            },
        };
        let tls_ca = match &self.tls_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .with_context(|| format!("cannot read CA certificate `{}`", path.display()))
                    .map_err(InvalidInput)?,
            ),
            None => None,
        };
        let options = ClientOptions {
            token,
            tls_ca,
            ..ClientOptions::default()
        };
        Ok(Arc::new(RemoteHosts::new(options)?))
    }
}
