# scimd needs cgo (mattn/go-sqlite3), so gcc must be installed.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export CGO_ENABLED := 1

.PHONY: test vet build bench docker lint-openapi

# The README's test command; -race needs cgo as well.
test:
	go test -race -count=1 ./...

vet:
	go vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	go build -trimpath -ldflags "-X github.com/scimd/scimd/internal/server.version=$(VERSION)" -o bin/scimd ./cmd/scimd

# Both OpenAPI documents must pass Redocly's recommended rules with no
# error (needs Node.js and the npm registry; go test ./api checks the same
# rules offline).
lint-openapi:
	npx --yes @redocly/cli@latest lint api/openapi.json api/admin_openapi.json

bench:
	go test -run '^$$' -bench . -benchmem ./...

docker:
	docker build --build-arg VERSION=$(VERSION) -t scimd:$(VERSION) .
