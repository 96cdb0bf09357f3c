//! The remotemedia runtime (public embedding API).

pub mod engine;
pub mod executor;
pub mod graph;
pub mod manifest;
pub mod value;
