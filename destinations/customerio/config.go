package customerio

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// The values of Config.Region.
const (
	RegionUS = "us"
	RegionEU = "eu"
)

// The values of Config.Identifier.
const (
	// IdentifierID addresses a person by the message's userId.
	IdentifierID = "id"
	// IdentifierEmail addresses a person by an email address: traits.email
	// (identify), context.traits.email, or userId when it is an email
	// address.
	IdentifierEmail = "email"
)

// The values of Config.Group.
const (
	// GroupAttributes sets a group call's traits on the person, each name
	// prefixed with Config.GroupPrefix, plus <prefix>id = groupId.
	GroupAttributes = "attributes"
	// GroupSkip delivers nothing for group calls (they count as delivered).
	GroupSkip = "skip"
)

// Limits of the settings.
const (
	maxConcurrency    = 64
	maxGroupPrefixLen = 50
)

// Config is the Customer.io destination's config block.
type Config struct {
	// SiteID is the workspace's Track API site id (required).
	SiteID string `yaml:"site_id"`
	// APIKey is the Track API key (required). It is a secret: take it from
	// ${ENV}; it is never logged or quoted in errors.
	APIKey string `yaml:"api_key"`
	// Region is the workspace's region, "us" (default) or "eu"; it picks
	// the host track.customer.io or track-eu.customer.io.
	Region string `yaml:"region"`
	// URL, when set, replaces the region's host (for a proxy or a test
	// server): an absolute http or https URL without a path, or with the
	// path prefix under which /api/v1/... is served. Default empty.
	URL string `yaml:"url"`
	// Identifier is which Segment field addresses the person: "id" (the
	// default: userId) or "email" (traits.email on identify,
	// context.traits.email, else userId when it is an email address).
	Identifier string `yaml:"identifier"`
	// Concurrency is how many people of one batch are sent in parallel
	// (default 4, at most 64). A person's messages are always sent one
	// after the other, in order.
	Concurrency int `yaml:"concurrency"`
	// SelfCheck makes start-up call GET /api/v1/accounts/region and fail
	// early on refused credentials or a region other than Region
	// (default false).
	SelfCheck bool `yaml:"self_check"`
	// Group is what a group call does: "attributes" (default) or "skip".
	Group string `yaml:"group"`
	// GroupPrefix prefixes the attribute names of group traits (default
	// "group_"): letters, digits and '_' only.
	GroupPrefix string `yaml:"group_prefix"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Validate checks the config and returns every problem, each naming its
// key. It never quotes the API key.
func (c *Config) Validate() error {
	var errs []error
	if c.SiteID == "" {
		errs = append(errs, errors.New("site_id: required"))
	} else if len(c.SiteID) > 200 || containsCtl(c.SiteID) {
		errs = append(errs, errors.New("site_id: must be at most 200 characters without control characters"))
	}
	if c.APIKey == "" {
		errs = append(errs, errors.New("api_key: required (set it from an environment variable: api_key: ${CUSTOMERIO_API_KEY})"))
	} else if containsCtl(c.APIKey) {
		errs = append(errs, errors.New("api_key: must not contain control characters"))
	}
	switch c.Region {
	case RegionUS, RegionEU:
	default:
		errs = append(errs, fmt.Errorf("region: must be us or eu, not %q", c.Region))
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, errors.New("url: must be an absolute http:// or https:// URL without query or fragment"))
		} else if u.User != nil {
			errs = append(errs, errors.New("url: must not hold credentials (use site_id and api_key)"))
		}
	}
	switch c.Identifier {
	case IdentifierID, IdentifierEmail:
	default:
		errs = append(errs, fmt.Errorf("identifier: must be id or email, not %q", c.Identifier))
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: must be between 1 and %d", maxConcurrency))
	}
	switch c.Group {
	case GroupAttributes, GroupSkip:
	default:
		errs = append(errs, fmt.Errorf("group: must be attributes or skip, not %q", c.Group))
	}
	if c.Group == GroupAttributes {
		if c.GroupPrefix == "" {
			errs = append(errs, errors.New("group_prefix: required when group is attributes (default \"group_\")"))
		} else if len(c.GroupPrefix) > maxGroupPrefixLen || !isAttrName(c.GroupPrefix) {
			errs = append(errs, fmt.Errorf("group_prefix: must be 1 to %d letters, digits or '_'", maxGroupPrefixLen))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be greater than zero"))
	}
	return errors.Join(errs...)
}

// baseURL is the URL requests are made under: URL when set, else the
// region's host.
func (c *Config) baseURL() string {
	if c.URL != "" {
		u := c.URL
		for len(u) > 0 && u[len(u)-1] == '/' {
			u = u[:len(u)-1]
		}
		return u
	}
	if c.Region == RegionEU {
		return "https://track-eu.customer.io"
	}
	return "https://track.customer.io"
}

func containsCtl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func isAttrName(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		default:
			return false
		}
	}
	return true
}
