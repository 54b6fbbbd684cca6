import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPkiError, PkiError } from '../lib/index.js';
import { PKI_ERROR_CODES } from '../lib/errors.js';

test('PkiError carries a stable code, the field and a message naming the field', () => {
  const error = new PkiError('ERR_PEM', 'no PEM block found', { field: 'ca.crt' });
  assert.instance(error, Error);
  assert.is(error.name, 'PkiError');
  assert.is(error.code, 'ERR_PEM');
  assert.is(error.field, 'ca.crt');
  assert.is(error.message, 'ca.crt: no PEM block found');
  assert.ok(isPkiError(error, 'ERR_PEM'));
  assert.not.ok(isPkiError(error, 'ERR_DER'));
  assert.not.ok(isPkiError(new Error('x')));
});

test('a cause is kept for debugging', () => {
  const cause = new Error('inner');
  assert.is(new PkiError('ERR_KEY', 'bad', { cause }).cause, cause);
});

test('every code has a one-line meaning', () => {
  for (const [code, meaning] of Object.entries(PKI_ERROR_CODES)) {
    assert.match(code, /^ERR_[A-Z][A-Z0-9_]*$/);
    assert.ok(meaning.length > 10 && !meaning.includes('\n'));
  }
});

test.run();
