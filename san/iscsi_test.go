package san

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/blockio"
	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi"
	"github.com/snp-go/snp-go/lab/tgt"
)

const (
	tgtIQN   = "iqn.2026-12.dev.snp-go:san-test"
	initIQN  = "iqn.2026-12.dev.snp-go:san-initiator"
	inUser   = "initiator"
	inSecret = "initiator-secret-1"
)

// tgtdLUN serves a random 4 MiB image from a real tgtd with one-way CHAP.
func tgtdLUN(t *testing.T) (*tgt.Daemon, string, []byte) {
	t.Helper()
	d := tgt.StartT(t, tgt.Options{})
	img := make([]byte, 4<<20)
	rand.New(rand.NewSource(2)).Read(img)
	p := filepath.Join(t.TempDir(), "lun.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTarget(tgt.Target{IQN: tgtIQN, LUNs: []tgt.LUN{{Path: p}},
		Incoming: &tgt.Account{User: inUser, Password: inSecret}}); err != nil {
		t.Fatal(err)
	}
	return d, d.RootPath("127.0.0.1", tgtIQN, 1), img
}

func iscsiConfig(secret string, retries int) Config {
	return Config{InitiatorName: initIQN, Retries: retries,
		Credentials: chap.Credentials{Username: inUser, Password: chap.NewSecret(secret)}}
}

// TestISCSIAgainstTgtd: Open logs in to tgtd, the cached drive reads the
// LUN's bytes, Describe names target and LUN; a dead path (connection
// refused at once) before the live one is skipped (multipath).
func TestISCSIAgainstTgtd(t *testing.T) {
	d, root, img := tgtdLUN(t)
	dead := "http://127.0.0.1:1/disk.img" // nothing listens on port 1
	cfg := iscsiConfig(inSecret, 0)
	cfg.HTTP = http.DefaultClient
	drive, err := Open(context.Background(), []string{dead, root}, cfg, nopInstaller{})
	if err != nil {
		t.Fatal(err)
	}
	defer drive.Close()
	if drive.RootPath != root || drive.ISCSI() == nil {
		t.Fatalf("Open(dead, live) = drive on %q (iSCSI %v); want %q", drive.RootPath, drive.ISCSI() != nil, root)
	}
	if got := drive.Describe(); !strings.Contains(got, tgtIQN) || !strings.Contains(got, "8192 x 512 bytes") {
		t.Errorf("Describe() = %q; want target %s and 8192 x 512 bytes", got, tgtIQN)
	}
	buf := make([]byte, 1<<20)
	for _, lba := range []uint64{0, 2048, 0, 6144} {
		if err := drive.Cache.ReadBlocks(lba, buf); err != nil {
			t.Fatalf("ReadBlocks(%d) = %v", lba, err)
		}
		if !bytes.Equal(buf, img[lba*512:lba*512+uint64(len(buf))]) {
			t.Fatalf("ReadBlocks(%d) returned other bytes than the LUN's", lba)
		}
	}
	if st := drive.Cache.Stats(); st.Hits == 0 {
		t.Errorf("cache stats %v; want hits for the second read of block 0", st)
	}
	tids, err := d.TIDs()
	if err != nil {
		t.Fatal(err)
	}
	if conns, err := d.Conns(tids[0]); err != nil || len(conns) != 1 {
		t.Errorf("tgtd connections while open = %d, %v; want 1", len(conns), err)
	}
	drive.Close()
	if err := drive.Cache.ReadBlocks(100, make([]byte, 512)); !errors.Is(err, blockio.ErrNoMedia) {
		t.Errorf("ReadBlocks after Close = %v; want ErrNoMedia", err)
	}
	waitConns(t, d, tids[0], 0)
}

// TestISCSIReadAheadBound: Grub streaming a 1 MiB file in 32 KiB reads
// (its disk cache's unit) from an iSCSI drive with the default cache makes
// the drive fetch at most 256 KiB past the file, plus the chunk the file
// ends in: what read-ahead fetches past a file's end costs as much as the
// file (see ISCSIChunkSize; 4 MiB ahead made the lab's boot 0.2 s slower).
func TestISCSIReadAheadBound(t *testing.T) {
	_, root, img := tgtdLUN(t)
	drive, err := Open(context.Background(), []string{root}, iscsiConfig(inSecret, 0), nopInstaller{})
	if err != nil {
		t.Fatal(err)
	}
	const file, start = 1 << 20, 64 << 10 // bytes, and where the file starts
	buf := make([]byte, 32<<10)
	for off := start; off < start+file; off += len(buf) {
		if err := drive.Cache.ReadBlocks(uint64(off/512), buf); err != nil {
			t.Fatalf("ReadBlocks(%d) = %v", off/512, err)
		}
		if !bytes.Equal(buf, img[off:off+len(buf)]) {
			t.Fatalf("ReadBlocks(%d) returned other bytes than the LUN's", off/512)
		}
	}
	drive.Close() // waits for read-ahead in flight
	st := drive.Cache.Stats()
	if most := uint64(file + 256<<10 + ISCSIChunkSize); st.BytesFetched > most || st.Prefetched == 0 {
		t.Errorf("after streaming %d KiB: %d KiB fetched, %d chunks read ahead; want at most %d KiB and some read-ahead (%v)",
			file>>10, st.BytesFetched>>10, st.Prefetched, most>>10, st)
	}
}

// TestISCSIFailedInstallLogsOut: when the Installer fails (snp-go's
// ConnectController), the session is logged out and the cache stopped.
func TestISCSIFailedInstallLogsOut(t *testing.T) {
	d, root, _ := tgtdLUN(t)
	fi := &failInstaller{}
	if _, err := Open(context.Background(), []string{root}, iscsiConfig(inSecret, 0), fi); err == nil {
		t.Fatal("Open with a failing installer = nil error")
	}
	tids, err := d.TIDs()
	if err != nil {
		t.Fatal(err)
	}
	waitConns(t, d, tids[0], 0)
	if err := fi.got.Cache.ReadBlocks(0, make([]byte, 512)); !errors.Is(err, blockio.ErrNoMedia) {
		t.Errorf("cache after a failed Install: ReadBlocks = %v; want ErrNoMedia", err)
	}
}

// TestISCSIWrongSecretNotRetried: a refused login fails at once (a
// LoginError) however many retries san-retries allows.
func TestISCSIWrongSecretNotRetried(t *testing.T) {
	_, root, _ := tgtdLUN(t)
	start := time.Now()
	_, err := Open(context.Background(), []string{root}, iscsiConfig("wrong-secret-123", 5), nopInstaller{})
	var le *iscsi.LoginError
	if !errors.As(err, &le) {
		t.Fatalf("Open with a wrong secret = %v; want an iscsi.LoginError", err)
	}
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Errorf("Open with a wrong secret took %v; want no retries (each waits 1 s)", el)
	}
}

func waitConns(t *testing.T, d *tgt.Daemon, tid, want int) {
	t.Helper()
	var conns []tgt.Conn
	var err error
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if conns, err = d.Conns(tid); err == nil && len(conns) == want {
			return
		}
	}
	t.Errorf("tgtd connections = %d, %v; want %d (session leaked?)", len(conns), err, want)
}
