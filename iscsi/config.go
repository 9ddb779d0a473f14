package iscsi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/snp-go/snp-go/chap"
)

// DialFunc opens a TCP connection; it has net.Dialer.DialContext's shape so
// that the EFI application can pass its gVisor dialer.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Config describes how to reach and use one iSCSI LUN. Zero fields take the
// documented defaults.
type Config struct {
	// RootPath is an iPXE root path (see ParseRootPath). If it is empty,
	// Portal, Target and LUN are used instead.
	RootPath string
	Portal   string // "host:port" or "host" (port 3260)
	Target   string // target IQN
	LUN      LUN

	// InitiatorName is our IQN (iPXE's initiator-iqn setting). Required;
	// see DefaultInitiatorName.
	InitiatorName string

	// Credentials for CHAP: none, one-way, or mutual.
	Credentials chap.Credentials
	// CHAPAlgorithms is the CHAP_A offer, preferred first
	// (default chap.DefaultAlgorithms: SHA3-256, SHA-256, SHA-1, MD5).
	CHAPAlgorithms []chap.Algorithm

	// Digests offers CRC32C header and data digests ("CRC32C,None"); the
	// target decides. Off: "None".
	Digests bool

	// MaxTransferLength bounds the data of one SCSI command in bytes
	// (default 256 KiB); the negotiated MaxBurstLength bounds it too.
	// Larger reads and writes are split into several commands.
	MaxTransferLength int
	// QueueDepth is the number of commands in flight per connection
	// (default 16, at most 256), further bounded by the target's CmdSN window.
	QueueDepth int
	// MaxRecvDataSegmentLength is what we declare we can receive per PDU
	// (default 256 KiB; RFC 7143 §13.12). It does not need large socket
	// buffers: data segments are read straight into the caller's buffer.
	MaxRecvDataSegmentLength int

	// CommandTimeout bounds each command (default 15 s, as iPXE) and the
	// login; a command that times out drops the connection and is retried
	// on a new one.
	CommandTimeout time.Duration
	// MaxReconnects bounds the consecutive reconnects (new logins) for a
	// failing operation (default 10, as iPXE; negative: never reconnect).
	MaxReconnects int
	// ReconnectDelay is the first wait before a reconnect; it doubles up
	// to 4 s (default 200 ms).
	ReconnectDelay time.Duration
	// Keepalive is the idle time after which a NOP-Out ping is sent
	// (default 10 s; negative: never).
	Keepalive time.Duration

	// Dial opens connections (default: net.Dialer.DialContext).
	Dial DialFunc
	// Logf, if set, receives one line per notable event (login, redirect,
	// reconnect, retry). Secrets are never passed to it.
	Logf func(format string, args ...any)
}

// settings is a Config with defaults applied and the root path resolved.
type settings struct {
	Config
	portal string
	isid   [6]byte
}

const (
	defaultMaxTransfer = 256 << 10
	defaultQueueDepth  = 16
	maxQueueDepth      = 256
	defaultMaxRecvDSL  = 256 << 10
	defaultTimeout     = 15 * time.Second
	defaultReconnects  = 10
	defaultDelay       = 200 * time.Millisecond
	maxDelay           = 4 * time.Second
	defaultKeepalive   = 10 * time.Second
	maxRedirects       = 5
)

func (c Config) resolve() (*settings, error) {
	s := &settings{Config: c}
	if c.RootPath != "" {
		rp, err := ParseRootPath(c.RootPath)
		if err != nil {
			return nil, err
		}
		s.portal, s.Target, s.LUN = rp.Portal(), rp.Target, rp.LUN
	} else {
		if c.Portal == "" || c.Target == "" {
			return nil, fmt.Errorf("iscsi: config needs RootPath, or Portal and Target")
		}
		s.portal = c.Portal
		if _, _, err := net.SplitHostPort(c.Portal); err != nil {
			s.portal = net.JoinHostPort(c.Portal, strconv.Itoa(DefaultPort))
		}
	}
	if s.InitiatorName == "" {
		return nil, fmt.Errorf("iscsi: no initiator name (set initiator-iqn or use DefaultInitiatorName)")
	}
	if err := s.Credentials.Validate(); err != nil {
		return nil, err
	}
	if s.Credentials.Enabled() {
		if _, err := chap.NewInitiator(s.Credentials, s.CHAPAlgorithms); err != nil {
			return nil, err
		}
	}
	if s.MaxTransferLength <= 0 {
		s.MaxTransferLength = defaultMaxTransfer
	}
	if s.QueueDepth <= 0 {
		s.QueueDepth = defaultQueueDepth
	}
	s.QueueDepth = min(s.QueueDepth, maxQueueDepth)
	if s.MaxRecvDataSegmentLength <= 0 {
		s.MaxRecvDataSegmentLength = defaultMaxRecvDSL
	}
	// RFC 7143 §13.12: 512 to 2^24-1.
	s.MaxRecvDataSegmentLength = max(512, min(s.MaxRecvDataSegmentLength, 1<<24-1))
	if s.CommandTimeout <= 0 {
		s.CommandTimeout = defaultTimeout
	}
	if s.MaxReconnects == 0 {
		s.MaxReconnects = defaultReconnects
	}
	if s.ReconnectDelay <= 0 {
		s.ReconnectDelay = defaultDelay
	}
	if s.Keepalive == 0 {
		s.Keepalive = defaultKeepalive
	}
	if s.Dial == nil {
		var d net.Dialer
		s.Dial = d.DialContext
	}
	// ISID of type "Random" (RFC 7143 §11.12.5: T=10b, A=0, B and C
	// random, D qualifier 0). It stays the same across reconnects, so a new
	// login reinstates (replaces) our previous session on the target.
	s.isid[0] = 0x80
	if _, err := rand.Read(s.isid[1:4]); err != nil {
		return nil, fmt.Errorf("iscsi: no randomness for the ISID: %w", err)
	}
	return s, nil
}

func (s *settings) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}
