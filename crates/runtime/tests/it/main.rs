//! Integration tests of the runtime library: one binary, one module per topic.

mod executor;
mod pipeline;
mod placement;
mod rustpython;
mod test_nodes;
