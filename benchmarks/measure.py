"""Running contenders as processes, alternating them, checking their outputs, summarising samples.

Every timed figure comes from a whole child process, so each contender pays for what it really
costs (start-up included) and its peak RSS and CPU time come from the kernel (`wait4`), not
from sampling. Contenders of one comparison run alternately (A B A B …) so that whatever else
the machine is doing falls on both sides alike; ratios are taken pair by pair.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar


class BenchError(RuntimeError):
    """A benchmark could not produce an honest figure: a contender failed or outputs differ."""


@dataclass(frozen=True)
class ProcessSample:
    """One finished child process: wall time from spawn to exit, and the kernel's accounting."""

    wall: float
    user: float
    system: float
    max_rss_kib: int
    stdout: str
    stderr: str
    memory: dict[str, float] = field(default_factory=dict)

    @property
    def cpu(self) -> float:
        """CPU seconds in user and kernel mode, summed over the process's threads."""
        return self.user + self.system


def run_process(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 900.0, poll_memory: bool = False) -> ProcessSample:
    """Run `argv` to completion; raise BenchError (with its stderr) if it fails or times out.

    Output goes to temporary files rather than pipes, so the process never blocks on us and we
    can reap it with `os.wait4`, which returns its own resource usage (not all children's).
    `poll_memory` also records its peak anonymous and file-backed resident memory (see
    `MemoryPoller`), from a thread, so the wall time stays exact.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        poller = MemoryPoller(process.pid) if poll_memory else None
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        memory = poller.stop() if poller else {}
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if process.returncode != 0:
        reason = f"was killed after {timeout:.0f} s" if wall >= timeout else f"exited with {process.returncode}"
        raise BenchError(f"`{' '.join(map(str, argv))}` {reason}:\n{stderr[-3000:]}")
    return ProcessSample(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, stdout, stderr, memory)


class MemoryPoller:
    """Peak anonymous and file-backed resident memory (bytes) of a running process, from /proc.

    `wait4` only gives the total peak; this tells heap from pages of mapped files (the executable
    itself, shared libraries), which the kernel can drop and read again under memory pressure.
    Polling every 10 ms may miss a short spike, so it is reported beside the kernel's total.
    """

    FIELDS: ClassVar[dict[str, str]] = {"RssAnon": "rss_anonymous", "RssFile": "rss_file_backed"}

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peaks = dict.fromkeys(self.FIELDS.values(), 0.0)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.wait(0.01):
            try:
                for line in self.status.read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in self.FIELDS:
                        name = self.FIELDS[key]
                        self.peaks[name] = max(self.peaks[name], int(value.split()[0]) * 1024.0)
            except (OSError, ValueError, IndexError):
                return  # the process is gone

    def stop(self) -> dict[str, float]:
        self.done.set()
        self.thread.join()
        return self.peaks


def canonical_digest(path: Path) -> str:
    """SHA-256 of a JSON Lines file after re-serialising each line the same way.

    The binary and the SDK both write the project's canonical JSON form of a value (shortest
    float32 decimals, `$bytes` objects), so equal values give equal digests whatever the spacing.
    """
    digest = hashlib.sha256()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                digest.update(_canonical_line(line).encode())
                digest.update(b"\n")
    return digest.hexdigest()


def _canonical_line(line: str) -> str:
    return json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: the same contender must write the same bytes every run."""
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def first_difference(left: Path, right: Path) -> str:
    """Where two JSON Lines outputs first differ, for the error message."""
    with open(left, encoding="utf-8") as a, open(right, encoding="utf-8") as b:
        number = 0
        while True:
            number += 1
            line_a, line_b = a.readline(), b.readline()
            if not line_a and not line_b:
                return "the files differ only in blank lines"
            canonical_a = _canonical_line(line_a) if line_a.strip() else "<end of output>"
            canonical_b = _canonical_line(line_b) if line_b.strip() else "<end of output>"
            if canonical_a != canonical_b:
                return f"line {number}: {canonical_a[:200]!r} != {canonical_b[:200]!r}"


@dataclass
class Contender:
    """One side of a comparison: a command that writes its outputs (JSON Lines) to `output`.

    `figures` extracts extra numbers from a finished run (e.g. a node's own time reported on
    stdout); the wall time, CPU time and peak RSS are always recorded.
    """

    name: str
    argv: list[str]
    output: Path
    env: dict[str, str] | None = None
    figures: Callable[[ProcessSample], dict[str, float]] | None = None
    poll_memory: bool = False


@dataclass
class Measurement:
    """What one run of a contender gave."""

    wall: float
    cpu: float
    max_rss_kib: int
    extra: dict[str, float] = field(default_factory=dict)

    def get(self, figure: str) -> float:
        if figure == "wall":
            return self.wall
        if figure == "cpu":
            return self.cpu
        if figure == "max_rss_kib":
            return float(self.max_rss_kib)
        return self.extra[figure]


@dataclass
class Comparison:
    """The runs of every contender of one comparison, and the proof their outputs agreed."""

    runs: dict[str, list[Measurement]]
    output_digest: str
    checked: list[str]

    def values(self, contender: str, figure: str = "wall") -> list[float]:
        return [run.get(figure) for run in self.runs[contender]]


def measure(contender: Contender) -> tuple[Measurement, ProcessSample]:
    sample = run_process(contender.argv, env=contender.env, poll_memory=contender.poll_memory)
    extra = {**sample.memory, **(contender.figures(sample) if contender.figures else {})}
    return Measurement(sample.wall, sample.cpu, sample.max_rss_kib, extra), sample


def compare(contenders: Sequence[Contender], repetitions: int, *,
            progress: Callable[[str], None] = lambda _: None, outputs_are_timings: bool = False,
            same_outputs: bool = True) -> Comparison:
    """Check that all contenders give the same outputs, then time them alternately.

    The checking run of each contender doubles as its warm-up (page cache, bytecode caches) and is
    not counted. Each timed run must then write byte-for-byte what that contender wrote when it
    was checked, so a figure never comes from a run that went wrong.

    `outputs_are_timings` is for contenders whose output is itself a measurement (it differs from
    run to run): then only the warm-up run is made, and no output is compared. With
    `same_outputs=False` the contenders run different inputs or sizes (checked against their
    reference elsewhere): each is only held to its own checked output.
    """
    if outputs_are_timings:
        for contender in contenders:
            progress(f"warming up {contender.name}")
            measure(contender)
        runs: dict[str, list[Measurement]] = {contender.name: [] for contender in contenders}
        for repetition in range(repetitions):
            for contender in contenders:
                progress(f"{contender.name}: run {repetition + 1}/{repetitions}")
                runs[contender.name].append(measure(contender)[0])
        return Comparison(runs, "", [])
    if not contenders:
        raise BenchError("a comparison needs at least one contender")
    reference = contenders[0]
    raw_digests: dict[str, str] = {}
    canonical = ""
    for contender in contenders:
        progress(f"checking {contender.name}")
        measure(contender)
        digest = canonical_digest(contender.output)
        if contender is reference:
            canonical = digest
            if contender.output.stat().st_size == 0:
                raise BenchError(f"{contender.name} produced no output; nothing to compare")
        elif same_outputs and digest != canonical:
            raise BenchError(f"outputs differ between {reference.name} and {contender.name}: "
                             f"{first_difference(reference.output, contender.output)}")
        raw_digests[contender.name] = file_digest(contender.output)
    runs = {contender.name: [] for contender in contenders}
    for repetition in range(repetitions):
        for contender in contenders:
            progress(f"{contender.name}: run {repetition + 1}/{repetitions}")
            measurement, _ = measure(contender)
            if file_digest(contender.output) != raw_digests[contender.name]:
                raise BenchError(f"{contender.name} wrote different outputs in timed run {repetition + 1} "
                                 "than in its checked run")
            runs[contender.name].append(measurement)
    names = ", ".join(contender.name for contender in contenders)
    if not same_outputs:
        return Comparison(runs, canonical, [f"every timed run repeated its checked output: {names}"])
    return Comparison(runs, canonical, [f"same outputs (sha256 {canonical[:12]}…) from {names}"])


@dataclass(frozen=True)
class Stats:
    """Median and spread of a set of samples."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    @property
    def maximum(self) -> float:
        return max(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        """First and third quartiles (inclusive method; both the median when there is one sample)."""
        if len(self.samples) < 2:
            return self.median, self.median
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q1, q3

    def to_json(self) -> dict[str, object]:
        q1, q3 = self.quartiles
        return {"median": self.median, "q1": q1, "q3": q3, "min": self.minimum, "max": self.maximum,
                "n": len(self.samples), "samples": list(self.samples)}


def stats(samples: Iterable[float]) -> Stats:
    values = tuple(samples)
    if not values:
        raise BenchError("no samples to summarise")
    return Stats(values)


def pairwise(left: Sequence[float], right: Sequence[float], combine: Callable[[float, float], float]) -> Stats:
    """Combine the i-th samples of two alternated contenders (e.g. their ratio), run by run."""
    if len(left) != len(right):
        raise BenchError("pairwise figures need as many runs on both sides")
    return stats(combine(a, b) for a, b in zip(left, right, strict=True))
