// Package foolscap speaks as much of Foolscap, the RPC protocol of
// Tahoe-LAFS's introducers, as a node needs to join a Tahoe grid and to
// serve Tahoe nodes as their introducer (../shared/FOOLSCAP-NOTES.md).
//
// A Tub is a node's Foolscap identity: the TLS certificate of
// private/node.pem, whose SHA-1 is the tub ID. Tub.Dial connects to the
// object a fURL names and returns a RemoteRef to call; Tub.Register makes
// a local Object reachable by name, and Tub.ServeConn serves a connection
// a listener accepted (Demux tells Foolscap's connections apart from TLS
// ones on a shared port). Both sides of the negotiation are implemented,
// with Foolscap's rule that the tub with the greater ID decides, and its
// rules for replacing a stale connection.
//
// Values cross the wire in Banana, Foolscap's serialization. Only the
// types the introducer protocol uses are supported: integers, byte
// strings ([]byte), text (string), None (nil), booleans, lists (List),
// tuples (Tuple), sets (Set), dicts (Dict), floats, references to
// objects of either side, and failures (*Failure). Every incoming size,
// count and nesting depth is bounded (Limits), and a peer that breaks the
// protocol loses its connection.
package foolscap
