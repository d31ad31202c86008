// The pinned Go tools Factory OS builds with `make tools`. This file is the one
// place their versions are recorded; see docs/decisions.md for why each pin.
module factoryos.dev/tools

go 1.25

tool github.com/danshapiro/kilroy/cmd/kilroy

require (
	github.com/bmatcuk/doublestar/v4 v4.8.1 // indirect
	github.com/danshapiro/kilroy v0.1.0 // indirect
	github.com/klauspost/cpuid/v2 v2.0.12 // indirect
	github.com/oklog/ulid/v2 v2.1.1 // indirect
	github.com/santhosh-tekuri/jsonschema/v5 v5.3.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/zeebo/blake3 v0.2.4 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
