//! Integration tests of the runtime library: one binary, one module per topic.

mod executor;
mod manifest;
mod pipeline;
mod placement;
mod rustpython;
mod test_nodes;
