// Run by test/package/require.test.ts: kubepki as a CommonJS consumer (or a bundler resolving `require`)
// sees it. `require('kubepki')` resolves through the package's own exports map (a package may require
// itself by name) to dist/, the build `npm pack` ships, and Node >= 20.19 loads that ES module.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- the point of this file */

const kubepki = require('kubepki');

kubepki
  .createCertificateAuthority({ commonName: 'kubernetes' })
  .then((ca) => {
    process.stdout.write(
      JSON.stringify({
        resolved: require.resolve('kubepki'),
        exports: Object.keys(kubepki).length,
        pem: ca.certificate.pem.split('\n')[0],
        reflectMetadata: typeof Reflect.getMetadata,
      }),
    );
  })
  .catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
