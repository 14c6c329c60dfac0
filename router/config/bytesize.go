package config

import "github.com/eventrouter/eventrouter/router"

// ByteSize is a number of bytes as written in the config: [router.ByteSize],
// the type the components' own config structs (such as eventlog.Config) use.
type ByteSize = router.ByteSize

// ParseByteSize parses a size as written in the config ("512MiB", "10GiB",
// a number of bytes); see [router.ParseByteSize].
func ParseByteSize(s string) (ByteSize, error) { return router.ParseByteSize(s) }
