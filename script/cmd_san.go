package script

import (
	"context"
	"fmt"
	"strings"
)

// defaultSANDrive is the first hard disk number, the default SAN drive
// (iPXE san_default_drive without a san-drive setting).
const defaultSANDrive = 0x80

func sanOptions() []Option {
	return []Option{{"drive", 'd', true}, {"no-describe", 'n', false}, {"keep", 'k', false},
		{"filename", 'f', true}, {"extra", 'e', true}, {"label", 'l', true}, {"uuid", 'u', true}}
}

func sanCommands() []*Command {
	return []*Command{
		{Name: "sanboot", Summary: "Boot from a SAN disk", Usage: "[<root-path>...]", Options: sanOptions(), Max: -1, Run: sanbootRun},
		{Name: "sanhook", Summary: "Attach a SAN disk", Usage: "<root-path>...", Options: sanOptions(), Min: 1, Max: -1, Run: sanhookRun},
		{Name: "sanunhook", Summary: "Detach a SAN disk", Options: []Option{{"drive", 'd', true}}, Run: sanunhookRun},
	}
}

// defaultSANRetries is iPXE's SAN_DEFAULT_RETRIES.
const defaultSANRetries = 10

// sanConfig builds the SAN options from the command's options and the
// settings (san-drive, san-filename, and the credentials).
func (e *Engine) sanConfig(c *Call) (SANConfig, error) {
	cfg := SANConfig{Drive: defaultSANDrive}
	if v, ok := e.Settings.Get("san-drive"); ok {
		if n, err := parseInt(v); err == nil {
			cfg.Drive = n
		}
	}
	if c != nil {
		n, err := c.Int("drive", cfg.Drive)
		if err != nil {
			return cfg, err
		}
		cfg.Drive = n
		cfg.NoDescribe = c.Flag("no-describe")
		cfg.Keep = c.Flag("keep")
		cfg.Filename, _ = c.Value("filename")
		cfg.Extra, _ = c.Value("extra")
		cfg.Label, _ = c.Value("label")
		cfg.UUID, _ = c.Value("uuid")
	}
	if cfg.Filename == "" {
		cfg.Filename, _ = e.Settings.Get("san-filename")
	}
	cfg.Credentials = e.sanCredentials()
	cfg.Retries = defaultSANRetries
	if v, ok := e.Settings.Get("san-retries"); ok {
		if n, err := parseInt(v); err == nil && n >= 0 {
			cfg.Retries = n
		}
	}
	cfg.Hostname, _ = e.Settings.Get("hostname")
	return cfg, nil
}

func (e *Engine) sanCredentials() SANCredentials {
	get := func(n string) string { v, _ := e.Settings.Get(n); return v }
	return SANCredentials{
		InitiatorIQN:    get("initiator-iqn"),
		Username:        get("username"),
		Password:        get("password"),
		ReverseUsername: get("reverse-username"),
		ReversePassword: get("reverse-password"),
	}
}

func (e *Engine) sanHook(ctx context.Context, rootPaths []string, cfg SANConfig) (int, error) {
	drive, err := e.env.SAN.Hook(ctx, rootPaths, cfg)
	if err != nil {
		return 0, &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not open SAN device %s: %w", strings.Join(rootPaths, " "), err)}
	}
	e.printf("Registered SAN device %#02x\n", drive)
	return drive, nil
}

func (e *Engine) sanUnhook(ctx context.Context, drive int) error {
	if err := e.env.SAN.Unhook(ctx, drive); err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not unregister SAN device %#02x: %w", drive, err)}
	}
	e.printf("Unregistered SAN device %#02x\n", drive)
	return nil
}

func (e *Engine) sanBoot(ctx context.Context, drive int, cfg SANConfig) error {
	e.printf("Booting from SAN device %#02x\n", drive)
	if err := e.env.SAN.Boot(ctx, drive, cfg); err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not boot from SAN device %#02x: %w", drive, err)}
	}
	return nil
}

// sanboot hooks the root paths (if any), boots, and unless keep is set
// unhooks the drive it hooked when the boot fails or returns.
func (e *Engine) sanboot(ctx context.Context, rootPaths []string, cfg SANConfig) error {
	drive := cfg.Drive
	if len(rootPaths) > 0 {
		d, err := e.sanHook(ctx, rootPaths, cfg)
		if err != nil {
			return err
		}
		drive = d
	}
	err := e.sanBoot(ctx, drive, cfg)
	if len(rootPaths) > 0 && !cfg.Keep {
		if uerr := e.sanUnhook(context.WithoutCancel(ctx), drive); uerr != nil && err == nil {
			err = uerr
		}
	}
	return err
}

func sanbootRun(ctx context.Context, c *Call) error {
	if c.E.env.SAN == nil {
		return notAvailable(c.Name, "the SAN (iSCSI) support")
	}
	cfg, err := c.E.sanConfig(c)
	if err != nil {
		return err
	}
	return c.E.sanboot(ctx, c.Args, cfg)
}

func sanhookRun(ctx context.Context, c *Call) error {
	if c.E.env.SAN == nil {
		return notAvailable(c.Name, "the SAN (iSCSI) support")
	}
	cfg, err := c.E.sanConfig(c)
	if err != nil {
		return err
	}
	_, err = c.E.sanHook(ctx, c.Args, cfg)
	return err
}

func sanunhookRun(ctx context.Context, c *Call) error {
	if c.E.env.SAN == nil {
		return notAvailable(c.Name, "the SAN (iSCSI) support")
	}
	cfg, err := c.E.sanConfig(c)
	if err != nil {
		return err
	}
	return c.E.sanUnhook(ctx, cfg.Drive)
}
