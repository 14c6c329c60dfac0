# eventrouter — see README.md.
GO       ?= go
BIN      := bin/eventrouter
CONFIG   ?= configs/eventrouter.yaml
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: run build test test-short bench bench-warehouse fuzz vet fmt check clean deps

## run: serve on the embedded defaults (embedded NATS, ./data, file destination)
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/eventrouter serve --config $(CONFIG)

## build: build bin/eventrouter
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/eventrouter

## test: vet, gofmt check and every test with the race detector (fuzz seed corpora included)
test: deps vet fmt
	$(GO) test -race -count=1 -timeout 20m ./...

## test-short: the tests without the race detector, for a quick loop
test-short:
	$(GO) test -count=1 ./...

## bench: the end-to-end load benchmark (figures in README.md), the ingest micro-benchmarks, the
##        debugger's cost at 30,000 events/s and the Customer.io + Segment fan-out benchmark (issue 5)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./router/ingest/
	$(GO) test -run '^$$' -bench '^BenchmarkRecorderAt30k$$' -benchtime 3s ./router/admin/
	$(GO) run ./bench/loadgen -bin $(BIN) -duration 20s
	$(GO) test -run '^$$' -bench '^BenchmarkFanOut$$' -benchtime 1x -timeout 10m ./cmd/eventrouter/
	$(MAKE) bench-warehouse

## bench-warehouse: load 200,000 track events (20 properties, 10 event names) into DuckDB and PostgreSQL
##                  in batches of 5,000; rows/s and peak RSS per driver (one process each)
bench-warehouse:
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$/^duckdb$$' -benchtime 1x -timeout 20m ./destinations/warehouse/
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$/^postgres$$' -benchtime 1x -timeout 20m ./destinations/warehouse/

## fuzz: run the request-decoder fuzzers for a while (FUZZTIME=1m)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./router/ingest/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeGzip$$' -fuzztime $(FUZZTIME) ./router/ingest/

## deps: install the system programs some tests run for real (PostgreSQL for the warehouse, Chromium for
##       the debugger page) with apt-get when they are missing; without apt-get or root those tests skip
##       with a message (under CI=true they fail instead)
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
	rm -rf bin data
