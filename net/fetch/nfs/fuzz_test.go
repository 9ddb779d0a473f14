package nfs

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseReply feeds arbitrary records to the RPC reply parser and every
// fetchtest.Result decoder: no panics, and READ never yields more than was asked.
func FuzzParseReply(f *testing.F) {
	xid := []byte{0, 0, 0, 7}
	f.Add(append(xid, accepted(2049)...))
	f.Add(append(xid, accepted(0, 4, 1, 2, 3, 4, 1, 1)...))                  // MNT OK, 4-byte handle, 1 flavour
	f.Add(append(xid, accepted(0, 0, 1, 1, 3, 0, 0, 0, 9, 0, 5, 'a', 0)...)) // READ
	f.Add(append(xid, putU32(putU32(putU32(putU32(nil, 1), 1), 1), 5)...))   // AUTH_TOOWEAK
	f.Add(append(xid, putU32(putU32(putU32(putU32(putU32(putU32(nil, 1), 0), 0), 0), 2), 2)...))
	f.Fuzz(func(t *testing.T, rec []byte) {
		if len(rec) < 4 {
			return
		}
		res, err := parseReply(rec, binary.BigEndian.Uint32(rec), "fuzz")
		if err != nil {
			return
		}
		decodeGetPort(&decoder{b: res})
		if fh, err := decodeMount(&decoder{b: res}, "m"); err == nil && (len(fh) == 0 || len(fh) > fhSize3) {
			t.Fatalf("decodeMount handle of %d bytes", len(fh))
		}
		decodeLookup(&decoder{b: res}, "l")
		decodeGetattr(&decoder{b: res}, "g")
		if l, err := decodeReadlink(&decoder{b: res}, "r"); err == nil && (l == "" || len(l) > maxLink) {
			t.Fatalf("decodeReadlink = %d bytes", len(l))
		}
		if data, _, err := decodeRead(&decoder{b: res}, "read", 16); err == nil && len(data) > 16 {
			t.Fatalf("decodeRead returned %d bytes; asked 16", len(data))
		}
	})
}

// FuzzReadRecord: record marking never panics nor exceeds its limit.
func FuzzReadRecord(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 2, 'a', 'b'})
	f.Add([]byte{0, 0, 0, 1, 'a', 0x80, 0, 0, 1, 'b'})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		rec, err := readRecord(bytes.NewReader(in), 4096)
		if err == nil && len(rec) > 4096 {
			t.Fatalf("readRecord returned %d bytes; limit 4096", len(rec))
		}
	})
}
