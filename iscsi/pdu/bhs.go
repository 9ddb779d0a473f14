// Package pdu encodes and decodes iSCSI protocol data units (RFC 7143 §11):
// the 48-byte Basic Header Segment (BHS), the Additional Header Segments
// (AHS), the data segment with its padding to a 4-byte boundary, and the
// optional CRC32C header and data digests (RFC 7143 §11.2.3, §13.1).
//
// [BHS] is a fixed array with field accessors, so building and parsing a
// header allocates nothing. [Reader] reads PDUs from a stream and can read a
// data segment straight into the caller's buffer (used for Data-In);
// [Writer] writes PDUs.
package pdu

import "encoding/binary"

// BHSLen is the length of the Basic Header Segment (RFC 7143 §11.2.1).
const BHSLen = 48

// MaxDataSegmentLength is the largest data segment the 24-bit
// DataSegmentLength field can express (RFC 7143 §11.2.1.5); also the upper
// bound of MaxRecvDataSegmentLength (RFC 7143 §13.12).
const MaxDataSegmentLength = 1<<24 - 1

// Opcode is a BHS opcode (RFC 7143 §11.2.1.2).
type Opcode uint8

// Initiator opcodes (RFC 7143 §11.2.1.2).
const (
	OpNOPOut     Opcode = 0x00
	OpSCSICmd    Opcode = 0x01
	OpTaskMgmt   Opcode = 0x02
	OpLoginReq   Opcode = 0x03
	OpTextReq    Opcode = 0x04
	OpDataOut    Opcode = 0x05
	OpLogoutReq  Opcode = 0x06
	OpSNACK      Opcode = 0x10
	OpNOPIn      Opcode = 0x20
	OpSCSIResp   Opcode = 0x21
	OpTaskResp   Opcode = 0x22
	OpLoginResp  Opcode = 0x23
	OpTextResp   Opcode = 0x24
	OpDataIn     Opcode = 0x25
	OpLogoutResp Opcode = 0x26
	OpR2T        Opcode = 0x31
	OpAsync      Opcode = 0x32
	OpReject     Opcode = 0x3f
)

var opNames = map[Opcode]string{
	OpNOPOut: "NOP-Out", OpSCSICmd: "SCSI Command", OpTaskMgmt: "Task Management Request",
	OpLoginReq: "Login Request", OpTextReq: "Text Request", OpDataOut: "Data-Out",
	OpLogoutReq: "Logout Request", OpSNACK: "SNACK", OpNOPIn: "NOP-In",
	OpSCSIResp: "SCSI Response", OpTaskResp: "Task Management Response",
	OpLoginResp: "Login Response", OpTextResp: "Text Response", OpDataIn: "Data-In",
	OpLogoutResp: "Logout Response", OpR2T: "R2T", OpAsync: "Async Message", OpReject: "Reject",
}

func (o Opcode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "opcode 0x" + hex2(byte(o))
}

func hex2(b byte) string {
	const d = "0123456789abcdef"
	return string([]byte{d[b>>4], d[b&15]})
}

// Flag bits of BHS byte 1.
const (
	FlagFinal = 0x80 // F: final PDU of a sequence (RFC 7143 §11.2.1.3)

	// SCSI Command (RFC 7143 §11.3.1).
	FlagRead       = 0x40
	FlagWrite      = 0x20
	AttrSimple     = 0x01 // task attribute SIMPLE (RFC 7143 §11.3.1.1)
	FlagImmediate0 = 0x40 // I bit, in byte 0 (RFC 7143 §11.2.1.1)

	// Data-In and SCSI Response (RFC 7143 §11.4.1, §11.7.1).
	FlagAck       = 0x40 // A (Data-In)
	FlagOverflow  = 0x04 // O
	FlagUnderflow = 0x02 // U
	FlagStatus    = 0x01 // S (Data-In)

	// Login (RFC 7143 §11.12.1).
	FlagTransit  = 0x80 // T
	FlagContinue = 0x40 // C
)

// TagNone is the reserved task tag 0xffffffff (RFC 7143 §11.2.1.8, §11.18.4).
const TagNone = 0xffffffff

// BHS is a Basic Header Segment (RFC 7143 §11.2.1). Multi-byte fields are
// big-endian. The accessors name fields by their meaning in the PDUs that use
// them; the byte offsets are the RFC's.
type BHS [BHSLen]byte

// Reset zeroes the header.
func (b *BHS) Reset() { *b = BHS{} }

func (b *BHS) u32(off int) uint32       { return binary.BigEndian.Uint32(b[off:]) }
func (b *BHS) put32(off int, v uint32)  { binary.BigEndian.PutUint32(b[off:], v) }
func (b *BHS) u16(off int) uint16       { return binary.BigEndian.Uint16(b[off:]) }
func (b *BHS) put16(off int, v uint16)  { binary.BigEndian.PutUint16(b[off:], v) }
func (b *BHS) U32(off int) uint32       { return b.u32(off) }
func (b *BHS) PutU32(off int, v uint32) { b.put32(off, v) }

// Opcode is byte 0 bits 0-5.
func (b *BHS) Opcode() Opcode { return Opcode(b[0] & 0x3f) }

// Immediate is the I bit (byte 0 bit 6), initiator PDUs only.
func (b *BHS) Immediate() bool { return b[0]&FlagImmediate0 != 0 }

// SetOpcode sets the opcode and the I bit.
func (b *BHS) SetOpcode(op Opcode, immediate bool) {
	b[0] = byte(op) & 0x3f
	if immediate {
		b[0] |= FlagImmediate0
	}
}

// Flags is byte 1 (F bit and opcode-specific flags).
func (b *BHS) Flags() byte { return b[1] }

// SetFlags sets byte 1.
func (b *BHS) SetFlags(f byte) { b[1] = f }

// Final reports the F bit.
func (b *BHS) Final() bool { return b[1]&FlagFinal != 0 }

// AHSLen is TotalAHSLength in bytes (byte 4 counts 4-byte words).
func (b *BHS) AHSLen() int { return int(b[4]) * 4 }

// DataLen is DataSegmentLength (bytes 5-7), without padding.
func (b *BHS) DataLen() int { return int(b[5])<<16 | int(b[6])<<8 | int(b[7]) }

// SetDataLen sets DataSegmentLength; n must be <= MaxDataSegmentLength.
func (b *BHS) SetDataLen(n int) { b[5], b[6], b[7] = byte(n>>16), byte(n>>8), byte(n) }

// LUN is bytes 8-15.
func (b *BHS) LUN() [8]byte { return [8]byte(b[8:16]) }

// SetLUN sets bytes 8-15.
func (b *BHS) SetLUN(l [8]byte) { copy(b[8:16], l[:]) }

// ITT is the Initiator Task Tag, bytes 16-19.
func (b *BHS) ITT() uint32     { return b.u32(16) }
func (b *BHS) SetITT(v uint32) { b.put32(16, v) }

// TTT is the Target Transfer Tag, bytes 20-23 (NOP, Data, R2T).
func (b *BHS) TTT() uint32     { return b.u32(20) }
func (b *BHS) SetTTT(v uint32) { b.put32(20, v) }

// ExpectedDataLen is a SCSI Command's Expected Data Transfer Length (20-23).
func (b *BHS) ExpectedDataLen() uint32     { return b.u32(20) }
func (b *BHS) SetExpectedDataLen(v uint32) { b.put32(20, v) }

// CmdSN is bytes 24-27 of initiator PDUs (Command, NOP-Out, Login, Logout, Text).
func (b *BHS) CmdSN() uint32     { return b.u32(24) }
func (b *BHS) SetCmdSN(v uint32) { b.put32(24, v) }

// ExpStatSN is bytes 28-31 of initiator PDUs.
func (b *BHS) ExpStatSN() uint32     { return b.u32(28) }
func (b *BHS) SetExpStatSN(v uint32) { b.put32(28, v) }

// CDB is the 16-byte CDB of a SCSI Command (bytes 32-47).
func (b *BHS) CDB() []byte { return b[32:48] }

// StatSN, ExpCmdSN and MaxCmdSN are bytes 24-35 of target PDUs.
func (b *BHS) StatSN() uint32   { return b.u32(24) }
func (b *BHS) ExpCmdSN() uint32 { return b.u32(28) }
func (b *BHS) MaxCmdSN() uint32 { return b.u32(32) }

// SetStatSN, SetExpCmdSN and SetMaxCmdSN set bytes 24-35 (used by tests
// that play the target).
func (b *BHS) SetStatSN(v uint32)   { b.put32(24, v) }
func (b *BHS) SetExpCmdSN(v uint32) { b.put32(28, v) }
func (b *BHS) SetMaxCmdSN(v uint32) { b.put32(32, v) }

// Response and Status are bytes 2 and 3 of a SCSI Response (RFC 7143 §11.4.2-3);
// Status is also byte 3 of a Data-In with the S bit.
func (b *BHS) Response() byte { return b[2] }
func (b *BHS) Status() byte   { return b[3] }

// DataSN is bytes 36-39 (Data-In, Data-Out); R2TSN in an R2T;
// ExpDataSN in a SCSI Response.
func (b *BHS) DataSN() uint32     { return b.u32(36) }
func (b *BHS) SetDataSN(v uint32) { b.put32(36, v) }

// BufferOffset is bytes 40-43 (Data-In, Data-Out, R2T).
func (b *BHS) BufferOffset() uint32     { return b.u32(40) }
func (b *BHS) SetBufferOffset(v uint32) { b.put32(40, v) }

// ResidualCount is bytes 44-47 (SCSI Response, Data-In).
func (b *BHS) ResidualCount() uint32 { return b.u32(44) }

// DesiredDataLen is an R2T's Desired Data Transfer Length (bytes 44-47).
func (b *BHS) DesiredDataLen() uint32 { return b.u32(44) }

// Login fields (RFC 7143 §11.12, §11.13).

// LoginStages returns CSG and NSG from byte 1.
func (b *BHS) LoginStages() (csg, nsg uint8) { return (b[1] >> 2) & 3, b[1] & 3 }

// SetLogin sets byte 1 of a Login Request: T, C, CSG, NSG.
func (b *BHS) SetLogin(transit, cont bool, csg, nsg uint8) {
	f := (csg&3)<<2 | nsg&3
	if transit {
		f |= FlagTransit
	}
	if cont {
		f |= FlagContinue
	}
	b[1] = f
}

// VersionMax and VersionMin (bytes 2, 3); in a Login Response byte 3 is
// Version-active.
func (b *BHS) VersionMax() byte { return b[2] }
func (b *BHS) VersionMin() byte { return b[3] }

// ISID is bytes 8-13, TSIH bytes 14-15 of login PDUs.
func (b *BHS) ISID() [6]byte      { return [6]byte(b[8:14]) }
func (b *BHS) SetISID(v [6]byte)  { copy(b[8:14], v[:]) }
func (b *BHS) TSIH() uint16       { return b.u16(14) }
func (b *BHS) SetTSIH(v uint16)   { b.put16(14, v) }
func (b *BHS) CID() uint16        { return b.u16(20) }
func (b *BHS) SetCID(v uint16)    { b.put16(20, v) }
func (b *BHS) StatusClass() byte  { return b[36] }
func (b *BHS) StatusDetail() byte { return b[37] }

// AsyncEvent codes of an Async Message (RFC 7143 §11.9.1).
const (
	AsyncSCSIEvent          = 0   // SCSI asynchronous event; sense data in the data segment
	AsyncLogoutRequest      = 1   // target requests Logout within Parameter3 seconds
	AsyncDropConnection     = 2   // target will drop this connection (Parameter1: CID)
	AsyncDropAllConnections = 3   // target will drop every connection of the session
	AsyncNegotiationRequest = 4   // target requests parameter negotiation
	AsyncTaskTermination    = 5   // all active tasks of a LU are being terminated
	AsyncVendorSpecific     = 255 // vendor-specific event (AsyncVCode)
)

// Reject reasons (RFC 7143 §11.17.1).
const (
	RejectDataDigest       = 0x02 // data (payload) digest error: the PDU was discarded
	RejectSNACK            = 0x03 // SNACK reject
	RejectProtocolError    = 0x04 // protocol error (e.g. SNACK for an already acknowledged status)
	RejectNotSupported     = 0x05 // command not supported
	RejectImmediate        = 0x06 // immediate command reject: too many immediate commands
	RejectTaskInProgress   = 0x07 // task in progress
	RejectInvalidDataAck   = 0x08 // invalid data ack
	RejectInvalidPDUField  = 0x09 // invalid PDU field
	RejectOutOfResources   = 0x0a // long op reject: cannot generate a Target Transfer Tag
	RejectWaitingForLogout = 0x0c // waiting for Logout (after an Async logout request)
)

// Logout reason codes, byte 1 bits 1-7 of a Logout Request (RFC 7143 §11.14.1).
const (
	LogoutCloseSession    = 0
	LogoutCloseConnection = 1
)

// Async Message fields (RFC 7143 §11.9).
func (b *BHS) AsyncEvent() byte        { return b[36] }
func (b *BHS) AsyncVCode() byte        { return b[37] }
func (b *BHS) AsyncParam(i int) uint16 { return b.u16(38 + 2*i) }

// RejectReason is byte 2 of a Reject (RFC 7143 §11.17.1).
func (b *BHS) RejectReason() byte { return b[2] }

// LogoutResponse is byte 2 of a Logout Response (RFC 7143 §11.15.1).
func (b *BHS) LogoutResponse() byte { return b[2] }

// Time2Wait and Time2Retain are bytes 40-43 of a Logout Response.
func (b *BHS) Time2Wait() uint16   { return b.u16(40) }
func (b *BHS) Time2Retain() uint16 { return b.u16(42) }
