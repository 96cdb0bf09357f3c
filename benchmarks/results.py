"""What a row of the bench table holds: figures per contender, ratios, targets and checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.measure import Stats

NOT_BUILT = "n/a (not built)"
"""Status of a contender whose engine or module this checkout does not have yet."""


@dataclass
class Figure:
    """One contender's figure: measured (`stats`) or not available, and why (`status`)."""

    contender: str
    unit: str
    stats: Stats | None = None
    status: str = "ok"
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"contender": self.contender, "unit": self.unit, "status": self.status, "note": self.note,
                "stats": self.stats.to_json() if self.stats else None}


@dataclass
class Ratio:
    """A ratio of two contenders measured in the same run, taken run by run."""

    name: str
    stats: Stats
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "note": self.note, "stats": self.stats.to_json()}


@dataclass
class Target:
    """One of issue 7's targets and where the run left it: met, missed, or n/a (cannot measure yet)."""

    text: str
    status: str
    figure: str

    @classmethod
    def judge(cls, text: str, met: bool, figure: str) -> Target:
        return cls(text, "met" if met else "missed", figure)

    @classmethod
    def unavailable(cls, text: str, status: str) -> Target:
        """A target that cannot be judged, with the status of the contender it needs."""
        return cls(text, "n/a", status)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.text, "status": self.status, "figure": self.figure}


@dataclass
class Row:
    """One numbered row of issue 7."""

    key: str
    title: str
    measures: str
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "measures": self.measures,
                "figures": [figure.to_json() for figure in self.figures],
                "ratios": [ratio.to_json() for ratio in self.ratios],
                "targets": [target.to_json() for target in self.targets],
                "checks": self.checks, "error": self.error}
