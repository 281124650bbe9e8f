"""passthru's M-PROXY codec against the reference, proxy-packer 2.0.4 from npm, byte for byte:
its own fixture (test/input.json + sni.hello.bin -> output.bin) through its own driver and
ours, and generated messages of every kind packed by both and unpacked by both, whole, byte by
byte and in overlapping chunks. Then every malformed case gets its strict answer from us."""

import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import BUILD  # noqa: E402

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "node_modules" / "proxy-packer"
PACK = BUILD / "mproxy-pack"
UNPACK = BUILD / "mproxy-unpack"


def run(*argv, check=True):
    r = subprocess.run([str(a) for a in argv], capture_output=True, timeout=120, cwd=HERE)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def generated_messages(count, seed):
    rng = random.Random(seed)
    kinds = ["data", "connection", "end", "error", "pause", "resume", "control"]
    lines = []
    for i in range(count):
        kind = rng.choice(kinds)
        v6 = rng.random() < 0.3
        meta = {"family": "IPv6" if v6 else "IPv4",
                "address": f"2001:db8::{rng.randrange(1, 65535):x}" if v6 else f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "port": str(rng.randrange(1024, 65536)),
                "service": rng.choice(["https", "http", "ssh", "tcp", ""]),
                "serviceport": rng.choice(["443", "80", "22", ""]),
                "name": rng.choice(["example.com", "a.b.example.org", "x" * rng.randrange(1, 120), ""])}
        if kind == "control":
            body = json.dumps([i, "hello", [254], ["add_token"]]).encode()
        elif kind == "error":
            body = json.dumps({"message": "no matching connection", "code": "E_NO_CONN"}).encode()
        elif kind in ("pause", "resume"):
            body = str(rng.randrange(1 << 30)).encode()
        elif kind in ("end", "connection"):
            body = b""
        else:
            body = rng.randbytes(rng.choice([0, 1, 5, 199, 1500, 70000]))
        lines.append({"kind": kind, "meta": meta, "body_base64": base64.b64encode(body).decode(),
                      "oldways": rng.random() < 0.5})
    return lines


class AgainstTheReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not REFERENCE.exists():
            raise AssertionError("proxy-packer is not installed: run tools/setup.sh")
        cls.dir = tempfile.TemporaryDirectory(prefix="passthru-mproxy-")
        cls.tmp = Path(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_the_reference_fixture_packs_the_same_through_both_drivers(self):
        fixture = REFERENCE / "test"
        run("node", fixture / "pack.js", fixture / "input.json", self.tmp / "reference.bin")
        run(PACK, fixture / "input.json", self.tmp / "ours.bin")
        ours = (self.tmp / "ours.bin").read_bytes()
        self.assertEqual(ours, (self.tmp / "reference.bin").read_bytes())
        self.assertEqual(ours, (fixture / "output.bin").read_bytes())

    def test_generated_messages_pack_byte_for_byte_and_unpack_the_same_three_ways(self):
        messages = self.tmp / "messages.jsonl"
        messages.write_text("".join(json.dumps(m) + "\n" for m in generated_messages(300, seed=7)))
        run("node", HERE / "reference_pack.js", messages, self.tmp / "reference.bin")
        run(PACK, "--messages", messages, self.tmp / "ours.bin")
        stream = (self.tmp / "ours.bin").read_bytes()
        self.assertEqual(stream, (self.tmp / "reference.bin").read_bytes())
        for scheme in ("whole", "bytes", "overlap"):
            with self.subTest(scheme):
                reference = run("node", HERE / "reference_unpack.js", scheme, self.tmp / "ours.bin").stdout
                ours = run(UNPACK, "--chunks", scheme, self.tmp / "ours.bin").stdout
                self.assertEqual(len(ours.splitlines()), 300)
                self.assertEqual(ours, reference)

    def test_the_reference_fixture_unpacks_the_same(self):
        fixture = REFERENCE / "test" / "output.bin"
        for scheme in ("whole", "bytes", "overlap"):
            reference = run("node", HERE / "reference_unpack.js", scheme, fixture).stdout
            self.assertEqual(run(UNPACK, "--chunks", scheme, fixture).stdout, reference)


class StrictAnswers(unittest.TestCase):
    """What the reference reads sloppily (research notes §6.3) is a clear error here."""

    def unpack_error(self, data):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            r = run(UNPACK, "--chunks", "bytes", f.name, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        return json.loads(r.stdout.decode().splitlines()[-1])["error"]

    @staticmethod
    def frame(header):
        return bytes([0xFE, len(header)]) + header

    def test_each_sloppy_case_is_a_protocol_error(self):
        f = self.frame
        cases = {
            "version byte 253": b"\xfd" + f(b"IPv4,127.0.1.1,4321,0,end,443,a")[1:],
            "datalen '3abc'": f(b"IPv4,127.0.1.1,4321,3abc,https,443,a") + b"abc",
            "datalen 'abc'": f(b"IPv4,127.0.1.1,4321,abc,https,443,a") + b"abc",
            "datalen '-2'": f(b"IPv4,127.0.1.1,4321,-2,https,443,a"),
            "an empty header": b"\xfe\x00",
            "fields, not": f(b"IPv4,127.0.1.1,4321,1,https,443,a,b") + b"x",  # a comma in the name
            "the stream ends inside a message": f(b"IPv4,127.0.1.1,4321,10,https,443,a") + b"short",
        }
        for expected, data in cases.items():
            with self.subTest(expected):
                self.assertIn(expected, self.unpack_error(data))

    def test_the_packer_refuses_a_header_over_255_bytes_where_the_reference_corrupts_the_stream(self):
        with tempfile.TemporaryDirectory() as d:
            line = {"kind": "data", "meta": {"family": "IPv4", "address": "127.0.0.1", "port": "1", "service": "https",
                                             "serviceport": "443", "name": "n" * 300}, "body_base64": "eA=="}
            (Path(d) / "m.jsonl").write_text(json.dumps(line) + "\n")
            r = run(PACK, "--messages", Path(d) / "m.jsonl", Path(d) / "ours.bin", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"255", r.stderr)
            run("node", HERE / "reference_pack.js", Path(d) / "m.jsonl", Path(d) / "reference.bin")
            reference = (Path(d) / "reference.bin").read_bytes()
            self.assertNotEqual(reference[1], len(reference) - 3)  # its length byte is the real length mod 256


if __name__ == "__main__":
    unittest.main()
