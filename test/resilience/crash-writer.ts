// A child process for the crash test: performs one writing operation on a directory and is SIGKILLed
// somewhere along the way. `node --import tsx crash-writer.ts <init|renew|rotate|node-store> DIR`.
// Prints READY just before the writes start.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  generateKeyPair,
  initPkiDirectory,
  issueCertificate,
  nodeSubject,
  PROFILES,
  renewCertificates,
  storeCertificatePair,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { CRASH_CONFIG } from './crash-config.js';

const [operation, dir] = process.argv.slice(2) as [string, string];
const ready = (): void => void process.stdout.write('READY\n');

switch (operation) {
  case 'init':
    ready();
    await initPkiDirectory(dir, CRASH_CONFIG);
    break;
  case 'renew':
    ready();
    await renewCertificates(dir, 'all', { now: new Date(Date.now() + 86_400_000) });
    break;
  case 'rotate': {
    // Resume where the directory is: the phase after the one rotation.json records.
    const state = await readFile(join(dir, 'rotation.json'), 'utf8').then((t) => JSON.parse(t) as { phase: string }, () => undefined);
    const next = !state ? 'add' : state.phase === 'added' ? 'reissue' : 'finish';
    ready();
    for (const phase of ['add', 'reissue', 'finish'].slice(['add', 'reissue', 'finish'].indexOf(next))) await rotateClusterCa(dir, phase as 'add');
    break;
  }
  case 'node-store': {
    const ca = await createCertificateAuthority({ commonName: 'node-store-ca' });
    const pairs = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const key = await generateKeyPair();
      const certificate = await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: nodeSubject(`n${i}`), publicKey: key.publicKey });
      return { key, pem: certificate.pem };
    }));
    ready();
    let at = Date.now() + 1000 * 3600;
    for (const { key, pem } of pairs) await storeCertificatePair({ certDir: dir, prefix: 'kubelet-client', now: () => new Date((at += 1000)) }, pem, key);
    break;
  }
  default:
    throw new Error(`unknown operation ${operation}`);
}
process.stdout.write('DONE\n');
