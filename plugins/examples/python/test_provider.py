import json
import unittest

import provider


def serving(status: int, body):
    def get(url, headers):
        return status, json.dumps(body).encode()

    return get


class ProviderTest(unittest.TestCase):
    def test_the_number_is_found_by_keys_and_indices(self):
        config = provider.Config(url="http://metrics.example/stats", path="data.0.hits")
        self.assertEqual(provider.measure(config, serving(200, {"data": [{"hits": 42}]})), 42.0)
        with self.assertRaisesRegex(provider.MeasurementError, "no number at data.0.hits"):
            provider.measure(config, serving(200, {"data": []}))
        with self.assertRaisesRegex(provider.MeasurementError, "HTTP 500"):
            provider.measure(config, serving(500, {}))


if __name__ == "__main__":
    unittest.main()
