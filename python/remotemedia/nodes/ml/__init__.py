"""Machine-learning nodes. Their heavy libraries (torch, whisper, transformers) are imported in
`initialize`, never at import time, so the catalogue still loads where they are not installed;
they need CPython, which their `runtime_hint` tells the runtime."""
