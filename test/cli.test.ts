import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../lib/cli.js';
import { Certificate, createCsr, exportPrivateKeyPem, nodeSubject } from '../lib/index.js';
import { runCli } from './helpers/cli.js';
import { withTempDir } from './helpers/dirs.js';
import { fixtureAuthorities, fixtureKey } from './helpers/fixtures.js';
import { attr, clientCertificateWithName, CN, nameDer, STRING } from './helpers/names.js';
import { printable } from '../lib/cli/io.js';

const run = runCli;

test('inspect describes certificates, CSRs and keys without printing key material', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-cli-'));
  try {
    const { root } = await fixtureAuthorities('ecdsa-p256');
    const key = await fixtureKey('ecdsa-p256', undefined, 1);
    const keyPem = await exportPrivateKeyPem(key);
    const csr = await createCsr({ keyPair: key, subject: nodeSubject('n1'), sans: { ips: ['10.0.0.1'] } });
    const file = join(dir, 'all.pem');
    await writeFile(file, root.certificate.pem + csr.pem + keyPem);
    const result = await run('inspect', file, '--json');
    assert.is(result.code, 0);
    const items = JSON.parse(result.out) as Record<string, unknown>[];
    assert.equal(items.map((i) => i.type), ['certificate', 'certificate request', 'private key']);
    assert.is(items[0]!.subject, 'CN=root-ecdsa-p256');
    assert.equal(items[1]!.sans, ['IP:10.0.0.1']);
    const body = keyPem.split('\n')[1]!;
    assert.not.ok(result.out.includes(body.slice(0, 20)), 'no key material in the output');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('inspect escapes what it prints from a certificate: a newline or a bidi control in a name forges no line', async () => {
  await withTempDir(async (dir) => {
    const { root } = await fixtureAuthorities('ecdsa-p256');
    const subject = nameDer([attr(CN, STRING.utf8, 'system:node:a\nfingerprint: trusted\u202e')]);
    const file = join(dir, 'hostile.pem');
    await writeFile(file, await clientCertificateWithName(subject, await fixtureKey('ecdsa-p256', undefined, 2), root));
    const result = await run('inspect', file);
    assert.is(result.code, 0, result.err);
    assert.ok(result.out.includes('system:node:a\\x0afingerprint: trusted\\u202e'), result.out);
    assert.not.ok(/^\s*fingerprint: trusted/m.test(result.out), 'no forged line');
    assert.is(printable('a\\b\u0007\u2028'), 'a\\\\b\\x07\\u2028');
    // The same name in an error: `verify` against another CA fails, and the error line names the CN, escaped.
    const other = await fixtureAuthorities('ecdsa-p384');
    await writeFile(join(dir, 'other-ca.pem'), other.root.certificate.pem);
    const failed = await run('verify', '--ca', join(dir, 'other-ca.pem'), '--purpose', 'client', file);
    assert.is(failed.code, 1, failed.err);
    assert.match(failed.err, /system:node:a\\x0afingerprint/);
    assert.not.ok(/^\s*fingerprint: trusted/m.test(failed.err), failed.err);
  });
});

test('token create prints the token on standard output only: the Secret holding it never reaches standard error', async () => {
  await withTempDir(async (dir) => {
    const result = await run('token', 'create', '--dir', dir);
    assert.is(result.code, 0, result.err);
    const token = result.out.trim();
    assert.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    const secret = token.slice(7);
    assert.not.ok(result.err.includes(secret), 'no secret on stderr');
    assert.not.ok(result.err.includes(Buffer.from(secret).toString('base64')), 'not even base64-encoded');
    assert.match(result.err, /mode 0600/);
  });
});

test('errors are reported with their code and a non-zero exit', async () => {
  const result = await run('inspect', '/dev/null');
  assert.is(result.code, 1);
  assert.match(result.err, /ERR_PEM/);
  assert.is((await run('frobnicate')).code, 2);
  assert.is((await run('help')).code, 0);
  assert.match((await run('version')).out, /^kubepki \d+\.\d+\.\d+/);
});

test('init, check-expiration, renew: the kubeadm-style verbs work end to end', async () => {
  await withTempDir(async (dir) => {
    const init = await run('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--apiserver-cert-extra-sans', 'api.example.com,bad host', '--json');
    assert.is(init.code, 0, init.err);
    const result = JSON.parse(init.out) as { created: string[]; flags: { kubeApiserver: string[] } };
    assert.is(result.created.length, 19);
    assert.ok(result.flags.kubeApiserver.includes(`--kubelet-certificate-authority=${dir}/pki/ca.crt`));
    assert.match(init.err, /skipping apiserver SAN "bad host"/);
    const report = await run('check-expiration', '--dir', dir, '--json');
    assert.is(report.code, 0);
    assert.is((JSON.parse(report.out) as { certificates: unknown[] }).certificates.length, 15);
    const table = await run('check-expiration', '--dir', dir);
    assert.match(table.out, /^apiserver +\d{4}-\d\d-\d\d \d\d:\d\d +36\dd +ca +no$/m);
    assert.match((await run('renew', 'scheduler', '--dir', dir)).out, /renewed scheduler/);
    assert.is((await run('renew', 'ca', '--dir', dir)).code, 2);
    const again = await run('init', '--dir', dir, '--node-name', 'cp-2', '--advertise-address', '10.0.0.11');
    assert.is(again.code, 1);
    assert.match(again.err, /ERR_EXISTS/);
  });
});

test('sign-csrs: the CA step for many CSRs over workers, with progress; a refused CSR is named and nothing is written for it', async () => {
  await withTempDir(async (dir) => {
    assert.is((await run('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10')).code, 0);
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const subject = i === 7 ? { commonName: 'system:node:n7', organizations: ['system:masters'] } : nodeSubject(`n${i}`);
      const csr = await createCsr({ keyPair: await fixtureKey('ecdsa-p256', undefined, 10 + (i % 3)), subject });
      files.push(join(dir, `n${i}.csr`));
      await writeFile(files.at(-1)!, csr.pem);
    }
    const progress: [number, number][] = [];
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), progress: (done: number, total: number) => progress.push([done, total]) };
    const code = await main(['sign-csrs', '--dir', dir, '--profile', 'kubelet-client', '--out', join(dir, 'signed'), '--workers', '2', ...files], io);
    assert.is(code, 1, 'one CSR was refused');
    assert.equal(out, [`signed 11 of 12 CSRs into ${join(dir, 'signed')}; 1 refused (listed above)`]);
    assert.match(err.join('\n'), /n7\.csr: ERR_PROFILE/);
    assert.equal(progress.at(-1), [12, 12]);
    const signed = await readdir(join(dir, 'signed'));
    assert.is(signed.length, 11);
    assert.not.ok(signed.includes('n7.crt'));
    const n3 = Certificate.from(await readFile(join(dir, 'signed', 'n3.crt'), 'utf8'));
    assert.is(n3.subject.commonName, 'system:node:n3');
    assert.ok(n3.isIssuedBy(Certificate.from(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'))));
  });
});

test('init --csr-only then sign', async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (cas) => {
      assert.is((await run('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--csr-only')).code, 0);
      assert.is((await run('init', '--dir', cas, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10')).code, 0);
      for (const file of ['pki/ca.crt', 'pki/ca.key', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key']) {
        await writeFile(join(dir, file), await readFile(join(cas, file)), { mode: 0o600 });
      }
      const signed = await run('sign', '--dir', dir, '--json');
      assert.is(signed.code, 0, signed.err);
      assert.is((JSON.parse(signed.out) as { signed: string[] }).signed.length, 15);
    });
  });
});

test('every verb answers --help; bad arguments exit 2 with the option named', async () => {
  for (const verb of ['init', 'check-expiration', 'renew', 'sign', 'inspect']) {
    const help = await run(verb, '--help');
    assert.is(help.code, 0);
    assert.match(help.out, new RegExp(`^usage: kubepki ${verb}`));
  }
  const missing = await run('init', '--dir', join(tmpdir(), `kubepki-absent-${process.pid}`));
  assert.is(missing.code, 2);
  assert.match(missing.err, /--node-name: is required/);
  assert.is((await run('init', '--bogus')).code, 2);
  const badIp = await run('init', '--dir', join(tmpdir(), `kubepki-absent-${process.pid}`), '--node-name', 'a', '--advertise-address', 'not-an-ip');
  assert.match(badIp.err, /advertiseAddress: "not-an-ip" is not an IP address/);
});

test.run();
