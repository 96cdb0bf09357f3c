//! Integration tests of the core library: one binary, one module per topic.

mod embedding;
mod executor;
mod manifest;
mod placement;
mod test_nodes;
