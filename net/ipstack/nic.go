// Package ipstack is snp-go's IP stack: a raw Ethernet NIC abstraction, a
// gVisor TCP/IP stack on top of it that never blocks in the receive path, a
// receive-window budget that respects U-Boot's 32-frame SNP receive ring, and
// helpers that hand out standard net.Conn / net.PacketConn values.
//
// The protocols on top of it are net's other packages: vlan (802.1Q
// tagging), dhcp (DHCPv4 client), pxe (PXE options), dns (resolver), ntp
// (SNTP client), fetch (http/https/tftp/ftp/nfs downloads).
package ipstack

import (
	"errors"
	stdnet "net"
	"sync"
)

// NIC is a raw Ethernet device. Receive never blocks.
//
// The link layer in this package serialises all calls to one NIC (Transmit
// and Receive are never called concurrently), but they may come from
// different goroutines.
type NIC interface {
	MAC() stdnet.HardwareAddr // station address
	MTU() int                 // IP MTU, normally 1500

	// Transmit sends one full Ethernet frame (destination, source,
	// EtherType, payload; no FCS). The NIC copies the frame before it
	// returns; the caller may reuse frame.
	Transmit(frame []byte) error

	// Receive copies one pending frame into buf. It returns n == 0 and
	// err == nil when no frame is pending. A frame longer than buf is
	// dropped or truncated by the NIC; buf is always at least MTU+18 bytes
	// and lives in the Go heap (never on a goroutine stack), so a firmware
	// NIC may receive into it directly.
	Receive(buf []byte) (n int, err error)
}

// SharedNIC is a NIC that shares one device with other NICs (vlan.Mux's
// VLANs and native NIC). The link layer serialises its calls with the
// device's Mutex instead of a lock of its own and calls ReceiveLocked and
// TransmitLocked with it held, so a frame costs one lock, not two.
type SharedNIC interface {
	NIC
	Mutex() *sync.Mutex
	ReceiveLocked(buf []byte) (int, error)
	TransmitLocked(frame []byte) error
}

// Readier is implemented by NICs that can signal frame arrival (host test
// NICs). The stack's poll loop waits on Ready instead of spinning when every
// NIC implements it. Firmware NICs (U-Boot SNP) must not: there the loop has
// to keep calling Receive, because U-Boot refills its receive ring only then.
type Readier interface {
	// Ready returns a channel that receives a value (non-blocking send,
	// capacity >= 1) whenever a frame is queued.
	Ready() <-chan struct{}
}

// ErrNICDown is returned by NICs that were shut down.
var ErrNICDown = errors.New("net: NIC is down")

// Ethernet constants (IEEE 802.3).
const (
	ethHeaderLen = 14   // destination(6) + source(6) + EtherType(2)
	maxFrameLen  = 1522 // 1500 + 14 + 4 (802.1Q) + 4 spare; used for buffers
	// rxBufLen is the buffer frames are received into, large enough for
	// a firmware NIC to take it as its receive buffer (U-Boot wants at
	// least 1536).
	rxBufLen     = 2048
	etherTypeIP4 = 0x0800 // RFC 894
	etherTypeARP = 0x0806 // RFC 826
	etherTypeIP6 = 0x86DD // RFC 2464
)
