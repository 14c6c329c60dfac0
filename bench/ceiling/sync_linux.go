package main

import (
	"os"
	"syscall"
)

// fdatasync makes the file's data (and its size) durable, without the
// metadata an append does not need - what databases use for their logs.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
