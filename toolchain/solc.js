#!/usr/bin/env node
/*
 * A solc-compatible command line on top of the solcjs JavaScript API.
 *
 * No native solc binary can be installed on the project's machines, so py-solc-x and brownie drive the
 * npm `solc` package (pinned in package.json) through this file, registered under the name of a solc
 * binary. It implements only what those tools use: `--version` in native solc's format (py-solc-x parses
 * it) and `--standard-json` (JSON on stdin, JSON on stdout). The import callback resolves source unit
 * names against the base path (default: the current directory, which is the project root for brownie),
 * any `--include-path`, and the project's node_modules, and refuses anything outside those roots.
 * `--allow-paths` is accepted and ignored because the roots above already bound what may be read.
 * solcjs's own CLI is unusable here: it rejects `--allow-paths`, prints an SMT notice into the JSON on
 * stdout, and calls process.exit() before a large output has drained into a pipe.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const PROJECT_ROOT = path.dirname(path.dirname(fs.realpathSync(__filename)));
const NODE_MODULES = path.join(PROJECT_ROOT, 'node_modules');

const USAGE = 'usage: solc --version | solc --standard-json [--base-path DIR] [--include-path DIR]... ' +
  '[--allow-paths LIST]   (solcjs wrapper: JSON input on stdin, JSON output on stdout)';

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(1);
}

function loadSolc() {
  let resolved;
  try {
    resolved = require.resolve('solc', { paths: [PROJECT_ROOT] });
  } catch (e) {
    fail(`solc wrapper: the npm package "solc" is not installed under ${NODE_MODULES} (run ./dev setup)`);
  }
  return require(resolved);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], help: false };
  // Flags that take a value accept both "--flag value" and "--flag=value", as native solc does.
  const valued = new Set(['--allow-paths', '--base-path', '--include-path']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value = null;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (valued.has(arg) && value === null) {
      if (i + 1 >= argv.length) fail(`option '${arg}' needs a value\n${USAGE}`);
      value = argv[++i];
    }
    switch (arg) {
      case '--version': opts.version = true; break;
      case '--standard-json': opts.standardJson = true; break;
      case '--help': opts.help = true; break;
      case '--allow-paths': break;
      case '--base-path': opts.basePath = value; break;
      case '--include-path': opts.includePaths.push(value); break;
      default:
        // py-solc-x recognises this wording and raises UnknownOption naming the flag.
        fail(`unrecognised option '${arg}': this solcjs wrapper supports only --version, ` +
          `--standard-json, --base-path, --include-path and --allow-paths\n${USAGE}`);
    }
  }
  return opts;
}

function within(root, candidate) {
  return candidate === root || candidate.startsWith(root + path.sep);
}

function makeImportCallback(roots) {
  return function readImport(sourceUnitName) {
    for (const root of roots) {
      const candidate = path.resolve(root, sourceUnitName);
      if (!roots.some((r) => within(r, candidate))) continue;
      try {
        if (fs.statSync(candidate).isFile()) return { contents: fs.readFileSync(candidate, 'utf8') };
      } catch (e) {
        if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') return { error: `cannot read ${candidate}: ${e.message}` };
      }
    }
    return { error: `"${sourceUnitName}" not found inside the allowed roots: ${roots.join(', ')}` };
  };
}

// A pipe's reader may be slower than us; writeSync on a non-blocking fd then returns EAGAIN, and a partial
// write returns fewer bytes. Loop until every byte is out so output above the 64 KiB pipe buffer is whole.
function writeAllSync(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += fs.writeSync(fd, buf, offset, buf.length - offset);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    writeAllSync(1, USAGE + '\n');
    return;
  }
  if (opts.version) {
    const solc = loadSolc();
    writeAllSync(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) fail(`nothing to do: pass --standard-json or --version\n${USAGE}`);

  const base = path.resolve(opts.basePath || '.');
  const roots = [base, ...opts.includePaths.map((p) => path.resolve(p)), NODE_MODULES]
    .filter((r, i, all) => all.indexOf(r) === i);
  const input = fs.readFileSync(0, 'utf8');
  const solc = loadSolc();

  // Anything the compiler module prints would corrupt the JSON that callers parse from stdout.
  const realStdoutWrite = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr);
  let output;
  try {
    output = solc.compile(input, { import: makeImportCallback(roots) });
  } finally {
    process.stdout.write = realStdoutWrite;
  }
  writeAllSync(1, output + '\n');
}

main();
