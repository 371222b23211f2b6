#!/usr/bin/env python3
"""Write golden_pack.json: directories packed by an independent Python
rendering of Tahoe 1.20's dirnode._pack_normalized_children (netstrings,
_encrypt_rw_uri, strip_prefix_for_ro, json.dumps, unicodedata NFC), for the
cases the recorded grid does not cover: unknown caps, "ro."/"imm."
prefixes, verify caps, non-ASCII and odd names, odd metadata.

Each child is given as the (rw_uri, ro_uri) pair a Tahoe node would report
(get_write_uri(), get_readonly_uri()), so an unknown child's ro_uri carries
its prefix. Run from dirnode/testdata: python3 gen_golden.py
"""
import base64
import hashlib
import json
import unicodedata

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def netstring(s):
    return b"%d:%s," % (len(s), s)


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def tagged_hash(tag, val, trunc=32):
    return sha256d(netstring(tag) + val)[:trunc]


def tagged_pair_hash(tag, a, b, trunc=32):
    return sha256d(netstring(tag) + netstring(a) + netstring(b))[:trunc]


def tahoe_hmac(key, data):
    ikey = bytes(x ^ 0x36 for x in key)
    okey = bytes(x ^ 0x5C for x in key)
    return hashlib.sha256(okey + hashlib.sha256(ikey + data).digest()).digest()


def aes_ctr(key, data):
    enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    return enc.update(data) + enc.finalize()


def encrypt_rw_uri(writekey, rw_uri):
    salt = tagged_hash(b"allmydata_dirnode_child_rwcap_to_salt_v1", rw_uri, 16)
    key = tagged_pair_hash(b"allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1", salt, writekey, 16)
    crypttext = aes_ctr(key, rw_uri)
    return salt + crypttext + tahoe_hmac(key, salt + crypttext)


def strip_prefix_for_ro(ro_uri, deep_immutable):
    if ro_uri.startswith(b"imm."):
        return ro_uri[4:] if deep_immutable else ro_uri
    if ro_uri.startswith(b"ro."):
        return ro_uri[3:]
    return ro_uri


def pack(children, writekey, deep_immutable):
    norm = {}
    for name, rw, ro, md in children:
        norm[unicodedata.normalize("NFC", name)] = (rw.encode(), ro.encode(), json.loads(md))
    entries = []
    for name in sorted(norm):
        rw, ro, md = norm[name]
        if writekey is not None:
            writecap = netstring(encrypt_rw_uri(writekey, rw))
        else:
            writecap = netstring(b"")
        entry = b"".join([netstring(name.encode("utf-8")),
                          netstring(strip_prefix_for_ro(ro, deep_immutable)),
                          writecap,
                          netstring(json.dumps(md).encode("utf-8"))])
        entries.append(netstring(entry))
    return b"".join(entries)


CHK = "URI:CHK:7cfqv5kg33myqfir6bnbxq2t7m:faztw7e7yekiz47mk7tsavxru4twrapag3labfwxkl5x64dzgc7a:3:10:920"
LIT = "URI:LIT:oruw46jajreviidgnfwgkcq"
SSK = "URI:SSK:sbbqjjflvzrkcteouph6ujdrtu:v2rehmenr2lgk6qbuns45f4y366z6vuhywt265syw4naqwybbqoq"
SSK_RO = "URI:SSK-RO:nnogw4wc3dftzlkm2cibri3wji:v2rehmenr2lgk6qbuns45f4y366z6vuhywt265syw4naqwybbqoq"
MDMF_RO = "URI:MDMF-RO:6ecx4hzbao5jidjjkmdbaybj7e:mkwawsxz2o5kdcit57tqfc4qatzv3nob436lvaak5xtxbbhzhuwq"
MDMF_V = "URI:MDMF-Verifier:ddzyk2xf5iymevignlyfglui3i:6z2yuzx6yhrt7lkwxiukojpeitfgqyacf55gkq4tjpicwdfyobfa"
DIR = "URI:DIR2:6wumekweury5e4yybinui4qzwq:aiwcajwov2zp2xfdx42xr4jkt7zjmvujnre6goxkijdnufnlicha"
DIR_RO = "URI:DIR2-RO:gwd3godf3bcji4sd2t7igtqpfe:aiwcajwov2zp2xfdx42xr4jkt7zjmvujnre6goxkijdnufnlicha"
DIR_MDMF = "URI:DIR2-MDMF:ux7wjp355fobh6crvclahjjjxa:ydn275rfoio2ay3rn3shradfmcfixeq5z6vu24nor7yttvgm6fzq"
DIR_MDMF_RO = "URI:DIR2-MDMF-RO:byhakzcmiimx4n7fpxafqypzxa:ydn275rfoio2ay3rn3shradfmcfixeq5z6vu24nor7yttvgm6fzq"
DIR_CHK = "URI:DIR2-CHK:mnha6ewir5ndus3hft5kct35iy:477cmza2ijhj4yb5tjfzc4i4mvhhd7wzcot4dopsyntjkltts4ka:3:10:181"
DIR_LIT = "URI:DIR2-LIT:"
TIMES = '{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732146.7669094}}'
ODD_MD = ('{"k\\u00e9y": "v\\u00e9\\ud83d\\ude00", "n": -0, "big": 123456789012345678901234567890,'
          ' "f": 1E5, "g": 0.00001, "h": 1e16, "nan": NaN, "inf": -Infinity,'
          ' "esc": "\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u007f", "dup": 1, "dup": 2,'
          ' "nested": {"b": {}, "a": []}, "tahoe": {"linkmotime": 1.5, "linkcrtime": 1}}')

MUTABLE_CHILDREN = [
    ["b.txt", "", CHK, "{}"],
    ["a.txt", "", LIT, TIMES],
    ["sdmf", SSK, SSK_RO, ODD_MD],
    ["mdmf-ro", "", MDMF_RO, "{}"],
    ["dir", DIR, DIR_RO, TIMES],
    ["dir-mdmf", DIR_MDMF, DIR_MDMF_RO, "{}"],
    ["immdir", "", DIR_CHK, "{}"],
    ["emptyimm", "", DIR_LIT, "{}"],
    ["unknown-rw", "URI:NEWKIND:rwstuff", "ro.URI:NEWKIND:rostuff", "{}"],
    ["unknown-ro", "", "ro.URI:NEWKIND:rostuff-only", "{}"],
    ["unknown-imm", "", "imm.URI:NEWKIND:immstuff", "{}"],
    ["verifier", "", "ro." + MDMF_V, "{}"],
    ["caf\u00e9", "", LIT, "{}"],
    ["e\u0301x", "", LIT, "{}"],
    ["\u212b", "", LIT, "{}"],
    ["\U0001F600 emoji", "", LIT, "{}"],
    ["", "", LIT, "{}"],
    ["a/b", "", LIT, "{}"],
    ["\u1100\u1161\u11a8", "", LIT, "{}"],
    ["trailing ", "", LIT, "{}"],
    ["Z", "", CHK, "{}"],
]

IMMUTABLE_CHILDREN = [
    ["chk", "", CHK, "{}"],
    ["lit", "", LIT, '{"user": "data"}'],
    ["dir-chk", "", DIR_CHK, "{}"],
    ["dir-lit", "", DIR_LIT, "{}"],
    ["unknown-imm", "", "imm.URI:NEWKIND:immstuff", "{}"],
    ["verifier", "", "imm." + MDMF_V, "{}"],
    ["\u00fcber", "", LIT, "{}"],
]

WRITEKEY = bytes(range(0x40, 0x50))

cases = [
    {"name": "mutable-writable", "writekey": WRITEKEY.hex(), "deep_immutable": False, "children": MUTABLE_CHILDREN},
    {"name": "immutable", "writekey": None, "deep_immutable": True, "children": IMMUTABLE_CHILDREN},
    {"name": "empty-mutable", "writekey": WRITEKEY.hex(), "deep_immutable": False, "children": []},
    {"name": "empty-immutable", "writekey": None, "deep_immutable": True, "children": []},
]
for c in cases:
    wk = bytes.fromhex(c["writekey"]) if c["writekey"] else None
    c["packed_b64"] = base64.b64encode(pack(c["children"], wk, c["deep_immutable"])).decode()

with open("golden_pack.json", "w") as f:
    json.dump(cases, f, indent=1, ensure_ascii=True)
    f.write("\n")
