// Package pyjson reads and writes JSON exactly as Python 3's json module
// does, since Tahoe-LAFS writes every JSON document with it and lafs must
// produce the same bytes: directory metadata (json.dumps(metadata), stored
// inside directories), the web API's t=json answers (json.dumps(data,
// indent=1)) and `tahoe list-aliases --json` (json.dumps(data, indent=4)).
//
// Marshal and MarshalIndent reproduce json.dumps with its defaults
// (ensure_ascii=True, allow_nan=True, separators ", " and ": " on one line,
// "," and ": " when indenting):
//
//   - every character outside printable ASCII is a lower-case \uXXXX
//     escape, characters beyond the BMP a surrogate pair; \" \\ \n \r \t
//     \b \f are short escapes; "/" and "<>&" are written as they are;
//   - floats are written as Python's float.__repr__ writes them (the
//     shortest digits that read back, 0.1, 1.0, 1e+16, 1e-05), NaN,
//     Infinity and -Infinity as bare words;
//   - object keys keep their order (an Object is a Python dict), except
//     that Go maps, which have none, are written with sorted keys, as
//     json.dumps(sort_keys=True) would write them.
//
// Parse and ParseObject reproduce json.loads(bytes): NaN and the
// infinities are numbers, integers stay exact (Python ints have no size
// limit), a repeated key keeps its first place and its last value, and
// lone surrogates ("\ud800") survive as Python keeps them in a str, so
// that what Parse reads Marshal writes back unchanged.
package pyjson
