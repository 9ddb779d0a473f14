package nfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"sync"
	"time"
)

// ONC RPC version 2 (RFC 5531).
const (
	rpcVersion = 2 // section 9
	msgCall    = 0 // msg_type, section 9
	msgReply   = 1

	authNone = 0 // section 8.1 / appendix A
	authSys  = 1

	maxAuthBody = 400 // opaque_auth body limit, section 8.2
	// maxRecord bounds one reply record; READ replies are at most
	// ChunkSize plus a few hundred bytes of header.
	maxRecord = 1 << 20
)

// Accept and reject states of a reply (RFC 5531 section 9).
var acceptNames = map[uint32]string{
	1: "program unavailable (PROG_UNAVAIL)",
	2: "program version mismatch (PROG_MISMATCH)",
	3: "procedure unavailable (PROC_UNAVAIL)",
	4: "arguments not understood (GARBAGE_ARGS)",
	5: "server system error (SYSTEM_ERR)",
}

var authNames = map[uint32]string{
	1: "bad credentials (AUTH_BADCRED)",
	2: "credentials rejected, client must begin a new session (AUTH_REJECTEDCRED)",
	3: "bad verifier (AUTH_BADVERF)",
	4: "verifier expired or replayed (AUTH_REJECTEDVERF)",
	5: "credentials too weak (AUTH_TOOWEAK): the export may require AUTH_SYS or a source port below 1024",
	6: "bogus response verifier (AUTH_INVALIDRESP)",
	7: "authentication failed (AUTH_FAILED)",
}

// RPCError is a call the server did not execute.
type RPCError struct {
	Service string // "portmapper", "MOUNT", "NFS"
	Reason  string
}

func (e *RPCError) Error() string { return e.Service + " RPC refused: " + e.Reason }

var errXID = errors.New("reply to another call")

// parseReply checks an RPC reply record for call xid and returns the
// procedure's results.
func parseReply(b []byte, xid uint32, service string) ([]byte, error) {
	d := &decoder{b: b}
	if x := d.u32(); d.err == nil && x != xid {
		return nil, errXID
	}
	mtype, stat := d.u32(), d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("%s reply: %w", service, d.err)
	}
	if mtype != msgReply {
		return nil, fmt.Errorf("%s sent message type %d; want a reply", service, mtype)
	}
	switch stat {
	case 0: // MSG_ACCEPTED
		d.u32()               // verifier flavor
		d.opaque(maxAuthBody) // verifier body
		as := d.u32()
		if d.err != nil {
			return nil, fmt.Errorf("%s reply: %w", service, d.err)
		}
		switch as {
		case 0:
			return d.b, nil
		case 2:
			lo, hi := d.u32(), d.u32()
			return nil, &RPCError{service, fmt.Sprintf("%s: server has versions %d..%d", acceptNames[2], lo, hi)}
		}
		if n, ok := acceptNames[as]; ok {
			return nil, &RPCError{service, n}
		}
		return nil, &RPCError{service, fmt.Sprintf("accept status %d", as)}
	case 1: // MSG_DENIED
		switch rs := d.u32(); rs {
		case 0:
			lo, hi := d.u32(), d.u32()
			return nil, &RPCError{service, fmt.Sprintf("RPC version mismatch: server speaks %d..%d", lo, hi)}
		case 1:
			as := d.u32()
			if n, ok := authNames[as]; ok {
				return nil, &RPCError{service, n}
			}
			return nil, &RPCError{service, fmt.Sprintf("authentication error %d", as)}
		default:
			return nil, fmt.Errorf("%s reply: reject status %d", service, rs)
		}
	}
	return nil, fmt.Errorf("%s reply: reply status %d", service, stat)
}

// readRecord reads one record (RFC 5531 section 11, record marking): a
// sequence of fragments, each behind a 4-byte header whose top bit marks
// the last one.
func readRecord(r io.Reader, max int) ([]byte, error) {
	var rec []byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if len(rec) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h & 0x7fffffff)
		if len(rec)+n > max {
			return nil, fmt.Errorf("RPC record larger than %d bytes", max)
		}
		start := len(rec)
		rec = append(rec, make([]byte, n)...)
		if _, err := io.ReadFull(r, rec[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if h&0x80000000 != 0 {
			return rec, nil
		}
	}
}

// rpcConn is a TCP connection to one RPC program version.
type rpcConn struct {
	service    string // for messages
	conn       stdnet.Conn
	prog, vers uint32
	cred       []byte // encoded credential and verifier
	xid        uint32
	timeout    time.Duration
	ctx        context.Context
	mu         sync.Mutex
	stop       func() bool
}

func newRPCConn(ctx context.Context, conn stdnet.Conn, service string, prog, vers uint32, cred []byte, timeout time.Duration, xid uint32) *rpcConn {
	c := &rpcConn{service: service, conn: conn, prog: prog, vers: vers, cred: cred, xid: xid, timeout: timeout, ctx: ctx}
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.conn.SetDeadline(time.Unix(1, 0))
		c.mu.Unlock()
	})
	return c
}

func (c *rpcConn) Close() error {
	c.stop()
	return c.conn.Close()
}

// call runs procedure proc with XDR-encoded args and returns a decoder
// over its results.
func (c *rpcConn) call(proc uint32, args []byte) (*decoder, error) {
	c.xid++
	msg := make([]byte, 4, 64+len(c.cred)+len(args))
	msg = putU32(msg, c.xid)
	msg = putU32(msg, msgCall)
	msg = putU32(msg, rpcVersion)
	msg = putU32(msg, c.prog)
	msg = putU32(msg, c.vers)
	msg = putU32(msg, proc)
	msg = append(msg, c.cred...)
	msg = append(msg, args...)
	binary.BigEndian.PutUint32(msg, 0x80000000|uint32(len(msg)-4))
	c.arm()
	if _, err := c.conn.Write(msg); err != nil {
		return nil, c.fail("sending", err)
	}
	for {
		c.arm()
		rec, err := readRecord(c.conn, maxRecord)
		if err != nil {
			return nil, c.fail("waiting for the reply", err)
		}
		res, err := parseReply(rec, c.xid, c.service)
		if errors.Is(err, errXID) {
			continue // a late reply to an earlier call: skip
		}
		if err != nil {
			return nil, err
		}
		return &decoder{b: res}, nil
	}
}

// arm gives the connection another timeout unless the context is done
// (then, under the same lock as the cancel callback, a past deadline).
func (c *rpcConn) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		c.conn.SetDeadline(time.Unix(1, 0))
		return
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
}

func (c *rpcConn) fail(doing string, err error) error {
	if c.ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(c.ctx))
	}
	var ne stdnet.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s at %v: %s: %w: nothing for %v", c.service, c.conn.RemoteAddr(), doing, ErrTimeout, c.timeout)
	}
	if err == io.EOF {
		err = errors.New("server closed the connection")
	}
	return fmt.Errorf("%s at %v: %s: %w", c.service, c.conn.RemoteAddr(), doing, err)
}

// credentials encodes the call's credential and verifier (RFC 5531
// section 8.2 and appendix A): AUTH_SYS with the given identity, or
// AUTH_NONE; the verifier is AUTH_NONE.
func credentials(sys bool, machine string, uid, gid uint32) []byte {
	var b []byte
	if sys {
		var body []byte
		body = putU32(body, 0) // stamp
		body = putString(body, machine)
		body = putU32(body, uid)
		body = putU32(body, gid)
		body = putU32(body, 0) // no supplementary groups
		b = putU32(b, authSys)
		b = putOpaque(b, body)
	} else {
		b = putU32(b, authNone)
		b = putU32(b, 0)
	}
	b = putU32(b, authNone)
	return putU32(b, 0)
}
