// Node kubeconfigs a directory holds (`<dir>/nodes/<node>/*.conf`, where the TLS-bootstrap example and tests keep
// their nodes): a CA rotation rewrites the CA data they trust, leaving every other field as it is.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Certificate } from '../x509/certificate.js';
import { readIfExists, type FileToWrite } from './files.js';
import { parseKubeconfig } from './kubeconfig.js';

export const NODES_FOLDER = 'nodes';

/**
 * The node kubeconfigs under `<dir>/nodes/` whose `certificate-authority-data` holds one of `match`, each
 * rewritten to trust `caPem` (mode 0600). Files that are not kubeconfigs, or trust other CAs, are left out.
 */
export async function nodeKubeconfigsTrusting(dir: string, match: readonly Certificate[], caPem: string): Promise<FileToWrite[]> {
  const root = join(dir, NODES_FOLDER);
  const nodes = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: FileToWrite[] = [];
  for (const node of nodes.filter((n) => n.isDirectory())) {
    const files = await readdir(join(root, node.name), { withFileTypes: true }).catch(() => []);
    for (const file of files.filter((f) => f.isFile() && f.name.endsWith('.conf'))) {
      const path = join(root, node.name, file.name);
      const content = await rewritten(path, match, caPem);
      if (content !== undefined) out.push({ path, content, mode: 0o600 });
    }
  }
  return out;
}

async function rewritten(path: string, match: readonly Certificate[], caPem: string): Promise<string | undefined> {
  const text = await readIfExists(path);
  if (text === undefined) return undefined;
  try {
    const trusted = parseKubeconfig(text, path).caPem;
    if (!trusted || !match.some((ca) => trusted.includes(ca.pem.trim()))) return undefined;
  } catch {
    return undefined;
  }
  const doc = parse(text) as { clusters?: { cluster?: Record<string, unknown> }[] };
  for (const entry of doc.clusters ?? []) {
    const data = entry.cluster?.['certificate-authority-data'];
    if (typeof data !== 'string') continue;
    const pem = Buffer.from(data, 'base64').toString('utf8');
    if (match.some((ca) => pem.includes(ca.pem.trim()))) entry.cluster!['certificate-authority-data'] = Buffer.from(caPem).toString('base64');
  }
  return stringify(doc);
}
