"""The node catalogue's implementations: pass-through and buffering, calculator and math, text,
data source/sink, audio (WAV reader/writer, gain, mix-down, resamplers, VADs) and ML nodes.

The table of which class lives where is `remotemedia.catalogue`; nothing here imports a node
module until that node is asked for, so the catalogue stays cheap to load under RustPython.
"""
