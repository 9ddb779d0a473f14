package iscsi

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi/pdu"
)

// Login stages (RFC 7143 §11.12.3).
const (
	stageSecurity    = 0
	stageOperational = 1
	stageFullFeature = 3
)

// LoginError is a login the target refused with a non-zero status
// (RFC 7143 §11.13.5).
type LoginError struct {
	Portal, Target string
	Class, Detail  byte
}

var loginStatus = map[uint16]struct{ text, hint string }{
	0x0101: {"target moved temporarily", ""},
	0x0102: {"target moved permanently", ""},
	0x0200: {"initiator error", "the target did not like our request"},
	0x0201: {"authentication failure", "check username and password (the target's incoming account)"},
	0x0202: {"authorization failure", "the target's ACL does not admit this initiator name or address"},
	0x0203: {"target not found", "check the target name in the root path"},
	0x0204: {"target removed", "the target no longer exists"},
	0x0205: {"unsupported version", ""},
	0x0206: {"too many connections", ""},
	0x0207: {"missing parameter", ""},
	0x0208: {"can't include in session", ""},
	0x0209: {"session type not supported", ""},
	0x020a: {"session does not exist", ""},
	0x020b: {"invalid request during login", ""},
	0x0300: {"target error", "try again later"},
	0x0301: {"service unavailable", "try again later"},
	0x0302: {"out of resources", "try again later"},
}

func (e *LoginError) Error() string {
	s, ok := loginStatus[uint16(e.Class)<<8|uint16(e.Detail)]
	if !ok {
		s.text = map[byte]string{1: "redirection", 2: "initiator error", 3: "target error"}[e.Class]
		if s.text == "" {
			s.text = "unknown status"
		}
	}
	msg := fmt.Sprintf("iscsi: login to %s at %s refused: %s (status class 0x%02x detail 0x%02x)", e.Target, e.Portal, s.text, e.Class, e.Detail)
	if s.hint != "" {
		msg += "; " + s.hint
	}
	return msg
}

// Temporary reports whether trying again later may succeed (class 3,
// target errors).
func (e *LoginError) Temporary() bool { return e.Class == 3 }

// permanentError marks login failures that a reconnect cannot fix
// (authentication, configuration).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// algFallback is a login that failed right after the target chose alg and
// got our response: some targets misnumber algorithms (tgt takes CHAP_A=7
// for SHA-1). The login is retried without alg.
type algFallback struct {
	err error
	alg chap.Algorithm
}

func (e *algFallback) Error() string { return e.err.Error() }
func (e *algFallback) Unwrap() error { return e.err }

// redirect is a login answered with TargetAddress (status class 1).
type redirect struct {
	addr      string
	permanent bool
}

func (r *redirect) Error() string { return "iscsi: login redirected to " + r.addr }

// params are the negotiated operational parameters (RFC 7143 §13).
type params struct {
	headerDigest, dataDigest bool
	maxRecvDSL               int // ours: the target sends us at most this per PDU
	maxXmitDSL               int // the target's MaxRecvDataSegmentLength
	maxBurst, firstBurst     int
	immediateData            bool
	initialR2T               bool
	maxOutstandingR2T        int
	tsih                     uint16
	targetAlias              string
}

// offer is one operational key we propose, with the check of the answer.
type offer struct {
	key, value string
	apply      func(p *params, answer string) error
}

func yesNo(v string) (bool, error) {
	switch v {
	case "Yes":
		return true, nil
	case "No":
		return false, nil
	}
	return false, fmt.Errorf("want Yes or No, got %q", v)
}

func number(v string, lo, hi int) (int, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || int(n) < lo || int(n) > hi {
		return 0, fmt.Errorf("want a number in %d..%d, got %q", lo, hi, v)
	}
	return int(n), nil
}

// operationalOffers lists our proposals with the RFC's result functions.
func (s *settings) operationalOffers() []offer {
	digest := "None"
	if s.Digests {
		digest = "CRC32C,None"
	}
	digestApply := func(dst func(*params) *bool) func(*params, string) error {
		return func(p *params, v string) error {
			switch {
			case v == "CRC32C" && s.Digests:
				*dst(p) = true
			case v == "None":
				*dst(p) = false
			default:
				return fmt.Errorf("we offered %s, target chose %q", digest, v)
			}
			return nil
		}
	}
	burst := max(512, min(s.MaxTransferLength, 1<<24-1))
	return []offer{
		{"HeaderDigest", digest, digestApply(func(p *params) *bool { return &p.headerDigest })},
		{"DataDigest", digest, digestApply(func(p *params) *bool { return &p.dataDigest })},
		// §13.10 InitialR2T: result function OR. We offer No, so unsolicited
		// data is allowed unless the target insists.
		{"InitialR2T", "No", func(p *params, v string) (err error) { p.initialR2T, err = yesNo(v); return }},
		// §13.11 ImmediateData: AND.
		{"ImmediateData", "Yes", func(p *params, v string) (err error) { p.immediateData, err = yesNo(v); return }},
		// §13.12 declarative: the target may send us PDUs of this size.
		{"MaxRecvDataSegmentLength", strconv.Itoa(s.MaxRecvDataSegmentLength), nil},
		// §13.13 MaxBurstLength: minimum.
		{"MaxBurstLength", strconv.Itoa(burst), func(p *params, v string) (err error) {
			p.maxBurst, err = number(v, 512, burst)
			return
		}},
		// §13.14 FirstBurstLength: minimum, and not above MaxBurstLength.
		{"FirstBurstLength", strconv.Itoa(burst), func(p *params, v string) (err error) {
			p.firstBurst, err = number(v, 512, burst)
			return
		}},
		// §13.15/16 DefaultTime2Wait (max) and DefaultTime2Retain (min): 0, as
		// iPXE, so that a new session can start at once after a failure.
		{"DefaultTime2Wait", "0", func(p *params, v string) error { _, err := number(v, 0, 3600); return err }},
		{"DefaultTime2Retain", "0", func(p *params, v string) error { _, err := number(v, 0, 0); return err }},
		// §13.17 MaxOutstandingR2T: minimum.
		{"MaxOutstandingR2T", "1", func(p *params, v string) (err error) { p.maxOutstandingR2T, err = number(v, 1, 1); return }},
		// §13.18/19 DataPDUInOrder, DataSequenceInOrder: OR; we need Yes.
		{"DataPDUInOrder", "Yes", func(p *params, v string) error { return mustYes(v) }},
		{"DataSequenceInOrder", "Yes", func(p *params, v string) error { return mustYes(v) }},
		// §13.20 ErrorRecoveryLevel: minimum; we implement level 0.
		{"ErrorRecoveryLevel", "0", func(p *params, v string) error { _, err := number(v, 0, 0); return err }},
		// §13.2 MaxConnections: minimum; one connection per session.
		{"MaxConnections", "1", func(p *params, v string) error { _, err := number(v, 1, 1); return err }},
	}
}

func mustYes(v string) error {
	if v != "Yes" {
		return fmt.Errorf("we need Yes, target answered %q", v)
	}
	return nil
}

// loginExchange sends one Login Request and reads the complete Login
// Response (following the C bit), returning the response header and text.
func (c *conn) loginExchange(transit bool, csg, nsg uint8, text pdu.Text) (*pdu.BHS, pdu.Text, error) {
	var req pdu.BHS
	buf := text.Append(c.txtBuf[:0])
	c.txtBuf = buf
	var all []byte
	for {
		req.Reset()
		req.SetOpcode(pdu.OpLoginReq, true)
		req.SetLogin(transit, false, csg, nsg)
		req.SetISID(c.s.isid)
		req.SetTSIH(0)
		req.SetITT(loginITT)
		req.SetCID(1)
		req.SetCmdSN(c.cmdSN)
		req.SetExpStatSN(c.statSN + 1)
		if err := c.w.Write(&req, buf); err != nil {
			return nil, nil, err
		}
		if err := c.w.Flush(); err != nil {
			return nil, nil, err
		}
		if err := c.r.Next(); err != nil {
			return nil, nil, fmt.Errorf("reading Login Response: %w", err)
		}
		h := &c.r.BHS
		if h.Opcode() != pdu.OpLoginResp {
			if h.Opcode() == pdu.OpReject {
				return nil, nil, fmt.Errorf("target rejected our Login Request (reason 0x%02x)", h.RejectReason())
			}
			return nil, nil, fmt.Errorf("got %v during login, want Login Response", h.Opcode())
		}
		if h.ITT() != loginITT {
			return nil, nil, fmt.Errorf("Login Response for task 0x%x, want 0x%x", h.ITT(), loginITT)
		}
		if h.VersionMin() != 0 {
			return nil, nil, permanent(fmt.Errorf("target speaks iSCSI version %d, we speak 0 (RFC 7143)", h.VersionMin()))
		}
		d, err := c.r.Data()
		if err != nil {
			return nil, nil, err
		}
		all = append(all, d...)
		c.statSN = h.StatSN()
		c.expCmdSN, c.maxCmdSN = h.ExpCmdSN(), h.MaxCmdSN()
		if h.StatusClass() != 0 {
			t, _ := pdu.ParseText(all)
			if h.StatusClass() == 1 {
				if addr, ok := t.Get("TargetAddress"); ok {
					return nil, nil, &redirect{addr: addr, permanent: h.StatusDetail() == 2}
				}
			}
			le := &LoginError{Portal: c.portal, Target: c.s.Target, Class: h.StatusClass(), Detail: h.StatusDetail()}
			if le.Temporary() {
				return nil, nil, le
			}
			return nil, nil, permanent(le)
		}
		if h.Flags()&pdu.FlagContinue == 0 {
			resp := *h
			t, err := pdu.ParseText(all)
			if err != nil {
				return nil, nil, err
			}
			return &resp, t, nil
		}
		// RFC 7143 §11.12.2: answer a continued response with an empty
		// request to get the rest.
		buf, transit = nil, false
		if len(all) > 64<<10 {
			return nil, nil, errors.New("login response text longer than 64 KiB")
		}
	}
}

// login runs the login phase on c's fresh connection (RFC 7143 §6.3).
func (c *conn) login() error {
	s := c.s
	creds := s.Credentials
	base := pdu.Text{
		{Key: "InitiatorName", Value: s.InitiatorName},
		{Key: "SessionType", Value: "Normal"},
		{Key: "TargetName", Value: s.Target},
	}
	var ci *chap.Initiator
	auth := "None"
	if creds.Enabled() {
		var err error
		if ci, err = chap.NewInitiator(creds, s.CHAPAlgorithms); err != nil {
			return permanent(err)
		}
		auth = "CHAP,None"
		if creds.Mutual() {
			auth = "CHAP" // the target must prove itself: None is not acceptable
		}
	}

	// Security negotiation (RFC 7143 §6.3.1, §12.1.3).
	h, t, err := c.loginExchange(ci == nil, stageSecurity, stageOperational, append(base, pdu.KV{Key: "AuthMethod", Value: auth}))
	if err != nil {
		return c.loginFailed(err, ci != nil)
	}
	method, _ := t.Get("AuthMethod")
	c.noteTarget(t)
	switch method {
	case "CHAP":
		if ci == nil {
			return permanent(fmt.Errorf("iscsi: target %s requires CHAP but no username/password is configured", s.Target))
		}
		h, t, err = c.loginExchange(false, stageSecurity, stageOperational, pdu.Text{{Key: "CHAP_A", Value: ci.OfferAlgorithms()}})
		if err != nil {
			return c.loginFailed(err, true)
		}
		a, _ := t.Get("CHAP_A")
		if err := ci.SelectAlgorithm(a); err != nil {
			return permanent(fmt.Errorf("iscsi: target %s: %w", s.Target, err))
		}
		id, _ := t.Get("CHAP_I")
		ch, _ := t.Get("CHAP_C")
		kv, err := ci.Respond(id, ch)
		if err != nil {
			return permanent(fmt.Errorf("iscsi: target %s: %w", s.Target, err))
		}
		var out pdu.Text
		for _, p := range kv {
			out = append(out, pdu.KV{Key: p.Key, Value: p.Value})
		}
		h, t, err = c.loginExchange(true, stageSecurity, stageOperational, out)
		var le *LoginError
		if errors.As(err, &le) && le.Class == 2 && le.Detail == 0 && ci.Algorithm() == chap.SHA256 {
			// tgt (1.0.x) takes CHAP_A=7 for SHA-1 and then chokes on our
			// 32-byte SHA-256 response with "initiator error".
			return &algFallback{err: err, alg: chap.SHA256}
		}
		if err != nil {
			return c.loginFailed(err, true)
		}
		n, _ := t.Get("CHAP_N")
		r, _ := t.Get("CHAP_R")
		if err := ci.VerifyTarget(n, r); err != nil {
			return permanent(fmt.Errorf("iscsi: refusing target %s at %s: %w", s.Target, c.portal, err))
		}
		s.logf("iscsi: %s: CHAP (%v%s) accepted", s.Target, ci.Algorithm(), map[bool]string{true: ", mutual"}[creds.Mutual()])
	case "None":
		if creds.Mutual() {
			return permanent(fmt.Errorf("iscsi: refusing target %s: it chose AuthMethod=None but mutual CHAP is configured: %w", s.Target, chap.ErrTargetAuth))
		}
	case "":
		if ci != nil && creds.Mutual() {
			return permanent(fmt.Errorf("iscsi: refusing target %s: it skipped authentication but mutual CHAP is configured: %w", s.Target, chap.ErrTargetAuth))
		}
	default:
		if ci == nil {
			return permanent(fmt.Errorf("iscsi: target %s answered AuthMethod=%s to our None: it probably requires CHAP, but no username/password is configured", s.Target, method))
		}
		return permanent(fmt.Errorf("iscsi: target %s answered AuthMethod=%s to our %s", s.Target, method, auth))
	}
	// Move on to operational negotiation if the target has not yet.
	for i := 0; ; i++ {
		csg, nsg := h.LoginStages()
		if h.Flags()&pdu.FlagTransit != 0 && csg == stageSecurity && nsg == stageOperational {
			break
		}
		if h.Flags()&pdu.FlagTransit != 0 && nsg == stageFullFeature {
			return fmt.Errorf("iscsi: target %s skipped operational negotiation", s.Target)
		}
		if i == 4 {
			return fmt.Errorf("iscsi: target %s does not leave the security stage", s.Target)
		}
		if h, t, err = c.loginExchange(true, stageSecurity, stageOperational, nil); err != nil {
			return c.loginFailed(err, ci != nil)
		}
	}
	return c.negotiate()
}

// loginFailed explains a login failure; chapOffered says whether we
// offered CHAP.
func (c *conn) loginFailed(err error, chapOffered bool) error {
	var le *LoginError
	if errors.As(err, &le) && le.Class == 2 && le.Detail == 1 && !chapOffered {
		return permanent(fmt.Errorf("%w; no username/password is configured but the target requires CHAP", err))
	}
	if _, ok := err.(*redirect); ok {
		return err
	}
	if errors.As(err, &le) {
		return err
	}
	return fmt.Errorf("iscsi: login to %s at %s: %w", c.s.Target, c.portal, err)
}

func (c *conn) noteTarget(t pdu.Text) {
	if v, ok := t.Get("TargetAlias"); ok {
		c.p.targetAlias = v
	}
}

// negotiate runs the operational stage (RFC 7143 §6.3.2, §13).
func (c *conn) negotiate() error {
	s := c.s
	offers := s.operationalOffers()
	p := params{
		maxRecvDSL: s.MaxRecvDataSegmentLength, maxXmitDSL: 8192, // §13.12 default
		maxBurst: 262144, firstBurst: 65536, initialR2T: true, immediateData: true, maxOutstandingR2T: 1,
	}
	var out pdu.Text
	for _, o := range offers {
		out = append(out, pdu.KV{Key: o.key, Value: o.value})
	}
	answered := map[string]bool{}
	for round := 0; ; round++ {
		if round == 8 {
			return fmt.Errorf("iscsi: target %s: operational negotiation does not finish", s.Target)
		}
		h, t, err := c.loginExchange(true, stageOperational, stageFullFeature, out)
		if err != nil {
			return c.loginFailed(err, s.Credentials.Enabled())
		}
		out = nil
		for _, kv := range t {
			if err := c.applyKey(&p, offers, answered, kv, &out); err != nil {
				return permanent(fmt.Errorf("iscsi: target %s: negotiating %s: %w", s.Target, kv.Key, err))
			}
		}
		c.noteTarget(t)
		csg, nsg := h.LoginStages()
		if h.Flags()&pdu.FlagTransit != 0 && nsg == stageFullFeature && csg == stageOperational {
			p.tsih = h.TSIH()
			break
		}
	}
	if p.firstBurst > p.maxBurst {
		return permanent(fmt.Errorf("iscsi: target %s: FirstBurstLength %d > MaxBurstLength %d", s.Target, p.firstBurst, p.maxBurst))
	}
	c.p = p
	return nil
}

// applyKey records one key from the target: an answer to our offer, a
// declaration, or a proposal we must answer in the next request.
func (c *conn) applyKey(p *params, offers []offer, answered map[string]bool, kv pdu.KV, out *pdu.Text) error {
	switch kv.Key {
	case "MaxRecvDataSegmentLength": // the target's declaration (§13.12)
		n, err := number(kv.Value, 512, 1<<24-1)
		if err != nil {
			return err
		}
		p.maxXmitDSL = n
		return nil
	case "TargetAlias", "TargetPortalGroupTag", "TargetAddress":
		return nil
	}
	for _, o := range offers {
		if o.key != kv.Key {
			continue
		}
		switch kv.Value {
		case "NotUnderstood", "Irrelevant", "Reject":
			answered[kv.Key] = true
			return nil // the key keeps its default
		}
		if o.apply == nil {
			return nil
		}
		if answered[kv.Key] {
			return nil // a repeat; RFC 7143 §6.2 forbids renegotiation
		}
		answered[kv.Key] = true
		return o.apply(p, kv.Value)
	}
	switch kv.Value {
	case "NotUnderstood", "Irrelevant", "Reject":
		return nil
	}
	// A key we did not offer and do not know: answer NotUnderstood (§6.2).
	*out = append(*out, pdu.KV{Key: kv.Key, Value: "NotUnderstood"})
	return nil
}

// parseTargetAddress turns a TargetAddress value (RFC 7143 §13.8:
// domainname[:port][,portal-group-tag]) into host:port.
func parseTargetAddress(v string) (string, error) {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	if v == "" {
		return "", errors.New("iscsi: empty TargetAddress")
	}
	if host, port, err := net.SplitHostPort(v); err == nil {
		return net.JoinHostPort(host, port), nil
	}
	return net.JoinHostPort(strings.Trim(v, "[]"), strconv.Itoa(DefaultPort)), nil
}
