// Package storage is the storage server: it implements lafs.StorageServer
// over a backend.Backend, owning everything the backend does not know —
// Tahoe's share container formats, leases, upload secrets, write enablers,
// read-test-write, reserved space and corruption advisories.
//
// It follows Tahoe-LAFS 1.20's server, byte for byte on disk:
//
//   - src/allmydata/storage/server.py: StorageServer (allocate_buckets,
//     add_lease, slot_testv_and_readv_and_writev, advise_corrupt_share,
//     get_version);
//   - storage/immutable.py and immutable_schema.py: the immutable container
//     (immutable_container.go) and BucketWriter (immutable.go);
//   - storage/mutable.py and mutable_schema.py: the mutable container
//     (mutable_container.go, mutable.go);
//   - storage/lease.py and lease_schema.py: lease records, hashed with
//     BLAKE2b in version 2 containers (lease.go);
//   - storage/http_server.py and docs/specifications/http-storage-node-protocol.rst:
//     the error each operation gives (which storagehttp turns into a status).
//
// A Tahoe storage folder served through backend/disk is read as it is:
// containers of version 1 and 2 are accepted, new ones are written as
// version 2. Where this server departs from Tahoe it says so at the place.
//
// No error the server returns names a file: a share is named by its
// storage index, number and kind (errors.go), and what the backend said,
// paths and all, goes to the server's log. A container that is damaged
// (truncated, extended, a header that makes no sense) is reported as
// lafs.ErrCorruptContainer, saying what is wrong, and counted (Stats),
// where Tahoe raises or serves what is there.
package storage
