//! The engines that run node code behind the [`Engine`](crate::engine::Engine) interface.

pub mod cpython;
pub mod rustpython;
