//go:build tamago && arm64

package efi

import (
	"fmt"
	"net"
	"sync/atomic"
	"unsafe"
)

// EFI_SIMPLE_NETWORK_PROTOCOL (§24.1); offsets in tables.go.
const (
	snpStopped     = 0
	snpStarted     = 1
	snpInitialized = 2

	// Receive filter bits, §24.1.7.
	filterUnicast   = 0x01
	filterBroadcast = 0x04

	snpFrameBuf = 1536 // >= 1514 + 802.1Q tag
	snpTxBufs   = 32
)

// SNP is an open EFI_SIMPLE_NETWORK_PROTOCOL: a raw Ethernet NIC. It
// implements snp-go's net.NIC. Calls must be serialised by the caller (the
// network stack does).
type SNP struct {
	Handle Handle
	Path   DevicePath
	p      uintptr
	mac    net.HardwareAddr
	mtu    int

	mem    unsafe.Pointer // firmware pool: scratch words, rx buffer, tx buffers
	rx     uintptr
	tx     [snpTxBufs]uintptr
	txNext int
	words  uintptr // 4 scratch words: buffer size, status, txbuf, header size

	// Counters: atomics, one add per frame (Stats may be read from another
	// goroutine; a mutex cost two atomics per frame).
	txFrames, rxFrames, txErrors, rxErrors, txUnrecycled atomic.Uint64
	closed                                               bool

	// Exclusive is true when snp-go holds the NIC alone (OpenExclusive);
	// Shared says why not, when it does not.
	Exclusive bool
	Shared    error
}

// SNPStats counts the NIC's frames and firmware errors.
type SNPStats struct {
	TxFrames, RxFrames, TxErrors, RxErrors, TxUnrecycled uint64
}

// Stats returns a snapshot of the counters.
func (s *SNP) Stats() SNPStats {
	return SNPStats{TxFrames: s.txFrames.Load(), RxFrames: s.rxFrames.Load(), TxErrors: s.txErrors.Load(),
		RxErrors: s.rxErrors.Load(), TxUnrecycled: s.txUnrecycled.Load()}
}

// NetworkInterfaces returns the handles that carry Simple Network for a
// NIC of their own, with their device paths: the children that EDK2's PXE
// and HTTP boot drivers give a copy of their NIC's protocol are left out
// (Roots).
//
// When there is none, the firmware may not have connected its network
// drivers: EDK2 connects only the boot devices when the platform gives a
// boot order (QEMU's bootindex=, a BDS with "fast boot"). NetworkInterfaces
// then connects every PCI device (§7.3.12, recursive, as the UEFI Shell's
// `connect -r` does) and looks again.
func NetworkInterfaces() ([]Handle, []DevicePath, error) {
	all, err := LocateHandleBuffer(&SimpleNetworkProtocolGUID)
	if err != nil {
		pci, perr := LocateHandleBuffer(&PCIIOProtocolGUID)
		if perr != nil {
			return nil, nil, err
		}
		for _, h := range pci {
			ConnectController(h, true) // devices no driver takes fail: fine
		}
		if all, err = LocateHandleBuffer(&SimpleNetworkProtocolGUID); err != nil {
			return nil, nil, fmt.Errorf("%w (after connecting %d PCI devices)", err, len(pci))
		}
	}
	paths := make([]DevicePath, len(all))
	for i, h := range all {
		paths[i], _ = HandleDevicePath(h)
	}
	var hs []Handle
	var ps []DevicePath
	for _, i := range Roots(paths) {
		hs = append(hs, all[i])
		ps = append(ps, paths[i])
	}
	return hs, ps, nil
}

// OpenSNP takes the Simple Network protocol on h for snp-go alone
// (OpenExclusive: EDK2's network stack lets go of it; U-Boot has none),
// falling back to sharing it when the firmware refuses, then starts and
// initialises it (§24.1.2 Start, §24.1.4 Initialize; EFI_ALREADY_STARTED
// is fine) and enables unicast and broadcast reception (U-Boot answers
// EFI_UNSUPPORTED, which is not fatal: it receives both anyway). On exit
// the NIC is stopped and given back (CloseExclusive reconnects the
// firmware's drivers).
func OpenSNP(h Handle, path DevicePath) (*SNP, error) {
	s := &SNP{Handle: h, Path: path}
	p, err := OpenExclusive(h, &SimpleNetworkProtocolGUID)
	if err == nil {
		s.Exclusive = true
	} else {
		s.Shared = err
		if p, err = HandleProtocol(h, &SimpleNetworkProtocolGUID); err != nil {
			return nil, err
		}
	}
	s.p = p
	mode := uintptr(load64(p + snpMode))
	switch load32(mode + modeState) {
	case snpStopped:
		if st := Call(fn(p, snpStart), p); st.IsError() && st != AlreadyStarted {
			return nil, wrap("SimpleNetwork.Start", st)
		}
		fallthrough
	case snpStarted:
		if st := Call(fn(p, snpInitialize), p, 0, 0); st.IsError() {
			return nil, wrap("SimpleNetwork.Initialize", st)
		}
	}
	Call(fn(p, snpReceiveFilters), p, filterUnicast|filterBroadcast, 0, 0, 0, 0)

	n := int(load32(mode + modeHwAddressSize))
	if n <= 0 || n > 32 {
		n = 6
	}
	s.mac = make(net.HardwareAddr, n)
	copy(s.mac, unsafe.Slice((*byte)(unsafe.Pointer(mode+modeCurrentAddress)), n))
	// MaxPacketSize is the largest packet without the media header (EDK2
	// and iPXE read it so: virtio-net says 1500); U-Boot reports 1522, a
	// tagged frame with its header. Either way the IP MTU is at most
	// Ethernet's 1500.
	s.mtu = int(load32(mode + modeMaxPacketSize))
	if s.mtu <= 0 || s.mtu > 1500 {
		s.mtu = 1500
	}

	s.mem, err = AllocatePool(64 + snpFrameBuf*(1+snpTxBufs))
	if err != nil {
		return nil, err
	}
	s.words = uintptr(s.mem)
	s.rx = s.words + 64
	for i := range s.tx {
		s.tx[i] = s.rx + uintptr(1+i)*snpFrameBuf
	}
	AtExit(func() {
		s.Close()
		if s.Exclusive {
			CloseExclusive(h, &SimpleNetworkProtocolGUID)
		}
	})
	return s, nil
}

// MAC returns the station address.
func (s *SNP) MAC() net.HardwareAddr { return s.mac }

// MTU returns the largest IP packet (the mode's MaxPacketSize).
func (s *SNP) MTU() int { return s.mtu }

// String names the NIC by its MAC and device path.
func (s *SNP) String() string { return fmt.Sprintf("%s %s", s.mac, s.Path) }

// MediaPresent reports the link state when the firmware knows it.
func (s *SNP) MediaPresent() (present, known bool) {
	mode := uintptr(load64(s.p + snpMode))
	if *(*byte)(unsafe.Pointer(mode + modeMediaPresentOK)) == 0 {
		return true, false
	}
	return *(*byte)(unsafe.Pointer(mode + modeMediaPresent)) != 0, true
}

// Transmit sends one Ethernet frame (§24.1.13, HeaderSize 0: the frame is
// complete). The frame is copied into firmware memory; transmit buffers
// are recycled with GetStatus (§24.1.12).
func (s *SNP) Transmit(frame []byte) error {
	if s.closed {
		return fmt.Errorf("SimpleNetwork.Transmit: NIC is shut down")
	}
	if len(frame) > snpFrameBuf {
		return fmt.Errorf("SimpleNetwork.Transmit: frame of %d bytes exceeds %d", len(frame), snpFrameBuf)
	}
	buf := s.tx[s.txNext]
	s.txNext = (s.txNext + 1) % snpTxBufs
	copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(frame)), frame)
	st := Call(fn(s.p, snpTransmit), s.p, 0, uintptr(len(frame)), buf, 0, 0, 0)
	if st.IsError() {
		s.txErrors.Add(1)
		return wrap("SimpleNetwork.Transmit", st)
	}
	// Recycle: GetStatus(This, NULL, &TxBuf).
	store64(s.words+16, 0)
	Call(fn(s.p, snpGetStatus), s.p, 0, s.words+16)
	s.txFrames.Add(1)
	if load64(s.words+16) == 0 {
		s.txUnrecycled.Add(1)
	}
	return nil
}

// Receive copies one pending frame into buf (§24.1.14). It returns 0, nil
// when none is pending (EFI_NOT_READY). Calling it is also what makes
// U-Boot refill its receive ring.
//
// A buf of at least snpFrameBuf bytes is handed to the firmware as the
// receive buffer, so the frame is copied once (from the driver's ring); it
// must not be on a goroutine stack (net.NIC's contract: the stack's buffers
// are heap memory, which the Go runtime never moves). A smaller buf goes
// through the NIC's own buffer in firmware memory. A frame larger than the
// buffer would stay at the head of U-Boot's ring (EFI_BUFFER_TOO_SMALL does
// not consume it), so the buffer given is never smaller than snpFrameBuf.
func (s *SNP) Receive(buf []byte) (int, error) {
	if s.closed {
		return 0, fmt.Errorf("SimpleNetwork.Receive: NIC is shut down")
	}
	dst, size := s.rx, snpFrameBuf
	if len(buf) >= snpFrameBuf {
		dst, size = uintptr(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)
	}
	store64(s.words, uint64(size))
	st := Call(fn(s.p, snpReceive), s.p, 0, s.words, dst, 0, 0, 0)
	switch {
	case st == NotReady:
		return 0, nil
	case st == BufferTooSmall:
		s.rxErrors.Add(1)
		return 0, nil // oversized frame: dropped
	case st.IsError():
		s.rxErrors.Add(1)
		return 0, wrap("SimpleNetwork.Receive", st)
	}
	n := int(load64(s.words))
	if n > size {
		n = size
	}
	if dst == s.rx {
		n = copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(s.rx)), n))
	}
	s.rxFrames.Add(1)
	return n, nil
}

// Close shuts the NIC down (§24.1.5 Shutdown, §24.1.3 Stop) so that no
// receive DMA stays armed in the firmware's driver. It is idempotent and
// safe inside an exit-boot-services notify function.
func (s *SNP) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err1 := wrap("SimpleNetwork.Shutdown", Call(fn(s.p, snpShutdown), s.p))
	err2 := wrap("SimpleNetwork.Stop", Call(fn(s.p, snpStop), s.p))
	if err1 != nil {
		return err1
	}
	return err2
}
