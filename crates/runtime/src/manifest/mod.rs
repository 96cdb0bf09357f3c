//! Pipeline manifests: the data model, parsing and validation.

mod types;

pub use types::*;
