// Preloaded (node --require) by test/package/without-undici.test.ts: the process cannot find undici, as
// in an install without the optional peer dependency.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload */
const Module = require('node:module');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'undici' || request.startsWith('undici/')) {
    const error = new Error(`Cannot find module '${request}' (hidden by hide-undici.cjs)`);
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
