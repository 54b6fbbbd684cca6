// @peculiar/x509, the development-only oracle of the tests and the benchmark (certificates built
// independently of kubepki's encoder). It needs a Reflect polyfill loaded before it: every user imports
// it through this file so that the order is guaranteed in one place. kubepki itself (lib/) imports
// neither: it installs no global Reflect polyfill into its user's process (eslint.config.js).
import 'reflect-metadata';

export * from '@peculiar/x509';
