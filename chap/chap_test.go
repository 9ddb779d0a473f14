package chap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestResponseVectors uses the "abc" test vectors of each hash's standard:
// with id='a', secret="b", challenge="c" the CHAP input id||secret||challenge
// is exactly "abc", so the response must equal the published digest. This
// proves the concatenation order of RFC 1994 §4.1.
func TestResponseVectors(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		want string
		src  string
	}{
		{MD5, "900150983cd24fb0d6963f7d28e17f72", "RFC 1321 §A.5"},
		{SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d", "RFC 3174 §7.3"},
		{SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "RFC 6234 §8.5"},
		{SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", "FIPS 202 example"},
	}
	for _, tt := range tests {
		got, err := tt.alg.Response('a', NewSecret("b"), []byte("c"))
		if err != nil {
			t.Fatalf("%v.Response: %v", tt.alg, err)
		}
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("%v.Response('a', \"b\", \"c\") = %x; want %s (%s)", tt.alg, got, tt.want, tt.src)
		}
		if len(got) != tt.alg.Size() {
			t.Errorf("%v.Size() = %d; response has %d bytes", tt.alg, tt.alg.Size(), len(got))
		}
		if !tt.alg.Verify('a', NewSecret("b"), []byte("c"), got) {
			t.Errorf("%v.Verify(own response) = false; want true", tt.alg)
		}
		bad := bytes.Clone(got)
		bad[len(bad)-1] ^= 1
		if tt.alg.Verify('a', NewSecret("b"), []byte("c"), bad) {
			t.Errorf("%v.Verify(flipped response) = true; want false", tt.alg)
		}
		if tt.alg.Verify('a', NewSecret("b"), []byte("c"), got[:len(got)-1]) {
			t.Errorf("%v.Verify(short response) = true; want false", tt.alg)
		}
	}
	if _, err := Algorithm(4).Response(1, NewSecret("x"), nil); err == nil {
		t.Errorf("Algorithm(4).Response succeeded; want error")
	}
}

func TestDecodeBinary(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{"0x0102ff", []byte{1, 2, 0xff}, false},
		{"0XABcd", []byte{0xab, 0xcd}, false},
		{"0x102", []byte{0x01, 0x02}, false}, // odd count: implied leading zero
		{"0bAQL/", []byte{1, 2, 0xff}, false},
		{"0BAQI=", []byte{1, 2}, false},
		{"0bAQI", nil, true}, // missing padding
		{"0B\r", nil, true},  // encoding/base64 would skip the CR: empty
		{"0bAQ\nI=", nil, true},
		{"0x", nil, true},
		{"0xzz", nil, true},
		{"1x00", nil, true},
		{"", nil, true},
		{"0y00", nil, true},
		{"0x" + strings.Repeat("00", MaxChallengeLen), make([]byte, MaxChallengeLen), false},
		{"0x" + strings.Repeat("00", MaxChallengeLen+1), nil, true},
	}
	for _, tt := range tests {
		got, err := DecodeBinary(tt.in)
		if (err != nil) != tt.wantErr || !bytes.Equal(got, tt.want) {
			t.Errorf("DecodeBinary(%.30q) = %x, %v; want %x, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := EncodeBinary([]byte{0, 0xab}); got != "0x00ab" {
		t.Errorf("EncodeBinary(00ab) = %q; want 0x00ab", got)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"5": MD5, "MD5": MD5, "sha1": SHA1, "SHA-256": SHA256, "7": SHA256, "sha3-256": SHA3_256, "8": SHA3_256} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseAlgorithm("sha512"); err == nil {
		t.Errorf("ParseAlgorithm(sha512) succeeded; want error")
	}
}

func TestNewChallenge(t *testing.T) {
	a, _ := NewChallenge(MD5)
	b, _ := NewChallenge(MD5)
	if len(a) != 16 || bytes.Equal(a, b) {
		t.Errorf("NewChallenge(MD5) twice = %x, %x; want two different 16-byte values", a, b)
	}
	if c, _ := NewChallenge(SHA256); len(c) != 32 {
		t.Errorf("len(NewChallenge(SHA256)) = %d; want 32", len(c))
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const pw = "hunter2-very-secret"
	c := Credentials{Username: "alice", Password: NewSecret(pw), ReverseUsername: "tgt", ReversePassword: NewSecret(pw + "-rev")}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, v := range []any{c, &c, c.Password, []any{c}, struct{ C Credentials }{c}} {
			out := fmt.Sprintf(f, v)
			if strings.Contains(out, "hunter2") || strings.Contains(out, hex.EncodeToString([]byte("hunter2"))) {
				t.Errorf("Sprintf(%q, %T) = %q reveals the secret", f, v, out)
			}
		}
	}
	if s := c.String(); !strings.Contains(s, "alice") || !strings.Contains(s, "[redacted]") {
		t.Errorf("Credentials.String() = %q; want user name and [redacted]", s)
	}
}

func TestCredentialsValidate(t *testing.T) {
	s := NewSecret
	tests := []struct {
		name string
		c    Credentials
		ok   bool
	}{
		{"none", Credentials{}, true},
		{"one-way", Credentials{Username: "u", Password: s("p")}, true},
		{"mutual", Credentials{Username: "u", Password: s("p"), ReverseUsername: "t", ReversePassword: s("q")}, true},
		{"user without password", Credentials{Username: "u"}, false},
		{"password without user", Credentials{Password: s("p")}, false},
		{"reverse without forward", Credentials{ReverseUsername: "t", ReversePassword: s("q")}, false},
		{"reverse user without password", Credentials{Username: "u", Password: s("p"), ReverseUsername: "t"}, false},
		{"identical secrets", Credentials{Username: "u", Password: s("p"), ReverseUsername: "t", ReversePassword: s("p")}, false},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok %t", tt.name, err, tt.ok)
		}
	}
}

// target simulates the target side of RFC 7143 §12.1.3 with the primitives.
type target struct {
	alg      Algorithm
	id       byte
	chal     []byte
	user     string
	secret   Secret
	outUser  string
	outSecr  Secret
	reflect  bool // send the initiator's own challenge back (set after)
	noAnswer bool // omit CHAP_R in the final step
}

func runExchange(t *testing.T, in *Initiator, tg *target, offerReply string) error {
	t.Helper()
	if err := in.SelectAlgorithm(offerReply); err != nil {
		return err
	}
	chal := tg.chal
	if tg.reflect {
		chal = in.chal
	}
	kv, err := in.Respond(fmt.Sprint(tg.id), EncodeBinary(chal))
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, p := range kv {
		got[p.Key] = p.Value
	}
	r, err := DecodeBinary(got["CHAP_R"])
	if err != nil {
		return err
	}
	if got["CHAP_N"] != tg.user || !tg.alg.Verify(tg.id, tg.secret, chal, r) {
		return errors.New("target refused initiator")
	}
	if _, ok := got["CHAP_C"]; !ok {
		return in.VerifyTarget("", "")
	}
	id, err := parseID(got["CHAP_I"])
	if err != nil {
		return err
	}
	c, err := DecodeBinary(got["CHAP_C"])
	if err != nil {
		return err
	}
	if tg.noAnswer {
		return in.VerifyTarget("", "")
	}
	resp, _ := tg.alg.Response(id, tg.outSecr, c)
	return in.VerifyTarget(tg.outUser, EncodeBinary(resp))
}

func TestInitiatorExchange(t *testing.T) {
	creds := Credentials{Username: "ini", Password: NewSecret("fwd-secret-1"), ReverseUsername: "tgt", ReversePassword: NewSecret("rev-secret-2")}
	oneWay := Credentials{Username: "ini", Password: NewSecret("fwd-secret-1")}
	good := func() *target {
		return &target{alg: SHA256, id: 7, chal: bytes.Repeat([]byte{0x5a}, 16), user: "ini", secret: NewSecret("fwd-secret-1"), outUser: "tgt", outSecr: NewSecret("rev-secret-2")}
	}
	tests := []struct {
		name     string
		creds    Credentials
		mod      func(*target)
		choice   string
		wantErr  bool
		wantAuth bool // error must wrap ErrTargetAuth
	}{
		{"mutual ok", creds, nil, "7", false, false},
		{"one-way ok", oneWay, nil, "7", false, false},
		{"mutual md5", creds, func(tg *target) { tg.alg = MD5 }, "5", false, false},
		{"mutual sha3", creds, func(tg *target) { tg.alg = SHA3_256 }, "8", false, false},
		{"wrong forward secret", creds, func(tg *target) { tg.secret = NewSecret("other") }, "7", true, false},
		{"wrong reverse secret", creds, func(tg *target) { tg.outSecr = NewSecret("other") }, "7", true, true},
		{"wrong reverse user", creds, func(tg *target) { tg.outUser = "mallory" }, "7", true, true},
		{"target skips CHAP_R", creds, func(tg *target) { tg.noAnswer = true }, "7", true, true},
		{"reflection", creds, func(tg *target) { tg.reflect = true }, "7", true, true},
		{"unoffered algorithm", creds, nil, "9", true, false},
		{"garbage algorithm", creds, nil, "md5", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := NewInitiator(tt.creds, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := in.OfferAlgorithms(); got != "8,7,6,5" {
				t.Errorf("OfferAlgorithms() = %q; want 8,7,6,5", got)
			}
			tg := good()
			if tt.mod != nil {
				tt.mod(tg)
			}
			err = runExchange(t, in, tg, tt.choice)
			if (err != nil) != tt.wantErr {
				t.Fatalf("exchange error = %v; want error %t", err, tt.wantErr)
			}
			if tt.wantAuth != errors.Is(err, ErrTargetAuth) {
				t.Errorf("errors.Is(%v, ErrTargetAuth) = %t; want %t", err, !tt.wantAuth, tt.wantAuth)
			}
			if err != nil && strings.Contains(err.Error(), "secret-") {
				t.Errorf("error %q reveals a secret", err)
			}
		})
	}
}

func TestInitiatorRefusesBadChallenges(t *testing.T) {
	in, _ := NewInitiator(Credentials{Username: "u", Password: NewSecret("p")}, []Algorithm{MD5})
	if err := in.SelectAlgorithm("5"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, chal string }{
		{"1", "0x" + strings.Repeat("ab", MaxChallengeLen+1)},
		{"256", "0x00"},
		{"-1", "0x00"},
		{"1", ""},
		{"1", "0b"},
	} {
		if _, err := in.Respond(c.id, c.chal); err == nil {
			t.Errorf("Respond(%q, %.20q...) succeeded; want error", c.id, c.chal)
		}
	}
	if _, err := NewInitiator(Credentials{}, nil); err == nil {
		t.Errorf("NewInitiator(no credentials) succeeded; want error")
	}
}

func FuzzDecodeBinary(f *testing.F) {
	for _, s := range []string{"0x00", "0bAA==", "0X1", "0b", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBinary(s)
		if err != nil {
			return
		}
		if len(b) > MaxChallengeLen {
			t.Fatalf("DecodeBinary(%q) returned %d bytes; limit %d", s, len(b), MaxChallengeLen)
		}
		if again, err := DecodeBinary(EncodeBinary(b)); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip of %x = %x, %v", b, again, err)
		}
	})
}
