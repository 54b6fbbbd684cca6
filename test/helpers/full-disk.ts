// Preloaded into a kubepki child (`node --import tsx --import ./test/helpers/full-disk.ts lib/cli.ts ...`):
// the disk is "full" for new files. Every file created exclusively (O_CREAT|O_EXCL, as the atomic writer
// and the directory lock create theirs) opens, as it does on a full ext4 where inodes remain, and then
// fails its data write with ENOSPC. No real disk is filled.
// KUBEPKI_TEST_FULL_DISK_SPARE_LOCK=1 spares the directory lock's files.
import { constants } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import type * as FsPromises from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

const require = createRequire(import.meta.url);
const promises = require('node:fs/promises') as typeof FsPromises;
const open = promises.open;

const full = (syscall: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { code: 'ENOSPC', errno: -28, syscall });

(promises as { open: typeof open }).open = async (...args: Parameters<typeof open>): Promise<FileHandle> => {
  const handle = await open(...args);
  const flags = args[1];
  // KUBEPKI_TEST_FULL_DISK_SPARE_LOCK=1: the directory lock is taken, the disk fills after it.
  const spared = process.env.KUBEPKI_TEST_FULL_DISK_SPARE_LOCK === '1' && basename(String(args[0])).startsWith('.kubepki.lock');
  if (typeof flags === 'number' && (flags & constants.O_EXCL) !== 0 && !spared) {
    const fail = async (): Promise<never> => {
      throw full('write');
    };
    Object.assign(handle, { writeFile: fail, write: fail, appendFile: fail });
  }
  return handle;
};
syncBuiltinESMExports();
