// Package iscsi is snp-go's iSCSI initiator (RFC 7143): it logs in to a
// target with optional one-way or mutual CHAP and reads and writes one LUN
// as a block device, over any net.Conn (the EFI application passes its
// gVisor dialer). It is pure Go and also builds for GOOS=tamago.
//
// # Opening a LUN
//
//	d, err := iscsi.Open(ctx, iscsi.Config{
//		RootPath:      "iscsi:10.0.0.1::::iqn.2001-04.com.example:disk", // iPXE syntax
//		InitiatorName: iqn,          // initiator-iqn, or iscsi.DefaultInitiatorName(hostname, uuid)
//		Credentials:   chap.Credentials{Username: u, Password: chap.NewSecret(p),
//			ReverseUsername: ru, ReversePassword: chap.NewSecret(rp)},
//		Dial:          netstack.DialContext, // default: net.Dialer
//	})
//	d.BlockSize(); d.Blocks(); d.Inquiry(); d.ReadOnly()
//	err = d.ReadBlocks(ctx, lba, buf)  // len(buf) a multiple of BlockSize
//	err = d.WriteBlocks(ctx, lba, buf)
//	err = d.Sync(ctx)
//	err = d.Close()                    // logout
//
// [ParseRootPath] reads iPXE root paths exactly as iPXE does; [LUN] and
// [RootPath] print back in the same syntax.
//
// # Login
//
// Security negotiation offers AuthMethod=CHAP,None with credentials
// (CHAP only when reverse credentials ask for mutual CHAP, so that a target
// cannot skip proving itself) and None without; CHAP itself is package
// chap. Operational negotiation follows the result functions of RFC 7143
// §13 for every key we use (digests, data segment and burst lengths,
// ImmediateData, InitialR2T, MaxOutstandingR2T=1, in-order data,
// ErrorRecoveryLevel=0, DefaultTime2Wait/Retain=0). Login redirects
// (TargetAddress) are followed. A refused login is a [*LoginError] whose
// message names the status ("authentication failure", "target not found",
// ...); a target that fails mutual CHAP gives an error wrapping
// chap.ErrTargetAuth.
//
// tgt (Linux SCSI target framework, 1.0.x) numbers CHAP_A=7 as SHA-1 instead
// of SHA-256 and knows neither 6 nor 8; when a target picks SHA-256 and then
// refuses our response, the login is retried once without SHA-256.
//
// # Data path
//
// Reads and writes larger than min(MaxTransferLength, MaxBurstLength) are
// split into several commands kept in flight together (up to QueueDepth,
// within the target's CmdSN window); several goroutines may call a Disk at
// once. Data-In segments are read straight into the caller's buffer and
// command slots are preallocated, so the data path allocates nothing per
// command or PDU, and nothing depends on large socket buffers (reads go
// through an 8 KiB buffer that large segments bypass), which suits the
// EFI network path's small TCP window (ipstack.DefaultReceiveBudget: 48 KiB of
// receive buffer in total, half of it in flight). Writes use immediate data,
// unsolicited Data-Out and R2T-solicited Data-Out as negotiated.
//
// # Recovery
//
// A dropped connection, a command that exceeds CommandTimeout, a digest
// error or a protocol violation ends the session; the unfinished part of
// the operation is retried after a new login, at most MaxReconnects times
// in a row (iPXE: 15 s per command, 10 reopen attempts). UNIT ATTENTION,
// BUSY and TASK SET FULL are retried. A target's Async logout request is
// answered with a Logout before the session is renewed. A Reject of a SCSI
// command fails that command, except for a data digest error or "waiting
// for logout", which are retried on a new session. Data returned is always what the
// target sent for commands that completed with GOOD status and full
// length, or an error.
package iscsi
