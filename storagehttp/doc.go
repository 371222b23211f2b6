// Package storagehttp implements Tahoe-LAFS's HTTP storage protocol, "Great
// Black Swamp" (docs/specifications/http-storage-node-protocol.rst in
// Tahoe-LAFS, and storage/http_server.py, http_client.py, http_common.py,
// which it follows where the two differ).
//
// Handler serves any lafs.StorageServer over HTTP; Dial reaches a remote
// server (ours or Tahoe 1.20's) through HTTPS pinned to the SPKI hash in its
// NURL and returns a lafs.StorageServer. So one conformance suite
// (storage/storagetest) runs against a local server and against the same
// server across the wire, and errors.Is finds the same lafs sentinels on
// both sides.
//
// The wire format, briefly: every request carries
// "Authorization: Tahoe-LAFS <base64 swissnum>" and, for the endpoints that
// need them, one "X-Tahoe-Authorization: <kind> <base64>" header per secret.
// Small bodies are CBOR (sets as tag 258, bytes as byte strings); share data
// travels raw, in PATCH bodies with a Content-Range and in GET answers to a
// Range. wire.go holds the message shapes, ranges.go the header grammar,
// errors.go the one mapping between errors and status codes.
package storagehttp
