import assert from 'node:assert/strict';
import { test } from 'node:test';

import { evaluate } from '../app.js';

test('comparisons with a number are understood', () => {
  assert.equal(evaluate('result < 1', '0.5'), true);
  assert.equal(evaluate('result != 2', '2'), false);
  assert.throws(() => evaluate('len(result) > 0', '[1]'), { payload: /unsupported expression/ });
});
