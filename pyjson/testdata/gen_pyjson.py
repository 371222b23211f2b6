#!/usr/bin/env python3
"""Write pyjson.json: how Python's json module reads and writes what
directory metadata and the web API's answers may hold, to check package
pyjson.

  floats: [IEEE-754 bits as 16 hex digits, json.dumps(float)]
  loads:  [input text, json.dumps(json.loads(input)) or null if loads fails]
  indent: [input text, json.dumps(json.loads(input), indent=1)]
  indent4: [input text, json.dumps(json.loads(input), indent=4)]

Run from pyjson/testdata: python3 gen_pyjson.py
"""
import json
import random
import struct

rnd = random.Random(4242)


def bits(f):
    return struct.pack(">d", f).hex()


floats = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 1e16, 1e15, 9999999999999998.0, 1e17, 1e22, 1e-4, 1e-5,
          0.0001234, 0.00001234, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123456789.123,
          1795732144.6245465, 1795732152.372221, 1795732144.2005272, 100000.0, 1.5, float(2 ** 53), float(2 ** 53 + 2),
          float("inf"), float("-inf"), 12345678901234567.0, 0.000123, 1e100, 1.2345e-100]
for _ in range(3000):
    floats.append(struct.unpack(">d", rnd.getrandbits(64).to_bytes(8, "big"))[0])
for _ in range(1000):
    floats.append(rnd.uniform(1.6e9, 1.9e9))
for _ in range(500):
    floats.append(round(rnd.uniform(-1e6, 1e6), rnd.randint(0, 8)))
float_cases = [[bits(f), json.dumps(f)] for f in floats if f == f]  # NaN: checked by hand

loads_inputs = [
    '{}', ' { } ', '{"a": 1}', '{"b": 1, "a": 2}', '{"a": 1, "b": 2, "a": 3}',
    '{"x": [1, 2.5, null, true, false, "s", {}, []]}',
    '{"n": -0}', '{"n": -0.0}', '{"n": 1E5}', '{"n": 1e-7}', '{"n": 12345678901234567890123}',
    '{"n": 1.0}', '{"n": 1.50}', '{"n": 1e400}', '{"n": -1e400}', '{"n": NaN}', '{"n": Infinity}',
    '{"n": -Infinity}', '{"s": "\\u00e9\\ud83d\\ude00\\u0000\\u001f\\u007f\\u0080"}',
    '{"s": "\\"\\\\\\/\\b\\f\\n\\r\\t"}', '{"s": "\\ud800"}', '{"s": "\\udc00x"}', '{"s": "\\ud800\\u0041"}',
    '{"s": "caf\u00e9 \U0001F600"}', '{"k\u00e9y": {"nested": {"deep": [[[]]]}}}',
    '{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732144.6245465}}',
    '\ufeff{"bom": 1}', '{"a":1}\n', '\t\r\n{"a"\t:\r1\n}',
    # invalid
    '', '{', '{"a"}', '{"a": }', '{"a": 1,}', '{,}', '[1,]', '{"a": 01}', '{"a": .5}', '{"a": 1.}',
    '{"a": +1}', '{"a": 1e}', '{"a": "\\x"}', '{"a": "\\u12"}', '{"a": "\t"}', '{"a": nan}',
    '{"a": inf}', '{"a": True}', '{a: 1}', "{'a': 1}", '{"a": 1} x', '{"a": 1}{}', '{"a": -}',
    '{"a": "\\ud800\\uZZZZ"}', '{"a": 1 2}',
]
loads_cases = []
for s in loads_inputs:
    try:
        out = json.dumps(json.loads(s.encode("utf-8")))
    except ValueError:
        out = None
    loads_cases.append([s, out])

indent_inputs = ['[]', '{}', '["dirnode", {"children": {}, "mutable": true}]',
                 '[1, [2, [3, {}]], {"a": {"b": [null]}}]', '{"caf\u00e9": 1.5e20}']
indent_cases = [[s, json.dumps(json.loads(s), indent=1)] for s in indent_inputs]
indent4_inputs = indent_inputs + [
    '{"golden": {"readwrite": "URI:DIR2:a:b", "readonly": "URI:DIR2-RO:c:d"}, "\u00fc\\"": {}}',
    '[[], {}, [[]], {"a": {}}, [{}], "\\ud800", -0.0, 1e16, 0.1, NaN]',
]
indent4_cases = [[s, json.dumps(json.loads(s), indent=4)] for s in indent4_inputs]

with open("pyjson.json", "w") as f:
    json.dump({"floats": float_cases, "loads": loads_cases, "indent": indent_cases, "indent4": indent4_cases}, f, indent=0, ensure_ascii=True)
    f.write("\n")
