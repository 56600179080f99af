"""{{name}}: an Aviary condition evaluator, in Python.

componentize-py turns this module into a component of the `{{world}}` world of the WIT in wit/.
The evaluating itself is in condition.py, which `python3 -m unittest` tests on your machine.
"""

import json

import wit_world
from componentize_py_types import Err

import condition


class WitWorld(wit_world.WitWorld):
    def evaluate(self, expression: str, value: str) -> bool:
        try:
            return condition.evaluate(expression, json.loads(value))
        except condition.ConditionError as e:
            raise Err(str(e)) from None
