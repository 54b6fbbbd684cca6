// publint checks the package as npm would pack it (package.json's exports, files, types and bin against
// the files in dist/); `npm run test:unit` builds dist/ first. Any message, suggestions included, fails.
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('publint --strict finds nothing to say about the package', async () => {
  const { messages, pkg } = await publint({ pkgDir: ROOT, strict: true, level: 'suggestion' });
  const text = messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`);
  assert.equal(text, []);
});

test.run();
