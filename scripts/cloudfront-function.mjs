// The CloudFront Functions runtime (cloudfront-js-2.0) as far as template.yaml's viewer-request
// function needs it, on Node.js: scripts/edge.mjs runs the function with it for `make stack`, and
// tests/template.rs runs it against every kind of credentials. Node's crypto has the same
// createHash, and Node has the same Buffer; the KeyValueStore is read from the auth file
// `piraeus token new --auth-file` writes, which holds what the store holds on AWS.

import crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';

// The function's imports are the runtime's modules: anything else fails, as it would on AWS.
const IMPORT = /^import (\w+) from '([^']+)';$/gm;

// Turns the function's code into its `handler`, with `cf.kvs()` answering from `store`.
export function compile(code, store) {
  const modules = { crypto, cloudfront: { kvs: () => store } };
  const names = [];
  const values = [];
  const body = code.replace(IMPORT, (line, name, module) => {
    if (!Object.hasOwn(modules, module)) {
      throw new Error(`the CloudFront Functions runtime has no module '${module}'`);
    }
    names.push(name);
    values.push(modules[module]);
    return '';
  });
  // Function code runs in strict mode on CloudFront, as a module would.
  return new Function(...names, `'use strict';\n${body}\nreturn handler;`)(...values);
}

// The token store: key = token name, value = the hex SHA-256 of its secret, then for a scoped
// token ';' and its patterns, as `piraeus token new --kvs` writes it (kvs_value in
// crates/piraeus-core/src/auth.rs). `get` rejects for a name the store does not hold, as the
// real one does. The file is read on every lookup, so `piraeus token new` takes effect at once;
// without a file every lookup fails.
export function authFileStore(path) {
  return {
    async get(name) {
      if (path === undefined) {
        throw new Error('no auth file: the store is empty');
      }
      const { tokens } = JSON.parse(await readFile(path, 'utf8'));
      const token = tokens.find((candidate) => candidate.name === name);
      if (token === undefined) {
        throw new Error(`key not found: ${name}`);
      }
      return token.modules == null ? token.sha256 : `${token.sha256};${token.modules}`;
    },
  };
}
