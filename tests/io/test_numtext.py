"""The vectorised number-block formatter and parser behind the CHGCAR and cube readers/writers."""

from __future__ import annotations

import numpy as np
import pytest

from rhograph.io._numtext import format_block, parse_block


def _values(n: int = 20000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-40, 40, n)
    x[:6] = [0.0, 1.0, -1.0, 9.999999999999, 0.0999999999999, 123456.7]
    return x


@pytest.mark.parametrize(("vasp_style", "digits"), [(True, 11), (False, 9)])
def test_format_agrees_with_python_formatting(vasp_style: bool, digits: int) -> None:
    x = _values()
    tokens = format_block(x, per_line=5, digits=digits, vasp_style=vasp_style).split()
    got = np.array([float(t) for t in tokens])
    ref = np.array([float(f"{v:.{digits - 1}E}") for v in x])
    # identical up to the rare value sitting on a rounding boundary, which may differ in the last digit
    assert (got == ref).mean() > 0.999
    np.testing.assert_allclose(got, ref, rtol=1.01 * 10.0 ** (1 - digits), atol=0)


def test_vasp_field_layout() -> None:
    text = format_block(np.array([0.5, -0.25, 0.0, 1234.5, -1e-30, 7.0]), per_line=5, digits=11, vasp_style=True)
    lines = text.decode().split("\n")
    assert lines[0] == " 0.50000000000E+00 -.25000000000E+00 0.00000000000E+00 0.12345000000E+04 -.10000000000E-29"
    assert lines[1] == " 0.70000000000E+01"
    assert lines[2] == ""


def test_scientific_records_start_new_lines() -> None:
    values = np.arange(2 * 8, dtype=float).reshape(2, 8) - 3
    text = format_block(values, per_line=6, digits=9, vasp_style=False, record=8).decode()
    lines = text.split("\n")
    assert [len(line.split()) for line in lines[:-1]] == [6, 2, 6, 2]
    assert lines[0].startswith(" -3.00000000E+00 -2.00000000E+00 -1.00000000E+00  0.00000000E+00")


def test_format_rejects_nan_and_huge() -> None:
    with pytest.raises(ValueError, match="NaN"):
        format_block(np.array([1.0, np.nan]), per_line=5, digits=11, vasp_style=True)
    with pytest.raises(ValueError, match="exponent"):
        format_block(np.array([1e120]), per_line=5, digits=11, vasp_style=True)


@pytest.mark.parametrize(("vasp_style", "digits", "record"), [(True, 11, None), (False, 9, 7), (False, 9, 12)])
def test_fast_parse_equals_numpy_text_parser(vasp_style: bool, digits: int, record: int | None) -> None:
    x = _values(7 * 12 * 5)
    text = format_block(x, per_line=6, digits=digits, vasp_style=vasp_style, record=record)
    values, end = parse_block(text + b"augmentation occupancies 1 2\n", x.size, record=record)
    assert end == len(text)
    np.testing.assert_allclose(values, np.fromstring(text, sep=" "), rtol=5e-16, atol=0)  # ≤ 1 ulp


def test_irregular_layout_uses_the_general_parser() -> None:
    text = b"1 2.5\t-3e2\n  4 5 6 7\n8\n9 10 11\nnext section\n"
    values, end = parse_block(text, 11)
    np.testing.assert_array_equal(values, [1, 2.5, -300, 4, 5, 6, 7, 8, 9, 10, 11])
    assert text[end:] == b"next section\n"


def test_parse_errors() -> None:
    good = format_block(np.arange(12.0), per_line=5, digits=11, vasp_style=True)
    with pytest.raises(ValueError, match="only 12"):
        parse_block(good, 13)
    garbage = good.replace(b"0.30000000000E+01", b"0.3000000x000E+01")
    with pytest.raises(ValueError):
        parse_block(garbage, 12)
    with pytest.raises(ValueError, match="more number"):
        parse_block(good, 11)
    with pytest.raises(ValueError, match="more number"):
        parse_block(b"1 2 3\n4 5 6\n", 5)
