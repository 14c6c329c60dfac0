package config

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/router"
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
		ss, ok := cfg.Sources[name].Settings.(router.SourceSecreter)
		if !public || !ok {
			continue
		}
		for _, sec := range ss.SourceSecrets() {
			if path := "sources." + name + "." + sec.Key; isDevelopmentValue(sec.Value) && !ps.has(path) {
				dev(path, sec.What, sec.Env)
			}
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
		if ss, ok := c.Sources[name].Settings.(router.SourceSecreter); ok {
			for _, sec := range ss.SourceSecrets() {
				if isDevelopmentValue(sec.Value) {
					out = append(out, "sources."+name+"."+sec.Key)
				}
			}
		}
	}
	return out
}
