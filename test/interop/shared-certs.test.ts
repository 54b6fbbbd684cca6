// kubeadm's upload-certs format judged by kubeadm's own code: test/interop/sharedcerts/main.go carries
// kubeadm's EncryptBytes/DecryptBytes (cmd/kubeadm/app/util/crypto/crypto.go) and copycerts.go's
// certsToTransfer, getDataFromDisk, getDataFromSecret and DownloadCerts, built with the machine's go.
// Both ways must give byte-identical files.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initPkiDirectory, isPkiError } from '../../lib/index.js';
import { createCertificateKey, restoreSharedCertificates, sharedCertificateManifest, sharedCertificateManifestData, sharedCertificateSecret } from '../../lib/cluster/shared-certs.js';
import { suiteTempDir } from '../helpers/dirs.js';

const SOURCE = fileURLToPath(new URL('./sharedcerts/', import.meta.url));
const CACHE = join(tmpdir(), 'kubepki-judge');
const PATHS = ['pki/ca.crt', 'pki/ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/sa.key', 'pki/sa.pub'];
const KUBEADM_NAMES = ['ca.crt', 'ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub'];

interface JudgeAnswer {
  data?: Record<string, string | null>;
  files?: string[];
  error?: string;
}

function exec(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeout ?? 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

let binary: Promise<string> | undefined;

/** The judge, built offline with the machine's go (only the standard library) and cached by its source's hash. */
function judgeBinary(): Promise<string> {
  binary ??= (async () => {
    await mkdir(CACHE, { recursive: true, mode: 0o700 });
    if (process.getuid && (await stat(CACHE)).uid !== process.getuid()) throw new Error(`${CACHE} belongs to someone else`);
    const hash = createHash('sha256');
    for (const file of ['main.go', 'go.mod']) hash.update(await readFile(join(SOURCE, file)));
    const path = join(CACHE, `sharedcerts-${hash.digest('hex').slice(0, 16)}`);
    if (await stat(path).then(() => true, () => false)) return path;
    const env = { ...process.env, GOTOOLCHAIN: 'local', GOTELEMETRY: 'off', GOPROXY: 'off', GOFLAGS: '-mod=mod', CGO_ENABLED: '0', GOCACHE: join(CACHE, 'gocache-machine'), GOPATH: join(CACHE, 'gopath') };
    const partial = `${path}.${process.pid}.tmp`;
    const built = await exec('go', ['build', '-trimpath', '-o', partial, '.'], { cwd: SOURCE, env, timeout: 300_000 });
    if (built.code !== 0) throw new Error(`go build failed:\n${built.stdout}${built.stderr}`);
    await rename(partial, path);
    return path;
  })();
  return binary;
}

async function judge(request: Record<string, unknown>): Promise<{ code: number; answer: JudgeAnswer }> {
  const { code, stdout, stderr } = await exec(await judgeBinary(), [], { input: JSON.stringify(request) });
  if (code !== 0 && code !== 1) throw new Error(`the judge exited ${code}: ${stderr}`);
  return { code, answer: JSON.parse(stdout) as JudgeAnswer };
}

let dir = '';
let remove: () => Promise<void> = async () => undefined;
let source = '';

test.before(async () => {
  const temp = await suiteTempDir();
  dir = temp.dir;
  remove = temp.remove;
  source = join(dir, 'cp-1');
  await initPkiDirectory(source, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', keySpec: 'rsa-2048' });
});
test.after(() => remove());

test("kubeadm's DownloadCerts decrypts a kubepki-made Secret (through its manifest): byte-identical files, its modes", async () => {
  const key = createCertificateKey();
  const { data } = await sharedCertificateSecret(source, key);
  const fromManifest = sharedCertificateManifestData(sharedCertificateManifest(data));
  const target = join(dir, 'kubeadm-download', 'pki');
  const { code, answer } = await judge({ op: 'download', key, data: fromManifest, dir: target });
  assert.is(code, 0, answer.error);
  assert.equal(answer.files, KUBEADM_NAMES);
  for (const [i, name] of KUBEADM_NAMES.entries()) {
    assert.ok((await readFile(join(target, name))).equals(await readFile(join(source, PATHS[i]!))), name);
  }
  // The judge refuses a wrong key, so its acceptance means something.
  const wrong = await judge({ op: 'download', key: createCertificateKey(), data, dir: join(dir, 'kubeadm-wrong', 'pki') });
  assert.is(wrong.code, 1);
  assert.match(wrong.answer.error ?? '', /message authentication failed/);
});

test("kubepki restores what kubeadm's upload-certs encrypted: byte-identical files", async () => {
  const key = createCertificateKey();
  const { code, answer } = await judge({ op: 'upload', key, dir: join(source, 'pki') });
  assert.is(code, 0, answer.error);
  const data = Object.fromEntries(Object.entries(answer.data ?? {}).map(([k, v]) => [k, v ?? '']));
  assert.equal(Object.keys(data).sort(), ['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub']);
  const target = join(dir, 'kubepki-restore');
  const result = await restoreSharedCertificates(target, data, key);
  assert.is(result.written.length, 8);
  for (const path of PATHS) {
    assert.ok((await readFile(join(target, path))).equals(await readFile(join(source, path))), path);
    assert.is((await stat(join(target, path))).mode & 0o777, path.endsWith('.key') ? 0o600 : 0o644, path);
  }
  // kubepki refuses kubeadm's Secret under another key, naming a data key, with nothing written.
  const other = join(dir, 'kubepki-wrong');
  const error = await restoreSharedCertificates(other, data, createCertificateKey()).then(() => undefined, (e: unknown) => e);
  assert.ok(isPkiError(error) && error.code === 'ERR_KEY' && /^data\./.test(error.field ?? ''), String(error));
  assert.not.ok(await stat(join(other, 'pki')).then(() => true, () => false));
});

test("a file absent on upload: kubeadm's empty value and kubepki's agree both ways", async () => {
  const key = createCertificateKey();
  const partial = join(dir, 'partial');
  await initPkiDirectory(partial, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' });
  await rm(join(partial, 'pki', 'front-proxy-ca.key'));
  const ours = await sharedCertificateSecret(partial, key);
  const theirs = await judge({ op: 'upload', key, dir: join(partial, 'pki') });
  assert.is(ours.data['front-proxy-ca.key'], '');
  assert.is(theirs.answer.data?.['front-proxy-ca.key'] ?? '', '');
  const downloaded = await judge({ op: 'download', key, data: ours.data, dir: join(dir, 'partial-kubeadm', 'pki') });
  assert.is(downloaded.code, 0, downloaded.answer.error);
  assert.not.ok(downloaded.answer.files?.includes('front-proxy-ca.key'));
  const restored = await restoreSharedCertificates(join(dir, 'partial-kubepki'), Object.fromEntries(Object.entries(theirs.answer.data ?? {}).map(([k, v]) => [k, v ?? ''])), key);
  assert.equal(restored.empty, ['front-proxy-ca.key']);
});

test.run();
