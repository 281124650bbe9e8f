"""Shared helpers for integration tests: start the real passthru binary on port 0 with a
config, start real peers (openssl s_server, plain TCP servers), and look at the process
(/proc/PID/fd). Every wait is bounded and scaled by PASSTHRU_TEST_TIMEOUT_MULTIPLIER."""

import getpass
import hashlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

BUILD = Path(os.environ.get("PASSTHRU_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
BINARY = Path(os.environ.get("PASSTHRU_BIN", BUILD / "passthru"))
SOURCE = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("PASSTHRU_TEST_TIMEOUT_MULTIPLIER", "1"))


def seconds(s):
    """A timeout scaled for slow builds (sanitizers)."""
    return s * SCALE


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + seconds(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Peer:
    """A program or server a test runs beside passthru; `with` closes it."""

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Passthru:
    """passthru running a config. `config` is TOML text; listeners should use port 0.
    .ports lists the bound ports in config order (.metrics_port: the [metrics] listener's, if
    any); .log() returns stderr so far."""

    def __init__(self, config, workers=None, listeners=1, wrapper=(), name="passthru.toml", args=()):
        """`wrapper`: a command line to run passthru under, such as strace's. `name`: the config
        file's; a *.json one is a passthru (Go) config, written as given. `args`: more options."""
        self.wrapper = list(wrapper)
        self.dir = tempfile.TemporaryDirectory(prefix="passthru-test-")
        self.path = Path(self.dir.name) / name
        if workers is not None:
            config = f"workers = {workers}\n" + config
        if "drain_timeout_ms" not in config and not name.endswith(".json"):
            # stop() sends SIGTERM, which lets live connections finish: a test that ends with
            # relays still open would wait for them, and passthru's default waits 30 s.
            config = f"drain_timeout_ms = {int(seconds(1) * 1000)}\n" + config
        self.path.write_text(config)
        self.stderr_path = Path(self.dir.name) / "stderr.log"
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen([*self.wrapper, str(BINARY), "-c", str(self.path), *args],
                                        stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.stdout_lines = []  # what it said on stdout while starting
        self.ports = []
        self.metrics_port = None
        deadline = time.monotonic() + seconds(10)
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.stdout_lines.append(line)
            m = re.search(r"listening on .*:(\d+) ", line)
            if m:
                self.ports.append(int(m.group(1)))
            m = re.search(r"serving metrics on .*:(\d+) ", line)
            if m:
                self.metrics_port = int(m.group(1))
            if len(self.ports) == listeners:
                break
        if not self.ports:
            self.stop()
            raise AssertionError("passthru did not start:\n" + self.stderr_path.read_text())
        self.port = self.ports[0]

    @property
    def pid(self):
        """passthru's own process (under a wrapper, the wrapper's child)."""
        if self.wrapper:  # a wrapper that runs passthru as its child (strace), not one that execs it
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            if children:
                return int(children[0])
        return self.process.pid

    # Each worker keeps up to this many empty kernel pipes for splice(2), two descriptors each,
    # for reuse (core/src/server/worker.cpp): they are a pool, not a leak.
    PIPES_KEPT_PER_WORKER = 16

    def _fd_targets(self):
        targets = []
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                targets.append(os.readlink(f"/proc/{self.pid}/fd/{fd}"))
            except OSError:
                pass  # closed while we looked
        return targets

    def fd_count(self):
        """Open descriptors other than pooled pipes: this must come back to where it started."""
        return sum(1 for t in self._fd_targets() if not t.startswith("pipe:"))

    def pipe_fd_count(self):
        return sum(1 for t in self._fd_targets() if t.startswith("pipe:"))

    def rss_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        return self.stderr_path.read_text()

    def wait_log(self, pattern, timeout=5):
        wait_until(lambda: re.search(pattern, self.log()), timeout, f"log line /{pattern}/")
        return re.findall(pattern, self.log())

    def stop(self):
        """SIGTERM, then the exit status (0 expected)."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds(10))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        self.process.stdout.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        code = self.stop()
        log = self.stderr_path.read_text() if self.stderr_path.exists() else ""
        self.dir.cleanup()
        if exc[0] is None:
            assert code == 0, f"passthru exited {code}:\n{log}"
            assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log


# ---- TLS peers -------------------------------------------------------------------------------

_cert_dir = tempfile.TemporaryDirectory(prefix="passthru-certs-")


def certificate(name):
    """A self-signed certificate for `name` (CN and SAN): (cert path, key path)."""
    cert = Path(_cert_dir.name) / f"{name}.pem"
    key = Path(_cert_dir.name) / f"{name}.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                        "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return cert, key


class TlsBackend(Peer):
    """openssl s_server on 127.0.0.1 with its own certificate for `name`, answering HTTP (-www)."""

    def __init__(self, name, extra=()):
        cert, key = certificate(name)
        self.name = name
        self.process = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert),
                                         "-key", str(key), "-www", "-naccept", "100000", *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + seconds(10)
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            line = self.process.stdout.readline()
            m = re.search(r"ACCEPT .*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        assert self.port, "s_server did not start"
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for _ in self.process.stdout:
            pass

    def close(self):
        self.process.terminate()
        self.process.wait()


def s_client(port, servername=None, alpn=None, extra=()):
    """Runs openssl s_client through passthru; returns the CN of the certificate it got, or None."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *extra]
    if servername:
        cmd += ["-servername", servername]
    if alpn:
        cmd += ["-alpn", alpn]
    r = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=seconds(15))
    m = re.search(r"subject=CN ?= ?(\S+)", r.stdout)
    return m.group(1) if m else None


def curl_https(port, name, ca, extra=()):
    """curl https://name:port/ with name resolved to 127.0.0.1, verifying against `ca`."""
    return subprocess.run(["curl", "-sS", "--max-time", str(seconds(10)), "--resolve", f"{name}:{port}:127.0.0.1",
                           "--cacert", str(ca), *extra, f"https://{name}:{port}/"],
                          capture_output=True, text=True)


def client_hello(name, alpn=(), padding=0):
    """A ClientHello for `name`, offering `alpn` (bytes each) and padded by `padding` bytes, as
    TLS records of at most 16384 bytes: the least a TLS 1.3 client sends (RFC 8446 §4.1.2)."""
    def u16(n):
        return n.to_bytes(2, "big")
    host = name.encode()
    extensions = (u16(0) + u16(len(host) + 5)            # server_name (RFC 6066 §3), its length
                  + u16(len(host) + 3) + b"\x00"        # ServerNameList length; type host_name
                  + u16(len(host)) + host)               # HostName
    if alpn:
        names = b"".join(bytes([len(p)]) + p for p in alpn)
        extensions += u16(16) + u16(len(names) + 2) + u16(len(names)) + names  # ALPN (RFC 7301 §3.1)
    if padding:
        extensions += u16(21) + u16(padding) + bytes(padding)  # padding (RFC 7685)
    body = (b"\x03\x03" + bytes(32)                      # legacy_version TLS 1.2; random
            + b"\x00"                                    # legacy_session_id, empty
            + u16(2) + b"\x13\x01"                        # cipher_suites: TLS_AES_128_GCM_SHA256
            + b"\x01\x00"                                 # legacy_compression_methods: null
            + u16(len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body  # client_hello, its length
    return b"".join(b"\x16\x03\x01" + u16(len(handshake[i:i + 16384])) + handshake[i:i + 16384]  # handshake record
                    for i in range(0, len(handshake), 16384))


# ---- Plain TCP peers ---------------------------------------------------------------------------

class TcpServer(Peer):
    """A plain TCP server on 127.0.0.1:0 running `handler(conn)` per connection in a thread."""

    def __init__(self, handler, backlog=64, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.received = []  # what each connection's handler chose to record
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            try:
                self.handler(self, conn)
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.sock.close()


def echo_handler(server, conn):
    """Echoes everything, then half-closes once the client has."""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def record_handler(server, conn):
    """Records everything until EOF, then answers with the SHA-256 of it and closes."""
    chunks = []
    while True:
        data = conn.recv(65536)
        if not data:
            break
        chunks.append(data)
    data = b"".join(chunks)
    server.received.append(data)
    conn.sendall(hashlib.sha256(data).hexdigest().encode())


def banner_handler(banner):
    """Speaks first (as SMTP or SSH servers do), then echoes."""
    def handler(server, conn):
        conn.sendall(banner)
        echo_handler(server, conn)
    return handler


def name_handler(name):
    """Answers each connection with `name` and a line feed, then reads until the client's EOF:
    a backend whose answer says which one a client reached."""
    def handler(server, conn):
        conn.sendall(name.encode() + b"\n")
        while conn.recv(65536):
            pass
    return handler


def read_line(sock):
    """One line from `sock` (a name_handler's answer) without its line feed; what came before
    the peer's FIN or reset if no line feed did."""
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(100)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def forward_all_config(backend_port, options="", rule="", listen="127.0.0.1:0"):
    """A listener that forwards everything but TLS to 127.0.0.1:backend_port through its server
    CATCHALL, with `options` in its table and `rule` appended inside the CATCHALL rule. A first
    byte that cannot start TLS ("X") decides at once."""
    return f"""
[servers."{listen}"]
timeout_ms = 300
{options}
[servers."{listen}".TLS]
CATCHALL = {{ action = "REJECT" }}
[servers."{listen}".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{backend_port}"{rule} }}
"""


def connect(port, timeout=10, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=seconds(timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def send_in_pieces(sock, data, size, pause=0.002):
    """Sends `data` in segments of `size` bytes with pauses, so they arrive as separate reads."""
    for i in range(0, len(data), size):
        sock.sendall(data[i:i + size])
        time.sleep(pause)


def port_accepts(port):
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def first_free_port(candidates):
    """The first of `candidates` that 127.0.0.1 can bind right now."""
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port among the candidates")


def recv_exactly(sock, size):
    """Reads `size` bytes, or fewer if the peer's EOF comes first."""
    got = b""
    while len(got) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def echo_round(sock, data):
    """Sends `data` to an echoing peer and returns what came back (all of it, or up to its EOF)."""
    sock.sendall(data)
    return recv_exactly(sock, len(data))


def free_port():
    """A port nothing listens on right now, for peers that cannot bind port 0 themselves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd(Peer):
    """A real OpenSSH server on 127.0.0.1 with a generated host key, accepting a generated client
    key for the current user. .client_key is the private key for `ssh -i`."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="passthru-sshd-")
        d = Path(self.dir.name)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
        (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
        os.chmod(d / "authorized_keys", 0o600)
        self.host_key_pub = (d / "host_key.pub").read_text().split()[1]
        self.client_key = d / "client_key"
        self.port = free_port()
        (d / "sshd_config").write_text(f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {d / "host_key"}
PidFile {d / "sshd.pid"}
AuthorizedKeysFile {d / "authorized_keys"}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
""")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        with open(d / "sshd.log", "w") as log:
            self.process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                                            stdout=subprocess.DEVNULL, stderr=log)
        wait_until(lambda: port_accepts(self.port), 10, "sshd to listen")

    def ssh(self, port, command):
        """Runs `command` over ssh through `port`; returns the completed process."""
        return subprocess.run(["ssh", "-i", str(self.client_key), "-p", str(port), "-o", "BatchMode=yes",
                               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                               "-o", f"ConnectTimeout={int(seconds(10))}", f"{getpass.getuser()}@127.0.0.1",
                               command], capture_output=True, text=True, timeout=seconds(30))

    def close(self):
        self.process.terminate()
        self.process.wait()
        self.dir.cleanup()



class Daemon(Peer):
    """A peer program run in the foreground with a generated config, stopped at the end."""

    def __init__(self, argv, config_name, config_text, ports):
        self.dir = tempfile.TemporaryDirectory(prefix="passthru-peer-")
        self.path = Path(self.dir.name) / config_name
        self.path.write_text(config_text.replace("@DIR@", self.dir.name))
        self.log_path = Path(self.dir.name) / "peer.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([a.replace("@CONFIG@", str(self.path)).replace("@DIR@", self.dir.name)
                                             for a in argv], stdout=log, stderr=subprocess.STDOUT)
        for port in ports:
            wait_until(lambda port=port: self._accepts(port), 10, f"{argv[0]} to listen on {port}")

    def _accepts(self, port):
        if self.process.poll() is not None:
            raise AssertionError(f"{self.path.name}'s program exited:\n" + self.log_path.read_text())
        return port_accepts(port)

    def close(self):
        self.process.terminate()
        self.process.wait()
        self.dir.cleanup()


def haproxy(config, ports):
    """HAProxy (Debian's 2.6) in the foreground with `config` (global and defaults added)."""
    text = ("global\n  maxconn 1000\n"
            "defaults\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n" + config)
    return Daemon(["haproxy", "-db", "-f", "@CONFIG@"], "haproxy.cfg", text, ports)


def nginx(http="", stream="", ports=()):
    """nginx (Debian's 1.22, with its stream module) in the foreground with these server blocks."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"  {kind}_temp_path @DIR@/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = (f"load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n{user}daemon off;\nmaster_process off;\n"
            "pid @DIR@/nginx.pid;\nerror_log @DIR@/error.log;\nevents { }\n"
            f"http {{\n  access_log off;\n{temp}{http}}}\nstream {{\n{stream}}}\n")
    return Daemon(["nginx", "-c", "@CONFIG@", "-p", "@DIR@"], "nginx.conf", text, ports)


def nginx_backends(names):
    """nginx serving one HTTP server per name on its own port, each answering "<name>\\n";
    .ports maps each name to its port."""
    ports = {name: free_port() for name in names}
    servers = "".join(f'  server {{ listen 127.0.0.1:{port}; return 200 "{name}\\n"; }}\n' for name, port in ports.items())
    peer = nginx(http=servers, ports=list(ports.values()))
    peer.ports = ports
    return peer


def connect_from(source_ip, port, timeout=10):
    """A connection to 127.0.0.1:port from another loopback address (127.0.0.2, ...)."""
    s = socket.socket()
    s.settimeout(seconds(timeout))
    s.bind((source_ip, 0))
    s.connect(("127.0.0.1", port))
    return s
