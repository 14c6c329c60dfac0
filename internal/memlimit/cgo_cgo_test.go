//go:build cgo

package memlimit

const cgoEnabled = true
