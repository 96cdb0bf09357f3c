"""How big and how often: the full run's sizes (what issue 7 asks for) and `--quick`'s."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Sizes:
    """Every knob of a bench run; `--reps` and friends override single fields."""

    repetitions: int
    """Timed runs of each contender in a comparison (after one checked, untimed run)."""
    cold_start_repetitions: int
    """Cold starts are short and noisy, so they get more runs."""
    glue_items: int
    """Items through the glue pipeline (PassThrough → Calculator → PassThrough)."""
    overhead_items: int
    """Items through the PassThrough chains of the per-node overhead row, for the runtime's engines."""
    overhead_items_sdk: int
    """The same for the CPython SDK's local run, which is much slower per item."""
    chain_length: int
    """The long chain of the per-node overhead row (the short one has a single node)."""
    audio_seconds: int
    """Length of the audio the compute-heavy row resamples."""
    parallel_items: int
    """Items through the CPU-bound stages of the parallel row."""
    parallel_rounds: int
    """Work per stage per item (steps of a linear congruential generator)."""
    criterion_seconds: float
    """Measurement time of each criterion benchmark the bench command runs."""
    op_iterations: int
    """Executions of each single operation in the interpreter breakdown."""
    array_items: int
    """Arrays of each size through the CPython bridge."""
    remote_items: int
    """Items through the remote node in the throughput runs (issue 6)."""
    remote_latency_items: int
    """Items sent one at a time per latency run."""
    soak_runs: int
    """Sequential client runs against one server for its memory figures."""
    transcribe_seconds: int
    """Seconds of speech the transcription row transcribes."""


# The full run must fit, with a cold build of the release artefacts, in issue 7's 15 minutes on 2 cores:
# three timed repetitions (after the checked run) per contender, shorter criterion measurements.
FULL = Sizes(
    repetitions=3,
    cold_start_repetitions=15,
    glue_items=100_000,
    overhead_items=100_000,
    overhead_items_sdk=10_000,
    chain_length=8,
    audio_seconds=60,
    parallel_items=30,
    parallel_rounds=100_000,
    criterion_seconds=1.0,
    op_iterations=200_000,
    array_items=50,
    remote_items=20_000,
    remote_latency_items=300,
    soak_runs=1_000,
    transcribe_seconds=30,
)

QUICK = Sizes(
    repetitions=1,
    cold_start_repetitions=2,
    glue_items=500,
    overhead_items=500,
    overhead_items_sdk=100,
    chain_length=3,
    audio_seconds=1,
    parallel_items=4,
    parallel_rounds=500,
    criterion_seconds=0.5,
    op_iterations=2_000,
    array_items=3,
    remote_items=200,
    remote_latency_items=20,
    soak_runs=3,
    transcribe_seconds=6,
)


def sizes(quick: bool, **overrides: Any) -> Sizes:
    """The preset, with every override that was given (None means "not given")."""
    chosen = QUICK if quick else FULL
    given = {key: value for key, value in overrides.items() if value is not None}
    return replace(chosen, **given)
