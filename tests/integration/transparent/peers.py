"""The peers of the transparent-mode test, run inside its network namespaces (`ip netns exec`).
Standard library only.

  peers.py serve SPEC_JSON   listens on every address the spec lists, prints "ready", and serves
                             until killed: to each client it says which peer it saw, as
                             "peer=ADDR:PORT\\n" ([v6]:port for IPv6), then ends. A "tls"
                             listener completes a TLS handshake with its certificate first; a
                             "proxy" one first reads a PROXY v1 line and says it back too.
  peers.py connect HOST PORT HEX [SECONDS]
                             connects, sends the bytes HEX spells, and prints "local=ADDR:PORT"
                             (its own address, as the server should see it) and then the reply.
"""

import json
import socket
import ssl
import sys
import threading


def shown(address):
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_one(spec, conn, peer):
    with conn:
        conn.settimeout(10)
        if spec["kind"] == "tls":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(spec["cert"], spec["key"])
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(f"peer={shown(peer)}\n".encode())
                try:
                    tls.unwrap()  # close_notify, so the client reads a clean end
                except (OSError, ssl.SSLError):
                    pass
            return
        said = b""
        if spec["kind"] == "proxy":
            while not said.endswith(b"\r\n") and len(said) < 108:  # a v1 line's most (proxy-protocol.txt §2.1)
                byte = conn.recv(1)
                if not byte:
                    break
                said += byte
        conn.sendall(said + f"peer={shown(peer)}\n".encode())
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # the client's bytes, read to its end: closing with them unread would reset
            pass


def accept_loop(spec, listener):
    while True:
        conn, peer = listener.accept()
        threading.Thread(target=serve_one, args=(spec, conn, peer), daemon=True).start()


def serve(specs):
    for spec in specs:
        family = socket.AF_INET6 if ":" in spec["host"] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((spec["host"], spec["port"]))
        listener.listen(16)
        threading.Thread(target=accept_loop, args=(spec, listener), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def connect(host, port, data, seconds):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(seconds)
        s.connect((host, port))
        print(f"local={shown(s.getsockname())}", flush=True)
        s.sendall(data)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        sys.stdout.write(reply.decode(errors="replace"))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(json.loads(sys.argv[2]))
    else:
        connect(sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4]),
                float(sys.argv[5]) if len(sys.argv) > 5 else 10)
