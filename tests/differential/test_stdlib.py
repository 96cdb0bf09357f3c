"""The standard-library behaviour nodes rely on is the same in the binary's frozen stdlib as in CPython.

One probe node exercises each module the catalogue and typical user nodes use (wave, array, struct,
math, asyncio, logging, inspect, base64, json, datetime, re, …) and returns what it observed; the
binary's answer must equal CPython's. A difference here is what `crates/rustpython/stdlib-shim/` is for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBES = r'''
import array, asyncio, base64, binascii, collections, dataclasses, datetime, enum, functools, hashlib, inspect
import io, itertools, json, logging, math, operator, re, statistics, string, struct, textwrap, types, typing
import wave, zlib
from remotemedia.core.node import Node


def _wave(scratch):
    path = f"{scratch}/probe.wav"
    with wave.open(path, "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(22050)
        w.writeframes(struct.pack("<8h", 0, 1, -1, 32767, -32768, 1000, -1000, 7))
    with wave.open(path, "rb") as r:
        params = r.getparams()
        return [params.nchannels, params.sampwidth, params.framerate, params.nframes, r.readframes(2).hex(),
                r.tell(), r.readframes(100).hex()]


def _array():
    a = array.array("f", [0.1, -2.5, 3.0])
    b = array.array("h", b"\x01\x00\xff\xff")
    c = array.array("d", range(3)); c.extend([1.5]); c.byteswap(); c.byteswap()
    return [a.tobytes().hex(), list(a), b.tolist(), a.itemsize, b.typecode, list(c), list(a[::-1]),
            array.array("f", a.tobytes()) == a, sum(array.array("i", [1, 2, 3]))]


def _struct():
    return [struct.pack("<hHiIqQfd", -2, 2, -3, 3, -4, 4, 1.5, -0.1).hex(), struct.unpack(">I", b"\x01\x02\x03\x04"),
            struct.calcsize("<4s2hI"), list(struct.iter_unpack("<h", b"\x01\x00\x02\x00")),
            struct.unpack_from("<h", b"\x00\x05\x00", 1)]


def _math():
    return [math.sqrt(2), math.log10(0.001), 20 * math.log10(0.5), math.exp(-1), math.floor(-2.5), math.ceil(2.1),
            math.isclose(0.1 + 0.2, 0.3), math.fsum([0.1] * 10), math.gcd(12, 18), math.pi, math.hypot(3, 4),
            round(2.675, 2), round(0.5), round(1.5), round(-0.5), divmod(-7, 2), -7 // 2, -7 % 2, 2 ** -1,
            repr(1e16), repr(0.1 + 0.2), repr(1 / 3), f"{2 / 3:.3f}", f"{1e-7}", str(float("inf")), int(1e20),
            (10 ** 20) // 3, pow(3, 50, 7), float.fromhex("0x1.8p1"), (0.1).hex()]


def _asyncio():
    async def child(n):
        await asyncio.sleep(0)
        return n * 2
    async def main():
        results = await asyncio.gather(*(child(i) for i in range(3)))
        queue = asyncio.Queue()
        await queue.put("q")
        return results + [await queue.get(), await asyncio.wait_for(child(5), timeout=5)]
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def _logging():
    stream = io.StringIO()
    logger = logging.getLogger("probe")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logger.addHandler(handler); logger.setLevel(logging.INFO); logger.propagate = False
    logger.info("one %s", 1); logger.debug("hidden"); logger.warning("two %d%%", 2)
    logger.removeHandler(handler)
    return stream.getvalue()


def _inspect():
    def sync(a, b=1, *args, c, **kw): pass
    async def coro(): pass
    def gen(): yield
    async def agen(): yield
    return [str(inspect.signature(sync)), inspect.iscoroutinefunction(coro), inspect.isgeneratorfunction(gen),
            inspect.isasyncgenfunction(agen), inspect.isfunction(sync), list(inspect.signature(sync).parameters)]


def _codecs():
    data = bytes(range(0, 256, 7))
    return [base64.b64encode(data).decode(), base64.b64decode(base64.b64encode(data)) == data,
            base64.urlsafe_b64encode(b"\xfb\xff").decode(), binascii.hexlify(data[:4]).decode(),
            zlib.crc32(data), hashlib.sha256(data).hexdigest(), hashlib.md5(b"x").hexdigest(),
            zlib.decompress(zlib.compress(data)) == data]


def _json():
    value = {"b": [1, 2.5, None, True, "é", {"x": -0.0}], "a": 1e300, "big": 2 ** 70}
    return [json.dumps(value), json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1),
            json.loads('{"k": [1e5, 1E-3, 12345678901234567890, "\\u00e9"]}'), json.dumps(float("nan")),
            json.dumps("\x00\x1f\u2028"), json.loads("1.0"), json.dumps(1 / 3), json.dumps(1e-7)]


def _datetime():
    moment = datetime.datetime(2024, 2, 29, 13, 5, 9, 123456, tzinfo=datetime.timezone.utc)
    return [moment.isoformat(), moment.strftime("%Y-%m-%dT%H:%M:%SZ %j %a %b"), (moment + datetime.timedelta(days=1,
            seconds=3.5)).isoformat(), datetime.datetime.fromisoformat("2024-01-02T03:04:05+02:00").isoformat(),
            datetime.date(2024, 12, 31).isocalendar()[:], moment.timestamp(), str(datetime.timedelta(hours=25))]


def _text():
    return [re.sub(r"\s+", " ", " a \t b\n c "), re.findall(r"(\w+)=(\d+)", "a=1 b=22"), "ǅungla".title(),
            "ß".upper(), "İ".lower(), " x ".strip(), "a,b,,c".split(","), "Straße".casefold(),
            textwrap.fill("word " * 12, 20), string.Template("$x!").substitute(x=1), "{:>8.2f}|{:<4}|{:^5}".format(
            3.14159, "a", "b"), f"{12345678:,}", "%5.1f%%" % 12.34, "é✓"[::-1], len("🎧"), "a\u0301" == "á",
            sorted(["b", "A", "a", "é"]), repr("quote'\""), ascii("é")]


def _collections():
    counter = collections.Counter("abracadabra")
    ordered = collections.OrderedDict(b=1, a=2); ordered.move_to_end("b")
    point = collections.namedtuple("Point", "x y")(1, 2)

    @dataclasses.dataclass(frozen=True)
    class Item:
        name: str
        tags: tuple = ()

    class Color(enum.Enum):
        RED = 1
    return [counter.most_common(2), list(ordered), point._asdict(), repr(Item("x")), dataclasses.asdict(Item("y",
            (1,))), Color.RED.name, list(itertools.accumulate([1, 2, 3])), functools.reduce(operator.mul, [1, 2, 3, 4]),
            statistics.mean([1, 2, 3, 4]), statistics.median([3, 1, 2]), statistics.pstdev([1, 2, 3, 4]),
            list(itertools.islice(itertools.cycle("ab"), 5)), sorted({3, 1, 2}), list(zip(*[(1, 2), (3, 4)]))]


class Probe(Node):
    """Returns each probe's observations, or the exception it raised (also a behaviour to compare)."""

    def __init__(self, scratch, **kwargs):
        super().__init__(**kwargs)
        self.scratch = scratch

    def process(self, name):
        probe = globals()[name]
        try:
            result = probe(self.scratch) if name == "_wave" else probe()
        except Exception as exc:
            result = f"raised {type(exc).__name__}: {exc}"
        return json.loads(json.dumps(result, default=repr))
'''

PROBE_NAMES = ["_wave", "_array", "_struct", "_math", "_asyncio", "_logging", "_inspect", "_codecs", "_json",
               "_datetime", "_text", "_collections"]


@pytest.fixture(scope="module")
def observations(remotemedia_bin: Path, repo_root: Path, tmp_path_factory) -> tuple[dict, dict]:
    """(CPython's, the binary's) observations by probe name."""
    modules = tmp_path_factory.mktemp("stdlib-probe")
    (modules / "stdlib_probe.py").write_text(PROBES)
    manifest = modules / "manifest.json"
    manifest.write_text(json.dumps({
        "version": "v1", "metadata": {"name": "stdlib-probe"},
        # Pinned: a probe module that failed to import in RustPython would otherwise be placed on CPython.
        "nodes": [{"id": "probe", "node_type": "stdlib_probe:Probe", "runtime_hint": "rustpython",
                   "params": {"scratch": str(modules)}}],
    }))
    inputs = [arg for name in PROBE_NAMES for arg in ("--input", json.dumps(name))]
    binary = subprocess.run([str(remotemedia_bin), "run", str(manifest), "--python-path", str(modules), *inputs],
                            capture_output=True, text=True, timeout=120)
    assert binary.returncode == 0, binary.stderr
    reference_code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(modules)!r}, {str(repo_root / 'python')!r}]\n"
        "from stdlib_probe import Probe\n"
        f"probe = Probe(scratch={str(modules)!r})\n"
        f"for name in {PROBE_NAMES!r}:\n"
        "    print(json.dumps(probe.process(name)))\n"
    )
    cpython = subprocess.run([sys.executable, "-c", reference_code], capture_output=True, text=True, timeout=120,
                             check=True)

    def by_name(stdout: str) -> dict:
        return dict(zip(PROBE_NAMES, (json.loads(line) for line in stdout.splitlines()), strict=True))

    return by_name(cpython.stdout), by_name(binary.stdout)


@pytest.mark.parametrize("probe", PROBE_NAMES)
def test_stdlib_behaves_as_in_cpython(observations, probe):
    cpython, binary = observations
    assert binary[probe] == cpython[probe]


# The binary freezes a curated standard library (crates/rustpython/stdlib-modules.txt). These nodes
# import inside `process`, and pin the RustPython engine, so a module missing from the binary is
# reported here instead of the node's module quietly being placed on CPython.
IMPORTER = r'''
import importlib
import sys
from remotemedia.core.node import Node


class Importer(Node):
    """Imports each module name it receives; returns the engine and what failed, with the error."""

    def process(self, names):
        failed = {}
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
        return {"implementation": sys.implementation.name, "failed": failed}
'''


def _import_in_binary(remotemedia_bin: Path, tmp_path: Path, names: list[str]) -> dict:
    (tmp_path / "importer.py").write_text(IMPORTER)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({
        "version": "v1", "metadata": {"name": "stdlib-imports"},
        "nodes": [{"id": "importer", "node_type": "importer:Importer", "runtime_hint": "rustpython"}],
    }))
    result = subprocess.run([str(remotemedia_bin), "run", str(manifest), "--python-path", str(tmp_path),
                             "--input", json.dumps(names)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.splitlines()[-1])
    assert output["implementation"] == "rustpython"
    return output["failed"]


def _curated_stdlib(repo_root: Path) -> list[str]:
    listing = (repo_root / "crates" / "rustpython" / "stdlib-modules.txt").read_text()
    names = [line.split("#")[0].strip() for line in listing.splitlines()]
    return [name for name in names if name]


def test_every_module_of_the_curated_stdlib_imports_in_the_binary(remotemedia_bin, repo_root, tmp_path):
    """A listed module whose own imports were left out of the list fails here, naming what is missing."""
    names = _curated_stdlib(repo_root)
    assert {"asyncio", "json", "dataclasses", "encodings.utf_8"} <= set(names)

    assert _import_in_binary(remotemedia_bin, tmp_path, names) == {}


def test_commonly_used_stdlib_modules_import_in_the_binary(remotemedia_bin, tmp_path):
    """What users' pure-Python nodes typically import, submodules included — not just the listed names."""
    common = ["abc", "argparse", "array", "asyncio", "base64", "binascii", "bisect", "calendar", "collections",
              "collections.abc", "concurrent.futures", "contextlib", "copy", "csv", "dataclasses", "datetime",
              "decimal", "difflib", "enum", "fnmatch", "fractions", "functools", "glob", "gzip", "hashlib", "heapq",
              "hmac", "html", "importlib.metadata", "importlib.resources", "inspect", "io", "ipaddress", "itertools",
              "json", "logging", "logging.handlers", "math", "numbers", "operator", "os", "os.path", "pathlib",
              "pickle", "pprint", "queue", "random", "re", "secrets", "shlex", "shutil", "statistics", "string",
              "struct", "subprocess", "tempfile", "textwrap", "threading", "time", "tokenize", "tomllib",
              "traceback", "types", "typing", "urllib.parse", "uuid", "warnings", "wave", "weakref", "zipfile",
              "zlib", "zoneinfo"]

    assert _import_in_binary(remotemedia_bin, tmp_path, common) == {}


def test_a_module_left_out_of_the_binary_raises_an_import_error_naming_it(remotemedia_bin, tmp_path):
    left_out = ["tkinter", "idlelib", "pydoc", "unittest"]

    failed = _import_in_binary(remotemedia_bin, tmp_path, left_out)

    assert sorted(failed) == sorted(left_out)
    for name, error in failed.items():
        assert error.startswith(f"ModuleNotFoundError: No module named '{name}'"), error
        assert "includes only part of Python's standard library" in error and "cpython" in error, error
