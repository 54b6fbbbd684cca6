import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileAtomic } from '../../lib/index.js';
import { failureOf } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/dirs.js';

test('writeFileAtomic creates folders and the file with its mode, leaving no temporary file', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'pki/etcd/ca.key');
    await writeFileAtomic({ path, content: 'secret', mode: 0o600 });
    assert.is(await readFile(path, 'utf8'), 'secret');
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.is((await stat(join(dir, 'pki/etcd'))).mode & 0o777, 0o755);
    assert.equal(await readdir(join(dir, 'pki/etcd')), ['ca.key']);
  });
});

test('an existing file is never overwritten unless asked, and the refusal leaves no trace', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'ca.crt');
    await writeFile(path, 'old');
    const failure = await failureOf(() => writeFileAtomic({ path, content: 'new', mode: 0o644 }));
    assert.equal([failure.code, failure.field], ['ERR_EXISTS', path]);
    assert.is(await readFile(path, 'utf8'), 'old');
    assert.equal(await readdir(dir), ['ca.crt']);
    await writeFileAtomic({ path, content: 'new', mode: 0o644 }, { overwrite: true });
    assert.is(await readFile(path, 'utf8'), 'new');
  });
});

test('an overwritten key takes the new mode, not the old file\'s', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'sa.key');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic({ path, content: 'new', mode: 0o600 }, { overwrite: true });
    assert.is((await stat(path)).mode & 0o777, 0o600);
  });
});

test.run();
