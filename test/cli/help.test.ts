// Every verb's --help is made from the options it parses: each one is listed with its meaning, default and
// values, with an example, so that a flag added without a description fails here (and in the type checker).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VERBS } from '../../lib/cli.js';
import { runCli } from '../helpers/cli.js';

test('every verb lists each option it parses with its description, default and values, and an example', async () => {
  for (const verb of VERBS) {
    const help = await runCli(verb.name, '--help');
    assert.is(help.code, 0, verb.name);
    assert.ok(help.out.startsWith(`usage: kubepki ${verb.name}`), verb.name);
    for (const [name, option] of Object.entries(verb.options)) {
      assert.ok(option.description.length > 10, `${verb.name} --${name} has a description`);
      const line = new RegExp(`^  --${name}(?: \\S+)?(?: +|\\n +)${option.description.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm');
      assert.match(help.out, line, `${verb.name} --${name}`);
      if (option.default !== undefined) assert.ok(help.out.includes(`default: ${option.default}`), `${verb.name} --${name} default`);
      if (option.values !== undefined) assert.ok(help.out.includes(`of: ${option.values.join(', ')}`), `${verb.name} --${name} values`);
    }
    for (const argument of verb.arguments ?? []) {
      assert.ok(help.out.includes(argument.name) && help.out.includes(argument.description), `${verb.name} ${argument.name}`);
      if (argument.values) assert.ok(help.out.includes(`one of: ${argument.values.join(', ')}`), `${verb.name} ${argument.name} values`);
    }
    const example = help.out.slice(help.out.indexOf('\nexample:\n'));
    assert.ok(example.length > 10, `${verb.name} has an example`);
    for (const line of example.split('\n').slice(2)) assert.ok(line.startsWith(`  kubepki ${verb.name}`), `${verb.name} example: ${line}`);
    assert.is((await runCli('help', verb.name)).out, help.out, `kubepki help ${verb.name}`);
  }
});

test("the allowed values come from the library's tables, and the writers list --lock-timeout", async () => {
  const init = (await runCli('init', '--help')).out;
  assert.match(init, /one of: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519/);
  assert.match(init, /--lock-timeout DURATION +how long to wait/);
  assert.not.match((await runCli('inspect', '--help')).out, /--lock-timeout/);
  assert.match((await runCli('sign-csrs', '--help')).out, /--profile NAME +the leaf[^\n]*\n +one of: kubelet-client, kubelet-serving, server, client, apiserver,/);
  assert.match((await runCli('renew', '--help')).out, /one of: all, apiserver, [^\n]*, kubelet\n/);
  assert.match((await runCli('rotate-ca', '--help')).out, /one of: cluster, front-proxy, etcd\n[\s\S]*one of: add, reissue, finish\n/);
});

test('kubepki --help documents the exit codes', async () => {
  const help = await runCli('--help');
  assert.is(help.code, 0);
  assert.match(help.out, /exit codes:\n +0 +success\n +1 +failure[^\n]*\n +2 +usage error/);
});

test.run();
