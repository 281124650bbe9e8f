// An M-PROXY tunnel client built on the reference, proxy-packer 2.0.4: one connection to
// passthru carrying many concurrent streams, each sending its first bytes (a TLS ClientHello, an
// HTTP request or plain bytes), then BYTES random bytes, and expecting everything back from an
// echo backend that first says which backend it is. Prints one JSON summary line.
//   node tunnel_client.js PORT STREAMS BYTES HELLO.bin
'use strict';
var net = require('net');
var crypto = require('crypto');
var fs = require('fs');
var Packer = require('proxy-packer');

var port = +process.argv[2];
var count = +process.argv[3];
var size = +process.argv[4];
var hello = fs.readFileSync(process.argv[5]);  // its SNI is hello.example.test
var kinds = ['tls', 'http', 'plain'];
var streams = {};
var finished = 0;
var failures = [];

var socket = net.connect(port, '127.0.0.1');
socket.setMaxListeners(0);  // every stream may wait for 'drain' at once
function write(buf) {
  return socket.write(buf) ? Promise.resolve() : new Promise(function (r) { socket.once('drain', r); });
}

var machine = Packer.create({
  onmessage: function (msg) {
    var s = streams[Packer.addrToId(msg)];
    if (s && msg.data) { s.received.push(msg.data); s.receivedBytes += msg.data.length; s.check(); }
  },
  onend: function (msg) { var s = streams[Packer.addrToId(msg)]; if (s) { s.done('end'); } },
  onerror: function (msg) { var s = streams[Packer.addrToId(msg)]; if (s) { s.done('error ' + msg.code + ' ' + msg.message); } },
  onpause: function (msg) { var s = streams[Packer.addrToId(msg)]; if (s) { s.paused = true; } },
  onresume: function (msg) {
    var s = streams[Packer.addrToId(msg)];
    if (s) { s.paused = false; var w = s.waiting; s.waiting = null; if (w) { w(); } }
  }
});
socket.on('data', function (chunk) { machine.fns.addChunk(chunk); });
socket.on('error', function (e) { failures.push('tunnel: ' + e.message); });

function Stream(i) {
  var kind = kinds[i % 3];
  var addr = { family: 'IPv4', address: '10.9.0.' + (i + 1), port: 40000 + i, serviceport: 443,
               service: kind === 'http' ? 'http' : kind === 'tls' ? 'https' : 'tcp',
               name: kind === 'plain' ? 'plain.example' : kind === 'http' ? 'web.example' : 'hello.example.test' };
  var self = this;
  self.kind = kind; self.addr = addr; self.received = []; self.receivedBytes = 0; self.paused = false;
  var first = kind === 'tls' ? hello
    : kind === 'http' ? Buffer.from('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n') : Buffer.from('plain stream ' + i + '\n');
  self.sent = [first];
  var rest = crypto.randomBytes(size);
  for (var at = 0; at < rest.length; at += 65536) { self.sent.push(rest.slice(at, at + 65536)); }
  self.sentBytes = first.length + rest.length;
  self.expected = Buffer.concat([Buffer.from(kind + '\n')].concat(self.sent));
  self.check = function () {
    if (self.receivedBytes >= self.expected.length && !self.ended) {
      self.ended = true;
      write(Packer.packHeader(addr, null, 'end'));  // all echoed: this stream is done
    }
  };
  self.done = function (how) {
    if (self.over) { return; }
    self.over = true;
    var got = Buffer.concat(self.received);
    if (how !== 'end') { failures.push(kind + ' stream ' + i + ': ' + how); }
    else if (!got.equals(self.expected)) { failures.push(kind + ' stream ' + i + ': got ' + got.length + ' bytes, wanted ' + self.expected.length); }
    finished += 1;
    if (finished === count) { report(); }
  };
  self.run = async function () {
    await write(Packer.packHeader(addr, null, 'connection'));
    for (var k = 0; k < self.sent.length; k++) {
      if (self.paused) { await new Promise(function (r) { self.waiting = r; }); }
      await write(Packer.packHeader(addr, self.sent[k], undefined, true));
    }
  };
}

function report() {
  var total = 0;
  Object.keys(streams).forEach(function (id) { total += streams[id].sentBytes; });
  console.log(JSON.stringify({ streams: count, failures: failures, bytes_each_way: total }));
  socket.end();
  clearTimeout(deadline);
}

socket.on('connect', async function () {
  // A relay greets first: this control message is what passthru's MPROXY table sees first.
  await write(Packer.packHeader({}, [1, 'hello', [254], []], 'control', true));
  var all = [];
  for (var i = 0; i < count; i++) { var s = new Stream(i); streams[Packer.addrToId(s.addr)] = s; all.push(s.run()); }
  await Promise.all(all);
});
var deadline = setTimeout(function () { failures.push('timed out'); report(); process.exit(1); },
                          +(process.env.TUNNEL_TIMEOUT_MS || 120000));
