"""Building what the bench measures, once, with the one release profile everything uses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import BenchError

CARGO_FLAGS = ["--release", "--locked", "--ignore-rust-version"]
CRITERION_BENCHES = ("values", "executor", "validation")


@dataclass
class Artefacts:
    """The binary under test (a private copy) and the criterion bench executables, by bench name."""

    binary: Path
    bench_executables: dict[str, Path]


def target_dir(repo: Path) -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or repo / "target")


def build(repo: Path, work: Path, *, with_criterion: bool, log) -> Artefacts:
    """`cargo build --release --workspace` (the binary, and the libraries it and the SDK load at
    run time when the workspace has them) and, if asked, the criterion benches, with the same
    dependency features, so that they reuse every compiled dependency (a second RustPython build
    costs five minutes on 2 cores).

    The artefacts are copied into `work`: the target directory may be shared, and another build
    must not swap them under the benchmark's feet.
    """
    log("cargo build --release --workspace")
    _cargo(repo, ["build", *CARGO_FLAGS, "--workspace"])
    binary = _copy_release(target_dir(repo) / "release" / "remotemedia", work)
    executables: dict[str, Path] = {}
    if with_criterion:
        log("cargo build --release --bench … (criterion micro-benchmarks)")
        benches = [argument for name in CRITERION_BENCHES for argument in ("--bench", name)]
        # `--workspace`, not `-p remotemedia-runtime`: cargo unifies dependency features over the
        # packages it is asked for, so one package alone would compile RustPython again.
        messages = _cargo(repo, ["build", *CARGO_FLAGS, "--workspace", *benches, "--message-format=json"])
        for line in messages.splitlines():
            message = json.loads(line) if line.startswith("{") else {}
            target = message.get("target", {})
            if message.get("reason") == "compiler-artifact" and "bench" in target.get("kind", []) \
                    and message.get("executable"):
                executables[target["name"]] = work / f"bench-{target['name']}"
                shutil.copy2(message["executable"], executables[target["name"]])
        missing = set(CRITERION_BENCHES) - executables.keys()
        if missing:
            raise BenchError(f"cargo did not report the bench executables {sorted(missing)}")
    return Artefacts(binary, executables)


def existing(binary: Path, work: Path) -> Artefacts:
    """Use an already built binary (`--no-build`); the criterion rows then cannot run."""
    if not binary.is_file():
        raise BenchError(f"no binary at {binary}; build it (make build) or drop --no-build")
    return Artefacts(_copy_release(binary, work), {})


def _copy_release(binary: Path, work: Path) -> Path:
    """Copy the binary and the shared libraries built beside it (the CPython bridge, which the
    binary looks for next to itself; the SDK's native module) into `work`."""
    for library in binary.parent.glob("libremotemedia_*.so"):
        shutil.copy2(library, work / library.name)
    copy = work / "remotemedia"
    shutil.copy2(binary, copy)
    return copy


def _cargo(repo: Path, arguments: list[str]) -> str:
    completed = subprocess.run(["cargo", *arguments], cwd=repo, capture_output=True, text=True)
    if completed.returncode != 0:
        raise BenchError(f"`cargo {' '.join(arguments)}` failed:\n{completed.stderr[-4000:]}")
    return completed.stdout
