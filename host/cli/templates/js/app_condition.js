// {{name}}: an Aviary condition evaluator, in JavaScript. It understands `result <op> <number>`
// with <, <=, >, >=, == or !=.
//
// jco (with componentize-js) turns this one module into a component of the `{{world}}` world of
// the WIT in wit/. The WIT returns result<bool, string>: a thrown error with a `payload` becomes
// the error string.

const OPERATORS = {
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
};

export function evaluate(expression, value) {
  const match = /^\s*result\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/.exec(expression);
  if (!match) fail(`unsupported expression ${JSON.stringify(expression)}: use result <op> <number>`);
  const limit = Number(match[2]);
  if (Number.isNaN(limit)) fail(`${JSON.stringify(match[2])} is not a number`);
  let result;
  try {
    result = JSON.parse(value);
  } catch {
    fail(`invalid value: ${value}`);
  }
  if (typeof result !== 'number') fail(`result is not a number: ${value}`);
  return OPERATORS[match[1]](result, limit);
}

function fail(message) {
  const error = new Error(message);
  error.payload = message;
  throw error;
}
