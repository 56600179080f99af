//go:build tools

// Package tools pins cosign in go.mod; build.sh builds its command.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
