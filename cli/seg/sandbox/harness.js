// The Node.js side of seg.sandbox.node: runs insert and destination functions for the delivery
// simulator. The function code is hostile (a pull request may write it), so:
//
// - each distinct code is compiled once; each function (code and name) runs in a vm context of
//   its own, kept for its next calls as a warm instance is on the platform (a fresh context per
//   call would cost ~0.8 ms), dropped after any call cut short. A context is created from a
//   null-prototype object with code generation from strings and WebAssembly off, its microtasks
//   run inside the time limit (microtaskMode 'afterEvaluate'); no host object is put into it:
//   the event and the settings go in as JSON strings parsed inside it, the error classes,
//   console, fetch and timers (on a virtual clock) are defined inside it from source text
//   (PRELUDE), and results come out as a JSON string;
// - the host calls into the context only through timed script evaluations, except for the
//   prelude's own closures (set the input, take the result), which user code cannot reach;
// - dynamic import() (whose promise and error would be host objects) is refused before
//   compiling, and Error.prepareStackTrace is pinned inside the context so that Node's default
//   stack formatting (which can throw host errors) never runs for its errors;
// - the process itself is started (by the Python side) with an empty environment, the
//   permission model (read access to this file only), --disallow-code-generation-from-strings
//   and --frozen-intrinsics (a leaked host object could neither compile code nor pollute the
//   host's prototypes), a heap cap and, where user namespaces work, no network at all.
//
// Protocol: one JSON request per line on stdin, {"id", "kind", "name", "hash", "code", "event",
// "settings", "timeoutMs"} (event and settings are JSON text; "code" may be left out once sent,
// its hash names it), one JSON line per request on stdout, {"id": N, "result": {"outcome",
// "message", "logs", "requests", "event"?}}, or {"id": N, "needCode": true} for a hash whose
// code this process does not have (it started anew, or the code went out of its cache).
'use strict';

const vm = require('node:vm');
const readline = require('node:readline');
const { types } = require('node:util');

const MAX_CONTEXTS = 128; // functions kept initialised (about 150 KB of heap each)
const MAX_RESULT_CHARS = 2 * 1024 * 1024;

// Whole-word `import` followed by `(` or by something that may start a comment: a superset of
// every dynamic import() a Script can contain (keywords cannot be written with escapes, and
// eval/Function are off). Not even `x.import(` is let through: `1.\nimport(...)` is a number,
// then an import. False positives (a method named import, "import (" in a string) are refused
// too, with a clear message.
const DYNAMIC_IMPORT = /(?<![\p{ID_Continue}$\u200C\u200D])import\s*[(/<-]/u;

const PRELUDE = String.raw`(function () {
  'use strict';
  const G = globalThis;
  const JSONparse = JSON.parse;
  const JSONstringify = JSON.stringify;
  const ReflectApply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const getPrototypeOf = Object.getPrototypeOf;
  const objectKeys = Object.keys;
  const freeze = Object.freeze;
  const ObjectPrototype = Object.prototype;
  const isArray = Array.isArray;
  const PromiseCtor = Promise;
  const promiseResolve = Promise.resolve;
  const promiseReject = Promise.reject;
  const promiseThen = Promise.prototype.then;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const StringCtor = String;
  const NumberCtor = Number;
  const LOG_LIMIT = 4096;
  const LOG_MARK = '\n[logs truncated at 4 KB]';
  const MAX_MESSAGE = 2000;
  const MAX_REQUESTS = 100;
  const MAX_OUTPUT = 1024 * 1024;

  const S = (s) => JSONstringify(s);
  const resolved = (v) => ReflectApply(promiseResolve, PromiseCtor, [v]);
  const then = (p, ok, ko) => ReflectApply(promiseThen, p, [ok, ko]);
  function define(name, value) {
    defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  }
  function safeString(v) {
    try { return StringCtor(v); } catch (e) { return '[unprintable]'; }
  }

  // Stack traces are formatted here: a user formatter if one was set, else "Name: message" and
  // the frames. Node's own formatter never sees this context's errors, and only the function's
  // own frames are shown (not the harness's, nor where it is installed).
  let userPrepare;
  function prepareStackTrace(error, frames) {
    const own = [];
    try {
      for (let i = 0; i < frames.length; i++) {
        if (frames[i].getFileName() === 'function.js') own.push(frames[i]);
      }
    } catch (e) { /* frames unavailable */ }
    if (typeof userPrepare === 'function') return userPrepare(error, own);
    let text;
    try { text = safeString(error.name) + ': ' + safeString(error.message); } catch (e) { text = 'Error'; }
    for (let i = 0; i < own.length; i++) text += '\n    at ' + safeString(own[i]);
    return text;
  }
  defineProperty(ErrorCtor, 'prepareStackTrace', {
    get() { return prepareStackTrace; },
    set(f) { userPrepare = f; },
    enumerable: false,
    configurable: false,
  });
  defineProperty(G, 'Error', { value: ErrorCtor, writable: false, configurable: false, enumerable: false });

  class EventNotSupported extends ErrorCtor {
    constructor(message) { super(message); this.name = 'EventNotSupported'; }
  }
  class InvalidEventPayload extends ErrorCtor {
    constructor(message) { super(message); this.name = 'InvalidEventPayload'; }
  }
  class ValidationError extends ErrorCtor {
    constructor(message) { super(message); this.name = 'ValidationError'; }
  }
  class RetryError extends ErrorCtor {
    constructor(message) { super(message); this.name = 'RetryError'; }
  }
  class DropEvent extends ErrorCtor {
    constructor(message) { super(message); this.name = 'DropEvent'; }
  }
  define('EventNotSupported', EventNotSupported);
  define('InvalidEventPayload', InvalidEventPayload);
  define('ValidationError', ValidationError);
  define('RetryError', RetryError);
  define('DropEvent', DropEvent);

  // Per-call state, reset by setInput.
  let kind = 'insert';
  let eventJson = 'null';
  let settingsJson = 'null';
  let limitMs = 5000;
  let result = null;
  let started = false;
  let logs = '';
  let logBytes = 0;
  let logsFull = false;
  let requests = [];
  let outputChars = 0;
  let timers = [];
  let timerSeq = 0;
  let now = 0; // virtual milliseconds since the call started

  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
               && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }
  function utf8Prefix(s, budget) {
    let n = 0;
    let i = 0;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      let size = 3;
      let width = 1;
      if (c < 0x80) size = 1;
      else if (c < 0x800) size = 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
               && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { size = 4; width = 2; }
      if (n + size > budget) break;
      n += size;
      i += width;
    }
    return s.slice(0, i);
  }
  function format(v) {
    if (typeof v === 'string') return v;
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return safeString(v);
    if (typeof v === 'function') return '[Function]';
    try {
      if (v instanceof ErrorCtor) return safeString(v.name) + ': ' + safeString(v.message);
      const text = JSONstringify(v);
      return typeof text === 'string' ? text : safeString(v);
    } catch (e) {
      return safeString(v);
    }
  }
  function log(...args) {
    if (logsFull) return;
    let line = '';
    for (let i = 0; i < args.length; i++) {
      line += (i ? ' ' : '') + format(args[i]);
      if (line.length > LOG_LIMIT) break;
    }
    line += '\n';
    if (line.length > LOG_LIMIT) line = line.slice(0, LOG_LIMIT + 1);
    const size = utf8Length(line);
    if (logBytes + size <= LOG_LIMIT) {
      logs += line;
      logBytes += size;
      return;
    }
    logs += utf8Prefix(line, LOG_LIMIT - LOG_MARK.length - logBytes) + LOG_MARK;
    logsFull = true;
  }
  define('console', { log, info: log, warn: log, error: log, debug: log });

  // fetch records the request and answers 200 {} without any I/O.
  function headersJson(h) {
    const out = [];
    if (h === undefined || h === null) return '{}';
    if (isArray(h)) {
      for (let i = 0; i < h.length; i++) {
        const pair = h[i];
        out.push(S(safeString(pair[0])) + ':' + S(safeString(pair[1])));
      }
    } else if (typeof h === 'object') {
      const keys = objectKeys(h);
      for (let i = 0; i < keys.length; i++) out.push(S(keys[i]) + ':' + S(safeString(h[keys[i]])));
    }
    let text = '{';
    for (let i = 0; i < out.length; i++) text += (i ? ',' : '') + out[i];
    return text + '}';
  }
  function makeResponse(url) {
    const headers = {
      get() { return null; },
      has() { return false; },
      forEach() {},
    };
    return {
      ok: true,
      status: 200,
      statusText: 'OK',
      url,
      redirected: false,
      headers,
      json: async () => ({}),
      text: async () => '',
    };
  }
  function fetch(resource, init) {
    try {
      if (requests.length >= MAX_REQUESTS) {
        throw new TypeErrorCtor('fetch: more than ' + MAX_REQUESTS + ' requests in one call');
      }
      const url = safeString(resource !== null && typeof resource === 'object' && 'url' in resource
        ? resource.url : resource);
      const options = init === undefined || init === null ? {} : init;
      const method = options.method === undefined || options.method === null
        ? 'GET' : safeString(options.method).toUpperCase();
      const body = options.body === undefined || options.body === null
        ? null : safeString(options.body);
      const record = '{"url":' + S(url) + ',"method":' + S(method) + ',"headers":'
        + headersJson(options.headers) + ',"body":' + (body === null ? 'null' : S(body)) + '}';
      outputChars += record.length;
      if (outputChars > MAX_OUTPUT) {
        throw new TypeErrorCtor('fetch: the recorded requests exceed 1 MiB');
      }
      requests.push(record);
      return resolved(makeResponse(url));
    } catch (e) {
      return ReflectApply(promiseReject, PromiseCtor, [e]);
    }
  }
  define('fetch', fetch);

  // Timers run on a virtual clock: a call never waits, and a timer due after the time limit
  // means the call would have timed out.
  function setTimeout(callback, delay, ...args) {
    if (typeof callback !== 'function') throw new TypeErrorCtor('setTimeout: callback is not a function');
    const ms = NumberCtor(delay);
    const id = ++timerSeq;
    timers.push({ id, due: now + (ms > 0 ? ms : 0), callback, args });
    return id;
  }
  function clearTimeout(id) {
    for (let i = 0; i < timers.length; i++) {
      if (timers[i].id === id) { timers.splice(i, 1); return; }
    }
  }
  define('setTimeout', setTimeout);
  define('clearTimeout', clearTimeout);
  define('queueMicrotask', (callback) => { then(resolved(undefined), callback); });

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  define('btoa', (input) => {
    const s = safeString(input);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new ErrorCtor('btoa: the string has characters outside Latin1');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63]
        + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
    }
    return out;
  });
  define('atob', (input) => {
    const s = safeString(input).replace(/[\t\n\f\r ]/g, '').replace(/=+$/, '');
    let out = '';
    let bits = 0;
    let value = 0;
    for (let i = 0; i < s.length; i++) {
      const d = B64.indexOf(s[i]);
      if (d < 0) throw new ErrorCtor('atob: the string is not valid base64');
      value = (value << 6) | d;
      bits += 6;
      if (bits >= 8) { bits -= 8; out += StringCtor.fromCharCode((value >> bits) & 255); }
    }
    return out;
  });
  // Gone: blocking waits (Atomics.wait), and anything that calls back into the function from a
  // host task, outside every time limit (FinalizationRegistry, Atomics.waitAsync, WebAssembly).
  delete G.Atomics;
  delete G.SharedArrayBuffer;
  delete G.WebAssembly;
  delete G.FinalizationRegistry;

  function finish(outcome, message, event) {
    if (result !== null) return;
    let text = safeString(message);
    if (text.length > MAX_MESSAGE) text = text.slice(0, MAX_MESSAGE) + '…';
    let list = '[';
    for (let i = 0; i < requests.length; i++) list += (i ? ',' : '') + requests[i];
    list += ']';
    result = '{"outcome":' + S(outcome) + ',"message":' + S(text) + ',"logs":' + S(logs)
      + ',"requests":' + list + (event === undefined ? '' : ',"event":' + event) + '}';
  }
  function nameAndMessage(error) {
    try {
      if (error !== null && (typeof error === 'object' || typeof error === 'function')) {
        return [safeString(error.name), safeString(error.message)];
      }
      return ['', safeString(error)];
    } catch (e) {
      return ['Error', '[unprintable]'];
    }
  }
  function describeError(name, message) {
    return name ? (message ? name + ': ' + message : name) : message;
  }
  function fail(error) {
    const [name, message] = nameAndMessage(error);
    const is = (cls, label) => {
      try { return error instanceof cls || name === label; } catch (e) { return name === label; }
    };
    let outcome = 'error';
    if (is(DropEvent, 'DropEvent')) outcome = 'dropped';
    else if (is(EventNotSupported, 'EventNotSupported')) outcome = 'not supported';
    else if (is(ValidationError, 'ValidationError') || is(InvalidEventPayload, 'InvalidEventPayload')) outcome = 'invalid';
    else if (is(RetryError, 'RetryError')) outcome = 'retry';
    finish(outcome, describeError(name, message));
  }
  function succeed(value) {
    if (kind !== 'insert') { finish('ok', ''); return; }
    if (value === undefined || value === null) {
      finish('error', 'insert function returned no event');
      return;
    }
    let proto;
    try { proto = typeof value === 'object' && !isArray(value) ? getPrototypeOf(value) : undefined; } catch (e) { proto = undefined; }
    if (proto !== ObjectPrototype && proto !== null) {
      finish('error', 'insert function must return the event, a plain object (it returned '
        + (isArray(value) ? 'an array' : typeof value) + ')');
      return;
    }
    let text;
    try { text = JSONstringify(value); } catch (e) {
      finish('error', 'insert function returned an event that is not JSON: ' + format(e));
      return;
    }
    if (typeof text !== 'string' || text[0] !== '{') {
      finish('error', 'insert function returned an event that is not a JSON object');
      return;
    }
    if (text.length > MAX_OUTPUT) {
      finish('error', 'insert function returned an event larger than 1 MiB');
      return;
    }
    finish('ok', '', text);
  }

  function handlerIndex(type) {
    switch (type) {
      case 'track': return 0;
      case 'identify': return 1;
      case 'page': return 2;
      case 'screen': return 3;
      case 'group': return 4;
      case 'alias': return 5;
      default: return -1;
    }
  }
  let thrown;
  let thrownPhase = 'call';
  const NAMES = ['onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias'];
  defineProperty(G, '__segHarness', {
    value: freeze({
      start(...handlers) {
        if (started) return;
        started = true;
        let event;
        let settings;
        try {
          event = JSONparse(eventJson);
          settings = JSONparse(settingsJson);
        } catch (e) {
          finish('error', 'the event or the settings are not JSON: ' + format(e));
          return;
        }
        const type = event !== null && typeof event === 'object' && typeof event.type === 'string'
          ? event.type : 'track';
        const index = handlerIndex(type);
        if (index < 0) {
          finish('not supported', 'EventNotSupported: event type ' + S(type) + ' is not supported');
          return;
        }
        const handler = handlers[index];
        if (typeof handler !== 'function') {
          finish('not supported', 'EventNotSupported: the function has no ' + NAMES[index] + ' handler');
          return;
        }
        let returned;
        try {
          returned = handler(event, settings);
        } catch (e) {
          fail(e);
          return;
        }
        try {
          then(resolved(returned), succeed, fail);
        } catch (e) {
          fail(e);
        }
      },
      settleThrown() {
        const error = thrown;
        thrown = undefined;
        if (thrownPhase === 'load') {
          const [name, message] = nameAndMessage(error);
          finish('error', "the function's code failed to load: " + describeError(name, message));
        } else {
          fail(error);
        }
      },
      poll() {
        if (result !== null) return;
        if (timers.length === 0) {
          finish('timeout', 'the function never finished (its promise never settled)');
          return;
        }
        let next = 0;
        for (let i = 1; i < timers.length; i++) if (timers[i].due < timers[next].due) next = i;
        const timer = timers.splice(next, 1)[0];
        if (timer.due > limitMs) {
          finish('timeout', 'the function was still waiting on a timer at the time limit ('
            + limitMs / 1000 + ' s)');
          return;
        }
        now = timer.due;
        try {
          ReflectApply(timer.callback, undefined, timer.args);
        } catch (e) {
          fail(e);
        }
      },
    }),
    writable: false,
    configurable: false,
    enumerable: false,
  });

  return {
    setInput(callKind, event, settings, timeoutMs) {
      kind = callKind;
      eventJson = event;
      settingsJson = settings;
      limitMs = timeoutMs;
      result = null;
      started = false;
      logs = '';
      logBytes = 0;
      logsFull = false;
      requests = [];
      outputChars = 0;
      timers = [];
      now = 0;
    },
    setThrown(error, phase) {
      thrown = error;
      thrownPhase = phase;
    },
    take() { return result; },
    logs() { return logs; },
  };
})`;

const DENY_IMPORT = 'import() is not available in functions';
const prelude = new vm.Script(PRELUDE, { filename: 'seg-harness-prelude.js' });
const startScript = new vm.Script(
  '__segHarness.start('
    + ['onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias']
      .map((name) => `typeof ${name} === "function" ? ${name} : undefined`).join(', ')
    + ')',
  { filename: 'seg-harness-start.js' },
);
const pollScript = new vm.Script('__segHarness.poll()', { filename: 'seg-harness-poll.js' });
const settleScript = new vm.Script('__segHarness.settleThrown()', { filename: 'seg-harness-settle.js' });

const MAX_SCRIPTS = 256; // the Python side sends a code at most once per 128 distinct ones
const NEED_CODE = Symbol('need code');
const scripts = new Map(); // code hash -> { script, error }: each distinct code compiled once
const contexts = new Map(); // code hash + function name -> { script, error, context, api, initialised }
const OUT_OF_TIME = new Error('out of time');

// Is this one of the host's own errors (a compilation error, the vm timeout, a harness bug)
// rather than a value thrown by the function? Decided without running any of the function's
// code: no proxy traps, no getters, own data properties only.
function isHostError(value) {
  let o = value;
  for (let depth = 0; depth < 8; depth++) {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || types.isProxy(o)) {
      return false;
    }
    if (o === Error.prototype) return true;
    o = Object.getPrototypeOf(o);
  }
  return false;
}

function ownData(value, key) {
  const descriptor = Object.getOwnPropertyDescriptor(value, key);
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
}

// The vm timeout's error is made in the context's realm, with an own `code`: recognised by that
// data property alone (a function faking it only times itself out).
function isTimeout(error) {
  return error === OUT_OF_TIME
    || (error !== null && typeof error === 'object' && !types.isProxy(error)
        && ownData(error, 'code') === 'ERR_SCRIPT_EXECUTION_TIMEOUT');
}

function describeHostError(error) {
  if (!isHostError(error)) return 'an unexpected value was thrown';
  return `${error.name}: ${String(ownData(error, 'message'))}`;
}

// Least recently used first: a hit moves to the end, the first ones go past the cap.
function cached(map, key, cap, make) {
  let value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
  } else {
    value = make();
  }
  map.set(key, value);
  while (map.size > cap) map.delete(map.keys().next().value);
  return value;
}

function compile(code) {
  if (DYNAMIC_IMPORT.test(code)) return { script: null, error: DENY_IMPORT };
  try {
    return { script: new vm.Script(code, { filename: 'function.js' }), error: null };
  } catch (error) {
    return { script: null, error: describeHostError(error) };
  }
}

// A context per function (its code and its name): two functions never share one, even with
// the same code. Calls of one function share its context, as warm invocations do on the
// platform (module-level state survives), unless a call was cut short.
function entryFor(request) {
  const { script, error } = cached(scripts, request.hash, MAX_SCRIPTS, () => compile(request.code));
  return cached(contexts, `${request.hash}\0${request.name}`, MAX_CONTEXTS, () => (
    { script, error, context: null, api: null, initialised: false }));
}

const NOTHING_THROWN = Symbol('nothing thrown');

// Runs a script in the context within what is left of the call's time; returns what the
// function threw (untouched), or NOTHING_THROWN. A timeout is rethrown.
function attempt(script, context, deadline) {
  const remaining = Math.ceil(deadline - performance.now());
  if (remaining <= 0) throw OUT_OF_TIME;
  try {
    script.runInContext(context, { timeout: remaining, displayErrors: false });
  } catch (error) {
    if (isTimeout(error)) throw error;
    return error;
  }
  return NOTHING_THROWN;
}

function outcome(outcomeName, message, logs) {
  return JSON.stringify({ outcome: outcomeName, message, logs: logs || '', requests: [] });
}

function newContext(entry) {
  entry.context = vm.createContext(Object.create(null), {
    name: 'function',
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
  // The prelude runs before any of the function's code: its closures are safe to call.
  const api = prelude.runInContext(entry.context)();
  entry.api = {
    setInput: api.setInput,
    setThrown: api.setThrown,
    take: api.take,
    logs: api.logs,
  };
  entry.initialised = false;
}

function settle(entry, thrown, phase, deadline) {
  // What the function threw is described inside its context, within the time limit.
  entry.api.setThrown(thrown, phase);
  const again = attempt(settleScript, entry.context, deadline);
  const result = entry.api.take();
  if (again !== NOTHING_THROWN || typeof result !== 'string') {
    return outcome('error', 'the function threw something that cannot be described');
  }
  return result;
}

function run(request) {
  if (typeof request.code !== 'string' && !scripts.has(request.hash)) return NEED_CODE;
  const timeoutMs = request.timeoutMs;
  const deadline = performance.now() + timeoutMs;
  const entry = entryFor(request);
  if (entry.error !== null) return outcome('error', entry.error);
  let reuse = false;
  try {
    if (entry.context === null) newContext(entry);
    const api = entry.api;
    api.setInput(request.kind, request.event, request.settings, timeoutMs);
    let thrown;
    if (!entry.initialised) {
      thrown = attempt(entry.script, entry.context, deadline);
      if (thrown !== NOTHING_THROWN) return settle(entry, thrown, 'load', deadline);
      entry.initialised = true;
    }
    thrown = attempt(startScript, entry.context, deadline);
    if (thrown !== NOTHING_THROWN) return settle(entry, thrown, 'call', deadline);
    let result = api.take();
    while (result === null) {
      thrown = attempt(pollScript, entry.context, deadline);
      if (thrown !== NOTHING_THROWN) return settle(entry, thrown, 'call', deadline);
      result = api.take();
    }
    if (typeof result !== 'string' || result.length > MAX_RESULT_CHARS) {
      return outcome('error', 'the function produced a result too large to report');
    }
    reuse = true;
    return result;
  } catch (error) {
    const logs = entry.api !== null ? entry.api.logs() : '';
    if (isTimeout(error)) {
      return outcome('timeout', `the function ran longer than ${timeoutMs / 1000} s`, logs);
    }
    return outcome('error', `the function runtime failed: ${describeHostError(error)}`, logs);
  } finally {
    // A context is kept only after a call that ended normally: one interrupted mid-way, or
    // whose code failed to load, or that threw from outside its handler, starts again.
    if (!reuse) {
      entry.context = null;
      entry.api = null;
    }
  }
}

// A rejected promise nobody handles inside a function is the function's business, not a
// reason for this process to exit.
process.on('unhandledRejection', () => {});

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  let id = null;
  let text;
  try {
    const request = JSON.parse(line);
    id = request.id;
    text = run(request);
    if (text === NEED_CODE) {
      process.stdout.write(`{"id":${JSON.stringify(id)},"needCode":true}\n`);
      return;
    }
  } catch (error) {
    text = outcome('error', `the function runtime failed: ${describeHostError(error)}`);
  }
  if (typeof text !== 'string' || text[0] !== '{' || text.includes('\n')) {
    text = outcome('error', 'the function runtime produced an unreadable result');
  }
  process.stdout.write(`{"id":${JSON.stringify(id)},"result":${text}}\n`);
});
lines.on('close', () => process.exit(0));
