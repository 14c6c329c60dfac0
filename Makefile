# eventrouter — see README.md.
GO       ?= go
BIN      := bin/eventrouter
CONFIG   ?= configs/eventrouter.yaml
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# The version `make package` and `make build-static` stamp; empty: from git, as Go
# stamps a clone (a tag vX.Y.Z, or a pseudo-version between tags).
RELEASE_VERSION ?=

.PHONY: run build build-static package test test-static test-short bench bench-ratio bench-soak bench-startup bench-warehouse fuzz fuzz-long vet fmt check clean deps

## run: serve on the embedded defaults (embedded NATS, ./data, file destination)
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/eventrouter serve --config $(CONFIG)

## build: build bin/eventrouter
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/eventrouter

## build-static: build bin/eventrouter-static: CGO_ENABLED=0, tag noduckdb (no DuckDB)
build-static:
	$(GO) run ./internal/release/cmd/release build -static -o bin/eventrouter-static $(if $(RELEASE_VERSION),-version $(RELEASE_VERSION))

## package: release archives of both builds and the Debian package of the default one, in dist/
package:
	$(GO) run ./internal/release/cmd/release package -out dist $(if $(RELEASE_VERSION),-version $(RELEASE_VERSION))

## test: vet, gofmt check and every test with the race detector (fuzz seed corpora included),
##       then the static build's tests
test: deps vet fmt
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) test-static

## test-static: the static build (CGO_ENABLED=0, tag noduckdb): vet everything, and test what the tag
##              changes: the config, the destinations' config files and conformance suite, and the
##              warehouse (on PostgreSQL); cmd/eventrouter's TestStaticBuild runs the static binary itself
test-static:
	CGO_ENABLED=0 $(GO) vet -tags noduckdb ./...
	CGO_ENABLED=0 $(GO) test -tags noduckdb -count=1 -timeout 10m ./router/config/ ./destinations/ ./destinations/warehouse/

## test-short: the tests without the race detector, for a quick loop
test-short:
	$(GO) test -count=1 ./...

## bench: the end-to-end load benchmark (figures in docs/performance.md), eventrouter against the ceiling
##        (bench-ratio), the ingest micro-benchmarks, the debugger's cost at 30,000 events/s and the
##        Customer.io + Segment fan-out benchmark (issue 5), the webhook source's conversion and a destination's
##        transform (issue 16)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./router/ingest/
	$(GO) test -run '^$$' -bench . -benchmem ./router/sources/webhook/
	$(GO) test -run '^$$' -bench . -benchmem ./router/dispatch/transform/
	$(GO) test -run '^$$' -bench '^BenchmarkRecorderAt30k$$' -benchtime 3s ./router/admin/
	$(GO) run ./bench/loadgen -mode classic -bin $(BIN) -duration 20s
	$(MAKE) bench-ratio
	$(MAKE) bench-startup
	$(GO) test -run '^$$' -bench '^BenchmarkFanOut$$' -benchtime 1x -timeout 10m ./cmd/eventrouter/
	$(MAKE) bench-warehouse

## bench-ratio: eventrouter against bench/ceiling (auth, JSON decode, append + group-commit fsync),
##              same load, one after the other: /v1/batch with the destination disabled and
##              delivering, single /v1/track; ratios, p99, peak RSS and the goals (RATIO_DURATION
##              per server and phase, RATIO_ROUNDS runs of each, medians)
RATIO_DURATION ?= 20s
RATIO_ROUNDS   ?= 1
bench-ratio: build
	$(GO) build -o bin/ceiling ./bench/ceiling
	$(GO) run ./bench/loadgen -mode ratio -bin $(BIN) -ceiling-bin bin/ceiling -duration $(RATIO_DURATION) -rounds $(RATIO_ROUNDS)

## bench-soak: 4,000 events/s (40 batches of 100 a second, paced) into eventrouter with the shipped
##             defaults and one webhook destination, SOAK_DURATION for each queue.dedupe_window of
##             SOAK_DEDUPE (24h, then 2m: twice SOAK_DURATION in all); RSS every 30 s, drift, peak
SOAK_DURATION ?= 10m
SOAK_DEDUPE   ?= 24h,2m
bench-soak: build
	$(GO) run ./bench/loadgen -soak -bin $(BIN) -duration $(SOAK_DURATION) -dedupe $(SOAK_DEDUPE)

## bench-startup: fill the log with STARTUP_MESSAGES events within the 24 h dedupe window, then time
##                starts to /readyz: after a clean stop, after kill -9 under load (goal <= 5 s each)
##                and with the dedupe index deleted (rebuilt from the log); the fill (full batch
##                ingest for about a minute) also checks peak RSS <= 300 MB
STARTUP_MESSAGES ?= 5000000
bench-startup: build
	$(GO) run ./bench/loadgen -mode startup -bin $(BIN) -messages $(STARTUP_MESSAGES)

## bench-warehouse: load 200,000 track events (20 properties, 10 event names) into DuckDB and PostgreSQL
##                  in batches of 5,000; rows/s and peak RSS per driver (one process each)
bench-warehouse:
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$/^duckdb$$' -benchtime 1x -timeout 20m ./destinations/warehouse/
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$/^postgres$$' -benchtime 1x -timeout 20m ./destinations/warehouse/

## fuzz: run the ingest fuzzers for a while each (FUZZTIME=1m): whole requests with the invariants of
##       the limits (FuzzRequest), the request decoder plain and gzip, the JSON parser against
##       encoding/json, and the GrowSurf converter
FUZZTIME ?= 30s
FUZZ_TARGETS := FuzzRequest:./router/ingest/ FuzzDecodeRequest:./router/ingest/ FuzzDecodeGzip:./router/ingest/ \
                FuzzParse:./router/ingest/ FuzzConvert:./router/sources/growsurf/
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) "$${t#*:}"; \
	done

## fuzz-long: every fuzzer of make fuzz for 10 minutes each (about 50 minutes)
fuzz-long:
	$(MAKE) fuzz FUZZTIME=10m

## deps: install the system programs some tests run for real (PostgreSQL for the warehouse, Chromium for
##       the debugger page, systemd's systemd-analyze for the package test) with apt-get when they are
##       missing; without apt-get or root those tests skip with a message (under CI=true they fail instead)
deps:
	@./scripts/install-test-deps

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## check: validate the config file (CONFIG=...)
check:
	$(GO) run ./cmd/eventrouter check --config $(CONFIG)

clean:
	rm -rf bin data dist
