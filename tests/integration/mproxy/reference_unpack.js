// Unpacks a stream with the reference, proxy-packer 2.0.4, printing what mproxy-unpack prints:
// one line {"kind", "fields", "body_base64"} per message.
//   node reference_unpack.js whole|bytes|overlap INPUT.bin
'use strict';
var fs = require('fs');
var Packer = require('proxy-packer');

var keywords = ['connection', 'control', 'end', 'error', 'pause', 'resume'];
var machine;
function print(msg) {
  var fields = machine._headers;
  var kind = keywords.indexOf(fields[4]) >= 0 ? fields[4] : 'data';
  console.log(JSON.stringify({ kind: kind, fields: fields, body_base64: msg.data ? msg.data.toString('base64') : '' }));
}
machine = Packer.create({ onmessage: print, onconnection: print, oncontrol: print, onerror: print,
                          onend: print, onpause: print, onresume: print });

var bytes = fs.readFileSync(process.argv[3]);
var scheme = process.argv[2];
var step = 1;
for (var at = 0; at < bytes.length;) {
  var n = scheme === 'whole' ? bytes.length : scheme === 'bytes' ? 1 : (step++ * 7) % 23 + 1;
  machine.fns.addChunk(bytes.slice(at, at + n));
  at += n;
}
