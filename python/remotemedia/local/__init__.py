"""The local CPython run of a pipeline (`Pipeline.run(engine="python")`, `Pipeline.process`): the
reference semantics every engine reproduces — one thread per node (`node_thread`), bounded
closeable channels between them (`channel`), inputs fed from sync or async iterables (`inputs`),
and the run that ties them together (`run`).
"""
