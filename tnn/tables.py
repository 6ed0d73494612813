"""Aligned text tables for the lectures' printouts.

A lecture prints many small tables (a row per scheme, a column per layer). Written with
hand-aligned f-strings, each needs its widths chosen by hand and kept in step with its header;
:func:`print_table` chooses them from the content.

>>> print_table([("tanh", 0.1234, 12), ("relu", 1.5, 3)],
...             [("activation", ""), ("std", ".3f"), ("layers", "d")])
activation   std layers
tanh       0.123     12
relu       1.500      3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _cell(value, spec: str) -> str:
    if value is None:
        return ""
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def format_table(rows: Iterable[Sequence], columns: Sequence[tuple[str, str]], *,
                 sep: str = " ") -> str:
    """The rows as right-aligned columns under their headers.

    Parameters
    ----------
    rows : iterable of sequences, one value per column (``None`` prints as blank)
    columns : sequence of ``(header, format spec)`` pairs, e.g. ``("std", ".3f")``; the spec
        is what ``format(value, spec)`` takes (``""`` for ``str(value)``, ``","`` for
        thousands separators)
    sep : str
        Between columns.

    Returns
    -------
    text : str, one line per row after the header line; numbers are right-aligned, a column
        of text is left-aligned
    """
    columns = list(columns)
    if not columns or not all(isinstance(c, tuple) and len(c) == 2 for c in columns):
        raise ValueError("columns must be a non-empty list of (header, format spec) pairs; "
                         f"got {columns!r}.")
    cells, texts = [], [True] * len(columns)
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(columns):
            raise ValueError(f"row {i} has {len(row)} values for {len(columns)} columns: {row!r}")
        cells.append([_cell(v, spec) for v, (_, spec) in zip(row, columns, strict=True)])
        texts = [t and (v is None or isinstance(v, str)) for t, v in zip(texts, row, strict=True)]
    headers = [str(h) for h, _ in columns]
    widths = [max([len(h), *(len(r[j]) for r in cells)]) for j, h in enumerate(headers)]

    def line(values):
        return sep.join(v.ljust(w) if text else v.rjust(w)
                        for v, w, text in zip(values, widths, texts, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def print_table(rows: Iterable[Sequence], columns: Sequence[tuple[str, str]], *,
                sep: str = " ") -> None:
    """Print :func:`format_table`'s text."""
    print(format_table(rows, columns, sep=sep))
