package nfs

import (
	"fmt"
)

// Programs, versions and procedures.
const (
	progPortmap = 100000 // RFC 1833 section 3
	pmapVersion = 2
	pmapGetPort = 3
	ipprotoTCP  = 6

	progMount    = 100005 // RFC 1813 appendix I
	mountVersion = 3
	mountMNT     = 1
	mountUMNT    = 3

	progNFS     = 100003 // RFC 1813 section 3
	nfsVersion  = 3
	nfsGETATTR  = 1
	nfsLOOKUP   = 3
	nfsREADLINK = 5
	nfsREAD     = 6

	fhSize3   = 64   // NFS3_FHSIZE / FHSIZE3
	maxPath   = 1024 // MNTPATHLEN, dirpath
	maxName   = 255  // MNTNAMLEN; names in LOOKUP
	maxLink   = 4096 // our bound on READLINK results
	maxFlavor = 64   // our bound on MNT auth flavours
)

// File types (RFC 1813 section 2.5, ftype3).
const (
	typeREG = 1
	typeDIR = 2
	typeLNK = 5
)

// Status codes shared by MOUNT v3 (mountstat3) and NFS v3 (nfsstat3),
// RFC 1813 section 2.6 and appendix I.
var statusNames = map[uint32]string{
	1:     "not owner (PERM)",
	2:     "no such file or directory (NOENT)",
	5:     "I/O error (IO)",
	6:     "no such device or address (NXIO)",
	13:    "permission denied (ACCES)",
	19:    "no such device (NODEV)",
	20:    "not a directory (NOTDIR)",
	21:    "is a directory (ISDIR)",
	22:    "invalid argument (INVAL)",
	27:    "file too large (FBIG)",
	63:    "name too long (NAMETOOLONG)",
	70:    "stale file handle (STALE)",
	71:    "too many levels of remote in path (REMOTE)",
	10001: "illegal file handle (BADHANDLE)",
	10004: "operation not supported (NOTSUPP)",
	10006: "server fault (SERVERFAULT)",
	10007: "object type not supported (BADTYPE)",
	10008: "server busy, try later (JUKEBOX)",
}

const (
	statNOENT  = 2
	statACCES  = 13
	statPERM   = 1
	statNOTDIR = 20
	statINVAL  = 22
)

// StatusError is a MOUNT or NFS procedure that failed.
type StatusError struct {
	Op     string // "MOUNT /export", "LOOKUP \"x\" in /export", ...
	Status uint32
}

func (e *StatusError) Error() string {
	n, ok := statusNames[e.Status]
	if !ok {
		n = "unknown status"
	}
	return fmt.Sprintf("%s: %s (NFS status %d)", e.Op, n, e.Status)
}

// NotFound reports whether the server said the name does not exist.
func (e *StatusError) NotFound() bool { return e.Status == statNOENT }

// fattr is the part of fattr3 (RFC 1813 section 2.5) snp-go uses.
type fattr struct {
	typ  uint32
	size uint64
}

func (d *decoder) fattr3() fattr {
	var a fattr
	a.typ = d.u32()
	d.skip(4 * 4) // mode, nlink, uid, gid
	a.size = d.u64()
	d.skip(8 + 8 + 8 + 8 + 3*8) // used, rdev, fsid, fileid, atime, mtime, ctime
	return a
}

// postOpAttr reads post_op_attr: optional attributes.
func (d *decoder) postOpAttr() (fattr, bool) {
	if d.bool() {
		return d.fattr3(), true
	}
	return fattr{}, false
}

func (d *decoder) fh() []byte {
	fh := d.opaque(fhSize3)
	if d.err == nil && len(fh) == 0 {
		d.fail(fmt.Errorf("empty file handle"))
	}
	return fh
}

// decodeGetPort reads PMAPPROC_GETPORT's result (RFC 1833 section 3.2).
func decodeGetPort(d *decoder) (uint16, error) {
	p := d.u32()
	if d.err != nil {
		return 0, d.err
	}
	if p > 65535 {
		return 0, fmt.Errorf("portmapper answered port %d", p)
	}
	return uint16(p), nil
}

// decodeMount reads mountres3 (RFC 1813 appendix I, MOUNTPROC3_MNT).
func decodeMount(d *decoder, op string) ([]byte, error) {
	st := d.u32()
	if d.err == nil && st != 0 {
		return nil, &StatusError{Op: op, Status: st}
	}
	fh := d.fh()
	n := d.u32()
	if d.err == nil && n > maxFlavor {
		d.fail(fmt.Errorf("%d auth flavours", n))
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.u32()
	}
	return fh, d.err
}

// decodeLookup reads LOOKUP3res (RFC 1813 section 3.3.3).
func decodeLookup(d *decoder, op string) (fh []byte, a fattr, haveAttr bool, err error) {
	st := d.u32()
	if d.err == nil && st != 0 {
		return nil, a, false, &StatusError{Op: op, Status: st}
	}
	fh = d.fh()
	a, haveAttr = d.postOpAttr()
	d.postOpAttr() // directory
	return fh, a, haveAttr, d.err
}

// decodeGetattr reads GETATTR3res (RFC 1813 section 3.3.1).
func decodeGetattr(d *decoder, op string) (fattr, error) {
	st := d.u32()
	if d.err == nil && st != 0 {
		return fattr{}, &StatusError{Op: op, Status: st}
	}
	a := d.fattr3()
	return a, d.err
}

// decodeReadlink reads READLINK3res (RFC 1813 section 3.3.5).
func decodeReadlink(d *decoder, op string) (string, error) {
	st := d.u32()
	d.postOpAttr()
	if d.err == nil && st != 0 {
		return "", &StatusError{Op: op, Status: st}
	}
	l := d.opaque(maxLink)
	if d.err == nil && len(l) == 0 {
		d.fail(fmt.Errorf("empty symbolic link"))
	}
	return string(l), d.err
}

// decodeRead reads READ3res (RFC 1813 section 3.3.6); data aliases the
// record. A count that disagrees with the data length, or more data than
// asked for, is an error.
func decodeRead(d *decoder, op string, asked uint32) (data []byte, eof bool, err error) {
	st := d.u32()
	d.postOpAttr()
	if d.err == nil && st != 0 {
		return nil, false, &StatusError{Op: op, Status: st}
	}
	count := d.u32()
	eof = d.bool()
	data = d.opaque(int(asked))
	if d.err == nil && uint32(len(data)) != count {
		d.fail(fmt.Errorf("READ count %d but %d data bytes", count, len(data)))
	}
	return data, eof, d.err
}
