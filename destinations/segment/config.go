package segment

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the segment destination's config block.
type Config struct {
	// WriteKey is the write key of the Segment source the messages are sent
	// to (required). It is a secret: take it from ${ENV}; it is never logged
	// or quoted in errors.
	WriteKey string `yaml:"write_key"`
	// Endpoint is the base URL of the Segment Tracking API; batches are
	// posted to Endpoint + "/v1/batch" (default "https://api.segment.io").
	// Set it for Segment's EU region ("https://events.eu1.segmentapis.com"),
	// a proxy, or a test server.
	Endpoint string `yaml:"endpoint"`
	// DisableIntegrations are integration names (Segment destination
	// names, for example "Customer.io") added to every message's
	// integrations object as false, unless the message names them itself
	// (default: none). Set it to ["Customer.io"] when eventrouter also
	// delivers to Customer.io directly, so that Segment does not deliver a
	// second time.
	DisableIntegrations []string `yaml:"disable_integrations"`
	// Timeout bounds one HTTP request to the endpoint, from connecting to
	// reading the answer (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Validate checks the config and returns every problem, each naming its key.
// It never quotes the write key.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.WriteKey == "":
		errs = append(errs, errors.New("write_key: required (the write key of the Segment source, from ${ENV})"))
	case strings.TrimSpace(c.WriteKey) != c.WriteKey:
		errs = append(errs, errors.New("write_key: has surrounding whitespace (check the environment variable it comes from)"))
	case strings.ContainsAny(c.WriteKey, ":\r\n\x00"):
		errs = append(errs, errors.New("write_key: must not contain ':', line breaks or NUL"))
	}
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: required"))
	} else if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("endpoint: must be an absolute http:// or https:// URL"))
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		errs = append(errs, errors.New("endpoint: must not carry credentials, a query or a fragment (\"/v1/batch\" is appended to it)"))
	}
	seen := make(map[string]bool, len(c.DisableIntegrations))
	for i, name := range c.DisableIntegrations {
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("disable_integrations[%d]: empty", i))
		case strings.TrimSpace(name) != name:
			errs = append(errs, fmt.Errorf("disable_integrations[%d]: %q has surrounding whitespace (names are matched exactly)", i, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("disable_integrations[%d]: %q listed twice", i, name))
		}
		seen[name] = true
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be greater than zero"))
	}
	return errors.Join(errs...)
}
