"""The SDK's core: nodes, the driver every engine uses, pipelines, values and exceptions.

Import the submodules you need; this package imports nothing so RustPython starts fast.
"""
