module claimlog.dev/interop

go 1.19

// golang.org/x/mod comes from Debian's golang-golang-x-mod-dev package, so the
// program builds offline (GOPROXY=off). See ../README.md.
require golang.org/x/mod v0.7.0

replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
