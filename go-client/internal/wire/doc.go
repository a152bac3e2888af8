// Package wire is ferry's protocol v1 on the byte level: frames (a 4-byte big-endian body length,
// then one MessagePack value) and the MessagePack encoding of every message in
// protocol/SPEC.md.
//
// Requests are encoded append-style into caller-owned buffers with msgp's Append helpers and
// pre-encoded keys, so a ping costs no allocation. A large binary payload (a resize image, checksum
// data) is not copied: the encoder leaves a gap for it and [Frame.WriteTo] writes it from the
// caller's slice between the bytes before and after it.
//
// Decoders accept every encoding the spec allows (widened and signed integers, long str/bin/map
// headers, any key order, unknown keys of any type, nil for absent optional fields) and return a
// *DecodeError for anything else. Reply decoders take the op of the request being answered, since
// a reply does not name its op.
//
// The package also encodes replies and decodes requests: the Go tests use them for fake servers and
// to check both directions against protocol/vectors.
package wire
