// The flags `kubepki init` prints name files it wrote (issue 19 item 6), with and without a separate kubelet-serving CA.
import { stat } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

test('every file a flag printed by init names in the directory exists', async () => {
  for (const extra of [[], ['--separate-kubelet-serving-ca']]) {
    await withTempDir(async (dir) => {
      const result = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', ...extra);
      assert.is(result.code, 0, result.err);
      const named = [...result.out.matchAll(/^ {2}--[a-z-]+=(\/\S+?)(?: \\)?$/gm)].map((m) => m[1]!).filter((path) => path.startsWith(`${dir}/`));
      assert.ok(named.length > 30, `${named.length} files named`);
      const missing = [];
      for (const path of named) if (!(await stat(path).then(() => true, () => false))) missing.push(path);
      assert.equal(missing, []);
    });
  }
});

test.run();
