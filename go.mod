module github.com/snp-go/snp-go

go 1.26.0

tool github.com/usbarmory/tamago/cmd/tamago

require github.com/usbarmory/tamago v1.26.0

require github.com/spf13/pflag v1.0.10 // indirect
