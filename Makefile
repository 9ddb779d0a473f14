# snp-go — see README.md.
#
#   make                      build snp-go.efi (needs the TamaGo compiler, see README)
#   make EMBED=boot.ipxe      ... with an embedded boot script
#   make TRUST=ca.pem[,b.pem] ... with embedded HTTPS trust anchors
#   make OUT=/tmp/x.efi       ... somewhere else (tests build variants in parallel)
#   make BANNER_TIMEOUT=0     ... no "Press Ctrl-B" wait (tenths of a second as iPXE's; default 20)
#   make SIGN_KEY=key.pem SIGN_CERT=cert.pem
#                             ... Authenticode-signed for UEFI Secure Boot (sbsigntool)
#   make qemu                 build, then boot it under U-Boot in QEMU
#   make qemu FIRMWARE=edk2   ... under EDK2 (AAVMF); FIRMWARE=u-boot-2025: Debian 13's U-Boot
#   make test                 run every test (host, tgtd, QEMU)
#   make vet                  gofmt + go vet for the host and for GOOS=tamago
#   make bench                QEMU SAN data-path benchmark (SNP_ANCHOR_IPXE=snp.efi: beside iPXE)

SHELL   := /bin/bash
GO      ?= go
OUT     ?= snp-go.efi
BUILD   := $(OUT).build
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
EMBED   ?=
TRUST   ?=
SIGN_KEY  ?=
SIGN_CERT ?=
FIRMWARE  ?= u-boot
# How long "Press Ctrl-B for the snp-go command line..." waits, in tenths of
# a second as iPXE's BANNER_TIMEOUT (config/general.h); 0: no prompt.
BANNER_TIMEOUT ?= 20

# The TamaGo compiler: `go tool tamago` (the tamago module's launcher, a tool
# in go.mod) runs tamago-go matching the module version from the user cache.
TAMAGO_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/usbarmory/tamago)
TAMAGO_ROOT    := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tamago-go/tamago-go$(TAMAGO_VERSION:v%=%)
TAMAGO_ENV     := GOOS=tamago GOARCH=arm64 GOOSPKG=github.com/usbarmory/tamago

# Two links at different text addresses; cmd/mkefi turns the words that
# differ by exactly the delta into PE base relocations.
LDFLAGS := -s -w -buildid= -B none -E _rt0_arm64_tamago -R 0x1000 -X main.version=$(VERSION) -X main.bannerTimeout=$(BANNER_TIMEOUT)
LOW     := 0x50010000
HIGH    := 0x60010000

.PHONY: all snp-go.efi efi qemu test test-host vet bench tamago-check clean
all: efi

tamago-check:
	@test -x $(TAMAGO_ROOT)/bin/go || { \
	  echo "SKIP/ERROR: TamaGo compiler tamago-go$(TAMAGO_VERSION:v%=%) missing: $(TAMAGO_ROOT)/bin/go" >&2; \
	  echo "  install it as README.md 'The TamaGo compiler' says (go tool tamago builds it on first use when GitHub is reachable)" >&2; \
	  exit 3; }

# The overlay also replaces standard-library files of tamago-go for this
# build only: each board/_goroot/src/X replaces $(TAMAGO_ROOT)/src/X (today
# internal/cpu's arm64 osInit, so that Go's AES, GHASH, SHA and CRC32
# assembly is used, see board/cpu.go; and the FIPS DRBG's rand.go, whose
# 32 MiB scratch buffer leaves the BSS, see board/doc.go).
efi snp-go.efi: tamago-check
	@[[ "$(BANNER_TIMEOUT)" =~ ^[0-9]+$$ ]] && [ "$(BANNER_TIMEOUT)" -le 65535 ] || { echo "BANNER_TIMEOUT=$(BANNER_TIMEOUT): want tenths of a second, 0-65535 (iPXE's unit; 0: no Ctrl-B prompt)" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@overlay='{"Replace":{'; sep=; \
	if [ -n "$(EMBED)" ]; then \
	  test -f "$(EMBED)" || { echo "EMBED=$(EMBED): no such file" >&2; exit 1; }; \
	  overlay+="\"$(CURDIR)/cmd/snp-go/embedded/script.ipxe\":\"$(abspath $(EMBED))\""; sep=,; fi; \
	if [ -n "$(TRUST)" ]; then \
	  : > $(BUILD)/trust.pem; \
	  for f in $(subst $(comma), ,$(TRUST)); do test -f "$$f" || { echo "TRUST: $$f: no such file" >&2; exit 1; }; cat "$$f" >> $(BUILD)/trust.pem; done; \
	  overlay+="$$sep\"$(CURDIR)/cmd/snp-go/embedded/trust.pem\":\"$(abspath $(BUILD))/trust.pem\""; sep=,; fi; \
	for f in $$(cd board/_goroot && find . -name '*.go' | sort); do f=$${f#./}; \
	  test -f "$(TAMAGO_ROOT)/$$f" || { echo "board/_goroot/$$f replaces $(TAMAGO_ROOT)/$$f, which tamago-go$(TAMAGO_VERSION:v%=%) lacks: revisit it" >&2; exit 1; }; \
	  overlay+="$$sep\"$(TAMAGO_ROOT)/$$f\":\"$(CURDIR)/board/_goroot/$$f\""; sep=,; done; \
	echo "$$overlay}}" > $(BUILD)/overlay.json
	@W=$$(net/tamago-overlay/mkworkspace.sh $(BUILD)/ws) && T=$$($(GO) tool -n tamago) && for a in $(LOW) $(HIGH); do \
	  GOWORK=$$W $(TAMAGO_ENV) $$T build -trimpath -overlay $(BUILD)/overlay.json -ldflags "$(LDFLAGS) -T $$a" -o $(BUILD)/snp-go-$$a.elf ./cmd/snp-go || exit 1; done
	@$(GO) run ./cmd/mkefi -o $(OUT) $(BUILD)/snp-go-$(LOW).elf $(BUILD)/snp-go-$(HIGH).elf
	@$(if $(SIGN_KEY)$(SIGN_CERT),$(MAKE) --no-print-directory sign)

# Authenticode-sign $(OUT) in place (sbsign appends the certificate table;
# sections and .reloc are untouched) and check it with sbverify.
.PHONY: sign
sign:
	@test -n "$(SIGN_KEY)" -a -n "$(SIGN_CERT)" || { echo "sign: give both SIGN_KEY=key.pem and SIGN_CERT=cert.pem" >&2; exit 1; }
	@command -v sbsign >/dev/null || { echo "sign: sbsign missing: apt-get install sbsigntool" >&2; exit 1; }
	@sbsign --key $(SIGN_KEY) --cert $(SIGN_CERT) --output $(OUT).signed $(OUT) && \
	  sbverify --cert $(SIGN_CERT) $(OUT).signed >/dev/null && mv $(OUT).signed $(OUT)
	@echo "sign: $(OUT): Authenticode signature by $(SIGN_CERT), sbverify OK"

comma := ,

qemu: efi
	$(GO) run ./cmd/snplab run --efi $(OUT) --firmware $(FIRMWARE)

# -timeout is per package: the slowest (cmd/snp-go, QEMU) takes ~7 min, so a
# hung test fails with its goroutines' stacks in 20 min, not after CI's budget.
test:
	$(GO) test -count=1 -timeout 20m -p 1 ./...

# Benchmarks: the host ones (receive path, TCP, cache, iSCSI; -benchmem),
# then the QEMU SAN boot beside iPXE (BenchmarkQEMUSAN, once: it runs its
# own rounds; SNP_ANCHOR_IPXE, SNP_BENCH_ROUNDS, SNP_BENCH_PROFILE).
BENCH ?= .
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -timeout 30m -p 1 $$($(GO) list ./... | grep -v '/cmd/snp-go$$')
	$(GO) test -v -run '^$$' -bench 'QEMU' -benchtime 1x -timeout 60m ./cmd/snp-go

vet:
	@f=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$f" || { echo "gofmt needed: $$f"; exit 1; }
	$(GO) vet ./...
	@if test -x $(TAMAGO_ROOT)/bin/go; then T=$$($(GO) tool -n tamago); \
	  W=$$(net/tamago-overlay/mkworkspace.sh build/vet-ws); \
	  GOWORK=$$W $(TAMAGO_ENV) $$T vet -unsafeptr=false ./efi ./board ./cmd/snp-go; fi

clean:
	rm -rf snp-go.efi snp-go.efi.build build
