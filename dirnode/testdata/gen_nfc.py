#!/usr/bin/env python3
"""Write nfc.json: strings and their NFC form as Python's unicodedata gives it.

Tahoe names directory children with unicodedata.normalize('NFC', name), so
Python is the reference for dirnode.NFC (TestNFCAgainstPython). Run from this
directory, first with a Python whose Unicode database is the one
golang.org/x/text/unicode/norm has (norm.Version: 15.0.0, Python 3.12),
then with an older Python, which adds the cases it answers differently:

    python3.12 gen_nfc.py
    python3.11 gen_nfc.py --older

(The file here was written by Python 3.12.7 as the npm package pyodide
0.27.7 ships it, run under Node with this directory mounted, then by
Python 3.11.7 with --older.)

The strings: every code point that NFC or NFD changes or that has a
combining class, alone; random mixtures of them with Hangul and letters;
Hangul syllables built from jamo; and runs of more than 30 combining marks,
which golang.org/x/text/unicode/norm alone would break up with U+034F.
"""
import json
import random
import sys
import unicodedata

OUT = 'nfc.json'


def interesting():
    """Code points that decompose, compose or have a combining class
    (Hangul syllables aside: a few are added by hand)."""
    found = set()
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF or 0xAC00 <= c <= 0xD7A3:
            continue
        ch = chr(c)
        if unicodedata.combining(ch):
            found.add(c)
        if unicodedata.normalize('NFD', ch) != ch:
            found.add(c)
        d = unicodedata.decomposition(ch)
        if d and not d.startswith('<'):
            found.update(int(x, 16) for x in d.split())
    return sorted(found)


def samples():
    rnd = random.Random(20260101)
    cps = interesting()
    marks = [c for c in cps if unicodedata.combining(chr(c))]
    pool = cps + [0x41, 0x61, 0x65, 0x6F, 0x55, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0xD7A3,
                  0x0301, 0x0300, 0x0327, 0x0323, 0x0308, 0x05B0, 0x0B47, 0x0B3E, 0x0B57,
                  0x1F600, 0x2126, 0x212B, 0x0344, 0x0F73, 0x0F75, 0x0F81, 0x2ADC, 0x034F]
    out = [chr(c) for c in cps]
    for _ in range(2000):
        out.append(''.join(chr(rnd.choice(pool)) for _ in range(rnd.randint(1, 8))))
    for c in range(0x1100, 0x1200):
        out.append(chr(c) + chr(0x1161) + chr(0x11A8))
    # Long runs of marks: after a letter, alone, and amid other text.
    few = [0x0300, 0x0301, 0x0302, 0x0308, 0x0323, 0x0327, 0x0328, 0x0331, 0x05B0, 0x0F71, 0x0F72]
    for i in range(60):
        src = few if i % 2 else marks
        run = ''.join(chr(rnd.choice(src)) for _ in range(rnd.randint(29, 100)))
        lead = rnd.choice(['a', 'e', 'o', 'A', 'U', '\u1100', '\u0b47', '', 'x\u0301y'])
        tail = ''.join(chr(rnd.choice(pool)) for _ in range(rnd.randint(0, 4)))
        out.append(lead + run + tail)
    return out


def unidata():
    return {'python': sys.version.split()[0], 'unicode': unicodedata.unidata_version}


def main():
    if sys.argv[1:] == ['--older']:
        with open(OUT) as f:
            v = json.load(f)
        me = unidata()
        if tuple(map(int, me['unicode'].split('.'))) >= tuple(map(int, v['unicode'].split('.'))):
            sys.exit('--older: this Python has Unicode %s, %s has %s' % (me['unicode'], OUT, v['unicode']))
        me['differ'] = []
        for i, (s, want) in enumerate(v['cases']):
            got = unicodedata.normalize('NFC', s)
            if got != want:
                me['differ'].append({
                    'case': i,
                    'nfc': got,
                    'unassigned': sorted({ord(ch) for ch in s if unicodedata.category(ch) == 'Cn'}),
                })
        v['older'] = [o for o in v.get('older', []) if o['unicode'] != me['unicode']] + [me]
    elif sys.argv[1:] == []:
        v = unidata()
        v['cases'] = [[s, unicodedata.normalize('NFC', s)] for s in samples()]
    else:
        sys.exit('usage: gen_nfc.py [--older]')
    with open(OUT, 'w') as f:
        json.dump(v, f, ensure_ascii=True, separators=(',', ':'))


if __name__ == '__main__':
    main()
