package nfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	stdnet "net"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/fetch/fetchtest"
)

// rpcServer answers ONC RPC calls over TCP with whatever reply() builds;
// it stands in for portmappers and servers that misbehave in ways a real
// one cannot be made to.
type rpcServer struct {
	ln    stdnet.Listener
	port  uint16
	reply func(prog, proc uint32, args []byte) [][]byte // record fragments after the XID; nil: stay silent
}

func newRPCServer(t *testing.T, reply func(prog, proc uint32, args []byte) [][]byte) *rpcServer {
	ln, err := stdnet.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rpcServer{ln: ln, port: uint16(ln.Addr().(*stdnet.TCPAddr).Port), reply: reply}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					rec, err := readRecord(c, 1<<16)
					if err != nil || len(rec) < 24 {
						return
					}
					xid := rec[:4]
					prog, proc := binary.BigEndian.Uint32(rec[12:]), binary.BigEndian.Uint32(rec[20:])
					// skip cred and verf to the arguments
					d := &decoder{b: rec[24:]}
					d.u32()
					d.opaque(400)
					d.u32()
					d.opaque(400)
					frags := s.reply(prog, proc, d.b)
					if frags == nil {
						<-done
						return
					}
					frags[0] = append(append([]byte(nil), xid...), frags[0]...)
					for i, f := range frags {
						h := uint32(len(f))
						if i == len(frags)-1 {
							h |= 0x80000000
						}
						c.Write(append(binary.BigEndian.AppendUint32(nil, h), f...))
					}
				}
			}()
		}
	}()
	return s
}

// accepted builds an accepted reply body (after the XID) with results.
func accepted(results ...uint32) []byte {
	b := putU32(nil, msgReply)
	b = putU32(b, 0)            // MSG_ACCEPTED
	b = putU32(putU32(b, 0), 0) // AUTH_NONE verifier
	b = putU32(b, 0)            // SUCCESS
	for _, r := range results {
		b = putU32(b, r)
	}
	return b
}

func TestRPCErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(*rpcServer) func(prog, proc uint32, args []byte) [][]byte
		is    error
		want  string
	}{
		{"silent portmapper", func(*rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(uint32, uint32, []byte) [][]byte { return nil }
		}, ErrTimeout, "portmapper at 127.0.0.1:"},
		{"MOUNT not registered", func(*rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(uint32, uint32, []byte) [][]byte { return [][]byte{accepted(0)} }
		}, nil, "MOUNT (program 100005 version 3 over TCP) is not registered with the portmapper at 127.0.0.1"},
		{"fragmented reply, then AUTH_TOOWEAK", func(s *rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(prog, proc uint32, args []byte) [][]byte {
				if prog == progPortmap {
					r := accepted(uint32(s.port))
					return [][]byte{r[:5], r[5:9], r[9:]}
				}
				return [][]byte{putU32(putU32(putU32(putU32(nil, msgReply), 1), 1), 5)}
			}
		}, nil, "MOUNT RPC refused: credentials too weak (AUTH_TOOWEAK)"},
		{"program unavailable", func(s *rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(prog, proc uint32, args []byte) [][]byte {
				if prog == progPortmap {
					return [][]byte{accepted(uint32(s.port))}
				}
				b := accepted()
				binary.BigEndian.PutUint32(b[len(b)-4:], 1)
				return [][]byte{b}
			}
		}, nil, "MOUNT RPC refused: program unavailable (PROG_UNAVAIL)"},
		{"MOUNT refuses every prefix", func(s *rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(prog, proc uint32, args []byte) [][]byte {
				if prog == progPortmap {
					return [][]byte{accepted(uint32(s.port))}
				}
				return [][]byte{accepted(statACCES)}
			}
		}, nil, "no directory of /exp/dir/file is exported to this client: MOUNT /exp/dir: permission denied (ACCES)"},
		{"truncated reply", func(s *rpcServer) func(uint32, uint32, []byte) [][]byte {
			return func(prog, proc uint32, args []byte) [][]byte { return [][]byte{{0, 0}} }
		}, nil, "portmapper reply: XDR data truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRPCServer(t, nil)
			s.reply = tc.reply(s)
			fc := newClient(t, Config{PortmapPort: s.port, Timeout: 300 * time.Millisecond})
			start := time.Now()
			r := fetchtest.Get(fc, context.Background(), "nfs://127.0.0.1/exp/dir/file", fetchOptions())
			if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) || (tc.is != nil && !errors.Is(r.Err, tc.is)) {
				t.Fatalf("Fetch = %v; want error containing %q", r.Err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("failed after %v; want < 2 s", d)
			}
			t.Logf("%v", r.Err)
		})
	}
}

func TestReadRecord(t *testing.T) {
	frag := func(last bool, b string) []byte {
		h := uint32(len(b))
		if last {
			h |= 0x80000000
		}
		return append(binary.BigEndian.AppendUint32(nil, h), b...)
	}
	for _, tc := range []struct {
		in   []byte
		want string
		err  bool
	}{
		{frag(true, "abcd"), "abcd", false},
		{append(frag(false, "ab"), frag(true, "cd")...), "abcd", false},
		{append(frag(false, ""), frag(true, "x")...), "x", false},
		{frag(true, "ab")[:5], "", true},
		{frag(false, "ab"), "", true},
		{frag(true, strings.Repeat("x", 100)), "", true}, // over the limit of 64
	} {
		got, err := readRecord(bytes.NewReader(tc.in), 64)
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("readRecord(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
