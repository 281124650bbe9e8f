"""Where and how passthru logs: log_format = "json" makes every line a JSON object (access lines
with the same fields as the text line, even when a plugin's facts hold CR LF, quotes and bytes
that are not UTF-8; the other lines too); log_file appends to a file, which SIGUSR1 opens again
after logrotate moved it away; and two workers writing at once never mix their lines."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (BINARY, BUILD, Passthru, TcpServer, connect, echo_handler, recv_all, seconds,  # noqa: E402
                     wait_until)

FACT_PLUGINS = BUILD / "fixtures" / "facts"


def echo_config(port, top=""):
    return f"""{top}
[servers."127.0.0.1:0".CATCHALL]
CATCHALL = {{ action = "FORWARD", to_addr = "127.0.0.1:{port}" }}
"""


def one_exchange(port):
    with connect(port) as s:
        s.sendall(b"Xhello")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"Xhello"


class LogFile(unittest.TestCase):
    def test_json_lines_for_access_and_other_lines_even_with_hostile_facts(self):
        with Passthru(f"""log_format = "json"
plugin_dir = "{FACT_PLUGINS}"
[servers."127.0.0.1:0".CRLF_FACT]
CATCHALL = {{ action = "REJECT" }}
""") as proxy:
            with connect(proxy.port) as s:
                s.sendall(b"x")
                self.assertEqual(recv_all(s), b"")
            os.kill(proxy.pid, signal.SIGHUP)  # a line that is not an access line
            proxy.wait_log(r'"protocol":"CRLF_FACT"')
            proxy.wait_log(r"reloaded: 1 listener")
            lines = proxy.log().splitlines()
            objects = [json.loads(line) for line in lines]  # every line is one JSON object
            self.assertTrue(all(line.isascii() for line in lines))
            access = [o for o in objects if o.get("protocol") == "CRLF_FACT"]
            self.assertEqual(len(access), 1, lines)
            a = access[0]
            self.assertEqual(a["level"], "info")
            self.assertEqual(a["note"], "x\r\nclient=192.0.2.66 listener=forged end=done")
            self.assertEqual(a["words"], "say \"hi\" \\ \t\x01\x7f\xff")
            self.assertEqual(a["client"].split(":")[0], "127.0.0.1")
            self.assertEqual(a["listener"], f"127.0.0.1:{proxy.port}")
            self.assertEqual((a["rule"], a["action"], a["end"], a["bytes_up"]), ("CATCHALL", "REJECT", "rejected", 0))
            self.assertIsInstance(a["duration_ms"], int)
            self.assertTrue(any(o.get("message", "").startswith("reloaded:") for o in objects), lines)

    def test_log_file_and_reopen_on_sigusr1(self):
        with TcpServer(echo_handler) as echo, Passthru(echo_config(echo.port)) as proxy:
            log = Path(proxy.dir.name) / "access.log"
            proxy.path.write_text(echo_config(echo.port, f'log_file = "{log}"'))
            os.kill(proxy.pid, signal.SIGHUP)
            wait_until(lambda: log.exists() and "reloaded:" in log.read_text(), 10, "the reload logged in the file")
            one_exchange(proxy.port)
            wait_until(lambda: "end=done" in log.read_text(), 10, "the access line in the file")
            rotated = log.with_suffix(".log.1")
            os.rename(log, rotated)  # as logrotate does, then it signals
            os.kill(proxy.pid, signal.SIGUSR1)
            wait_until(lambda: log.exists(), 10, "the log file opened again")
            one_exchange(proxy.port)
            wait_until(lambda: "end=done" in log.read_text(), 10, "the access line in the new file")
            self.assertEqual(rotated.read_text().count("end=done"), 1)
            self.assertIn("log file opened again", log.read_text())
            self.assertNotIn("end=done", proxy.log(), "an access line went to stderr")

    def test_a_log_file_that_cannot_be_opened_stops_the_start_and_fails_a_reload(self):
        with TcpServer(echo_handler) as echo, Passthru(echo_config(echo.port)) as proxy:
            proxy.path.write_text(echo_config(echo.port, 'log_file = "/nonexistent-dir/passthru.log"'))
            os.kill(proxy.pid, signal.SIGHUP)
            proxy.wait_log("reload failed")
            self.assertRegex(proxy.log(), r"passthru\.toml:1:12: error: cannot open log_file /nonexistent-dir/")
            one_exchange(proxy.port)
            proxy.wait_log("end=done")  # still logging where it was
            started = subprocess.run([str(BINARY), "-c", str(proxy.path)], capture_output=True, text=True,
                                     timeout=seconds(10))
            self.assertEqual(started.returncode, 1)
            self.assertRegex(started.stderr, r"passthru\.toml:1:12: error: cannot open log_file /nonexistent-dir/")

    def test_two_workers_never_mix_their_lines(self):
        with TcpServer(echo_handler, backlog=256) as echo, Passthru(echo_config(echo.port), workers=2) as proxy:
            def clients():
                for _ in range(150):
                    one_exchange(proxy.port)
            threads = [threading.Thread(target=clients) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wait_until(lambda: proxy.log().count("end=done") == 600, 20, "600 access lines")
            for line in proxy.log().splitlines():
                if "client=" in line:
                    self.assertRegex(line, r"^\S+ info client=\S+ listener=\S+ protocol=- rule=CATCHALL "
                                           r"fallback=\w+ action=FORWARD target=\S+ bytes_up=6 bytes_down=6 "
                                           r"duration_ms=\d+ end=done$")


if __name__ == "__main__":
    unittest.main()
