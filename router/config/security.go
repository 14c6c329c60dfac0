package config

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// DevelopmentValues returns the write key, admin token and signing secret
// that configs/eventrouter.yaml ships as defaults for a server on
// 127.0.0.1 (a test in package destinations checks that the file's
// defaults are exactly these). Everyone can read them, so while any of them
// is in use the server must not listen on an address other machines can
// reach: [Load] and [Parse] report it as a problem.
func DevelopmentValues() []string {
	return []string{"dev-write-key", "dev-admin-token", "dev-growsurf-secret"}
}

// isDevelopmentValue reports whether v is one of DevelopmentValues.
func isDevelopmentValue(v string) bool { return slices.Contains(DevelopmentValues(), v) }

// IsLoopback reports whether the host:port address addr can only be reached
// from this machine: its host is "localhost" or a loopback IP address
// (127.0.0.0/8, ::1). An empty host (":8080", every interface), a
// wildcard, any other IP address or name is not: a name may resolve to
// anything, so it counts as reachable from elsewhere (fail closed).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// adminAddr is the address the admin routes are served on.
func (h *HTTP) adminAddr() string {
	if h.AdminListen != "" {
		return h.AdminListen
	}
	return h.Listen
}

// checkSecurity reports what would leave a door open (fail closed): a
// webhook source without a signing secret that does not say
// allow_unsigned, a shipped development value in use on an address other
// machines can reach, the admin listener on the main listener's address,
// and the embedded NATS server (which has no authentication) listening on
// such an address.
func checkSecurity(cfg *Config, ps *problems) {
	h := &cfg.HTTP
	if h.AdminListen != "" {
		checkHostPort(h.AdminListen, "http.admin_listen", false, ps)
		if h.AdminListen == h.Listen {
			ps.add("http.admin_listen", "must differ from http.listen (leave it out to serve the admin routes on http.listen)")
		}
	}
	public := h.Listen != "" && !IsLoopback(h.Listen)
	dev := func(path, what, env string) {
		ps.add(path, "is the shipped development %s, which anyone can read, while http.listen %s is not a loopback address: set your own (%s), or listen on 127.0.0.1", what, h.Listen, env)
	}
	for _, name := range cfg.SourceNames() {
		src := cfg.Sources[name]
		for i, k := range src.WriteKeys {
			if public && isDevelopmentValue(k) {
				dev(indexPath("sources."+name+".write_keys", i), "write key", "EVENTROUTER_WRITE_KEY")
			}
		}
		g, ok := src.Settings.(*GrowSurf)
		if !ok {
			continue
		}
		path := "sources." + name + ".secret"
		switch {
		case ps.has(path):
			// Already reported (not a string, ...).
		case strings.TrimSpace(g.Secret) == "" && !g.AllowUnsigned:
			why := "set the webhook's signing secret as in GrowSurf (Program -> Settings -> Webhooks), or allow_unsigned: true to accept unsigned requests"
			if vars := ps.hints[path]; len(vars) > 0 {
				ps.add(path, "required (environment variable %s is unset or empty): %s", strings.Join(vars, ", "), why)
			} else {
				ps.add(path, "required: %s", why)
			}
		case public && isDevelopmentValue(g.Secret):
			dev(path, "signing secret", "GROWSURF_WEBHOOK_SECRET")
		}
	}
	if a := h.adminAddr(); a != "" && !IsLoopback(a) && isDevelopmentValue(h.AdminToken) {
		key := "http.listen"
		if h.AdminListen != "" {
			key = "http.admin_listen"
		}
		ps.add("http.admin_token", "is the shipped development admin token, which anyone can read, while %s %s is not a loopback address: set your own (EVENTROUTER_ADMIN_TOKEN), or serve the admin routes on 127.0.0.1 (http.admin_listen)", key, a)
	}
	if q := cfg.Queue.Listen; q != "" && cfg.Queue.URL == "" && !IsLoopback(q) {
		ps.add("queue.listen", "%s is not a loopback address, and the embedded NATS server has no authentication: whoever reaches it can read and change the log; listen on 127.0.0.1, or run an external NATS cluster with authentication (queue.url)", q)
	}
}

// DevelopmentValuesInUse returns the key paths whose values are shipped
// development values ([DevelopmentValues]); [Load] accepts them only while
// everything listens on loopback addresses. eventrouter check lists them.
func (c *Config) DevelopmentValuesInUse() []string {
	var out []string
	if isDevelopmentValue(c.HTTP.AdminToken) {
		out = append(out, "http.admin_token")
	}
	for _, name := range c.SourceNames() {
		src := c.Sources[name]
		for i, k := range src.WriteKeys {
			if isDevelopmentValue(k) {
				out = append(out, indexPath("sources."+name+".write_keys", i))
			}
		}
		if g, ok := src.Settings.(*GrowSurf); ok && isDevelopmentValue(g.Secret) {
			out = append(out, "sources."+name+".secret")
		}
	}
	return out
}
