import unittest

import condition


class ConditionTest(unittest.TestCase):
    def test_comparisons_with_a_number_are_understood(self):
        self.assertTrue(condition.evaluate("result < 1", 0.5))
        self.assertFalse(condition.evaluate("result != 2", 2))
        with self.assertRaises(condition.ConditionError):
            condition.evaluate("len(result) > 0", [1])


if __name__ == "__main__":
    unittest.main()
