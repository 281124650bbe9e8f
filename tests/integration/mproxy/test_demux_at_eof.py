"""A DEMUX rule decided on the client's EOF: the tunnel ends before it began. passthru once read
the tunnel it had not made when it logged such a connection, and crashed. The fixture plugin
AT_EOF (tests/fixtures/plugins/fixtures.cpp) decides only at EOF."""

import re
import socket
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD, Passthru, connect, recv_all, wait_until  # noqa: E402


class DemuxAtEof(unittest.TestCase):
    def test_a_tunnel_decided_at_eof_ends_at_once_and_is_logged(self):
        with Passthru(f"""plugin_dir = "{BUILD / 'fixtures' / 'at_eof'}"
[servers."127.0.0.1:0".AT_EOF]
CATCHALL = {{ action = "DEMUX" }}
""") as proxy:
            for _ in range(2):  # the second shows passthru still serves
                with connect(proxy.port) as s:
                    s.sendall(b"anything")
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_all(s), b"")
            line = (r"protocol=AT_EOF rule=\"CATCHALL\" action=DEMUX streams=0 bytes_up=0 bytes_down=0 "
                    r"duration_ms=\d+ end=done")
            wait_until(lambda: len(re.findall(line, proxy.log())) == 2, 5, "both connections' lines")
            self.assertEqual(proxy.stop(), 0)


if __name__ == "__main__":
    unittest.main()
