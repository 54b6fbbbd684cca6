// Judge: Go's crypto/x509. Every certificate initPkiDirectory writes verifies for its purpose and each of
// its SANs against its CA, and fails for a purpose it lacks and for a name it does not carry; every key
// loads with its certificate through tls.X509KeyPair.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initPkiDirectory, loadPkiDirectory, exportPrivateKeyPem, type KeySpec } from '../../lib/index.js';
import { AUTHORITY_LAYOUT, layoutEntry } from '../../lib/cluster/layout.js';
import { withTempDir } from '../helpers/dirs.js';
import { goJudge, type GoCase } from './judges.js';

for (const keySpec of ['ecdsa-p256', 'rsa-2048'] as KeySpec[]) {
  test(`${keySpec}: every certificate of a cluster verifies in Go for its purpose and names`, async () => {
    await withTempDir(async (dir) => {
      await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '192.168.1.10', controlPlaneEndpoint: 'api.example.com', keySpec, separateKubeletServingCa: true });
      const loaded = await loadPkiDirectory(dir);
      const cases: GoCase[] = [];
      const expected: boolean[] = [];
      const labels: string[] = [];
      const add = (label: string, c: GoCase, ok: boolean): void => {
        cases.push(c);
        expected.push(ok);
        labels.push(label);
      };
      for (const entry of AUTHORITY_LAYOUT) {
        const ca = loaded.authorities.get(entry.name)!;
        add(`${entry.name} as a root`, { op: 'verify', leaf: ca.certificate.pem, roots: [ca.certificate.pem], eku: 'any' }, true);
      }
      for (const [name, material] of loaded.certificates) {
        const caName = layoutEntry(name)!.ca!;
        const roots = [loaded.authorities.get(caName)!.certificate.pem];
        const leaf = material.certificate.pem;
        const ekus = material.certificate.extendedKeyUsages;
        const names = [...material.certificate.sans.dns, ...material.certificate.sans.ips];
        if (ekus.includes('serverAuth')) {
          assert.ok(names.length > 0, `${name} has SANs`);
          for (const host of names) add(`${name} serves ${host}`, { op: 'verify', leaf, roots, name: host, eku: 'server' }, true);
          add(`${name} does not serve other.example`, { op: 'verify', leaf, roots, name: 'other.example', eku: 'server' }, false);
        } else {
          add(`${name} is not a server`, { op: 'verify', leaf, roots, eku: 'server' }, false);
        }
        add(`${name} as a client`, { op: 'verify', leaf, roots, eku: 'client' }, ekus.includes('clientAuth'));
        const otherRoot = loaded.authorities.get(caName === 'ca' ? 'etcd-ca' : 'ca')!.certificate.pem;
        add(`${name} under another CA`, { op: 'verify', leaf, roots: [otherRoot], eku: 'any' }, false);
        add(`${name} key pair`, { op: 'keypair', cert: leaf, key: await exportPrivateKeyPem(material.keyPair!) }, true);
      }
      add('sa.key', { op: 'key', key: await readFile(join(dir, 'pki/sa.key'), 'utf8') }, true);
      add('sa.pub', { op: 'pubkey', key: await readFile(join(dir, 'pki/sa.pub'), 'utf8') }, true);
      const results = await goJudge(cases);
      const wrong = results.flatMap((r, i) => (r.ok === expected[i] ? [] : [`${labels[i]}: expected ${expected[i]}, Go said ${r.error || 'ok'}`]));
      assert.ok(cases.length > 60, `${cases.length} cases`);
      assert.equal(wrong, []);
    });
  });
}

test.run();
