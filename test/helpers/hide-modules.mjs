// `node --import ./test/helpers/hide-modules.mjs`: makes the packages named in HIDE_MODULES
// (comma-separated) unresolvable, by import and by require, as on an install without them: shows
// what loads them, and what the CLI says when an optional one is missing.
import Module, { register } from "node:module";

const hidden = (process.env.HIDE_MODULES ?? "").split(",").filter(Boolean);
register("./hide-modules-hooks.mjs", import.meta.url, { data: hidden });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.includes(request)) {
    const e = new Error(`Cannot find module '${request}'`);
    e.code = "MODULE_NOT_FOUND";
    throw e;
  }
  return resolveFilename.call(this, request, ...rest);
};
