//! The Python SDK frozen for RustPython (filled in by the RustPython engine work).
