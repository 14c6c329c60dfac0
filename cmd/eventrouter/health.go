package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eventrouter/eventrouter/internal/health"
)

// runHealth is `eventrouter health`: a probe for places with no HTTP
// client, such as the container image's HEALTHCHECK (the image has
// nothing but the binary). It asks the server of a config file (its
// http.listen, a wildcard address asked on loopback) or --url for
// /healthz and exits 0 on 200, else 1.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, cfgPath := newFlagSet("health", "Probe a running server's /healthz (the server of --config, or --url): exit 0 when it answers 200, else 1.", stderr)
	url := fs.String("url", "", "the URL to probe (default: http://<the config's http.listen>/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *url == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "eventrouter health: %v\n", err)
			return 1
		}
		addr, err := health.ProbeAddr(cfg.HTTP.Listen)
		if err != nil {
			fmt.Fprintf(stderr, "eventrouter health: http.listen: %v\n", err)
			return 1
		}
		*url = "http://" + addr + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, err := health.Probe(ctx, nil, *url)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter health: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", *url, status)
	return 0
}
