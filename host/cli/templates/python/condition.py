"""What {{name}} evaluates: `result <op> <number>` with <, <=, >, >=, == or !=."""

import operator
import re


class ConditionError(Exception):
    """The expression cannot be evaluated; the message is shown in the AnalysisRun."""


OPERATORS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
EXPRESSION = re.compile(r"^\s*result\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


def evaluate(expression: str, result) -> bool:
    match = EXPRESSION.match(expression)
    if not match:
        raise ConditionError(f"unsupported expression {expression!r}: use result <op> <number>")
    op, number = match.groups()
    try:
        limit = float(number)
    except ValueError:
        raise ConditionError(f"{number!r} is not a number") from None
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        raise ConditionError(f"result is not a number: {result!r}")
    return OPERATORS[op](result, limit)
