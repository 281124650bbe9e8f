"""Facts a plugin gives that could break the access log, from the fixture plugins
(tests/fixtures/plugins/fixtures.cpp): a value holding a NUL byte, on which passthru once looped
until memory ran out, and values holding CR LF, spaces, quotes and control bytes, which once split
the line and forged fields. passthru keeps serving and logs one line per connection, every such
value quoted and escaped (the README's log section says how)."""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD, Passthru, connect, recv_all  # noqa: E402

FACT_PLUGINS = BUILD / "fixtures" / "facts"


def lines_of_two_connections(table):
    """Runs passthru with the plugin that answers to `table` as its only protocol, makes two
    connections (the second shows it still serves), and returns the log lines naming `table`."""
    with Passthru(f"""plugin_dir = "{FACT_PLUGINS}"
[servers."127.0.0.1:0".{table}]
CATCHALL = {{ action = "REJECT" }}
""") as proxy:
        for _ in range(2):
            with connect(proxy.port) as s:
                s.sendall(b"x")
                assert recv_all(s) == b"", "a REJECT rule sends nothing"
        proxy.wait_log(f"protocol={table}(.|\n)*protocol={table}")
        return [line for line in proxy.log().splitlines() if table in line]


class HostileFacts(unittest.TestCase):
    def test_a_value_with_a_nul_byte_is_refused_without_hanging_passthru_or_hiding_the_facts_after_it(self):
        lines = lines_of_two_connections("NUL_FACT")
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertIn(' protocol=NUL_FACT rule="CATCHALL" before=kept after=kept action=REJECT ', line)

    def test_cr_lf_spaces_and_quotes_in_values_stay_inside_one_escaped_field(self):
        lines = lines_of_two_connections("CRLF_FACT")
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertIn(' protocol=CRLF_FACT rule="CATCHALL"'
                          r' note="x\r\nclient=192.0.2.66 listener=forged end=done"'
                          r' words="say \"hi\" \\ \t\x01\x7f\xff" action=REJECT ', line)
            self.assertTrue(line.isascii(), line)
            outside_quotes = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
            for field in (" client=", " listener=", " end="):
                self.assertEqual(outside_quotes.count(field), 1, line)


if __name__ == "__main__":
    unittest.main()
