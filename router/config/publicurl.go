package config

import (
	"net/url"
	"strings"
)

// checkPublicURL checks http.public_url: empty, or an absolute http or
// https URL with a host and without user information, query or fragment
// (package cdn derives the analytics.js settings' apiHost from it).
func checkPublicURL(s string, ps *problems) {
	if s == "" {
		return
	}
	const key = "http.public_url"
	u, err := url.Parse(s)
	switch {
	case err != nil:
		ps.add(key, "is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		ps.add(key, "must start with http:// or https:// (such as https://events.example.com)")
	case u.Host == "" || u.Opaque != "":
		ps.add(key, "must name a host (such as https://events.example.com)")
	case u.User != nil:
		ps.add(key, "must not carry user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		ps.add(key, "must not have a query or fragment")
	}
}
