"""The static policy rejects namespace escapes and off-list imports, and names the line."""

from __future__ import annotations

import pytest

from evolution.static_policy import DEFAULT_ALLOWED_IMPORTS, check_source

GOOD = '''
import json, re, base64
from collections import Counter
from envs.toolkit import read_file, http_get

def count_errors(path: str) -> dict:
    """Count ERROR lines per service."""
    counts = Counter()
    for line in read_file(path).splitlines():
        m = re.match(r"(\\S+) ERROR", line)
        if m:
            counts[m.group(1)] += 1
    return dict(counts)
'''


def test_a_plain_data_tool_passes():
    report = check_source(GOOD)
    assert report.ok and report.violations == [] and report.summary() == "ok"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os\n", "import of 'os' is not allowed"),
        ("import subprocess\n", "import of 'subprocess'"),
        ("from socket import socket\n", "import of 'socket'"),
        ("import ctypes\n", "import of 'ctypes'"),
        ("import importlib\n", "import of 'importlib'"),
        ("from . import x\n", "relative imports are not allowed"),
        ("x = __import__('os')\n", "use of __import__() is not allowed"),
        ("eval('1')\n", "use of eval() is not allowed"),
        ("f = exec\n", "use of exec() is not allowed"),
        ("compile('1', 'x', 'eval')\n", "use of compile() is not allowed"),
        ("open('/etc/passwd')\n", "use of open() is not allowed"),
        ("().__class__.__bases__[0].__subclasses__()\n", "dunder attribute '__subclasses__'"),
        ("def f():\n    return f.__globals__\n", "dunder attribute '__globals__'"),
        ("getattr(object, '__subclasses__')\n", "getattr() of dunder attribute '__subclasses__'"),
        ("name = 'x'\ngetattr(object, name)\n", "getattr() with a computed attribute name"),
        ("import sys\nsys.modules\n", "import of 'sys'"),
        ("__builtins__['eval']\n", "use of '__builtins__'"),
        ("def f(:\n", "syntax error"),
    ],
)
def test_escapes_are_rejected_with_their_line(code: str, expected: str):
    report = check_source(code)
    assert not report.ok
    assert any(expected in v for v in report.violations), report.violations
    assert all(v.startswith("line ") or v.startswith("unparseable") for v in report.violations)


def test_the_allow_list_is_configurable():
    assert "statistics" in DEFAULT_ALLOWED_IMPORTS
    assert not check_source("import statistics\n", allowed_imports=frozenset({"json"})).ok
    assert check_source("import urllib.parse\n").ok
    report = check_source("import os\nimport socket\n")
    assert [v.split(":")[0] for v in report.violations] == ["line 1", "line 2"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import typing\nx = typing.sys.modules\n", "attribute 'sys'"),
        ("import dataclasses\nf = dataclasses.builtins.open\n", "attribute 'builtins'"),
        ("import collections\nx = collections._sys\n", "attribute '_sys'"),
        ("import dataclasses\nx = dataclasses.inspect.currentframe()\n", "attribute 'inspect'"),
        ("import operator\nf = operator.attrgetter('__glob' + 'als__')\n", "attrgetter() with a computed"),
        ("import operator\nf = operator.attrgetter('__globals__')\n", "attrgetter() of attribute"),
        ("import operator\nf = operator.methodcaller('__reduce__')\n", "methodcaller() of attribute"),
        ("g = getattr(f, '_' + '_globals__')\n", "getattr() with a computed attribute name"),
        ("x = vars()['__builtins__']\n", "string containing '__builtins__'"),
        ("import string\nstring.Formatter().format('{0}', 1)\n", "attribute 'Formatter'"),
        ("from string import Formatter\n", "import of 'Formatter' from 'string'"),
        ("from typing import sys as s\nx = s.modules\n", "import of 'sys' from 'typing'"),
        ("t = '{0.' + 'x}'\nt.format(f)\n", ".format() on a computed template"),
        ("'{0.gi_frame}'.format(g)\n", "template with attribute or index access"),
        ("'{0[0]}'.format_map(d)\n", "template with attribute or index access"),
        ("def g():\n    yield 1\nx = g().gi_frame.f_back.f_globals\n", "attribute 'gi_frame'"),
        ("try:\n    1/0\nexcept Exception as e:\n    x = e.__traceback__\n", "dunder attribute '__traceback__'"),
        ("x = f'{f.__globals__}'\n", "dunder attribute '__globals__'"),
    ],
)
def test_bypass_families_are_closed(code: str, expected: str):
    report = check_source(code)
    assert not report.ok and any(expected in v for v in report.violations), report.violations


def test_ordinary_code_that_looks_close_still_passes():
    code = (
        "import operator, dataclasses\nfrom collections import Counter\n"
        "@dataclasses.dataclass\nclass Row:\n    name: str\n"
        "def f(rows: list) -> dict:\n    d = {'a': 1}.copy()\n    key = operator.attrgetter('name')\n"
        "    text = '{} {:>4}'.format(1, 2) + f'{len(rows)}'\n"
        "    if __name__ == '__main__':\n        pass\n    return {'d': d, 't': text, 'n': sorted(rows, key=key)}\n"
    )
    report = check_source(code)
    assert report.ok, report.violations
