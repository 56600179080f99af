#!/usr/bin/env bash
# Fetches the CRDs of the traffic routers Argo Rollouts drives (Gateway API, Istio, SMI), for
# end-to-end tests of traffic-routed canaries on the control plane of this directory, and prints
# their directory as the last line of stdout (what tests read from $AVIARY_ROUTING_CRDS; see
# `e2e::install_routing_crds` in tests/support).
#
# Nothing is vendored: the CRDs come from the Go modules that publish them, through the module proxy
# and verified against the checksum database (`go mod download`), at the versions pinned below:
# - gateway-api/: sigs.k8s.io/gateway-api, its standard channel (config/crd/standard: HTTPRoute,
#   GRPCRoute, TCPRoute, TLSRoute, UDPRoute, Gateway, GatewayClass, ReferenceGrant, ...), plus the
#   experimental channel's files only for kinds the standard channel lacks (the x-k8s.io ones);
#   a standard CRD is never replaced by its experimental version. The channel's
#   ValidatingAdmissionPolicy comes along; the installer skips what is not a CRD.
# - istio/: istio.io/api's kubernetes/customresourcedefinitions.gen.yaml (VirtualService,
#   DestinationRule, ...; one multi-document file). Lines that are only Helm directives are dropped;
#   a Helm expression left anywhere else fails the script rather than install a wrong CRD.
# - smi/: the SMI TrafficSplit CRD Argo's own e2e tests install (test/e2e/crds/split.yaml of the
#   github.com/argoproj/argo-rollouts module at the version tests/argo/go.mod pins), with v1alpha3
#   served beside v1alpha4 (see below).
#
# The result lives outside the repository (default ${AVIARY_CACHE:-$HOME/.cache/aviary}/crds),
# stamped with the versions and this script's hash: a second run only compares the stamp, and no
# Go command runs. A cold run downloads three module zips (about 12 MB) into the Go module cache.
# The directory is built beside the old one and renamed into place, so a reader never sees half.
#
# Env: AVIARY_ROUTING_CRDS_OUT overrides the output directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${AVIARY_ROUTING_CRDS_OUT:-${AVIARY_CACHE:-$HOME/.cache/aviary}/crds}"

gateway_api="v1.6.3"
istio_api="v1.32.0"
# The oracle's Argo version, so both always come from the same Argo release.
argo="$(sed -n 's/^\(require\)\{0,1\}[[:space:]]*github\.com\/argoproj\/argo-rollouts[[:space:]]\{1,\}\(v[^[:space:]]*\).*/\2/p' \
    "$here/../argo/go.mod" | head -n 1)"
if [ -z "$argo" ]; then
    echo "routing-crds: no github.com/argoproj/argo-rollouts version in tests/argo/go.mod" >&2
    exit 1
fi

stamp="gateway-api $gateway_api, istio.io/api $istio_api, argo-rollouts $argo, $(sha256sum "$0" | cut -c1-16)"
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]]; then
    echo "routing CRDs: up to date ($stamp)" >&2
    echo "$out"
    exit 0
fi

start=$(date +%s)
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d "$out.tmp.XXXXXX")"
gotmp="$(mktemp -d)"
trap 'rm -rf "$tmp" "$gotmp"' EXIT

# The module's directory in the Go module cache, downloaded if missing. Run outside any module and
# workspace, so neither a go.mod nor the caller's GOFLAGS (-mod=...) has a say.
module_dir() {
    local json dir
    json="$(cd "$gotmp" && GOTOOLCHAIN=local GOWORK=off GOFLAGS= GO111MODULE=on go mod download -json "$1")" || {
        printf 'routing-crds: go mod download %s failed:\n%s\n' "$1" "$json" >&2
        return 1
    }
    dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        printf 'routing-crds: no directory for %s in:\n%s\n' "$1" "$json" >&2
        return 1
    fi
    printf '%s\n' "$dir"
}

# Gateway API: the standard channel, then experimental-only kinds (one CRD per file, named
# <group>_<plural>.yaml, so a file name absent from standard is a kind absent from standard).
gw="$(module_dir "sigs.k8s.io/gateway-api@$gateway_api")"
mkdir -p "$tmp/gateway-api"
for f in "$gw"/config/crd/standard/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || cp "$f" "$tmp/gateway-api/"
done
for f in "$gw"/config/crd/experimental/*.yaml; do
    name="$(basename "$f")"
    if [ "$name" != kustomization.yaml ] && [ ! -e "$gw/config/crd/standard/$name" ]; then
        cp "$f" "$tmp/gateway-api/experimental_$name"
    fi
done
for kind in httproutes grpcroutes tcproutes gateways gatewayclasses referencegrants; do
    if [ ! -e "$tmp/gateway-api/gateway.networking.k8s.io_$kind.yaml" ]; then
        echo "routing-crds: sigs.k8s.io/gateway-api@$gateway_api has no standard $kind CRD" >&2
        exit 1
    fi
done

# Istio: one generated multi-document file. Drop lines that are only a Helm action ({{ if }},
# {{- end }}); a Helm expression left inside a line cannot be rendered here, so it fails.
istio="$(module_dir "istio.io/api@$istio_api")"
mkdir -p "$tmp/istio"
grep -v -E '^[[:space:]]*\{\{.*\}\}[[:space:]]*$' "$istio/kubernetes/customresourcedefinitions.gen.yaml" \
    >"$tmp/istio/customresourcedefinitions.gen.yaml"
if grep -n -E '\{\{-?[[:space:]]*[.$]' "$tmp/istio/customresourcedefinitions.gen.yaml" >&2; then
    echo "routing-crds: istio.io/api@$istio_api's CRDs have Helm expressions inside lines (above)" >&2
    exit 1
fi
for kind in virtualservices destinationrules; do
    if ! grep -q "name: $kind.networking.istio.io" "$tmp/istio/customresourcedefinitions.gen.yaml"; then
        echo "routing-crds: istio.io/api@$istio_api has no $kind CRD" >&2
        exit 1
    fi
done

# SMI: the TrafficSplit CRD of Argo's e2e tests.
argo_dir="$(module_dir "github.com/argoproj/argo-rollouts@$argo")"
mkdir -p "$tmp/smi"
# The file serves v1alpha4 alone; Argo's controller writes v1alpha1 to v1alpha3 only (its
# --traffic-split-api-version), so v1alpha3 is served too, as a cluster running an SMI v1alpha3
# implementation serves it (conversion None: v1alpha3 and v1alpha4 have the same fields). The
# oracle runs both controllers with --traffic-split-api-version=v1alpha3.
awk '
    /^    - name: v1alpha3$/ { v3 = 1 }
    v3 && /^      served: false$/ { sub(/false/, "true"); v3 = 0; flipped = 1 }
    { print }
    END { if (!flipped) exit 1 }
' "$argo_dir/test/e2e/crds/split.yaml" > "$tmp/smi/split.yaml" || {
    echo "routing-crds: no 'served: false' under v1alpha3 in $argo_dir/test/e2e/crds/split.yaml" >&2
    exit 1
}

chmod -R u+w "$tmp" # the module cache is read-only, and so were the copies
chmod 755 "$tmp"    # mktemp's 700
echo "$stamp" >"$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"
echo "routing CRDs: fetched in $(($(date +%s) - start)) s ($stamp)" >&2
echo "$out"
