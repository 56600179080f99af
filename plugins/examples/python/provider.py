"""What json-number measures: the number at `path` in a JSON document read over HTTP.

Nothing here depends on the component: `get(url, headers) -> (status, body)` is passed in, so
the tests call it with a fake one.
"""

import json
import math
from dataclasses import dataclass, field


class MeasurementError(Exception):
    """The measurement could not be taken; the message is shown in the AnalysisRun."""


@dataclass
class Config:
    """The JSON under `provider.plugin.<name>` in an AnalysisTemplate."""

    url: str
    path: str = "value"
    headers: dict = field(default_factory=dict)

    @staticmethod
    def parse(text: str) -> "Config":
        try:
            raw = json.loads(text)
            return Config(**raw)
        except (ValueError, TypeError) as e:
            raise MeasurementError(f"invalid config: {e}") from None


def measure(config: Config, get) -> float:
    status, body = get(config.url, {"Accept": "application/json", **config.headers})
    if not 200 <= status < 300:
        raise MeasurementError(f"GET {config.url}: HTTP {status}")
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise MeasurementError(f"GET {config.url}: the body is not JSON: {e}") from None
    number = number_at(doc, config.path)
    if number is None:
        raise MeasurementError(f"no number at {config.path}")
    return number


def number_at(doc, path: str):
    """The number at `path` (keys and array indices separated by dots), or None."""
    at = doc
    for key in filter(None, path.split(".")):
        if isinstance(at, dict) and key in at:
            at = at[key]
        elif isinstance(at, list) and key.isdigit() and int(key) < len(at):
            at = at[int(key)]
        else:
            return None
    if isinstance(at, bool):
        return None
    if isinstance(at, (int, float)):
        return float(at)
    if isinstance(at, str):
        try:
            return float(at.strip())
        except ValueError:
            return None
    return None


def to_json(number: float) -> str:
    """The value as Aviary's extended JSON (NaN and the infinities are bare tokens)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return json.dumps(number)
