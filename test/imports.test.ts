import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// undici is loaded when an agent's dispatcher is first used: a signer, a registry or a worker thread
// that imports kubepki never pays for it.
test('importing kubepki does not load undici; asking an agent for its dispatcher does', () => {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(new URL('../lib/index.ts', import.meta.url).href)});
    const { verifiedAgents } = await import(${JSON.stringify(new URL('../lib/agents/tls.ts', import.meta.url).href)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/node_modules/undici/'));
    const before = loaded();
    const agents = verifiedAgents({ material: { ca: 'unused' }, serverName: 'example.test' });
    const afterAgents = loaded();
    void agents.undici;
    console.log(JSON.stringify([before, afterAgents, loaded()]));
    await agents.close();`;
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(JSON.parse(output.trim()), [false, false, true]);
});

test("the README's table of exports names every value the package exports, and its count is right", async () => {
  const exported = Object.keys(await import('../lib/index.js'));
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('| Task | Exports |'), readme.indexOf('\n\n', readme.indexOf('| Task | Exports |')));
  const missing = exported.filter((name) => !table.includes(`\`${name}\``));
  assert.equal(missing, [], `not in the README's table: ${missing.join(', ')}`);
  assert.match(readme, new RegExp(`exports ${exported.length} functions and values`));
});

test.run();
