package script

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/internal/testpki"
)

// certLine is certstat's line for c.
func certLine(c *x509.Certificate, flags string) string {
	return fmt.Sprintf("%s : %s%s\n", certstore.Name(c), certstore.Fingerprint(c), flags)
}

func TestCertCommands(t *testing.T) {
	root := testpki.New(t, testpki.CA("Test Root"), nil, nil)
	inter := testpki.New(t, testpki.CA("Test Intermediate"), root, nil)
	server := testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "boot.example.test"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.2")}}, inter, nil)
	chainPEM := string(inter.CertPEM()) + string(server.CertPEM())
	perm := testpki.New(t, testpki.CA("Built In"), nil, nil)

	tests := []struct {
		name   string
		script string
		status Errno
		out    string // the whole output
	}{
		{name: "empty store", script: "certstat\n", out: ""},
		{name: "certstore PEM chain from a URI: both added, explicit, image discarded",
			script: "certstore http://x/chain.pem\ncertstat\nimgstat\n",
			out:    certLine(server.Cert, " [EXPLICIT]") + certLine(inter.Cert, " [EXPLICIT]")},
		{name: "certstore --keep keeps the image", script: "certstore --keep http://x/inter.der\nimgstat\n",
			out: fmt.Sprintf("inter.der : %d bytes", len(inter.Cert.Raw))},
		{name: "certstore of a DER image by name", script: "imgfetch http://x/inter.der\ncertstore inter.der\ncertstat\n",
			out: certLine(inter.Cert, " [EXPLICIT]")},
		{name: "certstore --subject: the others are only cached",
			script: "certstore -s 10.0.0.2 http://x/chain.pem\ncertstat\n",
			out:    certLine(server.Cert, " [EXPLICIT]") + certLine(inter.Cert, "")},
		{name: "certstat --subject",
			script: "certstore http://x/chain.pem\ncertstat --subject boot.example.test\n",
			out:    certLine(server.Cert, " [EXPLICIT]")},
		{name: "certstat --subject without a match", script: "certstat -s nosuch.example.test\n", status: ENOENT,
			out: "\"nosuch.example.test\" : no such certificate\n"},
		{name: "certfree --subject", script: "certstore http://x/chain.pem\ncertfree -s boot.example.test\ncertstat\n",
			out: certLine(inter.Cert, " [EXPLICIT]")},
		{name: "certfree all leaves the permanent certificate", script: "certstore http://x/chain.pem\ncertfree\ncertstat\n",
			out: certLine(perm.Cert, " [PERMANENT]")},
		{name: "certstore of a script", script: "certstore http://x/boot.ipxe\n", status: ENOTSUP,
			out: "Could not parse certificate: Operation not supported (0x3c000083) [http://x/boot.ipxe: not a DER or PEM certificate]\n"},
		{name: "certstore of a broken PEM keeps the certificates before the error", script: "certstore http://x/broken.pem || certstat\n",
			out: "Could not parse certificate: Invalid argument (0x1c000082) [http://x/broken.pem: PEM certificate 2: x509: malformed certificate]\n" +
				certLine(inter.Cert, " [EXPLICIT]")},
		{name: "certstore of a missing image", script: "certstore http://x/nosuch.pem\n", status: ENOENT},
		{name: "certstat takes no argument", script: "certstat http://x/chain.pem\n", status: ERANGE,
			out: "Usage:\n\n  certstat [-s|--subject <subject>]\n\nSee https://ipxe.org/cmd/certstat for further information\n"},
		{name: "certstore --help", script: "certstore --help\n", status: ECANCELED,
			out: "Usage:\n\n  certstore [-s|--subject <subject>] [-k|--keep] [<uri|image>]\n\nSee https://ipxe.org/cmd/certstore for further information\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv()
			te.e.env.Certs = &certstore.Store{}
			te.e.env.Certs.AddPermanent(perm.Cert)
			te.fetch.files["http://x/chain.pem"] = chainPEM
			te.fetch.files["http://x/inter.der"] = string(inter.Cert.Raw)
			te.fetch.files["http://x/boot.ipxe"] = "#!ipxe\necho hi\n"
			te.fetch.files["http://x/broken.pem"] = string(inter.CertPEM()) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
			out, status, err := te.run(tc.script)
			if status != tc.status {
				t.Errorf("status %v (%v); want %v\n%s", status, err, tc.status, out)
			}
			// The permanent certificate is listed last (added first); the
			// cases that do not free all drop its line for brevity.
			if !strings.Contains(tc.name, "permanent") {
				out = strings.Replace(out, certLine(perm.Cert, " [PERMANENT]"), "", 1)
			}
			out = downloadLines(out)
			if tc.status == ENOENT && tc.out == "" {
				return
			}
			if strings.Contains(tc.name, "--keep") {
				if !strings.Contains(out, tc.out) {
					t.Errorf("output %q lacks %q", out, tc.out)
				}
				return
			}
			if out != tc.out {
				t.Errorf("output:\n%q\nwant:\n%q", out, tc.out)
			}
		})
	}
}

// downloadLines drops the download progress lines of fetched images and
// the line reporting that the script stopped.
func downloadLines(out string) string {
	var keep []string
	dropped := false
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "test.ipxe:") || dropped && l == "\n" {
			dropped = true
			continue
		}
		dropped = false
		keep = append(keep, l)
	}
	return strings.Join(keep, "")
}

// TestCertstoreCompletesImgverifyChain: a signature made without its
// intermediate CA verifies once certstore holds the intermediate; a root
// added with certstore is still not trusted.
func TestCertstoreCompletesImgverifyChain(t *testing.T) {
	root := testpki.New(t, testpki.CA("Signing Root"), nil, nil)
	inter := testpki.New(t, testpki.CA("Signing Intermediate"), root, nil)
	leaf := testpki.New(t, testpki.CodeSigner("signer.example.test"), inter, nil)
	other := testpki.New(t, testpki.CA("Other Root"), nil, nil)
	img := "#!ipxe\necho signed\n"
	for _, tc := range []struct {
		name    string
		anchors *testpki.Cert
		script  string
		status  Errno
		out     []string
	}{
		{"without the intermediate", root, "imgverify http://x/a.ipxe http://x/a.sig\n", EACCES, []string{"unknown signer"}},
		{"intermediate in the store", root, "certstore http://x/inter.pem\nimgverify http://x/a.ipxe http://x/a.sig\ncertstat\n", 0,
			[]string{certLine(leaf.Cert, " [VALIDATED]"), certLine(inter.Cert, " [EXPLICIT] [VALIDATED]")}},
		{"root in the store is no anchor", other, "certstore http://x/inter.pem\ncertstore http://x/root.pem\nimgverify http://x/a.ipxe http://x/a.sig\n", EACCES,
			[]string{"unknown signer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv()
			te.e.env.Trust = fakeTrust{pool: func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(tc.anchors.Cert); return p }()}
			te.fetch.files["http://x/a.ipxe"] = img
			te.fetch.files["http://x/a.sig"] = string(testpki.GoSign(t, []byte(img), nil, leaf))
			te.fetch.files["http://x/inter.pem"] = string(inter.CertPEM())
			te.fetch.files["http://x/root.pem"] = string(root.CertPEM())
			out, status, err := te.run(tc.script)
			if status != tc.status {
				t.Errorf("status %v (%v); want %v\n%s", status, err, tc.status, out)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
