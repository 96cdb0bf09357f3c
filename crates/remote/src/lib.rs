//! Remote execution for remotemedia: nodes of a pipeline run on another `remotemedia` instance
//! over gRPC. Internal API of the `remotemedia` executable; the protocol itself is public and
//! versioned, in `proto/remotemedia/v1/remote.proto`.
//!
//! - [`server::serve`] is `remotemedia serve`: it runs nodes for clients, one bidirectional
//!   `RunNode` stream per node instance, with its own engines and catalogue.
//! - [`client::RemoteHosts`] is the runtime's [`HostConnector`](remotemedia_core::hosts::HostConnector):
//!   placement asks hosts what they offer before a run, and the executor drives remote nodes
//!   through the same engine contract as local ones.
//! - Values cross the wire in binary ([`convert`]): numbers as numbers, bytes and typed arrays as
//!   raw (little-endian) bytes — never JSON.
//! - With a token, every call carries it and the server compares it in constant time ([`auth`]);
//!   TLS (rustls) is the `tls` feature, on by default.

pub mod auth;
pub mod client;
pub mod convert;
pub mod server;
mod workers;

/// The generated protocol types and gRPC stubs.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod proto {
    tonic::include_proto!("remotemedia.v1");

    impl node_response::Kind {
        /// The field's name in the protocol, for messages.
        pub fn name(&self) -> &'static str {
            match self {
                Self::Created(_) => "created",
                Self::Initialized(_) => "initialized",
                Self::Output(_) => "output",
                Self::ItemDone(_) => "item_done",
                Self::Flushed(_) => "flushed",
                Self::Closed(_) => "closed",
                Self::Failure(_) => "failure",
            }
        }
    }
}

pub use auth::{Token, TokenError};
pub use client::{ClientOptions, RemoteHosts};
pub use server::{ServeConfig, ServeError, TlsIdentity, serve, serve_until};

/// The protocol revision this build speaks (`DescribeResponse.protocol_version`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest gRPC message sent or accepted unless configured: 64 MiB, room for minutes of audio
/// in one item while keeping a hostile peer from making the server allocate without bound.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// `error: cause: cause`, for messages.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
