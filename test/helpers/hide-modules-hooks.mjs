// Resolve hooks of hide-modules.mjs.
let hidden = [];

export function initialize(names) {
  hidden = names;
}

export async function resolve(specifier, context, next) {
  if (hidden.includes(specifier)) {
    const e = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL}`);
    e.code = "ERR_MODULE_NOT_FOUND";
    throw e;
  }
  return next(specifier, context);
}
