//! `--cluster`, shared by the commands that place nodes (`run`, `plan`).

use std::path::PathBuf;
use std::sync::Arc;

use remotemedia_cluster::{RAY_ADDRESS, RayCluster, RaySettings};
use remotemedia_remote::{ClientOptions, RemoteHosts, Token};
use remotemedia_runtime::cluster::ClusterConnector;
use remotemedia_runtime::engines::cpython;
use remotemedia_runtime::hosts::{HostConnector, HostError};

use super::InvalidInput;

/// Where nodes this machine cannot run go when no `host` takes them.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// A Ray cluster for the nodes this machine cannot run and no `host` takes, and for nodes
    /// whose `placement` is `cluster`: `ray://HOST:PORT` (the head's client server). Needs a
    /// CPython with `ray` (REMOTEMEDIA_PYTHON, else python3); see docs/cluster.md.
    #[arg(long, value_name = "ADDRESS", env = RAY_ADDRESS)]
    cluster: Option<String>,
}

impl ClusterArgs {
    /// The cluster connector, when a cluster is given; bad settings are [`InvalidInput`].
    pub fn connector(&self) -> anyhow::Result<Option<Arc<dyn ClusterConnector>>> {
        let Some(address) = self
            .cluster
            .as_deref()
            .filter(|address| !address.is_empty())
        else {
            return Ok(None);
        };
        let python = cpython::locate().map_err(|err| {
            InvalidInput(anyhow::anyhow!(
                "--cluster {address}: the Ray driver needs a CPython with `ray` installed: {err}"
            ))
        })?;
        let settings = RaySettings::new(address, python, worker_executable()?);
        let cluster = RayCluster::new(settings, |token| {
            let token = Token::new(token, "the cluster's one-time token")
                .map_err(|err| HostError(err.to_string()))?;
            let hosts = RemoteHosts::new(ClientOptions {
                token: Some(token),
                ..ClientOptions::default()
            })?;
            Ok(Arc::new(hosts) as Arc<dyn HostConnector>)
        })?;
        Ok(Some(Arc::new(cluster)))
    }
}

/// The executable the cluster's actors start as node workers: this one — or, when this program
/// runs inside a Python interpreter (the wheel's console command), the command it was started as.
fn worker_executable() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let in_python = exe
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("python"));
    match std::env::args_os().next() {
        Some(program) if in_python => Ok(std::path::absolute(program)?),
        _ => Ok(exe),
    }
}
