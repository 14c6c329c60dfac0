package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the webhook destination's config block.
type Config struct {
	// URL is the absolute http or https URL the batches are sent to
	// (required). It may hold credentials; it is never logged.
	URL string `yaml:"url"`
	// Method is the HTTP method: POST (the default) or PUT.
	Method string `yaml:"method"`
	// Headers are added to every request, for example an Authorization
	// header whose value comes from ${ENV}. Values are secrets: they are
	// never logged. Content-Type and User-Agent may be overridden;
	// Content-Length, Content-Encoding, Host and Transfer-Encoding may not.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request, from connecting to reading the answer
	// (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Gzip compresses request bodies with gzip (default false).
	Gzip bool `yaml:"gzip"`
}

// reservedHeaders are set by the destination itself.
var reservedHeaders = map[string]bool{
	"Content-Length":    true,
	"Content-Encoding":  true,
	"Host":              true,
	"Transfer-Encoding": true,
}

// Validate checks the config and returns every problem, each naming its key.
// It never quotes the URL or header values, which may be secrets.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("url: must be an absolute http:// or https:// URL"))
	}
	switch c.Method {
	case "POST", "PUT":
	default:
		errs = append(errs, errors.New("method: must be POST or PUT"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be greater than zero"))
	}
	for name, value := range c.Headers {
		switch {
		case !validHeaderName(name):
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", name))
		case reservedHeaders[canonical(name)]:
			errs = append(errs, fmt.Errorf("headers.%s: is set by the webhook destination and cannot be configured", name))
		case strings.ContainsAny(value, "\r\n\x00"):
			errs = append(errs, fmt.Errorf("headers.%s: value must not contain line breaks or NUL", name))
		}
	}
	return errors.Join(errs...)
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 §5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func canonical(name string) string {
	parts := strings.Split(strings.ToLower(name), "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
