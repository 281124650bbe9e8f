// Packs messages with the reference, proxy-packer 2.0.4, for comparison with mproxy-pack.
//   node reference_pack.js MESSAGES.jsonl OUTPUT.bin
// One message a line: {"kind", "meta": {...}, "body_base64", "oldways"}, as mproxy-pack reads.
'use strict';
var fs = require('fs');
var Packer = require('proxy-packer');

var parts = [];
fs.readFileSync(process.argv[2], 'utf8').split('\n').forEach(function (line) {
  if (!line) { return; }
  var m = JSON.parse(line);
  var meta = Object.assign({}, m.meta);  // packHeader writes into meta: give it a copy
  var body = Buffer.from(m.body_base64 || '', 'base64');
  var service = m.kind === 'data' ? undefined : m.kind;
  parts.push(Packer.packHeader(meta, body.length ? body : null, service, true, m.oldways));
});
fs.writeFileSync(process.argv[3], Buffer.concat(parts));
