"""The records the grading driver passes around: one job per student, one result per hand-in.

A :class:`Job` is written by the run (:mod:`autograde.run`) for a worker
(:mod:`autograde.worker`), which returns one :class:`GradeResult` per assignment. Both are
plain dataclasses that round-trip through JSON (``to_json`` / ``from_json``), so the worker
can be a child of the fork server (:mod:`autograde.pool`) or ``python -m autograde.worker JOB.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Whose failure a failed hand-in is. Only a student failure is final: the grader's limits
#: fired (time, memory, CPU, output) or the student's kernel exited by itself. A grader
#: failure (a crash, a missing staging file, a worker killed from outside, a database error)
#: is retried and never saved as the student's result.
STUDENT, GRADER = "student", "grader"


@dataclass
class GradeResult:
    """Outcome of grading one student's hand-in of one assignment."""

    student: str
    assignment: str
    ok: bool
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    error: str = ""
    flags: list[str] = field(default_factory=list)
    fault: str = ""  # "" when graded; STUDENT or GRADER when not

    @property
    def final(self) -> bool:
        """Whether this result may be saved and reused (everything but a grader failure)."""
        return self.ok or self.fault != GRADER

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GradeResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["cells"] = {k: tuple(v) for k, v in known.get("cells", {}).items()}
        return cls(**known)

    @classmethod
    def failed(cls, student: str, assignment: str, why: str, fault: str) -> GradeResult:
        flags = [why] if fault == STUDENT else []
        return cls(student, assignment, False, error=why, flags=flags, fault=fault)


@dataclass
class Job:
    """What one worker grades: one student's hand-ins, into a gradebook of its own."""

    root: str  # the course directory
    student: str
    assignments: list[str]
    db: str  # the worker's private sqlite gradebook (a copy of the course's, no students)
    out: str  # where the worker writes its results (JSON list of GradeResult)
    staging: str  # private folder the hand-ins are copied to before grading
    overrides: dict = field(default_factory=dict)  # nbgrader config, by dotted name
    feedback: bool = True

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Job:
        return cls(**json.loads(Path(path).read_text()))


def write_results(path: Path, results: list[GradeResult]) -> None:
    """Write ``results`` atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([r.to_dict() for r in results]))
    tmp.replace(path)


def read_results(path: Path) -> list[GradeResult]:
    return [GradeResult.from_dict(r) for r in json.loads(Path(path).read_text())]
