"""Exceptions raised by the expression language."""
from __future__ import annotations


class ExpressionError(ValueError):
    """The expression text (or attributeMappingSource tree) is not a valid expression.

    ``position`` is the 0-based character offset in the expression text where the
    problem was detected; ``message`` is the bare description without the position.
    """

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


class EvaluationError(ValueError):
    """A well-formed expression could not be evaluated for the given attribute values
    (for example ``CDate("not a date")`` or ``Mid([x], "abc", 2)``). The provisioning
    engine treats this like the real service does: the object fails and is escrowed."""


class NoUniqueValueError(EvaluationError):
    """Every rule of ``SelectUniqueValue`` produced a value that already exists in the target."""

    def __init__(self, candidates: list[str]) -> None:
        super().__init__(
            "SelectUniqueValue: every generated value already exists in the target: " + ", ".join(candidates)
        )
        self.candidates = candidates
