/**
 * The deliver function's JSONata worker thread (see transform-runner.ts). Plain JavaScript so it
 * runs as is from the source tree; deployed, it is bundled next to the function's index.mjs.
 *
 * It evaluates one expression at a time under the thread's own heap limit, with JSONata's guards
 * (options from workerData), compiled expressions cached, and checks the output's size here: an
 * oversized value is dropped in this thread, only its size crosses back.
 *
 * The thread's heap limit stops memory that grows step by step, but V8 lets one allocation go
 * past it and then aborts the whole process (not just this thread) on the next one: a single
 * `$pad("x", 400000000)` would take the Lambda down. So no string may grow past
 * `maxStringChars` in one step: `&` (String.prototype.concat), JSON.stringify (`$string`, `&` on
 * objects) and the string built-ins check their sizes before they allocate. These patches live
 * in this thread only; nothing else runs here.
 *
 * Request:  { id, expression, input }
 * Answer:   { id, ok: true, body } | { id, ok: false, reason }
 */
import { parentPort, workerData } from 'node:worker_threads';
import jsonata from 'jsonata';

const { options, maxOutputBytes, maxCached, maxStringChars, memoryMb } = workerData;

/** Thrown by the size guards; reported as the memory limit. */
class TooBig extends Error {
  constructor(what, size) {
    super(`the transform exceeded its ${memoryMb} MB memory limit (${what} of ${size} characters; at most ${maxStringChars})`);
  }
}

const check = (what, size) => {
  if (size > maxStringChars) throw new TooBig(what, size);
};

/**
 * A lower bound of the JSON text's length (with `indent` spaces per level when pretty-printed),
 * walking at most until it passes `limit` (so a value that repeats one big branch many times
 * costs no more than the limit to measure).
 */
function jsonLengthAtLeast(value, limit, indent = 0) {
  let total = 0;
  const stack = [value, 0];
  while (stack.length && total <= limit) {
    const depth = stack.pop();
    const v = stack.pop();
    total += indent * depth;
    if (typeof v === 'string') total += v.length + 2;
    else if (Array.isArray(v)) {
      total += v.length + 1;
      for (let i = 0; i < v.length && total <= limit; i++) stack.push(v[i], depth + 1);
    } else if (v && typeof v === 'object') {
      for (const key in v) {
        total += key.length + 4;
        if (total > limit) break;
        stack.push(v[key], depth + 1);
      }
      total += 2;
    } else total += 1;
  }
  return total;
}

const stringify = JSON.stringify;
JSON.stringify = function (value, replacer, space) {
  const indent = typeof space === 'number' ? Math.min(10, Math.max(0, Math.trunc(space))) : typeof space === 'string' ? Math.min(10, space.length) : 0;
  check('a JSON text', jsonLengthAtLeast(value, maxStringChars, indent));
  return stringify.call(this, value, replacer, space);
};
const concat = String.prototype.concat;
String.prototype.concat = function (...parts) {
  let size = this.length;
  for (const part of parts) size += typeof part === 'string' ? part.length : 0;
  check('a string', size);
  return concat.apply(this, parts);
};

/** The built-ins that take or build strings: their string arguments (or arrays of strings) are bounded. */
const STRING_FUNCTIONS = [
  'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match',
  'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number',
  'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'eval',
  'toMillis', 'fromMillis', 'lookup', 'error', 'assert',
];

function stringSize(args) {
  let size = 0;
  for (const arg of args) {
    if (typeof arg === 'string') size += arg.length;
    else if (Array.isArray(arg)) for (const item of arg) if (typeof item === 'string') size += item.length + 1;
  }
  return size;
}

/** What the result could grow to, where that is more than the arguments themselves. */
const GROWTH = {
  pad: ([str, width]) => Math.abs(Math.trunc(Number(width) || 0)) + (typeof str === 'string' ? str.length : 0),
  join: ([strs, separator]) => stringSize([strs]) + (Array.isArray(strs) ? strs.length : 1) * (typeof separator === 'string' ? separator.length : 0),
  replace: ([str, , replacement]) => (typeof str === 'string' ? str.length + 1 : 0) * (typeof replacement === 'string' ? Math.max(1, replacement.length) : 1),
};

const guarded = await Promise.all(
  STRING_FUNCTIONS.map(async (name) => {
    const builtin = await jsonata(`$${name}`).evaluate({});
    const grows = GROWTH[name];
    const implementation = function (...args) {
      check(`an argument of $${name}`, stringSize(args));
      if (grows) check(`the result of $${name}`, grows(args));
      return builtin.implementation.apply(this, args);
    };
    return [name, { ...builtin, implementation }];
  }),
);

const compiled = new Map();

function compile(expression) {
  let found = compiled.get(expression);
  if (!found) {
    found = jsonata(expression, options);
    for (const [name, definition] of guarded) found.assign(name, definition);
    if (compiled.size >= maxCached) compiled.delete(compiled.keys().next().value);
    compiled.set(expression, found);
  }
  return found;
}

async function evaluate(expression, input) {
  try {
    const value = await compile(expression).evaluate(input);
    if (value === undefined) return { ok: false, reason: 'the transform produced nothing (no field matched)' };
    const atLeast = jsonLengthAtLeast(value, maxOutputBytes);
    // UTF-8 has at least one byte per UTF-16 unit: past the limit already, without building the text.
    const body = atLeast > maxOutputBytes ? undefined : stringify(value);
    const bytes = body === undefined ? atLeast : Buffer.byteLength(body);
    if (bytes > maxOutputBytes) {
      const size = body === undefined ? `at least ${bytes} bytes` : `${bytes} bytes`;
      return { ok: false, reason: `the transform's output is ${size}, over the ${maxOutputBytes}-byte limit (${maxOutputBytes / 1024} KB) on request bodies` };
    }
    if (body === undefined) return { ok: false, reason: 'the transform produced no JSON value (a function?)' };
    return { ok: true, body };
  } catch (error) {
    if (error instanceof TooBig) return { ok: false, reason: error.message };
    const message = error?.message ?? String(error);
    return { ok: false, reason: `the transform failed: ${message}${error?.code ? ` (${error.code})` : ''}` };
  }
}

parentPort.on('message', async ({ id, expression, input }) => {
  parentPort.postMessage({ id, ...(await evaluate(expression, input)) });
});
