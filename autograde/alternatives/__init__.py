"""Correct answers written differently from the solutions, and classic bugs, for every
graded function.

A grader must give full marks to any correct answer, not only to the solution's way of
writing it. Each assignment ``NN_topic`` has a module ``autograde/alternatives/<topic>.py``
holding

- ``ANSWERS``: an answer-cell source for every answer cell (``grade_id -> source``) that
  differs from the solution in the ways honest students' answers do: ``np.where`` instead of
  a boolean mask (and the other way round), ``scipy.special``, explicit loops, torch inside a
  NumPy function, autograd for a backward pass, ``import numpy as np`` / ``import torch``
  repeated in a cell, a plot that sets ``plt.rcParams``, debug output on stderr, ``logging``
  and tqdm progress bars;
- ``BUGS``: answers that are right on a CPU for the values but wrong all the same (a function
  that writes into its caller's array, a torch twin that builds its tensors on the CPU
  whatever the input's device), or a classic slip of the topic. Each must lose exactly its
  own question's points, with a message that says what to fix.

:data:`ALTERNATIVES` and :data:`CLASSIC_BUGS` collect them over the course's assignments;
:func:`honest_hand_in` and :func:`bugs_hand_in` turn them into hand-ins.
``tests/test_honest_answers.py`` grades both end to end.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from autograde import corpus
from autograde.course import REPO_ROOT, assignment_ids


@dataclass
class Bug:
    """A classic bug: the answer cell it replaces, the test cells it must lose (all others
    keep their points), and words its feedback must contain."""

    aid: str
    cell: str
    source: str
    loses: set
    says: tuple


def topic_module(aid: str):
    """The module of ``aid``'s alternatives (``01_activations`` -> ``.activations``), or None."""
    name = aid.split("_", 1)[-1]
    if not (REPO_ROOT / "autograde" / "alternatives" / f"{name}.py").is_file():
        return None
    return importlib.import_module(f"{__name__}.{name}")


def _collect() -> tuple[dict[str, dict[str, str]], dict[str, Bug]]:
    answers, bugs = {}, {}
    for aid in assignment_ids(REPO_ROOT):
        module = topic_module(aid)
        if module is None:
            continue
        answers[aid] = module.ANSWERS
        for name, bug in getattr(module, "BUGS", {}).items():
            if name in bugs:
                raise ValueError(f"two assignments define the classic bug {name!r}")
            bugs[name] = bug
    return answers, bugs


#: assignment -> {answer cell grade_id -> source};  bug name -> Bug
ALTERNATIVES, CLASSIC_BUGS = _collect()


def honest_hand_in(aid: str, root=None):
    """The released notebook of ``aid`` with every answer cell replaced by its alternative."""
    kwargs = {} if root is None else {"root": root}
    return corpus.filled_in(aid, replace={gid: src.strip("\n") + "\n"
                                          for gid, src in ALTERNATIVES[aid].items()}, **kwargs)


def bugs_hand_in(aid: str, root=None):
    """The solution's answers to ``aid`` with every classic bug of ``aid`` in place (each bug
    is in an answer cell of its own, so each must cost only its own test cells)."""
    kwargs = {} if root is None else {"root": root}
    replace = {bug.cell: bug.source.strip("\n") + "\n" for bug in CLASSIC_BUGS.values()
               if bug.aid == aid}
    return corpus.filled_in(aid, replace=replace, **kwargs)


__all__ = ["ALTERNATIVES", "CLASSIC_BUGS", "Bug", "honest_hand_in", "bugs_hand_in",
           "topic_module"]
