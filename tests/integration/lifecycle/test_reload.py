"""Live reload: SIGHUP (or a change of the file, with watch_config) loads the config anew. New
connections take the new rules while live relays go on untouched and the listening socket stays
open; a broken config changes nothing and says why at file:line:col; a listener added opens and
one removed closes, its connections draining; a plugin file replaced on disk is loaded anew while
connections accepted before keep the old one. Under load, 20 reloads lose no connection and each
connection reaches the backend of the config in force when it was accepted."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (BUILD, Passthru, TcpServer, TlsBackend, client_hello, connect, echo_handler,  # noqa: E402
                     echo_round, port_accepts, s_client, seconds, wait_until)

LOADGEN = BUILD / "loadgen"
LOAD_NAME = "hello.example.test"  # the SNI of the load generator's hello
LOAD_HELLO = Path(__file__).resolve().parents[3] / "plugins/tls/tests/vectors/chromium-156.bin"


# Every config a test writes sets the drain: the harness's default is only in the first one.
DRAIN = f"drain_timeout_ms = {int(seconds(1) * 1000)}\n"


def tls_config(tls_port, echo_port):
    """svc.example to a TLS backend, anything else to an echo backend."""
    return DRAIN + f"""
[servers."127.0.0.1:0".TLS]
"SNI svc.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{tls_port}" }}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo_port}" }}
"""


def replace_file(path, text):
    """Writes `text` to `path` as an editor or a deployment tool does: a new file renamed over it."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


def sighup_and_wait(proxy, word="reloaded:"):
    before = proxy.log().count(word)
    os.kill(proxy.pid, signal.SIGHUP)
    wait_until(lambda: proxy.log().count(word) > before, 10, f"'{word}' after SIGHUP")


class Reload(unittest.TestCase):
    def test_sighup_swaps_rules_keeps_relays_and_the_socket(self):
        with TlsBackend("one.example") as one, TlsBackend("two.example") as two, TcpServer(echo_handler) as echo:
            with Passthru(tls_config(one.port, echo.port)) as proxy:
                self.assertEqual(s_client(proxy.port, "svc.example"), "one.example")
                relay = connect(proxy.port)
                self.assertEqual(echo_round(relay, b"X before"), b"X before")
                listening = self.listening_inodes(proxy)
                replace_file(proxy.path, tls_config(two.port, echo.port))
                sighup_and_wait(proxy)
                self.assertIn("reloaded: 1 listener, 2 rules", proxy.log())
                self.assertEqual(s_client(proxy.port, "svc.example"), "two.example")
                # The relay accepted before goes on, and the listening sockets are the same ones.
                self.assertEqual(echo_round(relay, b" and after"), b" and after")
                self.assertEqual(self.listening_inodes(proxy), listening)
                relay.close()

    def test_a_broken_config_changes_nothing_and_says_where(self):
        with TlsBackend("one.example") as one, TcpServer(echo_handler) as echo:
            with Passthru(tls_config(one.port, echo.port)) as proxy:
                good = proxy.path.read_text()
                replace_file(proxy.path, "max_conections = 5\n" + good)
                sighup_and_wait(proxy, "reload failed")
                log = proxy.log()
                self.assertRegex(log, r"passthru\.toml:\d+:\d+: error: ")
                self.assertIn("reload failed: kept the running config", log)
                self.assertEqual(s_client(proxy.port, "svc.example"), "one.example")
                # Nor does a listener that cannot be opened: the whole reload is refused.
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", 0))
                    taken.listen()
                    busy = taken.getsockname()[1]
                    replace_file(proxy.path, good + f'[servers."127.0.0.1:{busy}".CATCHALL]\n'
                                 'CATCHALL = { action = "REJECT" }\n')
                    sighup_and_wait(proxy, "reload failed")
                self.assertRegex(proxy.log(), rf"passthru\.toml:\d+:\d+: error: cannot listen on 127\.0\.0\.1:{busy}")
                self.assertEqual(s_client(proxy.port, "svc.example"), "one.example")

    def test_listeners_added_and_removed(self):
        with TcpServer(echo_handler) as echo:
            first = f"""
drain_timeout_ms = {int(seconds(1.5) * 1000)}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo.port}" }}
"""
            second = first.replace("127.0.0.1:0", "127.0.0.2:0")
            with Passthru(first) as proxy:
                old_port = proxy.port
                relay = connect(old_port)
                self.assertEqual(echo_round(relay, b"Xhello"), b"Xhello")
                replace_file(proxy.path, first + second.split("\n", 2)[2])  # both listeners
                sighup_and_wait(proxy)
                line = proxy.process.stdout.readline()
                new_port = int(re.search(r"listening on 127\.0\.0\.2:(\d+)", line).group(1))
                with connect(new_port, host="127.0.0.2") as s:
                    self.assertEqual(echo_round(s, b"Xnew"), b"Xnew")
                replace_file(proxy.path, second)  # the first one removed
                sighup_and_wait(proxy)
                self.assertFalse(port_accepts(old_port), "a removed listener still accepts")
                # Its relay goes on while the drain lasts, then is closed.
                self.assertEqual(echo_round(relay, b"still"), b"still")
                relay.settimeout(seconds(10))
                self.assertEqual(relay.recv(10), b"", "the removed listener's relay was not closed")
                relay.close()
                proxy.wait_log(r"end=shutdown")
                with connect(new_port, host="127.0.0.2") as s:
                    self.assertEqual(echo_round(s, b"Xnew"), b"Xnew")

    def test_watch_config_reloads_when_the_file_changes(self):
        with TlsBackend("one.example") as one, TlsBackend("two.example") as two, TcpServer(echo_handler) as echo:
            with Passthru("watch_config = true\n" + tls_config(one.port, echo.port)) as proxy:
                self.assertEqual(s_client(proxy.port, "svc.example"), "one.example")
                replace_file(proxy.path, "watch_config = true\n" + tls_config(two.port, echo.port))
                proxy.wait_log(r"reloaded: 1 listener", timeout=10)
                self.assertIn("the file changed", proxy.log())
                self.assertEqual(s_client(proxy.port, "svc.example"), "two.example")

    def test_a_replaced_plugin_is_loaded_anew_and_the_old_one_kept_for_its_connections(self):
        with TcpServer(echo_handler) as echo, tempfile.TemporaryDirectory() as plugins:
            plugin = Path(plugins) / "versioned.so"
            shutil.copy(BUILD / "fixtures/versions/one/versioned.so", plugin)
            config = DRAIN + f"""
plugin_dir = "{plugins}"
[servers."127.0.0.1:0".VERSIONED]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo.port}" }}
"""
            with Passthru(config) as proxy:
                self.assertIn(str(plugin), self.maps(proxy))
                baseline = proxy.fd_count()
                early = connect(proxy.port)  # accepted before the reload, still undecided
                wait_until(lambda: proxy.fd_count() > baseline, 5, "passthru to accept the early connection")
                # Installed as a package manager does: a new file renamed over the old one.
                shutil.copy(BUILD / "fixtures/versions/two/versioned.so", Path(plugins) / "versioned.new")
                os.replace(Path(plugins) / "versioned.new", plugin)
                sighup_and_wait(proxy)
                with connect(proxy.port) as late:
                    self.assertEqual(echo_round(late, b"late"), b"late")
                proxy.wait_log(r"version=2")
                maps = self.maps(proxy)
                self.assertIn(f"{plugin} (deleted)", maps, "the old library was unloaded under a connection")
                self.assertIn("passthru-plugin:versioned.so", maps, "the new version was not loaded")
                self.assertEqual(echo_round(early, b"early"), b"early")
                early.close()
                proxy.wait_log(r"version=1")

    def test_reload_under_load(self):
        """20 reloads alternate two configs sending the load's SNI to backend A or B, under a few
        thousand connections a second, with 50 long relays opened before the first reload and a
        broken config sent halfway."""
        backends = {}
        try:
            for tag in "AB":
                p = subprocess.Popen([str(LOADGEN), "backend", "--listen", "127.0.0.1:0", "--answer-byte", tag],
                                     stdout=subprocess.PIPE, text=True)
                backends[tag] = (p, int(p.stdout.readline().split()[1]))
            with TcpServer(echo_handler, backlog=128) as echo:
                def config(tag):
                    return DRAIN + f"""
[servers."127.0.0.1:0"]
timeout_ms = 2000
[servers."127.0.0.1:0".TLS]
"SNI {LOAD_NAME}" = {{ action = "FORWARD", to_addr = "127.0.0.1:{backends[tag][1]}" }}
"SNI long.example" = {{ action = "FORWARD", to_addr = "127.0.0.1:{echo.port}" }}
"""
                with Passthru(config("A")) as proxy:
                    self.run_load(proxy, config, echo)
        finally:
            for p, _ in backends.values():
                p.terminate()
                p.wait()

    def run_load(self, proxy, config, echo):
        relays = [LongRelay(proxy.port) for _ in range(50)]
        for relay in relays:
            relay.start()
        record = proxy.path.parent / "connections.txt"
        load_seconds = 22
        load = subprocess.Popen([str(LOADGEN), "rate", "--target", f"127.0.0.1:{proxy.port}", "--hello",
                                 str(LOAD_HELLO), "--concurrency", "8", "--seconds", str(load_seconds),
                                 "--record", str(record)], stdout=subprocess.PIPE, text=True)
        # (since, until, tag): connections started after `since` and ended before `until` must
        # reach `tag`'s backend; those that straddle a reload may reach either.
        windows = []
        tag, since = "A", time.time_ns()
        time.sleep(0.5)
        for i in range(20):
            signalled = time.time_ns()
            windows.append((since, signalled, tag))
            if i == 10:  # a broken config: the running one stays
                replace_file(proxy.path, config("A" if tag == "B" else "B") + "broken = [\n")
                sighup_and_wait(proxy, "reload failed")
            else:
                tag = "A" if tag == "B" else "B"
                replace_file(proxy.path, config(tag))
                sighup_and_wait(proxy)
            since = time.time_ns()
            time.sleep(0.8)
        out, _ = load.communicate(timeout=seconds(load_seconds + 30))
        windows.append((since, time.time_ns(), tag))
        result = json.loads(out.strip().splitlines()[-1])
        for relay in relays:
            relay.join(seconds(60))
        self.assertEqual(result["errors"], 0, f"failed or refused connections under reload: {result}")
        self.assertGreater(result["connections"], 5000, result)
        self.assertEqual(proxy.log().count("reloaded:"), 19)
        lines = [line.split() for line in record.read_text().splitlines()]
        self.assertEqual(len(lines), result["connections"])
        checked = 0
        for start, end, got in lines:
            start, end = int(start), int(end)
            for since, until, tag in windows:
                if since <= start and end <= until:
                    checked += 1
                    self.assertEqual(got, tag, f"a connection of {start}..{end} reached the wrong backend")
            self.assertIn(got, "AB")
        self.assertGreater(checked, result["connections"] // 2, "too few connections fell inside one config")
        print(f"{result['connections']} connections at {result['rate']:.0f}/s, {checked} inside one config's "
              f"time, through 19 reloads and a broken config", file=sys.stderr)
        failed = [r.error for r in relays if r.error]
        self.assertEqual(failed, [], "long relays lost bytes across reloads")
        self.assertEqual(sum(r.rounds for r in relays), 50 * LongRelay.ROUNDS)

    def listening_inodes(self, proxy):
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
        mine = {os.readlink(f"/proc/{proxy.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proxy.pid}/fd")}
        return {i for i in inodes if f"socket:[{i}]" in mine}

    def maps(self, proxy):
        return Path(f"/proc/{proxy.pid}/maps").read_text()


class LongRelay(threading.Thread):
    """A TLS-looking connection routed to the echo backend, which sends ROUNDS chunks over the
    reloads and checks each comes back whole."""
    ROUNDS = 40

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = connect(port, timeout=30)
        self.sock.sendall(client_hello("long.example"))
        self.rounds = 0
        self.error = None

    def run(self):
        try:
            hello = client_hello("long.example")
            got = b""
            while len(got) < len(hello):
                got += self.sock.recv(65536)
            for i in range(self.ROUNDS):
                chunk = hashlib.sha256(bytes([i])).digest() * 512  # 16 KiB
                if echo_round(self.sock, chunk) != chunk:
                    raise AssertionError(f"round {i}: bytes lost")
                self.rounds += 1
                time.sleep(0.5)
            self.sock.shutdown(socket.SHUT_WR)
            if self.sock.recv(10) != b"":
                raise AssertionError("no clean end")
        except Exception as e:  # reported by the test
            self.error = repr(e)
        finally:
            self.sock.close()


if __name__ == "__main__":
    unittest.main()
