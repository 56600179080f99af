# Sourced by the tests/*/build.sh scripts that build a tool from the Go module their go.mod pins
# (cluster, argo, registry, cosign): the build environment they share, and the stamp that says
# whether a cached binary was built from the go.mod and go.sum committed now.

export GOTOOLCHAIN=local # never fetch another toolchain: only the installed Go is allowed
export CGO_ENABLED=0     # static binaries, no C toolchain needed
# go.mod and go.sum are committed and complete: refuse to change them during a build.
# -buildvcs=false: no VCS stamp, so a new commit or a dirty tree does not force a relink.
export GOFLAGS="-mod=readonly -buildvcs=false ${GOFLAGS:-}"

# The hash of the go.mod and go.sum in directory $1.
go_mod_stamp() {
    cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16
}
