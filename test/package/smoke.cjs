// Smoke test of the installed package through require(): every export is there and works.
// Run by test/package/run.sh inside a fresh project that installed the packed tarball.
'use strict';
const sockctl = require('sockctl');
const { exercise } = require('./exercise.cjs');

exercise(sockctl, 'require').then(
  () => console.log('require: ok'),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
