"""The lectures' table printer (tnn/tables.py)."""

import doctest

import pytest

from tnn import tables


def test_columns_are_as_wide_as_their_widest_cell_numbers_right_text_left():
    text = tables.format_table([("conv1", 34944, None), ("fc6", 37752832, 0.5)],
                               [("layer", ""), ("params", ","), ("share", ".1%")])
    assert text.splitlines() == [
        "layer     params share",
        "conv1     34,944",
        "fc6   37,752,832 50.0%",
    ]


def test_docstring_example():
    assert doctest.testmod(tables).failed == 0


@pytest.mark.parametrize("rows,columns,match", [
    ([(1, 2)], [("a", "d")], "row 0 has 2 values for 1 columns"),
    ([(1,)], [], "non-empty list"),
    ([(1,)], ["a"], "pairs"),
])
def test_bad_tables_say_what_is_wrong(rows, columns, match):
    with pytest.raises(ValueError, match=match):
        tables.format_table(rows, columns)
