//! The remotemedia runtime (public embedding API).

pub mod engine;
pub mod env_vars;
pub mod executor;
pub mod graph;
pub mod manifest;
pub mod pipeline;
pub mod placement;
pub mod value;
