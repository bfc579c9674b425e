#!/usr/bin/env node
// Writes the avsc-made fixtures of riffle's internal/avrofile tests into
// testdata/avro/ (the parent directory):
//
//   avsc-null.avro, avsc-deflate.avro  100 records of kitchen.avsc, several blocks
//   avsc-empty.avro                    a header and no block
//   avsc-kitchen.jsonl                 avsc's JSON view of the 100 records
//                                      (Type#toString: Avro's JSON encoding)
//
// The records are a pure function of their index, mirrored by kitchenRecord
// in internal/avrofile/avsc_test.go. Sync markers are fixed, so a rerun
// reproduces the files byte for byte.
//
// Usage: npm ci --prefix testdata/avro/avsc && node testdata/avro/avsc/make-fixtures.js
'use strict';

const avro = require('avsc');
const fs = require('fs');
const path = require('path');

const COUNT = 100;
const outDir = path.join(__dirname, '..');
const schema = JSON.parse(fs.readFileSync(path.join(__dirname, 'kitchen.avsc'), 'utf8'));
const type = avro.Type.forSchema(schema);

// Two's-complement big-endian bytes of n, as short as possible (Avro decimal).
function decimalBytes(n) {
  let v = BigInt(n);
  const out = [];
  for (;;) {
    const b = Number(BigInt.asUintN(8, v));
    out.unshift(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) {
      break;
    }
  }
  return Buffer.from(out);
}

function record(i) {
  const tags = [];
  for (let j = 0; j < i % 4; j++) {
    tags.push('t' + j);
  }
  const attrs = {};
  if (i % 3 !== 0) {
    attrs.a = i;
    attrs.b = -i;
  }
  const blob = Buffer.from([i % 256, (i * 3) % 256, 0, 255, 0x22].slice(0, i % 6));
  let choice;
  switch (i % 3) {
    case 0: choice = i; break;
    case 1: choice = 's' + i; break;
    default: choice = {x: i, y: -i};
  }
  return {
    id: i * 1000003 - 500,
    flag: i % 2 === 0,
    small: ((i * 7919) % 65536) - 32768,
    ratio: i * 0.25,
    score: i * 1.5 - 10,
    name: 'name-' + i + (i % 5 === 0 ? ' \u00fcn\u00efc\u00f6d\u00e9 \u2713 "q" \\ \t' : ''),
    blob: blob,
    color: ['RED', 'GREEN', 'BLUE'][i % 3],
    hash: Buffer.from([i & 0xff, (i >> 8) & 0xff, 0xab, 0xcd]),
    tags: tags,
    attrs: attrs,
    note: i % 3 === 0 ? null : 'note ' + i,
    choice: choice,
    at: 1700000000000 + i * 1001,
    day: 19000 + i,
    price: decimalBytes(i * 12345 - 50000),
  };
}

function sync(tag) {
  const b = Buffer.alloc(16);
  b.write(tag.padEnd(16, '.'), 'latin1');
  return b;
}

function writeFile(name, opts, n) {
  return new Promise((resolve, reject) => {
    const file = path.join(outDir, name);
    const enc = new avro.streams.BlockEncoder(schema, Object.assign({
      blockSize: 1024,
      metadata: {'riffle.fixture': Buffer.from(name)},
    }, opts));
    const out = fs.createWriteStream(file);
    enc.pipe(out);
    out.on('finish', () => resolve(file));
    out.on('error', reject);
    enc.on('error', reject);
    for (let i = 0; i < n; i++) {
      enc.write(record(i));
    }
    enc.end();
  });
}

async function main() {
  await writeFile('avsc-null.avro', {codec: 'null', syncMarker: sync('avsc-null')}, COUNT);
  await writeFile('avsc-deflate.avro', {codec: 'deflate', syncMarker: sync('avsc-deflate')}, COUNT);
  await writeFile('avsc-empty.avro', {codec: 'null', syncMarker: sync('avsc-empty'), writeHeader: 'always'}, 0);
  const lines = [];
  for (let i = 0; i < COUNT; i++) {
    lines.push(type.toString(record(i)));
  }
  fs.writeFileSync(path.join(outDir, 'avsc-kitchen.jsonl'), lines.join('\n') + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
