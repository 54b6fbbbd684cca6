// A writer child for the lock tests: `node --import tsx lock-writer.ts DIR ARG...` loads the command,
// prints READY, waits for a line on standard input (so that two children start writing at the same
// moment), then runs `kubepki ARG... --dir DIR` and exits with its code; what it printed goes to stderr.
import { createInterface } from 'node:readline';
import { main } from '../../lib/cli.js';

const [dir, ...args] = process.argv.slice(2) as [string, ...string[]];
const lines = createInterface({ input: process.stdin });
process.stdout.write('READY\n');
await new Promise<void>((go) => lines.once('line', () => go()));
lines.close();
const code = await main([...args, '--dir', dir], { out: () => undefined, err: (line) => process.stderr.write(`${line}\n`) });
process.exitCode = code;
