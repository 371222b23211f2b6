module github.com/lafs/lafs

go 1.26.8

require (
	github.com/klauspost/reedsolomon v1.14.2
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/klauspost/cpuid/v2 v2.3.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
)
