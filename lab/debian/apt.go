// Package debian downloads Debian packages for the lab without installing
// them: apt-get and apt-cache run on a private package list (its own
// sources, architecture, lists and archives under a cache directory), and
// the .deb is unpacked with dpkg -x. The host's apt state is not touched.
package debian

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/snp-go/snp-go/lab"
)

// CacheDir returns the lab's download cache, lab/cache in the repository
// (git-ignored), creating it.
func CacheDir() (string, error) {
	root, err := lab.RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "lab", "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("debian: creating the download cache: %w", err)
	}
	return dir, nil
}

// ErrUnavailable wraps every failure to download or unpack a package (no
// network to the Debian mirror, say): tests skip on it.
var ErrUnavailable = errors.New("debian: packages unavailable")

// Apt runs apt-get and apt-cache on a private package list under Dir,
// leaving the host's own lists, caches and dpkg database alone.
type Apt struct {
	Dir  string // cache: apt/lists, apt/archives, debs/, pkg/
	Arch string // package architecture, e.g. "arm64"
	// Sources is one-line-style sources.list text ("deb [signed-by=...]
	// URL SUITE main"); empty means the host's own sources.
	Sources string
}

func (a Apt) options() []string {
	lists := filepath.Join(a.Dir, "apt", "lists")
	archives := filepath.Join(a.Dir, "apt", "archives")
	o := []string{
		"-q",
		"-oAPT::Architecture=" + a.Arch,
		"-oAPT::Architectures=" + a.Arch,
		"-oDir::State::Lists=" + lists,
		"-oDir::Cache::Archives=" + archives,
		// No binary caches: apt would write them to /var/cache/apt,
		// where the host's amd64 ones live.
		"-oDir::Cache::pkgcache=",
		"-oDir::Cache::srcpkgcache=",
		// Download into directories root owns without the _apt sandbox
		// user (it could not write there and apt warns).
		"-oAPT::Sandbox::User=root",
		"-oAcquire::Retries=2",
	}
	if a.Sources != "" {
		o = append(o, "-oDir::Etc::SourceList="+filepath.Join(a.Dir, "apt", "sources.list"), "-oDir::Etc::SourceParts=/nonexistent")
	}
	return o
}

// Run runs prog (apt-get or apt-cache) with the private options in dir.
func (a Apt) Run(dir, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, append(a.options(), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, LastLines(stderr.String(), 4))
	}
	return out, nil
}

// Update runs apt-get update; what for names the packages wanted, for the
// error message.
func (a Apt) Update(what string) error {
	for _, d := range []string{"lists/partial", "archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.Dir, "apt", d), 0o755); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	if a.Sources != "" {
		if err := os.WriteFile(filepath.Join(a.Dir, "apt", "sources.list"), []byte(a.Sources), 0o644); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	cmd := exec.Command("apt-get", append(a.options(), "update")...)
	cmd.Dir = a.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	// apt-get update exits 0 when a mirror cannot be reached (it only
	// warns), so look for the lists themselves.
	lists, _ := filepath.Glob(filepath.Join(a.Dir, "apt", "lists", "*_binary-"+a.Arch+"_Packages*"))
	if err != nil || len(lists) == 0 {
		var warn []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "W:") || strings.HasPrefix(l, "E:") || strings.HasPrefix(l, "Err:") {
				warn = append(warn, strings.TrimSpace(l))
			}
		}
		why := LastLines(strings.Join(warn, "\n"), 3)
		if err != nil {
			why = err.Error() + ": " + why
		}
		return fmt.Errorf("%w: apt-get update of the %s package lists (for %s): %s", ErrUnavailable, a.Arch, what, why)
	}
	return nil
}

var candidateRE = regexp.MustCompile(`(?m)^\s*Candidate:\s*(\S+)\s*$`)

// Candidate returns the version apt would take of pkg.
func (a Apt) Candidate(pkg string) (string, error) {
	out, err := a.Run(a.Dir, "apt-cache", "policy", pkg)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	m := candidateRE.FindSubmatch(out)
	if m == nil || string(m[1]) == "(none)" {
		return "", fmt.Errorf("%w: no %s candidate for %s in the package lists", ErrUnavailable, a.Arch, pkg)
	}
	return string(m[1]), nil
}

// Unpacked returns the directory holding pkg=version unpacked by dpkg -x
// (or, if members are named, only those parts of its data archive),
// downloading the .deb first if it is not in the cache.
func (a Apt) Unpacked(pkg, version string, members ...string) (string, error) {
	name := pkg + "_" + strings.ReplaceAll(version, ":", "%3a")
	dest := filepath.Join(a.Dir, "pkg", name)
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	debDir := filepath.Join(a.Dir, "debs")
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	deb := filepath.Join(debDir, name+"_"+a.Arch+".deb")
	if _, err := os.Stat(deb); err != nil {
		tmp, err := os.MkdirTemp(debDir, ".download-")
		if err != nil {
			return "", fmt.Errorf("debian: %w", err)
		}
		defer os.RemoveAll(tmp)
		if _, err := a.Run(tmp, "apt-get", "download", pkg+"="+version); err != nil {
			return "", fmt.Errorf("%w: downloading %s %s: %v", ErrUnavailable, pkg, version, err)
		}
		got, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if len(got) != 1 {
			return "", fmt.Errorf("%w: apt-get download %s=%s left %d .deb files; want 1", ErrUnavailable, pkg, version, len(got))
		}
		if err := os.Rename(got[0], deb); err != nil {
			return "", fmt.Errorf("debian: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".unpack-")
	if err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := unpackDeb(deb, tmp, members); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	return dest, nil
}

// unpackDeb extracts deb into dir: all of it with dpkg -x, or only members
// of its data archive with dpkg-deb --fsys-tarfile | tar -x.
func unpackDeb(deb, dir string, members []string) error {
	if len(members) == 0 {
		if out, err := exec.Command("dpkg", "-x", deb, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("debian: dpkg -x %s: %v: %s (delete it to download it again)", deb, err, bytes.TrimSpace(out))
		}
		return nil
	}
	fsys := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	tar := exec.Command("tar", append([]string{"-x", "-C", dir}, members...)...)
	pipe, err := fsys.StdoutPipe()
	if err != nil {
		return fmt.Errorf("debian: %w", err)
	}
	tar.Stdin = pipe
	var fsysErr, tarErr bytes.Buffer
	fsys.Stderr, tar.Stderr = &fsysErr, &tarErr
	if err := fsys.Start(); err != nil {
		return fmt.Errorf("debian: dpkg-deb: %w", err)
	}
	terr := tar.Run()
	ferr := fsys.Wait()
	if ferr != nil || terr != nil {
		return fmt.Errorf("debian: dpkg-deb --fsys-tarfile %s | tar -x %s: %v %s; %v %s (delete the .deb to download it again)",
			deb, strings.Join(members, " "), ferr, bytes.TrimSpace(fsysErr.Bytes()), terr, bytes.TrimSpace(tarErr.Bytes()))
	}
	return nil
}

// LookTools says which of the named programs are not installed.
func LookTools(names ...string) error {
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not installed", strings.Join(missing, ", "))
	}
	return nil
}

// LastLines joins the last n lines of s with " | ".
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
