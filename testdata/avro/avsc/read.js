#!/usr/bin/env node
// Reads an Avro container file with avsc and prints one line per record:
// avsc's Type#toString, which is Avro's JSON encoding (unions wrapped as
// {"branch": value}, bytes and fixed as strings of code points 0-255,
// logical types as their underlying values since none are registered).
//
// Usage: node read.js FILE
// Exits 1 with the error on stderr if avsc rejects the file.
'use strict';

const avro = require('avsc');

const file = process.argv[2];
if (!file) {
  console.error('usage: node read.js FILE');
  process.exit(2);
}

let type = null;
const lines = [];
avro.createFileDecoder(file)
  .on('metadata', (t) => { type = t; })
  .on('data', (val) => { lines.push(type.toString(val)); })
  .on('error', (err) => {
    console.error(`avsc: ${file}: ${err.message}`);
    process.exit(1);
  })
  .on('end', () => {
    process.stdout.write(lines.length ? lines.join('\n') + '\n' : '');
  });
