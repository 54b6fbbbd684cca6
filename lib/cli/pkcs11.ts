import { validatePkcs11Reference, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import { PkiError } from '../errors.js';
import { optional, type VerbOption } from './io.js';

/** The option's text: where the CA key lives in a PKCS#11 token, and where its PIN comes from. */
export const PKCS11_OPTION_HELP = 'module=/path/to/module.so,token=LABEL,key=LABEL|id=HEX,pin-env=VARIABLE|pin-file=/path';

/** `--ca-pkcs11`: the CA key in a PKCS#11 token rather than a file. */
export const PKCS11_OPTION: VerbOption = { type: 'string', value: 'module=...,token=...,key=...,pin-env=...', description: `the CA key in a PKCS#11 token, not a file: ${PKCS11_OPTION_HELP}` };

/**
 * Reads `--ca-pkcs11 module=...,token=...,key=...,pin-env=VAR` (or `pin-file=/path`). A PIN on the
 * command line is refused: it would show in the process list and shell history.
 */
export function pkcs11Option(values: Record<string, unknown>, name = 'ca-pkcs11'): Pkcs11KeyReference | undefined {
  const text = optional(values, name);
  if (text === undefined) return undefined;
  const field = `--${name}`;
  const parts = new Map<string, string>();
  for (const item of text.split(',')) {
    const at = item.indexOf('=');
    const key = at > 0 ? item.slice(0, at).trim() : '';
    if (!key || parts.has(key)) throw new PkiError('ERR_ARGUMENT', `expected ${PKCS11_OPTION_HELP}`, { field });
    parts.set(key, item.slice(at + 1).trim());
  }
  if (parts.has('pin')) throw new PkiError('ERR_ARGUMENT', 'the PIN is never given on the command line: use pin-env=VARIABLE or pin-file=/path', { field });
  const unknown = [...parts.keys()].filter((k) => !['module', 'token', 'key', 'id', 'pin-env', 'pin-file'].includes(k));
  if (unknown.length) throw new PkiError('ERR_ARGUMENT', `unknown part ${unknown.join(', ')}; expected ${PKCS11_OPTION_HELP}`, { field });
  const pin = parts.has('pin-env') ? { env: parts.get('pin-env')! } : parts.has('pin-file') ? { file: parts.get('pin-file')! } : undefined;
  return validatePkcs11Reference({ module: parts.get('module'), token: parts.get('token'), key: parts.get('key'), id: parts.get('id'), pin }, field);
}
