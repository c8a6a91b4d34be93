// Run by test/io/sources.test.ts in a child process (module registration is once per process):
// the Node loaders imported BEFORE the browser entry, the order test files and deep imports may
// use, then a local folder resolved by name. Prints the source's description.

import '../../src/node/sources.js';
import { resolveSource } from '../../src/io/sources.js';
import '../../src/browser.js';

console.log(resolveSource(process.argv[2]).description);
