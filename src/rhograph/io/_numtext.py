"""Text helpers of the CHGCAR and cube readers: vectorised number blocks and a header line cursor.

Both directions work on the whole block with numpy, never with a per-line or per-value Python loop:

* :func:`format_block` writes ``per_line`` fields per line, each field either VASP style
  ``" 0.12345678901E+00"`` / ``" -.12345678901E+00"`` (Fortran ``E17.11``) or scientific style
  ``"  1.23456789E-01"`` / ``" -1.23456789E-01"``. Digits are produced with integer arithmetic and
  2-digit lookup tables written into a ``uint16`` view of the output buffer.
* :func:`parse_block` reads ``count`` numbers. Fixed-width blocks (every full line the same length and the
  same field layout, as written by VASP, ASE, pymatgen and us) are decoded from the raw bytes; anything
  else falls back to :func:`numpy.fromstring`. Both raise :class:`ValueError` on garbage or a short block.
"""

from __future__ import annotations

import numpy as np

from rhograph.errors import DensityFileError

_CHUNK = 1 << 16  # fields converted at a time (keeps the temporaries in cache)
_ZERO, _NINE, _SPACE, _MINUS, _PLUS, _DOT, _NL = (ord(c) for c in "09 -+.\n")


def _pair_table(fmt: str, count: int) -> np.ndarray:
    """``uint16`` codes of two-character strings ``fmt.format(i)`` for ``i < count`` (native byte order)."""
    raw = "".join(fmt.format(i) for i in range(count)).encode("ascii")
    return np.frombuffer(raw, dtype=np.uint16).copy()


_PAIRS = _pair_table("{:02d}", 100)
_DOT_DIGIT = _pair_table(".{:d}", 10)  # VASP style: ".d"
_DIGIT_DOT = _pair_table("{:d}.", 10)  # scientific style: "d."
_SIGN_VASP = np.frombuffer(b" 0 -", dtype=np.uint16).copy()  # [positive, negative]
_SIGN_SCI = np.frombuffer(b"   -", dtype=np.uint16).copy()
_EXP_SIGN = np.frombuffer(b"E+E-", dtype=np.uint16).copy()


def _mantissa(a: np.ndarray, power: np.ndarray) -> np.ndarray:
    """``rint(a · 10**power)`` as int64, dividing by exact powers of ten where ``power < 0``."""
    scaled = np.empty_like(a)
    up = power >= 0
    scaled[up] = a[up] * 10.0 ** power[up]
    scaled[~up] = a[~up] / 10.0 ** (-power[~up])
    return np.rint(scaled).astype(np.int64)


def format_block(
    values: np.ndarray, *, per_line: int, digits: int, vasp_style: bool, record: int | None = None
) -> bytes:
    """Format ``values`` (any shape, written in ``ravel()`` order) as text lines.

    Args:
        values: numbers to write; must be finite with ``|x| < 1e99`` (smaller than ``1e-99`` is written 0).
        per_line: fields per line; the last line may be shorter.
        digits: significant digits, odd (11 for VASP style, 9 for scientific style).
        vasp_style: ``0.ddd…E±ee`` fields (``-.ddd…E±ee`` when negative), else ``d.ddd…E±ee``;
            every field is ``digits + 7`` characters wide including the leading blank.
        record: start a new line after every ``record`` values (cube files: after each ``(i, j)`` row).

    Returns:
        ASCII bytes, every line terminated by ``\\n``.

    Raises:
        ValueError: NaN/inf or a value too large for a two-digit exponent.
    """
    if digits % 2 == 0 or digits < 3:
        raise ValueError(f"digits must be odd and >= 3, got {digits}")
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(v).all():
        raise ValueError("cannot format NaN or inf")
    width = digits + 7
    if record is not None and record % per_line and v.size % record == 0:
        return _format_records(v, per_line, digits, vasp_style, record)
    full = v.size // per_line
    lines = np.empty((full, per_line * width + 1), dtype=np.uint8)
    lines[:, -1] = _NL
    step = max(1, _CHUNK // per_line)
    for row in range(0, full, step):
        stop = min(full, row + step)
        fields = _format_fields(v[row * per_line : stop * per_line], digits, vasp_style)
        lines[row:stop, :-1] = fields.reshape(stop - row, per_line * width)
    text = lines.tobytes()
    if v.size % per_line:
        text += _format_fields(v[full * per_line :], digits, vasp_style).tobytes() + b"\n"
    return text


def _format_records(v: np.ndarray, per_line: int, digits: int, vasp_style: bool, record: int) -> bytes:
    """Records of ``record`` values, ``per_line`` per line, each record ending its last (short) line."""
    width = digits + 7
    full, rest = divmod(record, per_line)
    line_len = per_line * width + 1
    record_len = full * line_len + rest * width + 1
    records = v.size // record
    newlines = np.append(np.arange(1, full + 1) * line_len - 1, record_len - 1)
    keep = np.delete(np.arange(record_len), newlines)
    out = np.empty((records, record_len), dtype=np.uint8)
    out[:, newlines] = _NL
    step = max(1, _CHUNK // record)
    for row in range(0, records, step):
        stop = min(records, row + step)
        fields = _format_fields(v[row * record : stop * record], digits, vasp_style)
        out[row:stop, keep] = fields.reshape(stop - row, record * width)
    return out.tobytes()


def _format_fields(v: np.ndarray, digits: int, vasp_style: bool) -> np.ndarray:
    """Fields of ``v`` as a ``(len(v), digits + 7)`` uint8 array (see :func:`format_block`)."""
    a = np.abs(v)
    a[a < 1e-99] = 0.0
    if a.size and a.max() >= 1e99:
        raise ValueError(f"value {a.max():.3g} does not fit a two-digit exponent")
    nonzero = a > 0
    # decimal exponent such that |x| = 0.ddd × 10**exp (VASP) or d.ddd × 10**exp (scientific)
    exp = np.zeros(v.size, dtype=np.int64)
    exp[nonzero] = np.floor(np.log10(a[nonzero])).astype(np.int64) + (1 if vasp_style else 0)
    shift = digits if vasp_style else digits - 1
    mant = _mantissa(a, shift - exp)
    # log10 may be off by one near powers of ten, and rounding may carry into a new digit: fix those
    high = mant >= 10**digits
    low = nonzero & (mant < 10 ** (digits - 1))
    exp[high] += 1
    exp[low] -= 1
    fix = high | low
    if fix.any():
        mant[fix] = _mantissa(a[fix], shift - exp[fix])
    over = np.abs(exp) > 99  # rounded past the largest / below the smallest two-digit exponent
    if over.any():
        if (exp[over] > 0).any():
            raise ValueError("value does not fit a two-digit exponent")
        mant[over], exp[over] = 0, 0
    exp[~nonzero] = 0

    npairs = (digits - 1) // 2
    out = np.empty((v.size, npairs + 4), dtype=np.uint16)  # sign, first digit, pairs, "E±", exponent
    negative = (v < 0) & (mant > 0)
    out[:, 0] = (_SIGN_VASP if vasp_style else _SIGN_SCI)[negative.astype(np.intp)]
    lead, rest = np.divmod(mant, 10 ** (digits - 1))
    out[:, 1] = (_DOT_DIGIT if vasp_style else _DIGIT_DOT)[lead]
    # rest has digits-1 digits: peel off 2-digit pairs from the right (int32 arithmetic where it fits)
    col = npairs + 1
    if digits - 1 > 9:
        rest, low_digits = np.divmod(rest, 10**8)
        low_digits = low_digits.astype(np.int32)
        for _ in range(4):
            low_digits, pair = np.divmod(low_digits, 100)
            out[:, col] = _PAIRS[pair]
            col -= 1
    rest = rest.astype(np.int32)
    while col > 1:
        rest, pair = np.divmod(rest, 100)
        out[:, col] = _PAIRS[pair]
        col -= 1
    out[:, npairs + 2] = _EXP_SIGN[(exp < 0).astype(np.intp)]
    out[:, npairs + 3] = _PAIRS[np.abs(exp)]
    return out.view(np.uint8).reshape(v.size, 2 * (npairs + 4))


def _first_line(buf: np.ndarray) -> tuple[int, int] | None:
    """``(fields per line, field width)`` of the first line if it looks fixed-width, else ``None``."""
    newline = np.flatnonzero(buf[: min(buf.size, 4096)] == _NL)
    if newline.size == 0:
        return None
    first = bytes(buf[: int(newline[0])])
    per_line = len(first.split())
    if per_line == 0 or len(first) % per_line or b"\r" in first or b"\t" in first:
        return None
    return per_line, len(first) // per_line


def _decode(fields: np.ndarray) -> np.ndarray | None:
    """Values of a ``(n, width)`` uint8 array of fields sharing the first field's layout, else ``None``."""
    width = fields.shape[1]
    template = fields[0]
    dots = np.flatnonzero(template == _DOT)
    exps = np.flatnonzero((template | 0x20) == ord("e"))
    if dots.size != 1 or exps.size != 1 or not (dots[0] < exps[0] < width - 2):
        return None
    p_dot, p_exp = int(dots[0]), int(exps[0])
    if (
        not (fields[:, p_dot] == _DOT).all()
        or not ((fields[:, p_exp] | 0x20) == ord("e")).all()
        or width - p_exp - 2 > 3
        or p_exp - 1 > 15
    ):
        return None
    values = np.empty(fields.shape[0], dtype=np.float64)
    for lo in range(0, fields.shape[0], _CHUNK):
        chunk = _decode_fields(fields[lo : lo + _CHUNK], p_dot, p_exp)
        if chunk is None:
            return None
        values[lo : lo + _CHUNK] = chunk
    return values


def _fixed_lines(buf: np.ndarray, count: int) -> tuple[np.ndarray, int] | None:
    """Decode the full lines of a block of equal fixed-width lines holding ``count`` numbers.

    Returns the values of the full lines (the last, shorter line is left to the caller) and the bytes
    they occupy, or ``None`` if the block is not laid out like that.
    """
    layout = _first_line(buf)
    if layout is None:
        return None
    per_line, width = layout
    line_len = per_line * width + 1
    full = count // per_line
    if full == 0 or buf.size < full * line_len:
        return None
    rows = buf[: full * line_len].reshape(full, line_len)
    if not (rows[:, -1] == _NL).all():
        return None
    values = _decode(rows[:, :-1].reshape(full * per_line, width))
    return None if values is None else (values, full * line_len)


def _fixed_records(buf: np.ndarray, count: int, record: int) -> tuple[np.ndarray, int] | None:
    """Decode ``count`` numbers written as records of ``record`` values, each record starting a new line
    (cube files: one record per ``(i, j)`` row), every record laid out alike; else ``None``."""
    layout = _first_line(buf)
    if layout is None or count % record:
        return None
    per_line, width = layout
    full, rest = divmod(record, per_line)
    line_len = per_line * width + 1
    record_len = full * line_len + (rest * width + 1 if rest else 0)
    records = count // record
    if buf.size < records * record_len:
        return None
    rows = buf[: records * record_len].reshape(records, record_len)
    newlines = np.arange(1, full + 1) * line_len - 1
    if rest:
        newlines = np.append(newlines, record_len - 1)
    if not (rows[:, newlines] == _NL).all():
        return None
    keep = np.delete(np.arange(record_len), newlines)
    values = _decode(rows[:, keep].reshape(count, width))
    return None if values is None else (values, records * record_len)


_POW10 = 10.0 ** np.arange(0, 160)


def _decode_fields(fields: np.ndarray, p_dot: int, p_exp: int) -> np.ndarray | None:
    """Values of fixed-width fields ``[blanks][sign]digits.digitsE±digits``; ``None`` if one is not.

    The mantissa (at most 15 digit columns) is an exact int64, converted exactly to float64 and divided by
    an exact power of ten: this rounds like ``strtod`` whenever that power is at most 10²².
    """
    n = fields.shape[0]
    mant = np.zeros(n, dtype=np.int64)
    negative = np.zeros(n, dtype=bool)
    started = np.zeros(n, dtype=bool)  # a sign or digit has been seen
    for col in range(p_dot):  # integer part: blanks, then an optional sign, then digits
        c = fields[:, col]
        is_digit = (c >= _ZERO) & (c <= _NINE)
        is_sign = (c == _MINUS) | (c == _PLUS)
        if not (is_digit | (~started & (is_sign | (c == _SPACE)))).all():
            return None
        negative |= c == _MINUS
        mant *= 10
        mant += np.where(is_digit, c - _ZERO, 0)
        started |= is_digit | is_sign
    digits = fields[:, p_dot + 1 : p_exp] - np.uint8(_ZERO)
    exponent_digits = fields[:, p_exp + 2 :] - np.uint8(_ZERO)
    if (digits > 9).any() or (exponent_digits > 9).any():
        return None
    esign = fields[:, p_exp + 1]
    if not ((esign == _MINUS) | (esign == _PLUS)).all():
        return None
    for col in range(digits.shape[1]):  # Horner's rule, one column at a time
        mant *= 10
        mant += digits[:, col]
    exponent = np.zeros(n, dtype=np.int64)
    for col in range(exponent_digits.shape[1]):
        exponent *= 10
        exponent += exponent_digits[:, col]
    power = np.where(esign == _MINUS, -exponent, exponent) - (p_exp - p_dot - 1)
    if power.max(initial=0) > 0 or power.min(initial=0) <= -_POW10.size:
        return None
    values = mant / _POW10[-power]
    values[negative] *= -1.0
    return values


def _parse_exact(text: memoryview | bytes, count: int, before: int = 0) -> np.ndarray:
    """All numbers of ``text`` (numpy's text parser), which must be exactly ``count``.

    ``before`` numbers were read ahead of ``text`` (only for the message).
    """
    try:
        values = np.fromstring(bytes(text), dtype=np.float64, sep=" ")
    except ValueError as exc:
        raise ValueError("something that is not a number among the values") from exc
    if values.size < count:
        raise ValueError(f"expected {before + count} numbers, found only {before + values.size}")
    if values.size > count:
        raise ValueError(f"{values.size - count} more number(s) on the line of the last value: the file holds more")
    return values


def parse_block(block: memoryview | bytes, count: int, record: int | None = None) -> tuple[np.ndarray, int]:
    """Read ``count`` whitespace-separated numbers from the start of ``block``.

    Args:
        block: the text.
        count: how many numbers to read.
        record: if the writer starts a new line after every ``record`` values (cube files), say so to
            keep the fast fixed-width path; the result does not depend on it.

    Returns:
        the values (float64, file order) and the byte offset just after the line holding the last one.

    Raises:
        ValueError: fewer than ``count`` numbers, or something that is not a number among them.
    """
    view = memoryview(block)
    buf = np.frombuffer(view, dtype=np.uint8)
    fast = _fixed_lines(buf, count)
    if fast is None and record is not None and record < count:
        fast = _fixed_records(buf, count, record)
    if fast is not None:
        head, used = fast
        remaining = count - head.size
        if remaining == 0:
            return head, used
        end = bytes(view[used : used + 4096]).find(b"\n")
        end = len(view) if end < 0 else used + end + 1
        tail = _parse_exact(view[used:end], remaining, before=head.size)
        return np.concatenate([head, tail]), end
    # general layout: find the end of the line holding the last value, then numpy's text parser
    end = _offset_after(view, count)
    return _parse_exact(view[:end], count), end


def _offset_after(view: memoryview, count: int) -> int:
    """Byte offset just after the line holding the ``count``-th whitespace-separated token."""
    seen = 0
    previous_space = True
    for lo in range(0, len(view), 1 << 22):
        buf = np.frombuffer(view[lo : lo + (1 << 22)], dtype=np.uint8)
        space = (buf == _SPACE) | (buf == _NL) | (buf == 9) | (buf == 13)
        before = np.concatenate([[previous_space], space[:-1]])
        starts = np.flatnonzero(before & ~space)
        if seen + starts.size >= count:
            last = lo + int(starts[count - seen - 1])
            end = bytes(view[last : last + 4096]).find(b"\n")
            end = len(view) if end < 0 else last + end + 1
            return end
        seen += starts.size
        previous_space = bool(space[-1])
    raise ValueError(f"expected {count} numbers, found only {seen}")


class LineCursor:
    """Line cursor over the text header of a CHGCAR or cube file; every failure names the file and the line."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.source = source
        self.pos = 0
        self.lineno = 0

    def error(self, problem: str) -> DensityFileError:
        return DensityFileError(self.source, f"line {self.lineno}: {problem}")

    def line(self, what: str) -> str:
        if self.pos >= len(self.data):
            raise DensityFileError(self.source, f"file ends before the {what} (line {self.lineno + 1})")
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end
        raw = self.data[self.pos : end]
        self.pos = end + 1
        self.lineno += 1
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise self.error(f"{what}: not a text line (binary data?)") from exc

    def floats(self, what: str, count: int | None = None, minimum: int = 1) -> list[float]:
        tokens = self.line(what).split()
        if count is not None:
            tokens = tokens[:count]
            minimum = count
        try:
            values = [float(t) for t in tokens]
        except ValueError as exc:
            raise self.error(f"{what}: expected numbers, got {' '.join(tokens)!r}") from exc
        if len(values) < minimum:
            raise self.error(f"{what}: expected {minimum} numbers, got {len(values)}")
        if not np.isfinite(values).all():
            raise self.error(f"{what}: contains NaN/inf")
        return values
