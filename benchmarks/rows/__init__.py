"""The rows of the bench table, in issue 7's order. Each module's `run(bench)` returns its row(s)."""
