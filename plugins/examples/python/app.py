"""json-number: an Aviary metric provider, in Python.

componentize-py turns this module into a component of the `metric-provider` world of the WIT in wit/:
`wit_world` is the package it generates from that WIT. The measuring itself is in provider.py,
which has no Wasm dependency, so that `python3 -m unittest` tests it on your machine.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import http, types

import provider


class WitWorld(wit_world.WitWorld):
    def measure(self, context: types.Context, config: str) -> types.Measurement:
        try:
            value = provider.measure(provider.Config.parse(config), get)
        except provider.MeasurementError as e:
            return measurement(types.Phase.ERROR, None, str(e))
        return measurement(types.Phase.MEASURED, provider.to_json(value), "")

    def resume(self, context: types.Context, config: str, m: types.Measurement) -> types.Measurement:
        return measurement(types.Phase.ERROR, None, "this provider does not take asynchronous measurements")

    def terminate(self, context: types.Context, config: str, m: types.Measurement) -> types.Measurement:
        return types.Measurement(types.Phase.SUCCESSFUL, m.value, "Metric Terminated", m.metadata, None)


def measurement(phase: types.Phase, value, message: str) -> types.Measurement:
    return types.Measurement(phase=phase, value=value, message=message, metadata=[], resume_after_ms=None)


def get(url: str, headers: dict) -> tuple:
    """GET through the host: the only network a plugin has, and only to its allowed hosts."""
    request = http.Request(method="GET", url=url, headers=list(headers.items()), body=None, timeout_ms=None)
    try:
        response = http.send(request)
    except Err as e:
        raise provider.MeasurementError(describe(e.value)) from None
    return response.status, response.body


def describe(error) -> str:
    if isinstance(error, http.Error_DeniedHost):
        return f"denied host: {error.value} is not in the plugin's allowed hosts"
    if isinstance(error, http.Error_Timeout):
        return "timeout"
    if isinstance(error, http.Error_TooLarge):
        return f"response too large: over {error.value} bytes"
    return f"transport error: {error.value}"
