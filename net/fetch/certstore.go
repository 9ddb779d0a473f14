package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	stdnet "net"
)

// dialTLS returns the https dialer for a configuration with a certificate
// store (nil without one: crypto/tls then verifies as usual). crypto/tls
// can only take intermediates from the server's own chain, so with a store
// the handshake skips its built-in verification and verifyChain does the
// same checks (the server name, or IP address, against the certificate;
// the chain to cfg.Trust's roots at cfg.Clock's time) with the store's
// certificates as extra intermediates.
func dialTLS(cfg HTTPConfig) func(ctx context.Context, network, addr string) (stdnet.Conn, error) {
	if cfg.Store == nil {
		return nil
	}
	return func(ctx context.Context, network, addr string) (stdnet.Conn, error) {
		host, _, err := stdnet.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		raw, err := cfg.Dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, &tls.Config{
			ServerName:         host,
			MinVersion:         tls.VersionTLS12,
			Time:               cfg.Clock.now,
			InsecureSkipVerify: true, // verifyChain verifies
			VerifyConnection: func(cs tls.ConnectionState) error {
				return verifyChain(cfg, host, cs.PeerCertificates)
			},
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

// verifyChain checks the server's certificates as crypto/tls would, with
// the store's certificates added to the intermediates, and caches the
// certificates in the store (marked Validated if the chain verified).
func verifyChain(cfg HTTPConfig, host string, certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	}
	opts := x509.VerifyOptions{
		DNSName:       host,
		Roots:         cfg.Trust.Pool,
		Intermediates: cfg.Store.Intermediates(certs[1:]...),
		CurrentTime:   cfg.Clock.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		cfg.Store.Seen(certs, false)
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	cfg.Store.Seen(certs, false)
	cfg.Store.SeenHeld(chains[0])
	return nil
}
