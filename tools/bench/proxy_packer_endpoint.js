// A tunnel endpoint written with proxy-packer 2.0.4 on Node, as its README shows it used: the
// benchmark's reference for passthru's DEMUX (tools/bench/run_bench.py drives both with the same
// load). Each connection to a listener is one M-PROXY tunnel; proxy-packer's unpacker reads it,
// each `connection` opens a TCP connection to that listener's backend, and bytes are relayed both
// ways, the backend's packed with proxy-packer's pack(). Backpressure both ways: a backend that
// cannot take more has its stream paused (a `pause` message) and stops the tunnel's reading until
// it drains; a tunnel that cannot take more stops every backend's reading until it drains.
//   node proxy_packer_endpoint.js LISTEN_PORT=BACKEND_PORT ...     (all on 127.0.0.1)
// proxy-packer comes from tests/integration/mproxy (NODE_PATH; tools/setup.sh installs it).
'use strict';
var net = require('net');
var Packer = require('proxy-packer');

// pack() and packHeader() write the message's kind into the meta they are given (end, pause…):
// every message is packed from a copy of the stream's address, so its data stays data.
function packed(addr, data, kind) {
  var meta = Object.assign({}, addr);
  return kind ? Packer.packHeader(meta, data, kind, true) : Packer.pack(meta, data);
}

function serve(tunnel, backendPort) {
  tunnel.setNoDelay(true);  // as passthru and the load generator: no Nagle delay on small messages
  var streams = {};
  var blocked = 0;           // streams whose backend cannot take more: the tunnel is not read
  var tunnelFull = false;    // the tunnel cannot take more: no backend is read

  function send(buf) {
    if (!tunnel.write(buf) && !tunnelFull) {
      tunnelFull = true;
      Object.keys(streams).forEach(function (id) { streams[id].backend.pause(); });
    }
  }
  tunnel.on('drain', function () {
    tunnelFull = false;
    Object.keys(streams).forEach(function (id) { if (!streams[id].clientPaused) { streams[id].backend.resume(); } });
  });

  function unblock(s) {
    if (!s.blocked) { return; }
    s.blocked = false;
    send(packed(s.addr, null, 'resume'));
    if (--blocked === 0) { tunnel.resume(); }
  }

  function open(msg) {
    var id = Packer.addrToId(msg);
    if (streams[id]) {
      send(packed(msg, { message: 'this stream is already open', code: 'E_CONN_EXISTS' }, 'error'));
      return;
    }
    var addr = { family: msg.family, address: msg.address, port: msg.port, service: msg.service,
                 serviceport: msg.serviceport, name: msg.name };
    var backend = net.connect({ port: backendPort, host: '127.0.0.1', noDelay: true });
    var s = { addr: addr, backend: backend, blocked: false, clientPaused: false, over: false };
    streams[id] = s;
    if (tunnelFull) { backend.pause(); }
    backend.on('data', function (chunk) { send(packed(addr, chunk)); });
    backend.on('drain', function () { unblock(s); });
    backend.on('end', function () { finish(id, packed(addr, null, 'end')); });
    backend.on('error', function (e) { finish(id, packed(addr, { message: e.message, code: 'E_CONNECT' }, 'error')); });
    backend.on('close', function () { finish(id, null); });
  }

  // The stream is over: say so once (if `last`), and forget it.
  function finish(id, last) {
    var s = streams[id];
    if (!s || s.over) { return; }
    s.over = true;
    if (last) { send(last); }
    unblock(s);
    delete streams[id];
    s.backend.destroy();
  }

  var unpacker = Packer.create({
    oncontrol: function () {},  // the relay's hello needs no answer from an endpoint
    onconnection: open,
    onmessage: function (msg) {
      var id = Packer.addrToId(msg);
      var s = streams[id];
      if (!s) {
        send(packed(msg, { message: 'no matching connection', code: 'E_NO_CONN' }, 'error'));
        return;
      }
      if (!s.backend.write(msg.data) && !s.blocked) {
        s.blocked = true;
        send(packed(s.addr, null, 'pause'));
        if (blocked++ === 0) { tunnel.pause(); }
      }
    },
    onend: function (msg) { var s = streams[Packer.addrToId(msg)]; if (s) { s.backend.end(); } },
    onerror: function (msg) { finish(Packer.addrToId(msg), null); },
    onpause: function (msg) {
      var s = streams[Packer.addrToId(msg)];
      if (s) { s.clientPaused = true; s.backend.pause(); }
    },
    onresume: function (msg) {
      var s = streams[Packer.addrToId(msg)];
      if (s) { s.clientPaused = false; if (!tunnelFull) { s.backend.resume(); } }
    }
  });
  tunnel.on('data', function (chunk) { unpacker.fns.addChunk(chunk); });
  tunnel.on('error', function () {});
  tunnel.on('close', function () { Object.keys(streams).forEach(function (id) { finish(id, null); }); });
}

process.argv.slice(2).forEach(function (pair) {
  var ports = pair.split('=').map(Number);
  net.createServer(function (tunnel) { serve(tunnel, ports[1]); }).listen(ports[0], '127.0.0.1');
});
