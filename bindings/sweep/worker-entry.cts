// The pool's entry in CommonJS. Piscina loads its worker file with require() first; on Node 20.19+
// that reaches our ES module through require(esm), which aborted the whole process once here
// ("v8::Module::IsGraphAsync must be used on an instantiated module", a Node bug when worker
// threads load module graphs concurrently). A CommonJS file is required plainly, and it reaches
// the worker through import(), the path every Node version supports.

module.exports = async function work(configs: unknown): Promise<unknown> {
  const worker = await import("./worker.js");
  return worker.default(configs as Parameters<typeof worker.default>[0]);
};
