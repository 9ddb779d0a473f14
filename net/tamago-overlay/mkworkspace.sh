#!/bin/sh
# mkworkspace.sh DIR — prepare a Go workspace for GOOS=tamago builds.
#
# github.com/insomniacslk/dhcp/dhcpv4 does not compile for GOOS=tamago: two
# packages it imports lack a file for that GOOS. `go build -overlay` cannot
# add them because cmd/go refuses overlays beneath GOMODCACHE, so this script
# copies the two modules, at exactly the versions go.mod selects, into DIR,
# adds one file to each, and writes DIR/go.work that uses this repository
# and replaces the two modules with the copies. Nothing is committed; rerun
# it whenever go.mod changes. Prints the go.work path.
#
# Usage (from the repository root):
#   GOWORK=$(net/tamago-overlay/mkworkspace.sh build/tamago-ws) \
#     GOOS=tamago GOARCH=arm64 GOOSPKG=github.com/usbarmory/tamago $TAMAGO build ...
set -eu
out=${1:?usage: mkworkspace.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# copy MODULE SUBDIR FILE: fresh copy of MODULE with FILE added to SUBDIR.
copy() {
	mod=$1 sub=$2 file=$3
	dir=$(cd "$repo" && GOWORK=off go list -m -f '{{.Dir}}' "$mod")
	if [ -z "$dir" ]; then
		(cd "$repo" && GOWORK=off go mod download "$mod")
		dir=$(cd "$repo" && GOWORK=off go list -m -f '{{.Dir}}' "$mod")
	fi
	dst="$out/$(echo "$mod" | tr / _)"
	rm -rf "$dst"
	cp -R "$dir" "$dst"
	chmod -R u+w "$dst"
	cp "$here/$file" "$dst/$sub/"
	echo "replace $mod => $dst"
}

{
	echo "go $(cd "$repo" && GOWORK=off go list -m -f '{{.GoVersion}}')"
	echo
	echo "use $repo"
	echo
	copy github.com/u-root/uio rand uio-rand/random_tamago.go
	copy github.com/insomniacslk/dhcp interfaces dhcp-interfaces/bindtodevice_tamago.go
} > "$out/go.work"
echo "$out/go.work"
