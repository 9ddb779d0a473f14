package script

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/snp-go/snp-go/internal/certstore"
)

// certCommands are iPXE's certificate management commands
// (hci/commands/cert_cmd.c). The store holds certificates, not trust:
// its certificates complete the chains of HTTPS servers and imgverify
// signatures, while trust comes only from the build's roots.
func certCommands() []*Command {
	subject := Option{"subject", 's', true}
	return []*Command{
		{Name: "certstat", Summary: "Show the certificates in the certificate store",
			Options: []Option{subject}, Run: certRun(certstatPayload)},
		{Name: "certstore", Summary: "Add certificates to the certificate store", Usage: "[<uri|image>]",
			Options: []Option{subject, {"keep", 'k', false}}, Max: 1, Run: certRun(certstorePayload)},
		{Name: "certfree", Summary: "Remove certificates from the certificate store",
			Options: []Option{subject}, Run: certRun(certfreePayload)},
	}
}

// certStore is the environment's store, or the engine's own.
func (e *Engine) certStore() *certstore.Store {
	if e.env.Certs == nil {
		e.env.Certs = &certstore.Store{}
	}
	return e.env.Certs
}

// certRun is iPXE's cert_exec: run payload on every certificate of the
// image named (each is added to the store as it is parsed) or, without
// one, of the store; with --subject only on those for that name, failing
// with ENOENT if there is none. The image is discarded afterwards unless
// --keep.
func certRun(payload func(*Call, *certstore.Store, *x509.Certificate)) func(context.Context, *Call) error {
	return func(ctx context.Context, c *Call) error {
		st := c.E.certStore()
		var certs []*x509.Certificate
		var parseErr error
		fromImage := len(c.Args) > 0
		if fromImage {
			img, err := c.acquire(ctx, c.Args[0])
			if err != nil {
				return err
			}
			if !c.Flag("keep") {
				defer c.E.unregister(img.Name)
			}
			certs, parseErr = certstore.Parse(img.Data)
		} else {
			certs = st.Certificates()
		}
		subject, named := c.Value("subject")
		n := 0
		for _, x := range certs {
			if fromImage {
				st.Add(x)
			}
			if named && !certstore.MatchName(x, subject) {
				continue
			}
			payload(c, st, x)
			n++
		}
		if parseErr != nil {
			no := EINVAL
			if errors.Is(parseErr, certstore.ErrFormat) {
				no = ENOTSUP
			}
			return saidf(no, "Could not parse certificate: %s [%s: %v]", no, c.Args[0], parseErr)
		}
		if named && n == 0 {
			return saidf(ENOENT, "%q : no such certificate", subject)
		}
		return nil
	}
}

// certstatPayload prints iPXE's certstat line: name, SHA-1 fingerprint
// and flags.
func certstatPayload(c *Call, st *certstore.Store, x *x509.Certificate) {
	e := certEntry(st, x)
	c.E.printf("%s : %s", certstore.Name(x), certstore.Fingerprint(x))
	if e.Permanent {
		c.E.printf(" [PERMANENT]")
	}
	if e.Explicit {
		c.E.printf(" [EXPLICIT]")
	}
	if e.Validated {
		c.E.printf(" [VALIDATED]")
	}
	c.E.printf("\n")
}

func certstorePayload(c *Call, st *certstore.Store, x *x509.Certificate) { st.AddExplicit(x) }

func certfreePayload(c *Call, st *certstore.Store, x *x509.Certificate) { st.Remove(x) }

func certEntry(st *certstore.Store, x *x509.Certificate) certstore.Cert {
	for _, e := range st.List() {
		if e.X509.Equal(x) {
			return e
		}
	}
	return certstore.Cert{X509: x}
}
