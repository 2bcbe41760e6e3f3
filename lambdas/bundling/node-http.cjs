// `node:http` for the Lambda bundles, in place of an ES module import of it (the alias in
// lib/bundling.ts). Node builds the ES module view of a builtin by reading every export, and
// `http.WebSocket`, `http.CloseEvent` and `http.MessageEvent` are getters that load undici: an
// `import … from 'node:http'` costs a cold start tens of milliseconds for code nothing here uses.
// process.getBuiltinModule returns the CommonJS exports object and reads no getter.
module.exports = process.getBuiltinModule('node:http');
