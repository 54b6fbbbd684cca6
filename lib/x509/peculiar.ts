// @peculiar/x509 2.x needs a Reflect polyfill loaded before it (dependencies.md). Every module of
// kubepki imports the library through this file so that the order is guaranteed in one place.
import 'reflect-metadata';

export * from '@peculiar/x509';
