package script

import (
	"context"
	"errors"

	"github.com/snp-go/snp-go/script/imgverify"
)

// TrustAnchors supplies the certificate authorities imgverify accepts a
// signer from: the embedded TRUST bundle where the build has one, else
// the platform's HTTPS trust.
type TrustAnchors interface {
	ImageTrust() (imgverify.Anchors, error)
}

// imageTrust is iPXE's image trust requirement (imgtrust).
type imageTrust struct {
	require   bool // boot/chain/imgexec refuse images not marked Trusted
	permanent bool // the script cannot change require any more
}

var errPermanent = errors.New("Trust requirement is permanent")

func trustCommands() []*Command {
	return []*Command{
		{Name: "imgtrust", Summary: "Require (or, with --allow, stop requiring) verified images",
			Options: []Option{{"allow", 'a', false}, {"permanent", 'p', false}}, Run: imgtrustRun},
		{Name: "imgverify", Summary: "Verify an image's detached CMS signature", Usage: "<uri|image> <signature uri|image>",
			Options: []Option{{"signer", 's', true}, {"keep", 'k', false}, {"timeout", 't', true}, {"quiet", 'q', false}},
			Min:     2, Max: 2, Run: imgverifyRun},
	}
}

// imgtrust [--allow] [--permanent] (iPXE image_set_trust): once the
// requirement is permanent, only a request for what is already in force
// succeeds.
func imgtrustRun(ctx context.Context, c *Call) error {
	t := &c.E.trust
	require := !c.Flag("allow")
	if !t.permanent {
		t.require, t.permanent = require, c.Flag("permanent")
	}
	if t.require != require {
		return Errorf(EACCES, "Could not set image trust requirement: %w (imgtrust --permanent is in force)", errPermanent)
	}
	return nil
}

// checkTrusted refuses to execute an unverified image while imgtrust is
// in force (iPXE image_exec: "Untrusted image").
func (e *Engine) checkTrusted(img *Image) error {
	if e.trust.require && !img.Trusted {
		return Errorf(EACCES, "Untrusted image: %s has not been verified with imgverify, and imgtrust requires it", img.Name)
	}
	return nil
}

// imgverify [--signer NAME] [--keep] [--timeout MS] [--quiet] IMAGE
// SIGNATURE: acquire both, verify, mark the image trusted; the signature
// image is freed afterwards unless --keep, also when verification fails.
func imgverifyRun(ctx context.Context, c *Call) error {
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	acquire := func(nameOrURI string) (*Image, error) {
		actx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return c.acquire(actx, nameOrURI)
	}
	img, err := acquire(c.Args[0])
	if err != nil {
		return err
	}
	sig, err := acquire(c.Args[1])
	if err != nil {
		return err
	}
	if !c.Flag("keep") {
		defer c.E.unregister(sig.Name)
	}
	// iPXE cms_verify: the image is untrusted until it verifies again.
	img.Trusted = false
	if c.E.env.Trust == nil {
		return notAvailable("imgverify", "trust anchors: none in this build")
	}
	anchors, err := c.E.env.Trust.ImageTrust()
	if err != nil {
		return Errorf(EACCES, "Could not verify: trust anchors: %w", err)
	}
	signer, _ := c.Value("signer")
	if _, err := imgverify.Verify(imgverify.Request{Image: img.Data, ImageName: img.Name, Signature: sig.Data, SignatureName: sig.Name,
		Signer: signer, Anchors: anchors, Now: c.E.env.Now(), Store: c.E.certStore()}); err != nil {
		return Errorf(EACCES, "Could not verify: %w", err)
	}
	img.Trusted = true
	return nil
}
