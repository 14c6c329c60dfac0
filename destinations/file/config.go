package file

import "errors"

// Config is the file destination's config block.
type Config struct {
	// Path is the file to append to (required). A relative path is
	// relative to the working directory; missing parent directories are
	// created.
	Path string `yaml:"path"`
	// Sync makes every Send fsync the file before it returns, so that a
	// delivered batch survives a machine crash or power loss. When false
	// (the default) the data is in the operating system's cache when Send
	// returns: it survives the process being killed, but not the machine
	// going down.
	Sync bool `yaml:"sync"`
}

// Validate checks the config and returns every problem, each naming its key.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("path: required")
	}
	return nil
}
