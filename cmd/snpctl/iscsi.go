package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi"
)

func init() {
	register("iscsi", "check an iSCSI SAN boot target: inquiry, capacity, read, write, bench", runISCSI)
}

const iscsiUsage = `usage: snpctl iscsi SUBCOMMAND [flags] ROOTPATH

ROOTPATH is an iPXE root path: iscsi:<server>:<protocol>:<port>:<LUN>:<targetname>

subcommands:
  inquiry    log in and show the LUN's identity, geometry and negotiated parameters
  capacity   print the LUN's size: blocks, block size, bytes
  read       copy the LUN (or --lba/--blocks of it) to --output (default stdout)
  write      copy --input onto the LUN at --lba (needs --yes)
  bench      sequential read throughput at --request-size and --queue-depth

Credentials come from flags or, so that secrets stay off the command line,
from the environment: SNP_USERNAME, SNP_PASSWORD, SNP_REVERSE_USERNAME,
SNP_REVERSE_PASSWORD, SNP_INITIATOR_IQN (the same names as iPXE's settings
username, password, reverse-username, reverse-password, initiator-iqn).

flags:
`

// iscsiFlags are the flags every iscsi subcommand takes.
type iscsiFlags struct {
	fs                               *pflag.FlagSet
	username, password               string
	reverseUsername, reversePassword string
	initiatorIQN                     string
	algorithms                       []string
	digests, verbose                 bool
	timeout                          time.Duration
	reconnects, queueDepth, maxXfer  int
	lba, blocks                      uint64
	output, input                    string
	yes                              bool
	requestSize, workers             int
	duration                         time.Duration
}

func newISCSIFlags(sub string) *iscsiFlags {
	f := &iscsiFlags{fs: pflag.NewFlagSet("snpctl iscsi "+sub, pflag.ContinueOnError)}
	fs := f.fs
	fs.StringVar(&f.username, "username", os.Getenv("SNP_USERNAME"), "CHAP user name (env SNP_USERNAME)")
	fs.StringVar(&f.password, "password", "", "CHAP secret (env SNP_PASSWORD; prefer the environment)")
	fs.StringVar(&f.reverseUsername, "reverse-username", os.Getenv("SNP_REVERSE_USERNAME"), "mutual CHAP: the target's user name (env SNP_REVERSE_USERNAME)")
	fs.StringVar(&f.reversePassword, "reverse-password", "", "mutual CHAP: the target's secret (env SNP_REVERSE_PASSWORD)")
	fs.StringVar(&f.initiatorIQN, "initiator-iqn", os.Getenv("SNP_INITIATOR_IQN"), "initiator name (env SNP_INITIATOR_IQN; default iqn.2010-04.org.ipxe:<hostname>)")
	fs.StringSliceVar(&f.algorithms, "chap-algorithms", nil, "CHAP algorithms to offer, preferred first (default sha3-256,sha256,sha1,md5)")
	fs.BoolVar(&f.digests, "digests", false, "offer CRC32C header and data digests")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "per-command and login timeout")
	fs.IntVar(&f.reconnects, "reconnects", 10, "reconnect attempts per failing operation (-1: none)")
	fs.IntVarP(&f.queueDepth, "queue-depth", "q", 16, "commands in flight")
	fs.IntVar(&f.maxXfer, "max-transfer", 256<<10, "bytes per SCSI command (also bounded by MaxBurstLength)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log logins, reconnects and retries to stderr")
	switch sub {
	case "read":
		fs.Uint64Var(&f.lba, "lba", 0, "first block")
		fs.Uint64Var(&f.blocks, "blocks", 0, "number of blocks (default: to the end)")
		fs.StringVarP(&f.output, "output", "o", "-", "output file (- for stdout)")
	case "write":
		fs.Uint64Var(&f.lba, "lba", 0, "first block")
		fs.StringVarP(&f.input, "input", "i", "", "input file (its size must be a multiple of the block size)")
		fs.BoolVar(&f.yes, "yes", false, "really overwrite the LUN")
	case "bench":
		fs.IntVar(&f.requestSize, "request-size", 64<<10, "bytes per read request")
		fs.IntVar(&f.workers, "workers", 0, "goroutines issuing requests (default: --queue-depth); with 1 worker, requests larger than --max-transfer are pipelined inside ReadBlocks")
		fs.DurationVar(&f.duration, "duration", 5*time.Second, "how long to read")
	}
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, iscsiUsage)
		fs.PrintDefaults()
	}
	return f
}

// config builds the iscsi.Config from flags and environment.
func (f *iscsiFlags) config(rootPath string) (iscsi.Config, error) {
	if f.password == "" {
		f.password = os.Getenv("SNP_PASSWORD")
	}
	if f.reversePassword == "" {
		f.reversePassword = os.Getenv("SNP_REVERSE_PASSWORD")
	}
	iqn := f.initiatorIQN
	if iqn == "" {
		host, _ := os.Hostname()
		var err error
		if iqn, err = iscsi.DefaultInitiatorName(host, [16]byte{}); err != nil {
			return iscsi.Config{}, err
		}
	}
	var algs []chap.Algorithm
	for _, a := range f.algorithms {
		alg, err := chap.ParseAlgorithm(a)
		if err != nil {
			return iscsi.Config{}, err
		}
		algs = append(algs, alg)
	}
	cfg := iscsi.Config{
		RootPath:      rootPath,
		InitiatorName: iqn,
		Credentials: chap.Credentials{
			Username: f.username, Password: chap.NewSecret(f.password),
			ReverseUsername: f.reverseUsername, ReversePassword: chap.NewSecret(f.reversePassword),
		},
		CHAPAlgorithms:    algs,
		Digests:           f.digests,
		CommandTimeout:    f.timeout,
		MaxReconnects:     f.reconnects,
		QueueDepth:        f.queueDepth,
		MaxTransferLength: f.maxXfer,
	}
	if f.reconnects == 0 {
		cfg.MaxReconnects = -1
	}
	if f.verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	return cfg, nil
}

func runISCSI(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, iscsiUsage)
		newISCSIFlags("").fs.PrintDefaults()
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	sub := args[0]
	run, ok := map[string]func(context.Context, *iscsiFlags, *iscsi.Disk) error{
		"inquiry":  iscsiInquiry,
		"capacity": iscsiCapacity,
		"read":     iscsiRead,
		"write":    iscsiWrite,
		"bench":    iscsiBench,
	}[sub]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (want inquiry, capacity, read, write or bench)", sub)
	}
	f := newISCSIFlags(sub)
	if err := f.fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.fs.NArg() != 1 {
		f.fs.Usage()
		return fmt.Errorf("%s needs exactly one ROOTPATH argument", sub)
	}
	if sub == "write" && !f.yes {
		return errors.New("write overwrites the LUN: add --yes if you mean it")
	}
	cfg, err := f.config(f.fs.Arg(0))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d, err := iscsi.Open(ctx, cfg)
	if err != nil {
		return err
	}
	err = run(ctx, f, d)
	if cerr := d.Close(); err == nil && cerr != nil && f.verbose {
		fmt.Fprintln(os.Stderr, "logout:", cerr)
	}
	return err
}

func iscsiInquiry(ctx context.Context, f *iscsiFlags, d *iscsi.Disk) error {
	inq := d.Inquiry()
	fmt.Printf("target:     %s\nportal:     %s\nLUN:        %v\n", d.Target(), d.Portal(), d.LUN())
	fmt.Printf("vendor:     %s\nproduct:    %s\nrevision:   %s\nserial:     %s\n", inq.Vendor, inq.Product, inq.Revision, inq.Serial)
	fmt.Printf("blocks:     %d x %d bytes = %s\nread-only:  %t\n", d.Blocks(), d.BlockSize(), humanBytes(d.Size()), d.ReadOnly())
	fmt.Printf("negotiated: %s\n", d.Negotiated())
	if luns, err := d.ReportLUNs(ctx); err == nil {
		s := make([]string, len(luns))
		for i, l := range luns {
			s[i] = l.String()
		}
		fmt.Printf("LUNs:       %s\n", strings.Join(s, " "))
	}
	return nil
}

func iscsiCapacity(ctx context.Context, f *iscsiFlags, d *iscsi.Disk) error {
	fmt.Printf("%d blocks of %d bytes, %d bytes (%s)\n", d.Blocks(), d.BlockSize(), d.Size(), humanBytes(d.Size()))
	return nil
}

func humanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

func iscsiRead(ctx context.Context, f *iscsiFlags, d *iscsi.Disk) error {
	if f.lba >= d.Blocks() {
		return fmt.Errorf("--lba %d is beyond the LUN's %d blocks", f.lba, d.Blocks())
	}
	n := f.blocks
	if n == 0 || n > d.Blocks()-f.lba {
		if f.blocks != 0 {
			return fmt.Errorf("--lba %d --blocks %d runs past the LUN's %d blocks", f.lba, f.blocks, d.Blocks())
		}
		n = d.Blocks() - f.lba
	}
	var w io.Writer = os.Stdout
	if f.output != "-" {
		out, err := os.Create(f.output)
		if err != nil {
			return err
		}
		defer out.Close()
		w = out
	}
	bs := uint64(d.BlockSize())
	step := max(1, (4<<20)/bs) // 4 MiB per ReadBlocks: pipelined inside
	buf := make([]byte, step*bs)
	for lba := f.lba; lba < f.lba+n; lba += step {
		k := min(step, f.lba+n-lba)
		b := buf[:k*bs]
		if err := d.ReadBlocks(ctx, lba, b); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("writing %s: %w", f.output, err)
		}
	}
	if c, ok := w.(io.Closer); ok && f.output != "-" {
		return c.Close()
	}
	return nil
}

func iscsiWrite(ctx context.Context, f *iscsiFlags, d *iscsi.Disk) error {
	if f.input == "" {
		return errors.New("write needs --input FILE")
	}
	data, err := os.ReadFile(f.input)
	if err != nil {
		return err
	}
	bs := int(d.BlockSize())
	if len(data)%bs != 0 {
		return fmt.Errorf("%s is %d bytes, not a multiple of the %d-byte block size", f.input, len(data), bs)
	}
	if err := d.WriteBlocks(ctx, f.lba, data); err != nil {
		return err
	}
	if err := d.Sync(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %d blocks at LBA %d\n", len(data)/bs, f.lba)
	return nil
}
