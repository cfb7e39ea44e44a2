"""Templates cannot exhaust the machine: a budget on what one render may build.

Jinja2 folds constants while compiling, so ``validate`` alone used to allocate a
gigabyte for ``'a' * 10**9`` and hang on ``10 ** (10 ** 8)``. The environment
here compiles without folding, and at run time refuses (a ``SecurityError``,
reported as a template error with the step and field) any operation whose
result would be too big: repetition and concatenation beyond ``MAX_SIZE``
characters or items, huge powers and integers, ``%`` format widths, and more
than ``MAX_ITERATIONS`` loop iterations over ``range`` in one render.
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Iterator
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SIZE = 1_000_000
"""Characters of a string (items of a list) one operation may produce."""
MAX_INT_BITS = 100_000
MAX_ITERATIONS = 1_000_000
"""``range`` iterations one render may go through, nested loops included."""
_WIDTH = re.compile(r"%[-#0 +]*(\d+)|%[-#0 +]*\d*\.(\d+)")
_BINOPS = {"+": operator.add, "*": operator.mul, "**": operator.pow, "%": operator.mod,
           "//": operator.floordiv, "/": operator.truediv, "-": operator.sub}
_spent = threading.local()


def reset() -> None:
    """A new render or evaluation starts with the whole iteration budget."""
    _spent.iterations = 0


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _check_pow(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
            and left.bit_length() * right > MAX_INT_BITS:
        raise SecurityError(f"{left} ** {right} is too large a number")


def _check_mul(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        size = _size(seq)
        if size is not None and isinstance(times, int) and size * times > MAX_SIZE:
            raise SecurityError(f"repeating {size} items {times} times is over {MAX_SIZE:,}")
    if isinstance(left, int) and isinstance(right, int) and \
            left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise SecurityError("too large a number")


def _check_add(left: Any, right: Any) -> None:
    a, b = _size(left), _size(right)
    if a is not None and b is not None and a + b > MAX_SIZE:
        raise SecurityError(f"a result over {MAX_SIZE:,} characters")


def _check_mod(left: Any, right: Any) -> None:
    if isinstance(left, str):
        for match in _WIDTH.finditer(left):
            width = int(match.group(1) or match.group(2) or 0)
            if width > 10_000:
                raise SecurityError(f"a format width of {width}")


_CHECKS = {"**": _check_pow, "*": _check_mul, "+": _check_add, "%": _check_mod}


def _check_binop(op: str, left: Any, right: Any) -> None:
    check = _CHECKS.get(op)
    if check is not None:
        check(left, right)


def budgeted_range(*args: int) -> Iterator[int]:
    """``range`` whose iterations count against the render's budget."""
    for value in range(*args):
        spent = getattr(_spent, "iterations", 0) + 1
        if spent > MAX_ITERATIONS:
            raise SecurityError(f"over {MAX_ITERATIONS:,} loop iterations in one template")
        _spent.iterations = spent
        yield value


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, compiling without constant folding and checking every binop."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.globals["range"] = budgeted_range

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return _BINOPS[operator](left, right)

    def wrap_str_format(self, value: Any) -> Any:
        """``'{:1500000000}'.format(x)``: the widths are checked before it is called."""
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str):
            if re.search(r"\{[^{}]*:[^{}]*\{", owner):
                raise SecurityError("a format spec computed at run time (nested {})")
            for width in re.findall(r"\{[^{}]*:[^{}]*?(\d+)", owner):
                if int(width) > 10_000:
                    raise SecurityError(f"a format width of {width}")
        return super().wrap_str_format(value)
