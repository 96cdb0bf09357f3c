"""Row 8 — validation throughput, and the criterion micro-benchmarks of the other hot Rust paths."""

from __future__ import annotations

from benchmarks import criterion
from benchmarks.context import Bench
from benchmarks.measure import stats
from benchmarks.results import Figure, Row

VALIDATION_ID = "validation/200 nodes"
EXECUTOR_ITEMS = 10_000  # ITEMS in crates/runtime/benches/executor.rs


def run(bench: Bench) -> list[Row]:
    validation = Row("validation", "Validation throughput: 200-node manifest",
                     "Manifests per second, in-process (criterion bench `validation`, not a `validate` loop): "
                     "parse the JSON text, check it against the JSON Schema and the semantic rules, build the "
                     "graph — what every `remotemedia run` does before anything starts. The manifest mixes "
                     "catalogue and user nodes, params and capability requirements, with fan-out every tenth node.")
    results = criterion.run(bench, bench.bench_executables["validation"])
    per_manifest = results[VALIDATION_ID]
    validation.figures.append(Figure("runtime (Rust, in-process)", "manifests/s",
                                     stats(1 / seconds for seconds in per_manifest.samples)))

    micro = Row("micro", "Criterion micro-benchmarks (hot Rust paths)",
                "Time per iteration, in-process, of crates/runtime/benches: `json/*` one JSON Lines input "
                "line into a runtime value and a value back into a line; `rustpython/round_trip/*` a value into the "
                "embedded interpreter, through a live PassThroughNode, and back; `executor/chain/N` "
                f"{EXECUTOR_ITEMS:,} items through N native pass-through nodes (threads and bounded channels, "
                "no interpreter). The channel hop is (chain/4 − chain/1) ÷ 3 per item.")
    for name in ("values", "executor"):
        for identity, seconds in criterion.run(bench, bench.bench_executables[name]).items():
            if identity.startswith("executor/"):
                micro.figures.append(Figure(f"{identity} (per item)", "s",
                                            stats(value / EXECUTOR_ITEMS for value in seconds.samples)))
                results[identity] = seconds
            else:
                micro.figures.append(Figure(identity, "s", seconds))
    one, four = results.get("executor/chain/1"), results.get("executor/chain/4")
    if one and four:
        hop = stats([(four.median - one.median) / 3 / EXECUTOR_ITEMS])
        micro.figures.append(Figure("executor: one channel hop (derived)", "s", hop,
                                    note="from the two medians; no spread"))
    return [validation, micro]
