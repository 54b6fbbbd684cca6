// undici is an optional peer dependency: without it every path's https.Agent works, and only asking for
// the undici dispatcher fails, with ERR_DEPENDENCY naming the package.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);

test('without undici: the path factories build their https.Agent; .undici is ERR_DEPENDENCY naming undici', async () => {
  const index = new URL('../../lib/index.ts', import.meta.url).href;
  const script = `
    import { mkdtempSync, writeFileSync } from 'node:fs';
    import { Agent } from 'node:https';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const kubepki = await import(${JSON.stringify(index)});
    const ca = await kubepki.createCertificateAuthority({ commonName: 'kubernetes' });
    const dir = mkdtempSync(join(tmpdir(), 'kubepki-no-undici-'));
    writeFileSync(join(dir, 'ca.crt'), ca.certificate.pem);
    writeFileSync(join(dir, 'token'), 'token');
    const paths = {
      apiserverToService: kubepki.apiserverToService({ bundle: ca.certificate.pem, service: 's', namespace: 'n', address: '127.0.0.1', port: 8443 }),
      podToApiserver: kubepki.podToApiserver({ serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } }),
    };
    const out = {};
    for (const [name, agents] of Object.entries(paths)) {
      let undici;
      try {
        void agents.undici;
        undici = 'loaded';
      } catch (error) {
        undici = error.code + ' ' + error.field;
      }
      out[name] = [agents.https instanceof Agent, agents.url, undici];
      await agents.close();
    }
    console.log(JSON.stringify(out));`;
  const preload = fileURLToPath(new URL('./hide-undici.cjs', import.meta.url));
  const { stdout } = await run(process.execPath, ['--require', preload, '--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
  assert.equal(JSON.parse(stdout), {
    apiserverToService: [true, 'https://127.0.0.1:8443', 'ERR_DEPENDENCY undici'],
    podToApiserver: [true, 'https://10.96.0.1:443', 'ERR_DEPENDENCY undici'],
  });
});

test.run();
